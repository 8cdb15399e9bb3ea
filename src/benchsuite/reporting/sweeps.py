"""A sweep on the leaderboard: one table per (dataset, model) with the swept values as columns
and mean ± std over seeds per combination, a main-effect summary per axis, the seed-level test of
every pair of combinations that differ in one axis (Holm-adjusted across the table), and a plot of
the first metric against each numeric axis with the per-seed points and the mean.

Which cells form a sweep, with which axis values, comes from the runs' invocation records
(``planning.sweeps.sweep_record``): a sweep extended by a later run (a value added to an axis)
is one sweep, and a cell trained before as an ordinary cell belongs to it too.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from markupsafe import Markup, escape

from benchsuite.reporting import formatting as fmt
from benchsuite.reporting.aggregate import MetricColumn, SeedStats, seed_stats
from benchsuite.reporting.compare import Comparison, adjust, seed_test, short_axis, shown_value
from benchsuite.reporting.plots import SEED_COLOURS


@dataclass
class SweepRecord:
    key: str
    axes: list[str]
    profile: str
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # cell id -> axis values


def sweep_records(invocations: Iterable[Mapping[str, Any]]) -> list[SweepRecord]:
    """Every sweep of the store, the cells of all runs with the same sweep key merged."""
    records: dict[str, SweepRecord] = {}
    for invocation in invocations:
        sweep = invocation.get("sweep")
        if not isinstance(sweep, Mapping) or not isinstance(sweep.get("cells"), Mapping):
            continue
        record = records.setdefault(str(sweep.get("key")), SweepRecord(str(sweep.get("key")), [],
                                                                       str(sweep.get("profile"))))
        record.axes.extend(a for a in sweep.get("axes") or [] if a not in record.axes)
        record.cells.update({str(k): dict(v) for k, v in sweep["cells"].items() if isinstance(v, Mapping)})
    return list(records.values())


def sweep_cells(records: Sequence[SweepRecord]) -> dict[str, dict[str, Any]]:
    """cell id -> its axis values, over every sweep (for naming leaderboard rows)."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        out.update(record.cells)
    return out


@dataclass
class Combination:
    values: dict[str, Any]  # axis -> value
    seeds: dict[str, dict[int, float]]  # metric key -> seed -> value
    stats: dict[str, SeedStats | None]

    def label(self) -> str:
        return ", ".join(f"{short_axis(k)}={shown_value(v)}" for k, v in self.values.items())


@dataclass
class MainEffect:
    axis: str
    rows: list[tuple[Any, dict[str, float | None], int]]  # value, metric -> mean of combination means, combos


@dataclass
class SweepView:
    key: str
    dataset: str
    split: str
    model: str
    profile: str
    axes: list[str]
    columns: list[MetricColumn]
    combinations: list[Combination]
    main_effects: list[MainEffect]
    comparisons: list[Comparison]
    plots: list[Markup]

    @property
    def anchor(self) -> str:
        text = json.dumps([self.key, self.dataset, self.split, self.model], default=str)
        return "sweep-" + hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def title(self) -> str:
        return f"{self.dataset} · {self.model} ({self.profile}) — sweep over {', '.join(map(short_axis, self.axes))}"

    @property
    def primary(self) -> MetricColumn:
        return self.columns[0]


def _value_order(values: Iterable[Any]) -> list[Any]:
    distinct: list[Any] = []
    for value in values:
        if value not in distinct:
            distinct.append(value)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct):
        return sorted(distinct)
    return sorted(distinct, key=lambda v: json.dumps(v, default=str))


def _columns(results: Sequence[Mapping[str, Any]], split: str) -> list[MetricColumn]:
    infos: dict[str, Mapping[str, Any] | None] = {}
    for result in results:
        for key in ((result.get("metrics") or {}).get(split) or {}):
            if infos.get(key) is None:
                infos[key] = (result.get("metric_info") or {}).get(key)
    ordered = sorted(infos, key=lambda k: float((infos[k] or {}).get("order", math.inf)))
    return [MetricColumn.from_info(k, infos[k]) for k in ordered]


