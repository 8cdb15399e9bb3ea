"""Rendering the leaderboard of 20 cells whose score files have the size of
ASVspoof 2019 LA eval (71,237 lines: 7,355 bona fide, 13 attacks x 4,914).

    .venv/bin/python -m pytest benchmarks/test_bench_report.py --benchmark-only --benchmark-enable -s
    BENCHSUITE_BEFORE=/work/main/.venv/bin/benchsuite ...   # also times another install's `benchsuite report`

``render_report`` is timed in-process (published baselines left out, so no
plugin is loaded) and ``benchsuite report`` as a whole process, side by side
with ``BENCHSUITE_BEFORE`` when it is set.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from benchsuite.reporting.render import render_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from builders_results import CellPlan, write_cell, write_invocation  # noqa: E402
from test_bench_score_cli import side_by_side  # noqa: E402

ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
MODELS = ("aasist", "aasist-l", "rawgat-st", "rawnet2")
SEEDS = 5


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-report")
    plans = [CellPlan(model=model, seed=seed, attacks=ATTACKS, n_positive=7355, n_negative_per_attack=4914,
                      separation=3.0 + i * 0.5) for i, model in enumerate(MODELS) for seed in range(1, SEEDS + 1)]
    ids = [write_cell(root, plan)["cell_id"] for plan in plans]
    write_invocation(root, ids)
    return root


def test_render_20_cells_of_2019_la_eval_size(benchmark, store: Path, tmp_path: Path) -> None:
    written = benchmark.pedantic(render_report, args=(store, tmp_path / "out", ["html"]), kwargs={"baselines": []},
                                 rounds=3, iterations=1)
    assert written["html"].stat().st_size > 0


def test_report_command_side_by_side(benchmark, store: Path, tmp_path: Path) -> None:
    benchsuite = str(Path(sys.executable).with_name("benchsuite"))
    commands = {"benchsuite report": [benchsuite, "report", "--runs", str(store), "--out", str(tmp_path / "after")]}
    before = os.environ.get("BENCHSUITE_BEFORE")
    if before and shutil.which(before):
        commands["benchsuite report (BENCHSUITE_BEFORE)"] = [before, "report", "--runs", str(store),
                                                             "--out", str(tmp_path / "before")]
    results = benchmark.pedantic(side_by_side, args=(commands,), rounds=1, iterations=1)
    benchmark.extra_info.update({name: {k: v for k, v in r.items() if k != "stdout"} for name, r in results.items()})
    print()
    for name, result in results.items():
        print(f"| {name:<40} | {result['wall_s']:>8.2f} s | {result['cpu_s']:>8.2f} s | {result['rss_mib']:>7.0f} MiB |")
    assert (tmp_path / "after" / "leaderboard.html").is_file()
