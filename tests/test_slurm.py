"""The slurm executor without a cluster: the sbatch submission against fake
sbatch/squeue/sacct/scancel/scontrol/srun scripts that record their arguments
(the test then plays the cluster and runs an array task, preempting it once),
and real subprocess jobs through submitit's local executor with --wait."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchsuite.api import ConfigError
from benchsuite.cli.main import cli
from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.common.progress import Progress
from benchsuite.plugins.registry import build_registry
from benchsuite.cli.run import run_benchmark
from benchsuite.execution.slurm import SlurmExecutor, check_slurm_mem, parse_slurm_time
from builders_core import TESTPLUGIN, run_cli
from builders_scale import (  # noqa: F401 (plugin_dir, tiny_la: fixtures)
    FAKE_SLURM, LOADED, TESTS, array_task_env, executor_record, fake_slurm_calls, fake_slurm_env, plugin_dir,
    scale_env, scores, tiny_la, wait_for,
)


def _run_args(tiny_la: Path) -> list[str]:
    return ["run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--data-root", f"asvspoof2019-la={tiny_la}",
            "--profile", "quick", "--seeds", "2", "--set", "model.tiny-cnn.epochs=3",
            "--set", "model.tiny-cnn.step_delay=0.1", "--no-report"]


SLURM_ARGS = ["--executor", "slurm", "--slurm-partition", "gpu", "--slurm-time", "1:30:00", "--slurm-gpus-per-task", "1",
              "--slurm-cpus-per-task", "2", "--slurm-mem", "8G", "--slurm-array-parallelism", "1",
              "--slurm-account", "speech", "--slurm-qos", "normal", "--slurm-setup", "export BENCHSUITE_SETUP_RAN=1"]


@pytest.mark.slow
def test_sbatch_array_status_and_a_preempted_task_that_requeues_and_resumes(tiny_la, plugin_dir, tmp_path,
                                                                             monkeypatch):
    record = tmp_path / "fake_slurm"
    env = fake_slurm_env(plugin_dir, record)
    args = _run_args(tiny_la)
    reference = run_cli(*args, "--out", str(tmp_path / "local"), env=env)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "out"
    submitted = run_cli(*args, *SLURM_ARGS, "--out", str(out), env=env)
    assert submitted.returncode == 0, submitted.stderr
    assert f"submitted Slurm job 4242; follow it with: benchsuite status --out {out}" in submitted.stdout
    assert [call[0] for call in fake_slurm_calls(record)] == ["sbatch"]
    script = (record / "sbatch-4242.sh").read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-task=1",
                 "#SBATCH --cpus-per-task=2", "#SBATCH --mem=8G", "#SBATCH --array=0-1%1", "#SBATCH --account=speech",
                 "#SBATCH --qos=normal", "#SBATCH --requeue", "#SBATCH --signal=USR2@90",
                 "#SBATCH --ntasks-per-node=1", "export BENCHSUITE_SETUP_RAN=1"):
        assert line in script.splitlines(), line
    assert "-m submitit.core._submit" in script
    cells = {executor_record(p.parent)["job_id"]: p.parent for p in out.glob("cells/*/executor.json")}
    assert sorted(cells) == ["4242_0", "4242_1"]
    assert not list(out.glob("cells/*/result.json"))

    # status asks squeue; the cells are pending / running with their array task ids
    (record / "squeue.txt").write_text("4242_0|RUNNING\n4242_1|PENDING\n")
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("FAKE_SLURM_DIR", str(record))
    status = CliRunner().invoke(cli, ["status", "--out", str(out)])
    assert status.exit_code == 0, status.output
    assert f"running     {cells['4242_0'].name}  (slurm, job 4242_0, RUNNING)" in status.output
    assert f"pending     {cells['4242_1'].name}  (slurm, job 4242_1, PENDING)" in status.output
    assert "1 pending, 1 running" in status.output
    assert ["squeue", "--noheader", "--array", "--format=%i|%T", "--jobs", "4242"] in fake_slurm_calls(record)

    # running the same command again while the array is queued submits nothing twice
    again = run_cli(*args, *SLURM_ARGS, "--out", str(out), env=env)
    assert again.returncode == 0, again.stderr
    assert "2 cell(s) already queued or running, not submitted again" in again.stderr
    assert [call[0] for call in fake_slurm_calls(record)].count("sbatch") == 1

    # play the cluster: array task 1 starts, is preempted (USR2, as --signal asks), requeues itself ...
    task_env = array_task_env(env, "4242", 1)
    cell = cells["4242_1"]
    job = subprocess.Popen(["bash", str(record / "sbatch-4242.sh")], env=task_env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (cell / "checkpoints" / "last.pt").exists(), "the task's first checkpoint", process=job)
    os.kill(executor_record(cell)["running"]["pid"], signal.SIGUSR2)
    job.communicate(timeout=300)
    assert job.returncode != 0
    assert ["scontrol", "requeue", "4242_1"] in fake_slurm_calls(record)
    assert not (cell / "result.json").exists()
    log = next((out / "slurm" / "4242_1").glob("*_log.err")).read_text()
    assert "Caught signal SIGUSR2" in log and "this job is preempted" in log

    # ... and Slurm starts it again: it resumes from the checkpoint and ends as an uninterrupted run would
    rerun = subprocess.run(["bash", str(record / "sbatch-4242.sh")], env=task_env, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads((cell / "result.json").read_text())
    assert result["status"] == "done" and result["training"]["resumed_from_epoch"] >= 1
    assert executor_record(cell)["attempts"] == 2
    assert scores(out)[cell.name] == scores(tmp_path / "local")[cell.name]

    (record / "squeue.txt").write_text("4242_0|RUNNING\n")
    status = CliRunner().invoke(cli, ["status", "--out", str(out), "--json"])
    states = {row["cell_id"]: row["status"] for row in json.loads(status.output)}
    assert states == {cells["4242_0"].name: "running", cell.name: "done"}


def test_slurm_needs_submitit_and_sbatch(tiny_la, plugin_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    with pytest.raises(ConfigError, match=r"--executor slurm: sbatch and srun not found on PATH"):
        SlurmExecutor()
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if not installed
    monkeypatch.setenv("PATH", str(FAKE_SLURM))
    with pytest.raises(ConfigError, match=r"--executor slurm needs submitit: pip install 'benchsuite\[slurm\]'"):
        SlurmExecutor()
    monkeypatch.undo()
    # from the command line: one line, exit code 2, before any planning
    env = scale_env(plugin_dir, {"PATH": str(Path(sys.executable).parent)})
    refused = run_cli("run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--data-root",
                      f"asvspoof2019-la={tiny_la}", "--executor", "slurm", "--out", str(tmp_path / "out"), env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: --executor slurm: sbatch and srun not found")
    assert not (tmp_path / "out").exists()


def test_slurm_option_values():
    assert [parse_slurm_time(t) for t in ("90", "1:30", "4:00:00", "2-00", "1-12:00", "1-00:00:30")] == \
        [90, 2, 240, 2880, 2160, 1441]
    for bad in ("0", "ninety", "1:2:3:4", ""):
        with pytest.raises(ConfigError, match="--slurm-time"):
            parse_slurm_time(bad)
    assert check_slurm_mem("16g") == "16G"
    with pytest.raises(ConfigError, match="--slurm-mem '16 GB'"):
        check_slurm_mem("16 GB")


@pytest.mark.slow
def test_local_cluster_wait_runs_real_jobs_and_a_preempted_job_resumes(tiny_la, plugin_dir, tmp_path, monkeypatch):
    # submitit's local executor: each cell a real subprocess job with Slurm's signal/requeue protocol
    env = scale_env(plugin_dir)
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", LOADED)
    for folder in (plugin_dir, TESTS, TESTPLUGIN):
        monkeypatch.syspath_prepend(str(folder))
    registry = build_registry()
    out = tmp_path / "out"
    options = RunOptions(models=["tiny-cnn"], datasets=["asvspoof2019-la"], seeds=[1, 2], profile="quick", out=out,
                         overrides=["model.tiny-cnn.epochs=3", "model.tiny-cnn.step_delay=0.1"],
                         data={"asvspoof2019-la": DataSource(tiny_la)}, render_report=True,
                         report_dir=tmp_path / "reports", command="pytest")
    preempted: dict = {}

    def preempt() -> None:  # as Slurm does before preempting: USR2 to the running task
        try:
            checkpoint = wait_for(lambda: next(iter(out.glob("cells/*/checkpoints/last.pt")), None),
                                  "a job's first checkpoint")
            preempted["cell"] = checkpoint.parents[1]
            os.kill(executor_record(preempted["cell"])["running"]["pid"], signal.SIGUSR2)
        except BaseException as exc:
            preempted["error"] = exc

    signaller = threading.Thread(target=preempt, daemon=True)
    signaller.start()
    summary = run_benchmark(options, registry=registry, progress=Progress(quiet=True),
                            executor=SlurmExecutor(cluster="local", wait=True, time=30, poll_seconds=0.2))
    signaller.join(60)
    assert "error" not in preempted, preempted.get("error")
    assert len(summary.results) == 2 and not summary.failed
    cell = preempted["cell"]
    result = json.loads((cell / "result.json").read_text())
    assert result["training"]["resumed_from_epoch"] >= 1
    assert executor_record(cell)["attempts"] == 2
    assert summary.reports["html"].exists()  # --wait renders the report once everything is done


@pytest.mark.slow
def test_a_ddp_cell_runs_as_n_tasks_of_one_slurm_job(tiny_la, plugin_dir, tmp_path):
    record = tmp_path / "fake_slurm"
    env = fake_slurm_env(plugin_dir, record)
    out = tmp_path / "out"
    submitted = run_cli("run", "--models", "tiny-bn", "--datasets", "asvspoof2019-la", "--data-root",
                        f"asvspoof2019-la={tiny_la}", "--profile", "quick", "--seeds", "2", "--set",
                        "model.tiny-bn.epochs=2", "--executor", "slurm", "--ddp", "2", "--out", str(out), "--no-report",
                        env=env)
    assert submitted.returncode == 0, submitted.stderr
    script = record / "sbatch-4242.sh"
    assert "#SBATCH --ntasks-per-node=2" in script.read_text().splitlines()
    cell = next(p.parent for p in out.glob("cells/*/executor.json") if executor_record(p.parent)["job_id"] == "4242_0")
    # the fake srun starts both tasks (SLURM_PROCID 0 and 1); they meet through submitit's rendezvous variables
    ran = subprocess.run(["bash", str(script)], env=array_task_env(env, "4242", 0, ntasks=2), capture_output=True,
                         text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    result = json.loads((cell / "result.json").read_text())
    assert result["status"] == "done"
    assert result["provenance"]["distributed"]["world_size"] == 2
    assert result["provenance"]["distributed"]["backend"] == "gloo"
    assert sorted(p.name for p in (out / "slurm" / "4242_0").glob("*_result.pkl")) == ["4242_0_0_result.pkl",
                                                                                     "4242_0_1_result.pkl"]


def test_cell_states_without_squeue_and_for_pool_records(tmp_path, monkeypatch):
    from benchsuite.execution.base import write_executor_record
    from benchsuite.execution.status import cell_states

    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    write_executor_record(tmp_path, "a-queued", {"executor": "slurm", "job_id": "77_0"})
    write_executor_record(tmp_path, "b-started", {"executor": "slurm", "job_id": "77_1"})
    (tmp_path / "cells" / "b-started" / "config.yaml").write_text("identity: {}\n")
    host = socket.gethostname()
    write_executor_record(tmp_path, "c-live", {"executor": "pool", "host": host, "pids": [os.getpid()]})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_executor_record(tmp_path, "d-dead", {"executor": "pool", "host": host, "pids": [dead.pid]})
    (tmp_path / "cells" / "e-local").mkdir()
    states = {row["cell_id"]: row["status"] for row in cell_states(tmp_path)}
    assert states == {"a-queued": "pending", "b-started": "running", "c-live": "running", "d-dead": "incomplete",
                      "e-local": "incomplete"}
