"""A sweep on the leaderboard (grouped table, main effects, one-axis tests, plot), the page's row
comparisons and `benchsuite compare`, on a store written by hand (spoof cells with score files)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchsuite.cli.compare import compare
from benchsuite.reporting import render_report
from benchsuite.reporting.collect import build_report
from benchsuite.reporting.compare import row_names
from benchsuite.reporting.stats import holm, paired_t
from benchsuite.reporting.sweeps import sweep_cells, sweep_records, sweep_views
from benchsuite.scoring.det import eer
from benchsuite.storage.store import ResultsStore

LR = "model.m.lr"
NORM = "recipe.waveform_norm"
TRIALS = 60
INFO = {"eer": {"label": "EER", "lower_is_better": True, "percent": True, "order": 0}}


def _cell(store: ResultsStore, lr: float, norm: str, seed: int) -> tuple[str, float]:
    """A done spoof cell whose scores get better with lr (a real effect) and vary by seed."""
    cell_id = f"d.m.quick.s{seed}.{lr}-{norm}"
    rng = np.random.default_rng(seed * 100 + int(lr * 1000) + (norm == "train"))
    bonafide = np.arange(TRIALS) % 4 == 0
    separation = 0.5 + 60 * lr + 0.1 * seed
    scores = rng.normal(0, 1, TRIALS) + separation * bonafide
    lines = [f"E_{i:03d} {'-' if b else 'A07'} {'bonafide' if b else 'spoof'} {s:.6f}"
             for i, (b, s) in enumerate(zip(bonafide, scores))]
    (store.cell_dir(cell_id)).mkdir(parents=True)
    (store.cell_dir(cell_id) / "scores.txt").write_text("\n".join(lines) + "\n")
    value = eer(scores[bonafide], scores[~bonafide])
    store.write_result(cell_id, {
        "status": "done", "task": "spoof", "profile": "quick", "seed": seed,
        "dataset": {"name": "d", "train_dataset": "d", "task": "spoof", "eval_split": "eval", "options": {}},
        "model": {"name": "m", "config": {}}, "recipe": {"lr": lr, "waveform_norm": norm},
        "metrics": {"eval": {"eer": value}}, "metric_info": INFO, "artifacts": {"scores": "scores.txt"},
        "sweep": {"key": "k1", "values": {LR: lr, NORM: norm}},
    })
    return cell_id, value


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("runs")
    store = ResultsStore(root)
    values, cells = {}, {}
    for lr in (0.001, 0.01):
        for norm in ("utterance", "train"):
            for seed in (1, 2, 3):
                cell_id, value = _cell(store, lr, norm, seed)
                values[(lr, norm, seed)] = value
                cells[cell_id] = {LR: lr, NORM: norm}
    # the sweep grew over two runs: the union of both records is the sweep
    first = {k: v for k, v in cells.items() if v[LR] == 0.001}
    for stamp, part in (("20260101T000000", first), ("20260102T000000", cells)):
        store.record_invocation({"start": stamp, "command": "benchsuite run --sweep ...",
                                 "sweep": {"key": "k1", "axes": [NORM, LR], "profile": "quick", "cells": part}})
    return root, values


def test_sweep_table_main_effects_tests_and_plot(store):
    root, values = store
    report = build_report(root, baselines=[])
    (view,) = sweep_views(report.done, sweep_records(ResultsStore(root).invocations()))
    assert view.axes == [NORM, LR] and len(view.combinations) == 4
    first = view.combinations[0]
    assert first.values == {NORM: "train", LR: 0.001}
    assert first.stats["eer"].mean == pytest.approx(np.mean([values[(0.001, "train", s)] for s in (1, 2, 3)]))
    lr_effect = next(e for e in view.main_effects if e.axis == LR)
    want = np.mean([values[(0.01, n, s)] for n in ("utterance", "train") for s in (1, 2, 3)])
    assert lr_effect.rows[1][0] == 0.01 and lr_effect.rows[1][1]["eer"] == pytest.approx(want)
    # 4 pairs differ in exactly one axis; the two diagonal pairs are not compared
    assert len(view.comparisons) == 4 and {c.axis for c in view.comparisons} == {LR, NORM}
    raw = [c.test.p_value for c in view.comparisons]
    assert [c.adjusted_p for c in view.comparisons] == pytest.approx(holm(raw))
    lr_pair = next(c for c in view.comparisons if c.axis == LR and c.name_a.startswith("waveform_norm=train"))
    expected = paired_t([values[(0.01, "train", s)] for s in (1, 2, 3)], [values[(0.001, "train", s)] for s in (1, 2, 3)])
    assert lr_pair.test.test == "paired t" and lr_pair.test.p_value == pytest.approx(expected.p_value)
    verdict = lr_pair.verdict()
    assert verdict.startswith(f"difference {abs(lr_pair.difference) * 100:.1f} points")
    assert "seed noise (p = " in verdict and "n = 3)" in verdict
    (plot,) = view.plots  # lr is the one numeric axis
    assert str(plot).count("<circle") == 12 and "log scale" in str(plot)


def test_page_has_sweeps_and_comparisons_and_stays_self_contained(store, tmp_path):
    root, _ = store
    html = render_report(root, tmp_path, ("html",), baselines=[])["html"].read_text()
    assert 'id="sweeps"' in html and 'id="comparisons"' in html and "Main effects" in html
    assert "Trial bootstrap (pooled over seeds)" in html and "paired t (n = 3)" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_compare_cli_names_rows_bootstraps_trials_and_suggests_names(store):
    root, values = store
    names = row_names(build_report(root, baselines=[]).tables,
                      sweep_cells(sweep_records(ResultsStore(root).invocations())))
    a, b = "d/m/quick/lr=0.001,waveform_norm=train", "d/m/quick/lr=0.01,waveform_norm=train"
    assert {a, b} <= set(names)
    runner = CliRunner()
    out = runner.invoke(compare, [a, b, "--runs", str(root), "--json", "--resamples", "200"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    mean = lambda lr: np.mean([values[(lr, "train", s)] for s in (1, 2, 3)])  # noqa: E731
    assert data["difference"] == pytest.approx(mean(0.01) - mean(0.001))
    assert data["seed_test"]["test"] == "paired t"
    # pooled over seeds, on the same trials: the observed statistic is the difference of seed-mean EERs
    assert data["bootstrap"]["observed"] == pytest.approx(mean(0.01) - mean(0.001))
    assert data["bootstrap"]["low"] <= data["bootstrap"]["observed"] <= data["bootstrap"]["high"]
    wrong = runner.invoke(compare, [a.replace("train", "trian"), b, "--runs", str(root)])
    assert wrong.exit_code != 0 and f"Did you mean {a!r}" in str(wrong.exception)


def test_seeds_that_do_not_match_are_compared_with_welch():
    from benchsuite.reporting.compare import seed_test

    paired, why = seed_test({1: 0.40, 2: 0.42, 3: 0.45}, {1: 0.43, 2: 0.44, 3: 0.49})
    assert paired.test == "paired t" and "paired by seed" in why
    welch, why = seed_test({1: 0.40, 2: 0.42, 3: 0.45}, {4: 0.43, 5: 0.44, 6: 0.49})
    assert welch.test == "Welch t" and "cannot be paired" in why
