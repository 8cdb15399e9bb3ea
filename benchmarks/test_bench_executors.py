"""Wall time of one 4-cell CPU matrix run by ``--executor local`` and by
``--executor pool --jobs 2``, side by side in one session.

Run with
``.venv/bin/python -m pytest benchmarks/test_bench_executors.py --benchmark-only --benchmark-enable``.

Each round is a whole ``benchsuite run`` in a subprocess, as a user types it
(interpreter and torch start-up, plan, training, scoring, no report), into a
fresh output directory.  The matrix: the core tests' ``tiny-cnn`` on a
generated ASVspoof-2019-layout corpus (BENCH_EXECUTOR_TRAIN training
utterances of 1 s, 3 epochs) x 4 seeds — real compute, no sleeping steps, so
the pool gains only what splitting the cores brings: local uses torch's
default thread count in one process, the pool two processes of cores/2
threads each (and pays one interpreter start per cell)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# the corpus builder and the test plugin live with the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from builders_core import benchsuite_cmd, env_with_testplugin, write_tiny_la  # noqa: E402

TRAIN = int(os.environ.get("BENCH_EXECUTOR_TRAIN", "192"))
EXECUTORS = {"local": [], "pool-jobs2": ["--executor", "pool", "--jobs", "2"]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_la(tmp_path_factory.mktemp("bench-executors-la"), sizes={"train": TRAIN, "dev": 48, "eval": 64},
                         seconds=1.0)


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_four_cell_cpu_matrix(benchmark, corpus: Path, tmp_path: Path, executor: str) -> None:
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": "testplugin,asvspoof,spoof-metrics"})
    rounds = iter(range(100))

    def run_matrix() -> subprocess.CompletedProcess:
        out = tmp_path / f"round{next(rounds)}"
        return subprocess.run(
            benchsuite_cmd("run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--data-root",
                           f"asvspoof2019-la={corpus}", "--profile", "quick", "--seeds", "4",
                           "--set", "model.tiny-cnn.epochs=3", "--device", "cpu", "--no-report", "--quiet",
                           "--out", str(out), *EXECUTORS[executor]),
            env=env, capture_output=True, text=True, timeout=1800)

    done = benchmark.pedantic(run_matrix, rounds=2, iterations=1)
    assert done.returncode == 0, done.stderr
    benchmark.extra_info["cells"] = 4
    benchmark.extra_info["train_utterances"] = TRAIN
