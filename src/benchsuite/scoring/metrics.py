"""Running the registered metrics on a score set (no torch here, so
`benchsuite score` stays light)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from benchsuite.contract import BenchsuiteError, CellFailure, MetricOptions, MetricSpec, MetricValueInfo, ScoreSet, Task
from benchsuite.plugins.registry import Registered, Registry


@dataclass
class MetricResults:
    values: dict[str, float | None] = field(default_factory=dict)
    breakdown: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    # metric name -> "ExceptionType: message (plugin NAME)" for each metric that raised; the others' values stay
    errors: dict[str, str] = field(default_factory=dict)


def info_dict(metric_name: str, info: MetricValueInfo) -> dict[str, Any]:
    return {"metric": metric_name, "label": info.label, "lower_is_better": info.lower_is_better,
            "percent": info.percent, "formulation": info.formulation, "description": info.description}


def run_metrics(metrics: Iterable[Registered[MetricSpec]], scores: ScoreSet,
                options: MetricOptions = MetricOptions()) -> MetricResults:
    """Every metric's values, breakdowns, notes and extras, merged.  A key that
    two metrics produce keeps the first; the second is stored as ``metric:key``
    so nothing is silently overwritten.  A metric that raises is recorded in ``errors`` under
    its name and the other metrics still run: one broken metric plugin never costs the scores
    (``benchsuite rescore`` computes it again once the plugin is fixed)."""
    results = MetricResults()
    for reg in metrics:
        spec = reg.spec
        try:
            output = spec.compute(scores, options)
        except Exception as exc:  # a plugin's bug or a BenchsuiteError: either way, this metric only
            results.errors[spec.name] = f"{type(exc).__name__}: {exc} (plugin {reg.plugin.name!r})"
            continue
        rename = {key: key if key not in results.values else f"{spec.name}:{key}" for key in output.values}
        for key, value in output.values.items():
            results.values[rename[key]] = None if value is None else float(value)
        for info in spec.outputs:
            # result.json is written with sorted keys; "order" keeps the metrics' own order for the report
            results.info[rename.get(info.key, info.key)] = {**info_dict(spec.name, info), "order": len(results.info)}
        for column, groups in output.breakdown.items():
            target = results.breakdown.setdefault(column, {})
            for group, values in groups.items():
                target.setdefault(group, {}).update({rename.get(k, k): v for k, v in values.items()})
        results.notes.update({rename.get(k, k): v for k, v in output.notes.items()})
        results.extra.update(output.extra)
    return results


def compute_metrics(registry: Registry, task: Task, scores: ScoreSet, only: Sequence[str] | None = None,
                    options: MetricOptions = MetricOptions()) -> MetricResults:
    """Run every registered metric for ``task`` (or the ``only`` ones)."""
    chosen = [reg for reg in registry.metrics_for(task) if only is None or reg.spec.name in only]
    return run_metrics(chosen, scores, options)


def selection_metric(registry: Registry, task: Task, key: str) -> Callable[[ScoreSet], float]:
    """A dev-set selection value (lower is better) from the registered metric producing ``key``."""
    for reg in registry.metrics_for(task):
        for info in reg.spec.outputs:
            if info.key != key:
                continue
            spec, sign = reg.spec, (1.0 if info.lower_is_better else -1.0)

            def value(scores: ScoreSet) -> float:
                try:
                    values = (spec.headline(scores) if spec.headline is not None
                              else spec.compute(scores, MetricOptions(bootstrap_resamples=0)).values)
                except BenchsuiteError:
                    # e.g. an untrained model giving constant dev scores: the worst possible value
                    return float("inf")
                except Exception as exc:  # a broken metric plugin: say which, at the first epoch
                    raise CellFailure(f"metric {spec.name!r} (plugin {reg.plugin.name!r}) raised while selecting "
                                      f"on dev: {type(exc).__name__}: {exc}") from exc
                result = values.get(key)
                return float("inf") if result is None else sign * float(result)

            return value
    raise BenchsuiteError(f"model selection needs a {task} metric producing {key!r}, but none is registered "
                          f"(check `benchsuite plugins` for metric plugins that failed to load)")
