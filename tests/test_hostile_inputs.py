"""Issue 21's probes, one test each: bad input never becomes a number, and the store survives
anything.  Each test is named after its probe (test_probe_...)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from benchsuite.cell.directory import CellDirectories
from benchsuite.cli.rescore import rescore_cell
from benchsuite.cli.run import build_run_options, run_benchmark
from benchsuite.common.progress import Progress
from benchsuite.contract import ConfigError, DataError, MetricSpec, MetricValueInfo, ModelSpec, Recipe, Task
from benchsuite.contract.hookspecs import hookimpl
from benchsuite.execution.base import LocalExecutor
from benchsuite.execution.status import cell_states
from benchsuite.planning.options import DataSource, RunOptions, load_config_file
from benchsuite.plugins.registry import build_registry
from benchsuite.storage.store import ResultsStore
from benchsuite.training.checkpoints import LAST, load_resume_checkpoint, previous_path, save_checkpoint
from builders_core import TESTPLUGIN, run_cli, write_tiny_la

LOADED = "testplugin,asvspoof,spoof-metrics"


def _cli(*args: str):
    """The command line in this process (the CLI's exit code and its stdout/stderr apart): a
    subprocess per probe would cost most of this file's time in imports."""
    from click.testing import CliRunner

    from benchsuite.cli.main import cli

    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory) -> Path:
    return write_tiny_la(tmp_path_factory.mktemp("la"), sizes={"train": 16, "dev": 8, "eval": 8}, seconds=0.3)


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", LOADED)
    return build_registry()


def _options(corpus: Path, out: Path, **kw) -> RunOptions:
    base = dict(models=["tiny-cnn"], datasets=["asvspoof2019-la"], seeds=[1], profile="quick", out=out, device="cpu",
                overrides=["model.tiny-cnn.epochs=1"], data={"asvspoof2019-la": DataSource(corpus)},
                render_report=False, command="pytest")
    base.update(kw)
    return RunOptions(**base)


def _run(registry, corpus: Path, out: Path, **kw):
    return run_benchmark(_options(corpus, out, **kw), registry=registry, progress=Progress(quiet=True))


def _copy(corpus: Path, to: Path) -> Path:
    subprocess.run(["cp", "-a", str(corpus), str(to)], check=True)
    return to


def _train_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "ASVspoof2019_LA_train" / "flac").glob("*.flac"))


# --------------------------------------------------------------------------- silent wrong results


@pytest.mark.parametrize("setting", ["recipe.epochs=0", "model.*.epochs=-1", "model.tiny-cnn.epochs=0"])
def test_probe_epochs_zero_or_negative_is_refused_at_planning_time(registry, tiny_la, tmp_path, setting):
    with pytest.raises(ConfigError, match=r"expected a number >= 1"):
        _run(registry, tiny_la, tmp_path / "runs", overrides=[setting])
    assert not (tmp_path / "runs" / "cells").exists()


def test_probe_stereo_flac_is_caught_by_data_check_and_by_run_before_training(registry, tiny_la, tmp_path):
    corpus = _copy(tiny_la, tmp_path / "LA")
    stereo = _train_files(corpus)[1]
    wave, rate = soundfile.read(str(stereo))
    soundfile.write(str(stereo), np.stack([wave, wave], axis=1), rate)
    checked = _cli("data", "check", "asvspoof2019-la", "--data-root", str(corpus))
    assert checked.exit_code == 2 and "OK" not in checked.stdout
    assert f"{stereo} has 2 channels" in checked.stderr
    # the truth for ASVspoof: no 'channel' option to point at, convert to mono
    assert "has no 'channel' option" in checked.stderr and "mono" in checked.stderr
    with pytest.raises(DataError, match="2 channels"):
        _run(registry, corpus, tmp_path / "runs")
    assert not (tmp_path / "runs" / "cells").exists()


def test_probe_zero_length_flac_is_caught_before_training(registry, tiny_la, tmp_path):
    corpus = _copy(tiny_la, tmp_path / "LA")
    empty = _train_files(corpus)[2]
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=rf"{empty.name} is an empty file \(0 bytes\)"):
        _run(registry, corpus, tmp_path / "runs")
    assert not (tmp_path / "runs" / "cells").exists()


