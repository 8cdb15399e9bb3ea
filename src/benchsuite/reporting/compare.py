"""Comparing two leaderboard rows: is the difference real or seed noise?

A row is named ``DATASET/MODEL/PROFILE`` (``benchsuite compare`` and the page use these names),
with a fourth part when that is not unique in its table: the swept values of a sweep's row
(``lr=0.003,waveform_norm=train``), otherwise the row's configuration hash (``config-1a2b3c4``);
rows trained on another dataset than they are evaluated on add ``train=NAME``.  Rows of the dev
split get the prefix ``dev:``.

Two comparisons are made on the first metric of the table (or a chosen one):

- seed level: the per-seed values of the two rows, paired by seed where both rows have the same
  seeds (a paired t-test on the per-seed differences; see :mod:`benchsuite.reporting.stats` for
  why not the signed-rank test with this few seeds), Welch's t-test otherwise;
- trial level, pooled over seeds: a paired bootstrap over the evaluation trials both rows scored
  (the same resampled trials for both rows and every seed, bona fide / spoof, target / nontarget or
  the classes kept at their counts) of the difference of the seed-mean metric.  It measures the
  trial-sampling error of the difference, not the seed noise, which only the seed-level test sees.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from benchsuite.contract import ConfigError, ScoreFileError
from benchsuite.plugins.registry import did_you_mean
from benchsuite.reporting.aggregate import MetricColumn, Row, Table
from benchsuite.reporting.scoredata import ScoreFiles, score_path
from benchsuite.reporting.stats import (
    ALPHA, WILCOXON_MIN_N, BootstrapResult, HypothesisTest, holm, paired_bootstrap, paired_t, welch_t,
    wilcoxon_signed_rank,
)
from benchsuite.scoring.det import eer
from benchsuite.scoring.files import read_classify_scores, read_cm_scores, read_sv_scores

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
# trial-level statistics the bootstrap can recompute from score files, per metric key
TRIAL_METRICS = ("eer", "accuracy", "uar")


def short_axis(key: str) -> str:
    """``model.cnn-bilstm.lr`` -> ``lr``; ``dataset.synth-emo.subset`` -> ``subset``."""
    return key.rsplit(".", 1)[-1]


def shown_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))


def sweep_values_of(row: Row, sweep_cells: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The swept values every seed of ``row`` shares, or None when the row is no sweep cell."""
    found = [sweep_cells.get(str(r.get("cell_id"))) for r in row.runs]
    if not found or any(f is None for f in found):
        return None
    first = dict(found[0])
    return first if all(dict(f) == first for f in found) else None


def _base_name(table: Table, row: Row) -> str:
    prefix = "" if table.split in ("eval", "test") else f"{table.split}:"
    name = f"{prefix}{table.dataset}/{row.model}/{row.profile}"
    if row.key.train_dataset != table.dataset:
        name += f"/train={row.key.train_dataset}"
    return name


def row_names(tables: Sequence[Table], sweep_cells: Mapping[str, Mapping[str, Any]] | None = None
              ) -> dict[str, tuple[Table, Row]]:
    """Every row of every table by its name (see the module docstring)."""
    sweep_cells = sweep_cells or {}
    by_base: dict[str, list[tuple[Table, Row]]] = {}
    for table in tables:
        for row in table.rows:
            by_base.setdefault(_base_name(table, row), []).append((table, row))
    names: dict[str, tuple[Table, Row]] = {}
    for base, rows in by_base.items():
        if len(rows) == 1:
            names[base] = rows[0]
            continue
        for table, row in rows:
            values = sweep_values_of(row, sweep_cells)
            suffix = (",".join(f"{short_axis(k)}={shown_value(v)}" for k, v in values.items()) if values
                      else f"config-{row.key.variant}")
            name = f"{base}/{suffix}"
            if name in names:  # the same swept values in two configurations
                name = f"{name}/config-{row.key.variant}"
            names.setdefault(name, (table, row))
    return names


