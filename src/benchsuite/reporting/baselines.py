"""Placing published numbers beside reproduced ones.

A baseline becomes a *comparison* (published value, difference, markers) only
for rows on the same dataset, split and metric with the same formulation, and
only for the system it names (``Baseline.model``).  Every other baseline of a
dataset in the report is shown as *context* with the reason it is not compared:
a legacy t-DCF is never subtracted from a revised one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from benchsuite.contract import Baseline
from benchsuite.reporting.aggregate import MetricCell, MetricColumn, Table


@dataclass(frozen=True)
class Comparison:
    """A published value set against one row's reproduced seeds."""

    baseline: Baseline
    compared: bool  # False for quick rows: shown, but a shortened recipe is not a reproduction
    delta: float | None  # reproduced mean - published (fraction for rates)
    outside_range: bool | None  # published value outside [min, max] of the seeds (None: < 2 seeds)
    outside_ci: bool | None  # published value outside the Student-t CI of the mean (None: < 2 seeds)

    @property
    def published(self) -> float:
        return self.baseline.value

    def as_dict(self) -> dict:
        return {"published": self.published, "compared": self.compared, "delta": self.delta,
                "outside_range": self.outside_range, "outside_ci": self.outside_ci,
                "baseline": baseline_dict(self.baseline)}


@dataclass(frozen=True)
class ContextBaseline:
    """A published value of a dataset in the report that is not compared as a difference."""

    baseline: Baseline
    column: MetricColumn | None  # how to display the value, when the metric is known
    reason: str
    comparable: bool = False  # same setup, but no reproduced run of this system

    def as_dict(self) -> dict:
        return {"reason": self.reason, "comparable": self.comparable, "baseline": baseline_dict(self.baseline)}


def baseline_dict(baseline: Baseline) -> dict:
    return {"system": baseline.system, "dataset": baseline.dataset, "split": baseline.split,
            "metric": baseline.metric, "value": baseline.value, "formulation": baseline.formulation,
            "conditions": dict(baseline.conditions), "source": baseline.source, "year": baseline.year,
            "model": baseline.model, "kind": baseline.kind}


def compare(cell: MetricCell, baseline: Baseline, profile: str) -> Comparison:
    stats = cell.stats
    if profile != "paper" or stats is None:
        return Comparison(baseline, compared=False, delta=None, outside_range=None, outside_ci=None)
    published = baseline.value
    delta = stats.mean - published
    if stats.n < 2:
        return Comparison(baseline, compared=True, delta=delta, outside_range=None, outside_ci=None)
    outside_range = not (stats.minimum <= published <= stats.maximum)
    outside_ci = not (stats.ci_low <= published <= stats.ci_high)  # type: ignore[operator]
    return Comparison(baseline, compared=True, delta=delta, outside_range=outside_range, outside_ci=outside_ci)


def _priority(baseline: Baseline) -> tuple:
    # the system's own paper first, then the most recent number
    return (baseline.kind != "paper", -(baseline.year or 0))


def attach_baselines(tables: Sequence[Table], baselines: Sequence[Baseline]) -> int:
    """Attach comparisons to rows and context to tables, in place.  Returns how
    many baselines belong to datasets absent from the report (not shown)."""
    by_dataset: dict[str, list[Table]] = {}
    for table in tables:
        by_dataset.setdefault(table.dataset, []).append(table)
    known_columns: dict[str, MetricColumn] = {}
    for table in tables:
        for column in table.columns + table.hidden_columns:
            known_columns.setdefault(column.key, column)

    not_shown = 0
    for baseline in sorted(baselines, key=_priority):
        candidates = by_dataset.get(baseline.dataset)
        if not candidates:
            not_shown += 1
            continue
        same_split = [t for t in candidates if t.split == baseline.split]
        if not same_split:
            splits = ", ".join(sorted({t.split for t in candidates}))
            candidates[0].context.append(ContextBaseline(
                baseline, known_columns.get(baseline.metric),
                f"published on split {baseline.split!r}; this report has {splits}"))
            continue
        for table in same_split:
            _place(table, baseline, known_columns)
    return not_shown


def _place(table: Table, baseline: Baseline, known_columns: dict[str, MetricColumn]) -> None:
    column = next((c for c in table.columns if c.key == baseline.metric), None)
    if column is None:
        hidden = next((c for c in table.hidden_columns if c.key == baseline.metric), None)
        reason = ("the reproduced runs report this metric as not applicable" if hidden is not None
                  else f"no reproduced run reports metric {baseline.metric!r}")
        table.context.append(ContextBaseline(baseline, hidden or known_columns.get(baseline.metric), reason))
        return
    if baseline.formulation != column.formulation:
        table.context.append(ContextBaseline(
            baseline, column,
            f"formulation differs: published {baseline.formulation or 'unstated'}, "
            f"reproduced {column.formulation or 'unstated'}"))
        return
    rows = [row for row in table.rows if baseline.model is not None and row.model == baseline.model]
    if not rows:
        table.context.append(ContextBaseline(baseline, column, "no reproduced run of this system", comparable=True))
        return
    placed = False
    for row in rows:
        cell = row.cells[column.key]
        if cell.comparison is None:
            cell.comparison = compare(cell, baseline, row.profile)
            placed = True
    if not placed:
        table.context.append(ContextBaseline(
            baseline, column, "another published value of this system is compared in the table", comparable=True))