@pytest.mark.parametrize("content, expected", [
    ("", "the file holds no options"),
    ("# only a comment\n", "the file holds no options"),
    ("seeds: zero\n", "seeds: 'zero'; expected an integer >= 1"),
    ("set: [1, 2]\n", "set: [1, 2]; expected a mapping of KEY: VALUE"),
    ("datasets: [synth-la]\n", "to choose datasets as --datasets does, use select_datasets"),
    ("num_workers: many\n", "num_workers: 'many'; expected auto or an integer >= 0"),
    ("modles: [x]\n", "unknown key(s) modles. Did you mean 'models'?"),
])
def test_probe_config_file_of_the_wrong_shape_is_refused_naming_the_key(tmp_path, content, expected):
    path = tmp_path / "study.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        build_run_options({"config_file": path})
    assert f"--config {path}: " in str(err.value) and expected in str(err.value)


def test_probe_config_directory_and_empty_file_exit_2_from_the_cli(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    for path, expected in ((tmp_path, "is a directory; expected a YAML file"), (empty, "holds no options")):
        done = run_cli("run", "--config", str(path), "--no-report")
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr


def test_config_keys_mirror_the_flags(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("models: tiny-cnn,lfcc-lcnn\ndata_root: [asvspoof2019-la=/data/LA]\n"
                    "set: [model.tiny-cnn.epochs=1]\nseeds: 2\n")
    options = build_run_options({"config_file": path})
    assert options.models == ["tiny-cnn", "lfcc-lcnn"]
    assert options.data["asvspoof2019-la"].root == Path("/data/LA")
    assert options.overrides == ["model.tiny-cnn.epochs=1"] and options.seeds == [1, 2]
    # the older 'datasets:' mapping still works, but not beside data_root for the same dataset
    path.write_text("datasets: {asvspoof2019-la: /a}\ndata_root: {asvspoof2019-la: /b}\n")
    with pytest.raises(ConfigError, match="both data_root and datasets"):
        load_config_file(path)


def test_probe_changed_audio_reruns_the_cell_and_keeps_the_old_result_aside(registry, tiny_la, tmp_path):
    corpus = _copy(tiny_la, tmp_path / "LA")
    out = tmp_path / "runs"
    first = _run(registry, corpus, out)
    (cell_id,) = [c.cell_id for c in first.cells]
    stored = CellDirectories(out).read_config(cell_id)["runtime"]["audio_fingerprints"]["asvspoof2019-la"]
    assert set(stored) == {"train", "dev", "eval"}
    again = _run(registry, corpus, out)
    assert again.reused == [cell_id]  # unchanged audio: reused
    changed = _train_files(corpus)[0]
    wave, rate = soundfile.read(str(changed))
    soundfile.write(str(changed), 0.5 * wave, rate)  # same protocols, different audio
    messages: list[str] = []
    progress = Progress(quiet=True)
    progress.message = messages.append  # type: ignore[method-assign]
    third = run_benchmark(_options(corpus, out), registry=registry, progress=progress)
    assert third.reused == [] and third.cells[0].cell_id == cell_id  # same cell id, run again
    notice = next(m for m in messages if "the audio changed since it ran" in m)
    assert "asvspoof2019-la train" in notice
    superseded = list((out / "cells" / cell_id).glob("superseded-*/result.json"))
    assert len(superseded) == 1
    assert third.results[0]["status"] == "done"
    assert third.results[0]["training"]["resumed_from_epoch"] is None  # nothing of the old run was resumed


def test_a_cell_stored_without_audio_fingerprint_is_reused_with_one_notice(registry, tiny_la, tmp_path):
    out = tmp_path / "runs"
    first = _run(registry, tiny_la, out)
    store = CellDirectories(out)
    (cell_id,) = [c.cell_id for c in first.cells]
    config = store.read_config(cell_id)
    del config["runtime"]["audio_fingerprints"]  # as an older benchsuite stored it
    store.write_config(cell_id, config)
    messages: list[str] = []
    progress = Progress(quiet=True)
    progress.message = messages.append  # type: ignore[method-assign]
    second = run_benchmark(_options(tiny_la, out), registry=registry, progress=progress)
    assert second.reused == [cell_id]
    assert sum("stored before audio fingerprints were recorded" in m for m in messages) == 1


# --------------------------------------------------------------------------- tracebacks where a message belongs


def test_probe_garbage_or_wrong_schema_result_json_blocks_no_command(registry, tiny_la, tmp_path):
    out = tmp_path / "runs"
    (cell_id,) = [c.cell_id for c in _run(registry, tiny_la, out).cells]
    result_path = out / "cells" / cell_id / "result.json"
    for content in ("{garbage", '{"schema_version": 1, "status": "done"}', "[1, 2]"):
        result_path.write_text(content)
        status = _cli("status", "--out", str(out))
        assert status.exit_code == 0, status.output
        assert status.stdout.startswith(f"unreadable  {cell_id}") and str(result_path) in status.stdout
        rebuilt = _cli("index", "--out", str(out), "--rebuild")
        assert rebuilt.exit_code == 0, rebuilt.output
        # `run` does not take it for a finished cell: it runs the cell again, keeping the bad file
        rerun = _run(registry, tiny_la, out)
        assert rerun.reused == [] and rerun.results[0]["status"] == "done"
        kept = sorted((out / "cells" / cell_id).glob("result.unreadable-*.json"))
        assert kept and kept[-1].read_text() == content
        for path in kept:
            path.unlink()


@dataclass
class _NoConfig:
    pass


def test_probe_a_raising_hook_is_contained_like_an_import_failure(monkeypatch):
    class Raising:
        @staticmethod
        @hookimpl
        def benchsuite_register_models(register):
            register(ModelSpec(name="half-registered", tasks=(Task.SPOOF,), build=lambda c, t: None,
                               config_class=_NoConfig, recipes={"paper": Recipe()}))
            raise RuntimeError("hook exploded")

    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    registry = build_registry(extra={"raising-plugin": Raising})
    (failure,) = registry.failures
    assert failure.name == "raising-plugin"
    assert "hook benchsuite_register_models raised RuntimeError: hook exploded" in failure.error
    assert "half-registered" not in registry.models  # nothing of a failed plugin is registered
    assert [p["name"] for p in registry.plugins()] == ["raising-plugin"]
    with pytest.raises(ConfigError, match="plugin 'raising-plugin' failed to load: hook benchsuite_register_models "
                                          "raised RuntimeError: hook exploded"):
        build_registry(strict=True, extra={"raising-plugin": Raising})


def _plugin_dir(tmp_path: Path, modules: dict[str, str]) -> Path:
    """A directory holding plugin modules and a dist-info whose entry points name them."""
    root = tmp_path / "plugins"
    (root / "hostile_plugins-0.1.dist-info").mkdir(parents=True)
    (root / "hostile_plugins-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-plugins\n"
                                                                     "Version: 0.1\n")
    (root / "hostile_plugins-0.1.dist-info" / "entry_points.txt").write_text(
        "[benchsuite]\n" + "".join(f"{name} = {name.replace('-', '_')}\n" for name in modules))
    for name, source in modules.items():
        (root / f"{name.replace('-', '_')}.py").write_text(source)
    return root


_MODEL_PLUGIN = '''
from dataclasses import dataclass

from benchsuite.api import ModelSpec, Recipe, Task, hookimpl


@dataclass
class Config:
    pass


@hookimpl
def benchsuite_register_models(register):
    register(ModelSpec(name="lfcc-lcnn", tasks=(Task.SPOOF,), build=lambda c, t: None, config_class=Config,
                       recipes={"paper": Recipe()}))
'''
_RAISING_PLUGIN = '''
from benchsuite.api import hookimpl

@hookimpl
def benchsuite_register_metrics(register):
    raise RuntimeError("hook exploded")
'''


def test_probe_a_name_two_plugins_register_is_listed_by_plugins_and_refused_elsewhere(monkeypatch, tmp_path):
    root = _plugin_dir(tmp_path, {"copycat": _MODEL_PLUGIN, "exploding": _RAISING_PLUGIN})
    monkeypatch.syspath_prepend(str(root))  # importlib.metadata finds the entry points on sys.path
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "lfcc-lcnn,copycat,exploding")
    listed = _cli("plugins")
    assert listed.exit_code == 0, listed.output
    assert "CONFLICT: model 'lfcc-lcnn' is registered twice: by plugin 'lfcc-lcnn' (benchsuite" in listed.stdout
    assert "and by plugin 'copycat' (hostile-plugins 0.1)" in listed.stdout
    assert "exploding FAILED to load: hook benchsuite_register_metrics raised RuntimeError: hook exploded" in listed.stdout
    # every other command refuses, naming both plugins; the command line itself exits 2 without a traceback
    refused = run_cli("list", "models", env={**os.environ, "PYTHONPATH": str(root),
                                             "BENCHSUITE_LOAD_PLUGINS": "lfcc-lcnn,copycat"})
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "'copycat'" in refused.stderr and "'lfcc-lcnn'" in refused.stderr and "registered twice" in refused.stderr
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "lfcc-lcnn,exploding")
    strict = _cli("plugins", "--strict")
    assert strict.exit_code == 2 and "plugin 'exploding'" in strict.output