def find_row(names: Mapping[str, tuple[Table, Row]], name: str) -> tuple[Table, Row]:
    if name in names:
        return names[name]
    hint = did_you_mean(name, sorted(names), cutoff=0.5)
    prefixed = [n for n in names if n.startswith(name + "/")]
    more = f" Rows starting with it: {', '.join(sorted(prefixed))}." if prefixed else ""
    shown = ", ".join(sorted(names)[:20]) + (" ..." if len(names) > 20 else "")
    raise ConfigError(f"no leaderboard row {name!r}.{hint}{more} Rows: {shown}")


# --------------------------------------------------------------------------- seed level


def seed_values(table: Table, row: Row, metric: str) -> dict[int, float]:
    cell = row.cells.get(metric)
    if cell is None:
        return {}
    return {int(sv.seed): float(sv.value) for sv in cell.seed_values if sv.value is not None and sv.seed is not None}


def seed_test(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[HypothesisTest, str]:
    """The seed-level test of b - a and why it was chosen."""
    if set(a) == set(b) and len(a) >= 2:
        seeds = sorted(a)
        result = paired_t([b[s] for s in seeds], [a[s] for s in seeds])
        return result, (f"both rows ran seeds {seeds}: seed s of one and seed s of the other share their "
                        "initialisation and data order, so the test is paired by seed")
    result = welch_t(list(b.values()), list(a.values()))
    return result, (f"the rows ran different seeds ({sorted(a)} vs {sorted(b)}), so they cannot be paired: "
                    "Welch's t-test, which does not assume equal spread")


@dataclass
class Comparison:
    """B - A on one metric, with the seed-level test (and optionally the trial bootstrap)."""

    name_a: str
    name_b: str
    column: MetricColumn
    mean_a: float | None
    mean_b: float | None
    test: HypothesisTest
    why: str
    wilcoxon: HypothesisTest | None = None
    adjusted_p: float | None = None  # Holm, across the comparisons shown together
    family: int = 1
    bootstrap: BootstrapResult | None = None
    bootstrap_note: str = ""
    axis: str | None = None  # for a sweep comparison: the one axis the two combinations differ in

    @property
    def difference(self) -> float | None:
        return None if self.mean_a is None or self.mean_b is None else self.mean_b - self.mean_a

    def shown_difference(self) -> str:
        d = self.difference
        if d is None:
            return "—"
        return f"{d * 100:+.1f} points" if self.column.percent else f"{d:+.4g}"

    @property
    def decisive_p(self) -> float:
        return self.adjusted_p if self.adjusted_p is not None else self.test.p_value

    def verdict(self) -> str:
        """"difference 1.3 points, within seed noise (p = 0.41, n = 3)"."""
        d = self.difference
        if d is None:
            return "no values to compare"
        size = f"{abs(d) * 100:.1f} points" if self.column.percent else f"{abs(d):.4g}"
        p = self.decisive_p
        if math.isnan(p):
            return f"difference {size}; no seed-level test ({self.test.detail or 'too few seeds'})"
        better = self.name_b if (d < 0) == self.column.lower_is_better else self.name_a
        where = "beyond" if p < ALPHA else "within"
        shown_p = f"p = {self.test.p_value:.2g}"
        if self.adjusted_p is not None and self.family > 1:
            shown_p += f", Holm-adjusted {p:.2g} over {self.family}"
        lead = f"difference {size}" + (f" ({better} better)" if p < ALPHA and d != 0 else "")
        return f"{lead}, {where} seed noise ({shown_p}, n = {self.test.n})"


def compare_rows(name_a: str, table_a: Table, row_a: Row, name_b: str, table_b: Table, row_b: Row,
                 metric: str | None = None) -> Comparison:
    column = _column(table_a, metric)
    a, b = seed_values(table_a, row_a, column.key), seed_values(table_b, row_b, column.key)
    if not a or not b:
        missing = name_a if not a else name_b
        raise ConfigError(f"row {missing!r} has no {column.label} values to compare")
    test, why = seed_test(a, b)
    wilcoxon = None
    if set(a) == set(b) and len(a) >= WILCOXON_MIN_N:
        seeds = sorted(a)
        wilcoxon = wilcoxon_signed_rank([b[s] for s in seeds], [a[s] for s in seeds])
    return Comparison(name_a, name_b, column, float(np.mean(list(a.values()))), float(np.mean(list(b.values()))),
                      test, why, wilcoxon)


def _column(table: Table, metric: str | None) -> MetricColumn:
    if not table.columns:
        raise ConfigError(f"table {table.title} has no metric columns")
    if metric is None:
        return table.columns[0]
    for column in table.columns:
        if column.key == metric:
            return column
    known = [c.key for c in table.columns]
    raise ConfigError(f"--metric {metric!r}: not a column of {table.title}.{did_you_mean(metric, known)} "
                      f"Columns: {', '.join(known)}")


def adjust(comparisons: Sequence[Comparison]) -> None:
    """Holm across ``comparisons`` (the family shown together)."""
    adjusted = holm([c.test.p_value for c in comparisons])
    family = sum(1 for c in comparisons if not math.isnan(c.test.p_value))
    for comparison, p in zip(comparisons, adjusted):
        comparison.adjusted_p = None if math.isnan(p) else p
        comparison.family = family


# --------------------------------------------------------------------------- trial level


def _read_trials(runs_dir: Path, table: Table, row: Row,
                 files: ScoreFiles | None = None) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """cell id -> (trial keys, per-trial values, per-trial labels) of each seed's score file: scores
    and bona fide / target flags (spoof, verify), or predicted and true class names (classify).
    Through ``files`` (the report's), each file is read once however many comparisons use it."""
    files = files if files is not None else ScoreFiles()
    out = {}
    for result in row.runs:
        path = score_path(result, runs_dir / "cells" / str(result.get("cell_id")), table.split)
        if path is None or not path.is_file():
            raise ScoreFileError(f"{result.get('cell_id')}: no score file for split {table.split!r}")
        out[str(result.get("cell_id"))] = files.trials(path, table.task, lambda: _trials_of(path, table.task))
    return out


def _trials_of(path: Path, task: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    if task == "spoof":
        scores = read_cm_scores(path)
        if scores.is_bonafide is None:
            raise ScoreFileError(f"{path}: carries no bona fide / spoof key")
        return list(scores.utt_ids), scores.scores, scores.is_bonafide.astype(int)
    if task == "verify":
        trials = read_sv_scores(path)
        if trials.is_target is None:
            raise ScoreFileError(f"{path}: carries no target / nontarget labels")
        return [f"{e} {t}" for e, t in zip(trials.enrol, trials.test)], trials.scores, trials.is_target.astype(int)
    if task == "classify":
        predictions = read_classify_scores(path)
        names = predictions.class_names
        # class names, not indices: two rows may have indexed their classes differently
        return ([str(u) for u in predictions.utt_ids], np.array([names[p] for p in predictions.predicted], dtype=object),
                np.array([names[t] for t in predictions.true], dtype=object))
    raise ScoreFileError(f"task {task!r} has no trial-level metric")


def _metric_function(task: str, metric: str, labels: np.ndarray) -> Callable[[np.ndarray, np.ndarray], float]:
    """(values of one seed, resampled trial indices) -> the metric on those trials."""
    if task in ("spoof", "verify"):
        positive = labels.astype(bool)

        def error_rate(values: np.ndarray, idx: np.ndarray) -> float:
            return eer(values[idx][positive[idx]], values[idx][~positive[idx]])
        return error_rate
    classes = sorted(set(labels.tolist()))
    if metric == "uar":
        def uar(values: np.ndarray, idx: np.ndarray) -> float:
            true, pred = labels[idx], values[idx]
            recalls = [float(np.mean(pred[true == c] == c)) for c in classes if np.any(true == c)]
            return float(np.mean(recalls))
        return uar

    def accuracy(values: np.ndarray, idx: np.ndarray) -> float:
        return float(np.mean(values[idx] == labels[idx]))
    return accuracy


def trial_bootstrap(runs_dir: Path, comparison: Comparison, table_a: Table, row_a: Row, table_b: Table, row_b: Row,
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                    files: ScoreFiles | None = None) -> None:
    """Fill ``comparison.bootstrap`` (or ``bootstrap_note`` saying why there is none)."""
    metric = comparison.column.key
    if table_a.task != table_b.task:
        comparison.bootstrap_note = "the rows are of different tasks"
        return
    if metric not in TRIAL_METRICS or (table_a.task == "classify") != (metric != "eer"):
        comparison.bootstrap_note = (f"{comparison.column.label} is not recomputed from score files "
                                     f"(the trial bootstrap covers {', '.join(TRIAL_METRICS)})")
        return
    try:
        files_a, files_b = _read_trials(runs_dir, table_a, row_a, files), _read_trials(runs_dir, table_b, row_b, files)
    except ScoreFileError as err:
        comparison.bootstrap_note = f"no trial bootstrap: {err}"
        return
    every = list(files_a.values()) + list(files_b.values())
    common = set(every[0][0])
    for keys, _, _ in every[1:]:
        common &= set(keys)
    if not common:
        comparison.bootstrap_note = "the rows scored no evaluation trial in common"
        return
    order = sorted(common)
    aligned = []
    labels = None
    for keys, values, trial_labels in every:
        index = {k: i for i, k in enumerate(keys)}
        rows = np.array([index[k] for k in order])
        if labels is None:
            labels = trial_labels[rows]
        elif not np.array_equal(labels, trial_labels[rows]):
            comparison.bootstrap_note = "the rows' score files disagree on the trials' labels"
            return
        aligned.append(values[rows])
    assert labels is not None
    metric_of = _metric_function(table_a.task, metric, labels)
    n_a = len(files_a)
    _, strata = np.unique(labels.astype(str), return_inverse=True)

    def difference(idx: np.ndarray) -> float:
        a = np.mean([metric_of(v, idx) for v in aligned[:n_a]])
        b = np.mean([metric_of(v, idx) for v in aligned[n_a:]])
        return float(b - a)

    comparison.bootstrap = paired_bootstrap(difference, strata, resamples=resamples, seed=seed)
    dropped = max(len(k) for k, _, _ in every) - len(order)
    comparison.bootstrap_note = (f"{len(order)} trials scored by every seed of both rows"
                                 + (f" ({dropped} not shared, left out)" if dropped else "")
                                 + f"; {resamples} resamples stratified by label, seed {seed}")


def describe_tests() -> str:
    """What the page and the CLI say about the tests."""
    return ("Seed level: a paired t-test on the per-seed differences when both rows ran the same seeds (seed s "
            "of each shares initialisation and data order, so pairing removes the seed's own effect); with "
            "3-5 seeds the Wilcoxon signed-rank test cannot reach p < 0.05 (its smallest two-sided p is "
            "2/2^n), so it is shown only from 6 matched seeds. Different seeds: Welch's t-test. Several "
            "comparisons shown together are Holm-adjusted. Trial level: a paired bootstrap over the evaluation "
            "trials both rows scored (same resampled trials for both and every seed, stratified by label) of "
            "the difference of seed means; it measures trial-sampling error only, not seed noise.")


PAGE_BOOTSTRAP_RESAMPLES = 300  # per comparison on the page; `benchsuite compare` takes --resamples


@dataclass
class TableComparisons:
    table: Table
    comparisons: list[Comparison]


def page_comparisons(tables: Sequence[Table], names: Mapping[str, tuple[Table, Row]], runs_dir: Path,
                     resamples: int = PAGE_BOOTSTRAP_RESAMPLES, files: ScoreFiles | None = None
                     ) -> list[TableComparisons]:
    """Per table, the best row of each profile against every other row of that profile (first
    metric), Holm-adjusted across the table, with the trial bootstrap."""
    name_of = {(id(t), id(r)): n for n, (t, r) in names.items()}
    out = []
    for table in tables:
        if not table.columns:
            continue
        key = table.columns[0].key
        comparisons = []
        for profile in dict.fromkeys(row.profile for row in table.rows):
            rows = [r for r in table.rows if r.profile == profile and r.cells.get(key) is not None
                    and r.cells[key].stats is not None]
            best = next((r for r in rows if r.cells[key].best), None)
            for other in rows:
                if best is None or other is best:
                    continue
                comparison = compare_rows(name_of[(id(table), id(best))], table, best,
                                          name_of[(id(table), id(other))], table, other, key)
                trial_bootstrap(runs_dir, comparison, table, best, table, other, resamples=resamples, files=files)
                comparisons.append(comparison)
        if comparisons:
            adjust(comparisons)
            out.append(TableComparisons(table, comparisons))
    return out
