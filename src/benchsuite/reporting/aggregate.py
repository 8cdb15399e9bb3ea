"""Seed aggregation: from finished cells to leaderboard tables.

A table holds one (dataset, split) pair; a row holds one system on it, i.e. one
(model, profile, training set, initialisation, configuration) combination whose
seeds are aggregated.  ``quick`` and ``paper`` runs never share a row: the
profile is part of the row key.  Statistics use the sample standard deviation
(``ddof = 1``) and a Student-t confidence interval of the mean, because a
handful of seeds is a small sample, not the population.
"""
from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence


DDOF = 1
CONFIDENCE = 0.95
PROFILE_ORDER = {"paper": 0, "quick": 1}


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class SeedStats:
    """Mean, spread and confidence interval of one metric over seeds."""

    n: int
    mean: float
    std: float | None  # sample std (ddof = DDOF); None with a single seed
    minimum: float
    maximum: float
    ci_low: float | None  # Student-t interval of the mean; None with a single seed
    ci_high: float | None
    ddof: int = DDOF
    confidence: float = CONFIDENCE

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "mean": self.mean, "std": self.std, "ddof": self.ddof, "min": self.minimum,
            "max": self.maximum, "ci_low": self.ci_low, "ci_high": self.ci_high, "confidence": self.confidence,
        }


