"""End to end through the runner: reproducibility, reuse, kill-and-resume,
failures that do not stop the matrix, and what a cell directory holds."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.common.progress import Progress
from benchsuite.plugins.registry import build_registry
from benchsuite.cli.run import run_benchmark
from benchsuite.scoring.files import spoof_scores_from_files
from builders_core import TESTPLUGIN, benchsuite_cmd, env_with_testplugin, run_cli, write_tiny_la

LOADED = "testplugin,asvspoof,spoof-metrics,lfcc-lcnn"


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory) -> Path:
    return write_tiny_la(tmp_path_factory.mktemp("tiny_la"))


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", LOADED)
    yield build_registry()


def _options(tiny_la: Path, out: Path, **kw) -> RunOptions:
    base = dict(models=["tiny-cnn"], datasets=["asvspoof2019-la"], seeds=[1], profile="quick", out=out,
                data={"asvspoof2019-la": DataSource(tiny_la)}, render_report=False, command="pytest")
    base.update(kw)
    return RunOptions(**base)


def _scores(out: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(out.glob("cells/*/scores.txt"))}


def test_same_seed_is_bit_identical_and_seeds_differ(registry, tiny_la, tmp_path):
    quiet = Progress(quiet=True)
    first = run_benchmark(_options(tiny_la, tmp_path / "a", seeds=[1, 2]), registry=registry, progress=quiet)
    second = run_benchmark(_options(tiny_la, tmp_path / "b", seeds=[1, 2]), registry=registry, progress=quiet)
    assert not first.failed and not second.failed
    a, b = _scores(tmp_path / "a"), _scores(tmp_path / "b")
    assert a == b  # same cell ids, byte-identical score files
    seed1, seed2 = (a[name] for name in sorted(a))
    assert seed1 != seed2


def test_second_identical_run_trains_nothing(registry, tiny_la, tmp_path):
    quiet = Progress(quiet=True)
    first = run_benchmark(_options(tiny_la, tmp_path), registry=registry, progress=quiet)
    log = next(tmp_path.glob("cells/*/train_log.csv"))
    stamp = log.stat().st_mtime_ns
    again = run_benchmark(_options(tiny_la, tmp_path), registry=registry, progress=quiet)
    assert again.reused == [c.cell_id for c in first.cells]
    assert log.stat().st_mtime_ns == stamp
    assert [r["metrics"] for r in again.results] == [r["metrics"] for r in first.results]
    changed = run_benchmark(_options(tiny_la, tmp_path, overrides=["model.tiny-cnn.lr=0.001"]), registry=registry,
                            progress=quiet)
    assert changed.reused == [] and len(list(tmp_path.glob("cells/*"))) == 2  # a new cell; the old one kept


def test_cell_directory_holds_config_scores_log_and_provenance(registry, tiny_la, tmp_path):
    summary = run_benchmark(_options(tiny_la, tmp_path), registry=registry, progress=Progress(quiet=True))
    cell = tmp_path / "cells" / summary.cells[0].cell_id
    assert {p.name for p in cell.iterdir()} >= {"config.yaml", "scores.txt", "dev_scores.txt", "train_log.csv",
                                                 "result.json", "checkpoints"}
    result = json.loads((cell / "result.json").read_text())
    assert result["schema_version"] == 1 and result["status"] == "done"
    assert result["selection"]["rule"] == "dev_eer" and result["selection"]["epoch"] >= 1
    prov = result["provenance"]
    assert prov["versions"]["torch"] and prov["device"] == "cpu" and prov["command"] == "pytest"
    assert prov["wall_seconds"] > 0 and prov["peak_memory_mb"] > 0
    assert result["model"]["params"] > 0 and result["profile"] == "quick"
    # the score file is in the official 4-column format and joins with the protocol
    protocol = tiny_la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    joined = spoof_scores_from_files(cell / "scores.txt", protocol)
    assert len(joined.scores) == 24
    assert (tmp_path / "runs.sqlite").exists()


def test_non_finite_loss_fails_that_cell_and_the_matrix_goes_on(tiny_la, tmp_path):
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": LOADED})
    done = run_cli("run", "--models", "tiny-cnn,lfcc-lcnn", "--datasets", "asvspoof2019-la", "--data-root",
                   f"asvspoof2019-la={tiny_la}", "--profile", "quick", "--set", "model.tiny-cnn.nan_after_steps=2",
                   "--set", "model.lfcc-lcnn.epochs=1", "--out", str(tmp_path), "--no-report", env=env)
    assert done.returncode == 1, done.stderr
    results = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text())
               for p in tmp_path.glob("cells/*/result.json")}
    assert results["lfcc-lcnn"]["status"] == "done"
    assert results["tiny-cnn"]["status"] == "failed"
    assert "non-finite training loss (nan) at epoch 1, step 3" in results["tiny-cnn"]["error"]["message"]
    assert "failed: asvspoof2019-la.tiny-cnn" in done.stderr


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tiny_la, tmp_path):
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": LOADED})
    args = ["run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--data-root", f"asvspoof2019-la={tiny_la}",
            "--profile", "quick", "--set", "model.tiny-cnn.epochs=4", "--set", "model.tiny-cnn.step_delay=0.15",
            "--no-report"]
    reference = run_cli(*args, "--out", str(tmp_path / "reference"), env=env)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "killed"
    process = subprocess.Popen(benchsuite_cmd(*args, "--out", str(out)), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    checkpoint = None
    while time.monotonic() < deadline and process.poll() is None:
        found = list(out.glob("cells/*/checkpoints/last.pt"))
        if found:
            checkpoint = found[0]
            break
        time.sleep(0.02)
    assert checkpoint is not None, "the run finished or failed before its first checkpoint"
    process.send_signal(signal.SIGKILL)  # mid-epoch 2: no chance to clean up
    process.wait(timeout=60)
    assert not list(out.glob("cells/*/result.json"))

    resumed = run_cli(*args, "--out", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1" in resumed.stderr
    assert _scores(out) == _scores(tmp_path / "reference")
    result = json.loads(next(out.glob("cells/*/result.json")).read_text())
    assert result["training"]["resumed_from_epoch"] == 1


def test_train_log_lr_is_the_rate_each_epoch_trained_with(registry, tiny_la, tmp_path):
    overrides = ["model.tiny-cnn.scheduler=step", "model.tiny-cnn.step_epochs=2", "model.tiny-cnn.gamma=0.5",
                 "model.tiny-cnn.epochs=4", "model.tiny-cnn.lr=0.004", "model.tiny-cnn.patience=null"]
    summary = run_benchmark(_options(tiny_la, tmp_path, overrides=overrides), registry=registry,
                            progress=Progress(quiet=True))
    assert not summary.failed
    rows = next(tmp_path.glob("cells/*/train_log.csv")).read_text().splitlines()[1:]
    assert [float(row.split(",")[4]) for row in rows] == [0.004, 0.004, 0.002, 0.002]


def test_run_prints_the_results_and_ends_with_the_leaderboard_path(tiny_la, tmp_path):
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": LOADED})
    done = run_cli("run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--data-root",
                   f"asvspoof2019-la={tiny_la}", "--profile", "quick", "--out", str(tmp_path / "runs"),
                   "--report-dir", str(tmp_path / "reports"), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert f"results: {tmp_path / 'runs'}" in lines
    assert lines[-1] == f"leaderboard: {tmp_path / 'reports' / 'leaderboard.html'}"
    page = (tmp_path / "reports" / "leaderboard.html").read_text()
    assert "tiny-cnn" in page and "asvspoof2019-la" in page


def test_metric_warnings_are_one_progress_line_and_a_stored_note(monkeypatch, tiny_la, tmp_path):
    import io

    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    from benchsuite_testplugin.warning_metric import PROBE

    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", LOADED + ",warning-metric")
    stream = io.StringIO()
    summary = run_benchmark(_options(tiny_la, tmp_path, seeds=[1, 2]), registry=build_registry(),
                            progress=Progress(stream=stream))
    assert not summary.failed and len(summary.results) == 2
    for result in summary.results:
        note = result["notes"]["eval"]["warnings"]
        assert PROBE in note
        # the EER's own polarity verdict, whichever way this seed trained
        eer, (low, _high) = result["metrics"]["eval"]["eer"], result["extra"]["eval"]["eer_ci95"]
        assert ("look inverted" in note) == (eer > 0.5 and low > 0.5)
        assert ("at chance" in note) == (eer > 0.5 and low <= 0.5)
    shown = stream.getvalue()
    assert shown.count(f"warning (eval): {PROBE}") == 2 and "UserWarning" not in shown