# --------------------------------------------------------------------------- stuck states


def test_probe_truncated_last_checkpoint_falls_back_or_starts_over_naming_the_file(tmp_path):
    path = tmp_path / LAST
    save_checkpoint(path, {"epoch": 1}, keep_previous=True)
    save_checkpoint(path, {"epoch": 2}, keep_previous=True)
    assert previous_path(path).exists()
    path.write_bytes(path.read_bytes()[:20])  # cut short
    notices: list[str] = []
    assert load_resume_checkpoint(path, notices.append) == {"epoch": 1}
    assert str(path) in notices[0] and "cut short" in notices[0] and "last.prev.pt" in notices[0]
    previous_path(path).write_bytes(b"not a checkpoint")
    notices.clear()
    assert load_resume_checkpoint(path, notices.append) is None
    assert "starting this cell over" in notices[0] and str(previous_path(path)) in notices[0]
    # a damaged best.pt cannot be rebuilt from last.pt: start over rather than fail every re-run
    save_checkpoint(path, {"epoch": 3})
    best = tmp_path / "best.pt"
    save_checkpoint(best, {"epoch": 3})
    best.write_bytes(best.read_bytes()[:-1])
    notices.clear()
    assert load_resume_checkpoint(path, notices.append, selected=best) is None
    assert str(best) in notices[0] and not best.exists()