def seed_stats(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedStats:
    """Aggregate per-seed values (at least one, all finite)."""
    if not values:
        raise ValueError("seed_stats needs at least one value")
    values = [float(v) for v in values]
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return SeedStats(n, mean, None, values[0], values[0], None, None, confidence=confidence)
    std = statistics.stdev(values)  # ddof = 1
    from scipy.special import stdtrit  # the Student-t quantile (what scipy.stats.t.ppf calls), on use

    half_width = float(stdtrit(n - 1, 0.5 + confidence / 2)) * std / math.sqrt(n)
    return SeedStats(n, mean, std, min(values), max(values), mean - half_width, mean + half_width,
                     confidence=confidence)


# --------------------------------------------------------------------------- table model


@dataclass(frozen=True)
class MetricColumn:
    """How one headline metric is labelled and compared (from result.json ``metric_info``)."""

    key: str
    label: str
    lower_is_better: bool = True
    percent: bool = False
    formulation: str | None = None
    metric: str | None = None  # the metric plugin's name
    described: bool = True  # False when no result carried metric_info for this key

    @classmethod
    def from_info(cls, key: str, info: Mapping[str, Any] | None) -> "MetricColumn":
        if not info:
            return cls(key=key, label=key, described=False)
        return cls(
            key=key,
            label=str(info.get("label") or key),
            lower_is_better=bool(info.get("lower_is_better", True)),
            percent=bool(info.get("percent", False)),
            formulation=info.get("formulation"),
            metric=info.get("metric"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "lower_is_better": self.lower_is_better,
                "percent": self.percent, "formulation": self.formulation, "metric": self.metric}


@dataclass(frozen=True)
class SeedValue:
    seed: int | None
    cell_id: str
    value: float | None  # None = not applicable for this run (see note)
    note: str | None = None
    # the metric's own 95 % interval for this run (e.g. the EER's bootstrap over trials), when it reports one
    interval: tuple[float, float] | None = None


@dataclass
class MetricCell:
    """One metric of one row: the per-seed values, their statistics and the published comparison."""

    column: MetricColumn
    seed_values: list[SeedValue]
    stats: SeedStats | None  # None when no seed has a value
    best: bool = False  # best reproduced mean in its column among rows of the same profile
    comparison: Any = None  # baselines.Comparison when a published number matches

    @property
    def values(self) -> list[float]:
        return [sv.value for sv in self.seed_values if sv.value is not None]


@dataclass(frozen=True)
class RowKey:
    model: str
    profile: str
    train_dataset: str
    init_from: str | None
    variant: str  # hash of what else the result depends on (config, recipe, data fingerprints, precision)
    # set when the row's numbers come from cells of another (evaluation) dataset: the
    # dev-split selection numbers of cross-dataset cells
    cell_dataset: str | None = None
    # an eval-only row of released weights: "FILE sha256:<first 12 hex digits>" (None: trained seeds)
    released: str | None = None


@dataclass
class Row:
    key: RowKey
    runs: list[dict]  # done results, sorted by seed
    failed: list[dict] = field(default_factory=list)  # failed results of the same system
    cells: dict[str, MetricCell] = field(default_factory=dict)
    show_variant: bool = False  # more than one configuration of this system in the table

    @property
    def model(self) -> str:
        return self.key.model

    @property
    def profile(self) -> str:
        return self.key.profile

    @property
    def params(self) -> list[int]:
        found = {int(r["model"]["params"]) for r in self.runs + self.failed
                 if isinstance((r.get("model") or {}).get("params"), (int, float))}
        return sorted(found)

    @property
    def seeds(self) -> list[int | None]:
        return [r.get("seed") for r in self.runs]

    @property
    def deviations(self) -> list[dict[str, Any]]:
        """The recipe's deviations from the authors' code, as the cells stored them (distinct by name)."""
        seen: dict[str, dict[str, Any]] = {}
        for result in self.runs + self.failed:
            for deviation in (result.get("fidelity") or {}).get("deviations") or []:
                seen.setdefault(str(deviation.get("name")), deviation)
        return list(seen.values())

    @property
    def fidelity_recorded(self) -> bool:
        """Whether every cell stored its deviations (cells run before they were recorded did not)."""
        return all((result.get("fidelity") or {}).get("faithful") is not None for result in self.runs + self.failed)

    def deviation_summary(self) -> str:
        """One line for a hover text: how many deviations and each one's name and what."""
        items = self.deviations
        if not items:
            return "" if self.fidelity_recorded else "recorded before deviations were stored: fidelity unknown"
        listed = "; ".join(f"{d.get('name')}: {d.get('what')}" for d in items)
        return f"{len(items)} deviation(s) from the authors' code: {listed}"

    @property
    def anchor(self) -> str:
        return "row-" + _short_hash(json.dumps(self.key.__dict__, sort_keys=True, default=str))

    def label(self) -> str:
        """Plain-text label of the system (escaped by whoever renders it)."""
        parts = [self.key.model]
        if self.key.released:
            parts.append(f"released weights {self.key.released}")
        if self.key.init_from:
            parts.append(f"init {self.key.init_from}")
        if self.key.cell_dataset:
            parts.append(f"cells evaluated on {self.key.cell_dataset}")
        if self.show_variant:
            parts.append(f"config {self.key.variant}")
        return " · ".join(parts)


@dataclass
class Table:
    dataset: str
    split: str
    task: str
    options: dict[str, Any]
    columns: list[MetricColumn]
    rows: list[Row]
    notes: dict[str, list[str]] = field(default_factory=dict)  # metric key -> distinct "not applicable" notes
    hidden_columns: list[MetricColumn] = field(default_factory=list)  # every value None
    context: list[Any] = field(default_factory=list)  # baselines.ContextBaseline
    generated: bool = False  # the dataset is generated by the suite (no paper can report on it)

    @property
    def anchor(self) -> str:
        return "table-" + _short_hash(json.dumps([self.dataset, self.split, self.options], sort_keys=True, default=str))

    @property
    def title(self) -> str:
        return f"{self.dataset} — {self.split}"

    def train_datasets(self) -> list[str]:
        return sorted({row.key.train_dataset for row in self.rows})


# --------------------------------------------------------------------------- building tables


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _dataset(result: Mapping[str, Any]) -> dict[str, Any]:
    return dict(result.get("dataset") or {})


def _model_name(result: Mapping[str, Any]) -> str:
    return str((result.get("model") or {}).get("name") or "?")


def _split_dataset(result: Mapping[str, Any], split: str) -> str:
    """The dataset a split's numbers were measured on: the dev split of a
    cross-dataset cell (model selection) belongs to the training dataset."""
    data = _dataset(result)
    name = str(data.get("name") or "?")
    train = data.get("train_dataset")
    if train and train != name and split == data.get("dev_split", "dev"):
        return str(train)
    return name


def _table_key(result: Mapping[str, Any], split: str) -> tuple[str, str, str]:
    data = _dataset(result)
    dataset = _split_dataset(result, split)
    options = data.get("options") if dataset == data.get("name") else data.get("train_options")
    return dataset, split, json.dumps(options or {}, sort_keys=True, default=str)


def _variant(result: Mapping[str, Any]) -> str:
    """What the result depends on besides model, profile, training set, seed and
    initialisation: runs that differ here are different systems."""
    data = _dataset(result)
    signature = {
        "model_config": (result.get("model") or {}).get("config"),
        "recipe": result.get("recipe"),
        "fingerprint": data.get("fingerprint"),
        "train_options": data.get("train_options"),
        "precision": (result.get("provenance") or {}).get("precision"),
    }
    return _short_hash(json.dumps(signature, sort_keys=True, default=str))[:7]


def row_key(result: Mapping[str, Any], split: str | None = None) -> RowKey:
    data = _dataset(result)
    init_from = (result.get("training") or {}).get("init_from")
    name = str(data.get("name") or "?")
    return RowKey(
        model=_model_name(result),
        profile=str(result.get("profile") or "?"),
        train_dataset=str(data.get("train_dataset") or name),
        init_from=str(init_from) if init_from else None,
        variant=_variant(result),
        cell_dataset=name if split is not None and _split_dataset(result, split) != name else None,
        released=_released(result),
    )


def _released(result: Mapping[str, Any]) -> str | None:
    weights = (result.get("model") or {}).get("released_weights")
    if not isinstance(weights, Mapping):
        return None
    return f"{weights.get('file', '?')} sha256:{str(weights.get('sha256', ''))[:12]}"


def _seed_sort_key(result: Mapping[str, Any]) -> tuple:
    seed = result.get("seed")
    return (seed is None, seed if isinstance(seed, int) else 0, str(result.get("cell_id")))


def build_tables(done: Iterable[dict], failed: Iterable[dict] = ()) -> list[Table]:
    """Group finished results into (dataset, split) tables of aggregated rows.

    Failed results join the rows of their system (so "n = 2, 1 failed" is visible);
    a system whose every seed failed still gets a row with no values.
    """
    done = sorted(done, key=_seed_sort_key)
    failed = sorted(failed, key=_seed_sort_key)

    grouped: dict[tuple[str, str, str], dict[RowKey, list[dict]]] = {}
    infos: dict[tuple[str, str, str], dict[str, Mapping[str, Any] | None]] = {}
    meta: dict[tuple[str, str, str], dict[str, Any]] = {}
    for result in done:
        for split, values in (result.get("metrics") or {}).items():
            if not isinstance(values, Mapping):
                continue
            tkey = _table_key(result, split)
            grouped.setdefault(tkey, {}).setdefault(row_key(result, split), []).append(result)
            meta.setdefault(tkey, {"task": str(result.get("task") or _dataset(result).get("task") or "?"),
                                   "options": _dataset(result).get("options") or {}})
            column_infos = infos.setdefault(tkey, {})
            metric_info = result.get("metric_info") or {}
            for key in values:
                if column_infos.get(key) is None:
                    column_infos[key] = metric_info.get(key)

    # failures join every table of their dataset; a dataset with only failures gets its eval split
    for result in failed:
        data = _dataset(result)
        name = str(data.get("name") or "?")
        options = json.dumps(data.get("options") or {}, sort_keys=True, default=str)
        tkeys = [k for k in grouped if k[0] == name and k[2] == options]
        if not tkeys:
            tkey = (name, str(data.get("eval_split") or "eval"), options)
            grouped.setdefault(tkey, {})
            infos.setdefault(tkey, {})
            meta.setdefault(tkey, {"task": str(result.get("task") or data.get("task") or "?"),
                                   "options": data.get("options") or {}})
            tkeys = [tkey]
        for tkey in tkeys:
            grouped[tkey].setdefault(row_key(result), [])

    tables = []
    for tkey in sorted(grouped, key=lambda k: (k[0], _split_order(k[1]), k[1], k[2])):
        dataset, split, _ = tkey
        column_infos = infos.get(tkey, {})
        ordered = sorted(column_infos, key=lambda key: _column_rank(column_infos[key]))  # stable: ties keep key order
        columns_all = [MetricColumn.from_info(key, column_infos[key]) for key in ordered]
        rows = []
        for rkey, runs in grouped[tkey].items():
            row_failed = [r for r in failed if _table_key(r, split)[0::2] == tkey[0::2]
                          and row_key(r, split) == rkey]
            rows.append(Row(key=rkey, runs=runs, failed=row_failed))
        _mark_variants(rows)
        columns, hidden = [], []
        notes: dict[str, list[str]] = {}
        for column in columns_all:
            for row in rows:
                row.cells[column.key] = _metric_cell(row, split, column)
            if any(row.cells[column.key].stats is not None for row in rows):
                columns.append(column)
            else:
                hidden.append(column)
            found = sorted({sv.note for row in rows for sv in row.cells[column.key].seed_values
                            if sv.value is None and sv.note})
            if found:
                notes[column.key] = found
        for row in rows:
            for column in hidden:
                del row.cells[column.key]
        _mark_best(rows, columns)
        rows.sort(key=lambda row: _row_sort_key(row, columns))
        generated = any(_dataset(r).get("generated") for row in rows for r in row.runs)
        tables.append(Table(dataset=dataset, split=split, task=meta[tkey]["task"], options=meta[tkey]["options"],
                            columns=columns, rows=rows, notes=notes, hidden_columns=hidden, generated=generated))
    return tables


def _column_rank(info: Mapping[str, Any] | None) -> float:
    """Metrics in the order their plugins declare them (EER before t-DCF ...); undescribed ones last."""
    order = (info or {}).get("order")
    return float(order) if isinstance(order, (int, float)) else float("inf")


def _split_order(split: str) -> int:
    return {"eval": 0, "test": 1, "dev": 2}.get(split, 3)


def _mark_variants(rows: list[Row]) -> None:
    by_system: dict[tuple, list[Row]] = {}
    for row in rows:
        k = row.key
        by_system.setdefault((k.model, k.profile, k.train_dataset, k.init_from, k.cell_dataset, k.released),
                             []).append(row)
    for same in by_system.values():
        if len(same) > 1:
            for row in same:
                row.show_variant = True


def _metric_cell(row: Row, split: str, column: MetricColumn) -> MetricCell:
    seed_values = []
    for result in row.runs:
        raw = ((result.get("metrics") or {}).get(split) or {}).get(column.key)
        note = ((result.get("notes") or {}).get(split) or {}).get(column.key)
        value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if value is not None and not math.isfinite(value):
            note = note or f"non-finite value {raw!r}"
            value = None
        seed_values.append(SeedValue(result.get("seed"), str(result.get("cell_id")), value, note,
                                     _run_interval(result, split, column.key)))
    present = [sv.value for sv in seed_values if sv.value is not None]
    return MetricCell(column=column, seed_values=seed_values, stats=seed_stats(present) if present else None)


def _run_interval(result: Mapping[str, Any], split: str, key: str) -> tuple[float, float] | None:
    """A metric plugin reports a run's own 95 % interval as ``extra[split][KEY_ci95] = [low, high]``."""
    raw = ((result.get("extra") or {}).get(split) or {}).get(f"{key}_ci95")
    if (isinstance(raw, (list, tuple)) and len(raw) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in raw)):
        return float(raw[0]), float(raw[1])
    return None


def _mark_best(rows: list[Row], columns: list[MetricColumn]) -> None:
    """Highlight the best mean per column, separately per profile (a quick run
    never beats a paper run on a shortened recipe)."""
    for column in columns:
        by_profile: dict[str, list[MetricCell]] = {}
        for row in rows:
            cell = row.cells.get(column.key)
            if cell is not None and cell.stats is not None:
                by_profile.setdefault(row.profile, []).append(cell)
        for cells in by_profile.values():
            means = [c.stats.mean for c in cells]
            target = min(means) if column.lower_is_better else max(means)
            for cell in cells:
                cell.best = cell.stats.mean == target


def _row_sort_key(row: Row, columns: list[MetricColumn]) -> tuple:
    primary = None
    if columns:
        cell = row.cells.get(columns[0].key)
        if cell is not None and cell.stats is not None:
            primary = cell.stats.mean if columns[0].lower_is_better else -cell.stats.mean
    return (PROFILE_ORDER.get(row.profile, 9), primary is None, primary if primary is not None else 0.0,
            row.model, row.key.released or "", row.key.variant)