def sweep_views(done: Sequence[Mapping[str, Any]], records: Sequence[SweepRecord]) -> list[SweepView]:
    by_id = {str(r.get("cell_id")): r for r in done}
    views = []
    for record in records:
        groups: dict[tuple[str, str, str, str], list[tuple[dict[str, Any], Mapping[str, Any]]]] = {}
        for cell_id, values in record.cells.items():
            result = by_id.get(cell_id)
            if result is None:
                continue
            data = result.get("dataset") or {}
            split = str(data.get("eval_split") or "eval")
            group = (str(data.get("name")), split, str((result.get("model") or {}).get("name")),
                     str(result.get("profile")))
            groups.setdefault(group, []).append((values, result))
        for (dataset, split, model, profile), members in sorted(groups.items()):
            view = _view(record, dataset, split, model, profile, members)
            if view is not None:
                views.append(view)
    return views


def _view(record: SweepRecord, dataset: str, split: str, model: str, profile: str,
          members: Sequence[tuple[dict[str, Any], Mapping[str, Any]]]) -> SweepView | None:
    axes = [a for a in record.axes if any(a in values for values, _ in members)]
    columns = _columns([r for _, r in members], split)
    if not axes or not columns:
        return None
    combos: dict[str, Combination] = {}
    for values, result in members:
        values = {a: values.get(a) for a in axes}
        combo = combos.setdefault(json.dumps(values, sort_keys=True, default=str), Combination(values, {}, {}))
        seed = result.get("seed")
        for column in columns:
            raw = ((result.get("metrics") or {}).get(split) or {}).get(column.key)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and seed is not None:
                combo.seeds.setdefault(column.key, {})[int(seed)] = float(raw)
    order = {a: _value_order(c.values[a] for c in combos.values()) for a in axes}
    combinations = sorted(combos.values(), key=lambda c: [order[a].index(c.values[a]) for a in axes])
    for combo in combinations:
        combo.stats = {c.key: seed_stats(list(combo.seeds[c.key].values())) if combo.seeds.get(c.key) else None
                       for c in columns}
    effects = [_main_effect(axis, order[axis], combinations, columns) for axis in axes]
    comparisons = _one_axis_comparisons(axes, combinations, columns[0])
    adjust(comparisons)
    plots = [metric_vs_axis_svg(axis, order[axis], axes, combinations, columns[0], f"{model} on {dataset} {split}")
             for axis in axes if len(order[axis]) >= 2 and all(
                 isinstance(v, (int, float)) and not isinstance(v, bool) for v in order[axis])]
    return SweepView(record.key, dataset, split, model, profile, axes, columns, combinations, effects, comparisons,
                     plots)


def _main_effect(axis: str, values: list[Any], combinations: Sequence[Combination],
                 columns: Sequence[MetricColumn]) -> MainEffect:
    """Each value's mean over the other axes: the mean of the combination means that have it."""
    rows = []
    for value in values:
        having = [c for c in combinations if c.values[axis] == value]
        means: dict[str, float | None] = {}
        for column in columns:
            present = [c.stats[column.key].mean for c in having if c.stats.get(column.key) is not None]
            means[column.key] = sum(present) / len(present) if present else None
        rows.append((value, means, len(having)))
    return MainEffect(axis, rows)


def _one_axis_comparisons(axes: Sequence[str], combinations: Sequence[Combination],
                          column: MetricColumn) -> list[Comparison]:
    out = []
    for a, b in itertools.combinations(combinations, 2):
        differing = [axis for axis in axes if a.values[axis] != b.values[axis]]
        if len(differing) != 1:
            continue
        seeds_a, seeds_b = a.seeds.get(column.key) or {}, b.seeds.get(column.key) or {}
        if not seeds_a or not seeds_b:
            continue
        test, why = seed_test(seeds_a, seeds_b)
        out.append(Comparison(a.label(), b.label(), column, a.stats[column.key].mean, b.stats[column.key].mean,
                              test, why, axis=differing[0]))
    return out


# --------------------------------------------------------------------------- plot