def test_probe_truncated_last_checkpoint_no_longer_fails_the_cell_on_every_rerun(registry, tiny_la, tmp_path):
    out = tmp_path / "runs"
    first = _run(registry, tiny_la, out, overrides=["model.tiny-cnn.epochs=2"])
    cell_dir = out / "cells" / first.cells[0].cell_id
    uninterrupted = (cell_dir / "scores.txt").read_bytes()
    (cell_dir / "result.json").unlink()  # as if killed after the last checkpoint
    last = cell_dir / "checkpoints" / LAST
    last.write_bytes(last.read_bytes()[:100])
    again = _run(registry, tiny_la, out, overrides=["model.tiny-cnn.epochs=2"])
    assert again.results[0]["status"] == "done"
    assert again.results[0]["training"]["resumed_from_epoch"] == 1  # from last.prev.pt
    assert (cell_dir / "scores.txt").read_bytes() == uninterrupted  # epoch 2 trained again, identically


_HOLD_LEASE = '''
import sys, time
from benchsuite.cell.directory import CellDirectories
with CellDirectories(sys.argv[1]).cell_lease(sys.argv[2]) as holder:
    assert holder is None
    print("held", flush=True)
    time.sleep(120)
'''


def test_probe_a_second_run_leaves_a_cell_a_live_run_holds_and_status_says_running(registry, tiny_la, tmp_path):
    out = tmp_path / "runs"
    cell_id = _run(registry, tiny_la, out, overrides=["model.tiny-cnn.epochs=2"], models=["tiny-cnn"]).cells[0].cell_id
    (out / "cells" / cell_id / "result.json").unlink()  # the cell is now unfinished, as a live run's would be
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LEASE, str(out), cell_id], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (row,) = cell_states(out)
        assert row["status"] == "running" and f"pid {holder.pid}" in row["where"]
        summary = _run(registry, tiny_la, out, overrides=["model.tiny-cnn.epochs=2"])
        assert [r["status"] for r in summary.results] == ["running"] and summary.failed == []
        assert not (out / "cells" / cell_id / "result.json").exists()  # nothing written into the live cell
        # the executor's own check, for a run that started before the lease was taken
        (direct,) = LocalExecutor(registry).run(summary.cells, out, Progress(quiet=True))
        assert direct["status"] == "running" and f"pid {holder.pid}" in direct["held_by"]
    finally:
        holder.kill()
        holder.wait()
    # a dead process holds nothing: the next run resumes the cell
    assert CellDirectories(out).lease_holder(cell_id) is None
    assert cell_states(out)[0]["status"] == "incomplete"
    assert _run(registry, tiny_la, out, overrides=["model.tiny-cnn.epochs=2"]).results[0]["status"] == "done"


# --------------------------------------------------------------------------- late failures


class _ExplodingMetric:
    @staticmethod
    @hookimpl
    def benchsuite_register_metrics(register):
        def compute(scores, options):
            raise ZeroDivisionError("metric exploded")

        register(MetricSpec(name="exploding", task=Task.SPOOF, compute=compute,
                            outputs=(MetricValueInfo(key="boom", label="boom"),)))


def test_probe_a_raising_metric_is_isolated_recorded_and_rescore_recomputes(monkeypatch, tiny_la, tmp_path):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", LOADED)
    broken = build_registry(extra={"exploding-plugin": _ExplodingMetric})
    out = tmp_path / "runs"
    (result,) = _run(broken, tiny_la, out).results
    assert result["status"] == "done"  # trained and scored: the other metrics' values are kept
    assert "eer" in result["metrics"]["eval"]
    assert result["metric_errors"]["eval"]["exploding"] == ("ZeroDivisionError: metric exploded "
                                                          "(plugin 'exploding-plugin')")
    store = ResultsStore(out)
    fixed = build_registry()
    updated, errors = rescore_cell(fixed, store, result["cell_id"], store.read_result(result["cell_id"]))
    assert errors == {} and updated["metric_errors"] == {}
    assert updated["metrics"]["eval"] == result["metrics"]["eval"]  # same numbers from the stored score file
    assert updated["breakdown"]["eval"] == result["breakdown"]["eval"]
    cli = _cli("rescore", "--out", str(out))
    assert cli.exit_code == 0, cli.output
    assert f"rescored {result['cell_id']}" in cli.stdout
    stored = store.read_result(result["cell_id"])
    assert stored["metric_errors"] == {} and stored["rescored"]["metrics"]


def test_a_cell_whose_every_metric_raises_is_failed_not_done(monkeypatch, tiny_la, tmp_path):
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof")
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    registry = build_registry(extra={"exploding-plugin": _ExplodingMetric})
    (result,) = _run(registry, tiny_la, tmp_path / "runs", overrides=["model.tiny-cnn.epochs=1",
                                                                     "model.tiny-cnn.selection=last"]).results
    assert result["status"] == "failed"
    assert "every spoof metric failed" in result["error"]["message"] and "exploding" in result["error"]["message"]
    assert (tmp_path / "runs" / "cells" / result["cell_id"] / "scores.txt").exists()  # kept for rescore


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_probe_device_cuda_without_cuda_is_refused_up_front(registry, tiny_la, tmp_path):
    with pytest.raises(ConfigError, match="--device cuda: CUDA is not available on this machine"):
        _run(registry, tiny_la, tmp_path / "runs", device="cuda")
    assert not (tmp_path / "runs" / "cells").exists()
    from benchsuite.execution.pool import PoolExecutor
    from benchsuite.execution.slurm import SlurmExecutor

    with pytest.raises(ConfigError, match="CUDA is not available"):
        PoolExecutor().check_device("cuda")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        SlurmExecutor(cluster="local").check_device("cuda")
    on_cluster = SlurmExecutor.__new__(SlurmExecutor)
    on_cluster.cluster, on_cluster.gpus_per_task = "slurm", None
    with pytest.raises(ConfigError, match="--slurm-gpus-per-task"):
        on_cluster.check_device("cuda")  # the login node has no GPU: the request must ask for one
    on_cluster.gpus_per_task = 1
    on_cluster.check_device("cuda")


# --------------------------------------------------------------------------- other


def test_probe_data_check_lists_every_problem_capped_per_kind(registry, tiny_la, tmp_path):
    corpus = _copy(tiny_la, tmp_path / "LA")
    files = _train_files(corpus)
    for path in files[:12]:
        path.unlink()
    wave, rate = soundfile.read(str(files[13]))
    soundfile.write(str(files[13]), np.stack([wave, wave], axis=1), rate)
    (files[14]).write_bytes(b"")
    checked = _cli("data", "check", "asvspoof2019-la", "--data-root", str(corpus))
    assert checked.exit_code == 2
    message = checked.stderr
    assert "3 problem(s) found before training" in message
    assert "12 of 16 audio files are missing" in message and "... and 2 more" in message  # capped at ten
    assert "multi-channel audio (1)" in message and "audio without samples (1)" in message