def metric_vs_axis_svg(axis: str, values: Sequence[float], axes: Sequence[str], combinations: Sequence[Combination],
                       column: MetricColumn, title: str) -> Markup:
    """The metric against a numeric axis: one colour per combination of the other axes, a dot per
    seed and the mean joined by a line (log x when the values span a factor of 10 or more)."""
    width, height = 450, 280
    left, right, top, bottom = 56, 180, 26, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    others = [a for a in axes if a != axis]
    series: dict[str, list[Combination]] = {}
    for combo in combinations:
        name = ", ".join(f"{short_axis(a)}={shown_value(combo.values[a])}" for a in others) or "all seeds"
        series.setdefault(name, []).append(combo)
    scale = fmt.display_scale(column)
    points = [v * scale for c in combinations for v in (c.seeds.get(column.key) or {}).values()]
    if not points:
        return Markup("")
    low, high = min(points), max(points)
    pad = (high - low) * 0.1 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    log_x = min(values) > 0 and max(values) / min(values) >= 10
    xs = [math.log10(v) if log_x else float(v) for v in values]
    x_span = (max(xs) - min(xs)) or 1.0

    def x_of(value: float, offset: float = 0.0) -> float:
        x = math.log10(value) if log_x else float(value)
        return left + 18 + (x - min(xs)) / x_span * (plot_w - 36) + offset

    def y_of(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    label = escape(column.label) + (" (%)" if column.percent else "")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot sweep" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}: {label} against '
             f'{escape(short_axis(axis))}"><title>{escape(title)}</title>',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="frame"/>']
    for i in range(5):
        value = low + (high - low) * i / 4
        y = y_of(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" class="tick" text-anchor="end">{value:.3g}</text>')
    for value in values:
        parts.append(f'<text x="{x_of(value):.1f}" y="{top + plot_h + 13}" class="tick" text-anchor="middle">'
                     f"{escape(shown_value(value))}</text>")
    for number, (name, combos) in enumerate(series.items()):
        colour = SEED_COLOURS[number % len(SEED_COLOURS)]
        offset = (number - (len(series) - 1) / 2) * 5  # side by side, so the dots of the series do not overlap
        line = []
        for combo in sorted(combos, key=lambda c: c.values[axis]):
            seeds = combo.seeds.get(column.key) or {}
            x = x_of(combo.values[axis], offset)
            for seed, value in sorted(seeds.items()):
                parts.append(f'<circle cx="{x:.1f}" cy="{y_of(value * scale):.1f}" r="2.6" fill="{colour}" '
                             f'fill-opacity="0.55"><title>{escape(name)}, {escape(short_axis(axis))}='
                             f'{escape(shown_value(combo.values[axis]))}, seed {seed}: {value * scale:.4g}</title></circle>')
            stats = combo.stats.get(column.key)
            if stats is not None:
                y = y_of(stats.mean * scale)
                line.append(f"{x:.1f},{y:.1f}")
                parts.append(f'<rect x="{x - 6:.1f}" y="{y - 1.2:.1f}" width="12" height="2.4" fill="{colour}">'
                             f"<title>{escape(name)}: mean {stats.mean * scale:.4g} over {stats.n} seed(s)</title></rect>")
        if len(line) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.4" points="{" ".join(line)}"/>')
        parts.append(f'<text x="{left + plot_w + 8}" y="{top + 12 + 13 * number}" class="legend" fill="{colour}">'
                     f"{escape(name)}</text>")
    parts.append(f'<text x="{left + plot_w + 8}" y="{top + 14 + 13 * len(series)}" class="tick">dots: seeds; '
                 f"bar + line: mean</text>")
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" class="axis" text-anchor="middle">'
                 f"{escape(axis)}{' (log scale)' if log_x else ''}</text>")
    parts.append(f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" class="axis" '
                 f'text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left}" y="15" class="title">{escape(title)}</text></svg>')
    return Markup("".join(parts))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def sweeps_dict(report: Any) -> list[dict[str, Any]]:
    """The sweeps of ``report`` for the JSON export (no NaN: JSON has none)."""
    from benchsuite.storage.store import ResultsStore

    views = sweep_views(report.done, sweep_records(ResultsStore(report.runs_dir).invocations()))
    return [{
        "key": v.key, "dataset": v.dataset, "split": v.split, "model": v.model, "profile": v.profile, "axes": v.axes,
        "combinations": [{"values": c.values, "seeds": c.seeds,
                          "stats": {k: s.as_dict() if s else None for k, s in c.stats.items()}}
                         for c in v.combinations],
        "main_effects": [{"axis": e.axis, "values": [{"value": value, "means": means, "combinations": n}
                                                     for value, means, n in e.rows]} for e in v.main_effects],
        "comparisons": [{"axis": c.axis, "a": c.name_a, "b": c.name_b, "metric": c.column.key,
                         "difference": c.difference, "test": c.test.test, "n": c.test.n,
                         "statistic": _finite(c.test.statistic), "p_value": _finite(c.test.p_value),
                         "holm_p_value": _finite(c.adjusted_p), "verdict": c.verdict()} for c in v.comparisons],
    } for v in views]
