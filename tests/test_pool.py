"""The pool executor: parallel cells with results identical to local ones, a
worker killed with SIGKILL taking only its cell down, resume, and option errors."""
from __future__ import annotations

import json
import os
import signal

import pytest
from click.testing import CliRunner

from benchsuite.api import ConfigError
from benchsuite.cli.main import cli
from benchsuite.execution.base import LocalExecutor
from benchsuite.cli.executor_options import build_executor, parse_gpus
from benchsuite.execution.pool import PoolExecutor, describe_exit
from builders_core import run_cli
from builders_scale import (  # noqa: F401 (plugin_dir, tiny_la: fixtures)
    executor_record, plugin_dir, results, scale_env, scores, start_cli, tiny_la, wait_for,
)


@pytest.mark.slow
def test_pool_matches_local_and_a_killed_worker_takes_only_its_cell(tiny_la, plugin_dir, tmp_path):
    env = scale_env(plugin_dir)
    # 4 cells: tiny-cnn x seeds 1-4; slow steps leave time to kill one worker mid-cell
    args = ["run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--data-root", f"asvspoof2019-la={tiny_la}",
            "--profile", "quick", "--seeds", "4", "--set", "model.tiny-cnn.epochs=3",
            "--set", "model.tiny-cnn.step_delay=0.1", "--no-report"]
    # CPU results are bit-identical at equal intra-op thread counts: pool --jobs 2 gives each worker 1 of 2
    # cores here, so the local reference runs with one thread (--threads is explicit on both sides)
    reference = run_cli(*args, "--threads", "1", "--out", str(tmp_path / "local"), env=env)
    assert reference.returncode == 0, reference.stderr
    expected = scores(tmp_path / "local")
    assert len(expected) == 4

    out = tmp_path / "pool"
    process = start_cli(*args, "--executor", "pool", "--jobs", "2", "--threads", "1", "--out", str(out), env=env)
    checkpoint = wait_for(lambda: next(iter(out.glob("cells/*/checkpoints/last.pt")), None),
                          "a worker's first checkpoint", process=process)
    victim = checkpoint.parents[1]
    pid = executor_record(victim)["pids"][0]
    os.kill(pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 1, stderr
    stored = results(out)
    assert len(stored) == 4
    failed = stored.pop(victim.name)
    assert failed["status"] == "failed" and failed["error"]["type"] == "WorkerDied"
    assert f"worker process {pid} was killed by SIGKILL" in failed["error"]["message"]
    assert all(r["status"] == "done" for r in stored.values())
    got = scores(out)
    assert {name: got[name] for name in stored} == {name: expected[name] for name in stored}

    status = CliRunner().invoke(cli, ["status", "--out", str(out)])
    assert status.exit_code == 0, status.output
    assert f"failed      {victim.name}  (pool)  worker process {pid}" in status.output and "3 done, 1 failed" in status.output

    resumed = run_cli(*args, "--executor", "pool", "--jobs", "2", "--threads", "1", "--out", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 already done, 1 to run" in resumed.stderr
    result = json.loads((victim / "result.json").read_text())
    assert result["status"] == "done"
    assert result["training"]["resumed_from_epoch"] >= 1
    assert list(victim.glob("result.failed-*.json"))  # the failed attempt is kept for the record
    assert scores(out) == expected  # byte-identical to local, the resumed cell included


def test_option_errors_name_the_option():
    with pytest.raises(ConfigError, match="--jobs applies to --executor pool"):
        build_executor({"executor": "local", "jobs": 2})
    with pytest.raises(ConfigError, match="--slurm-partition applies to --executor slurm"):
        build_executor({"executor": "pool", "slurm_partition": "gpu"})
    with pytest.raises(ConfigError, match="--wait applies to --executor slurm"):
        build_executor({"executor": "local", "wait": True})
    with pytest.raises(ConfigError, match="--gpus 'a,b'"):
        parse_gpus("a,b")
    with pytest.raises(ConfigError, match="a GPU is listed twice"):
        PoolExecutor(gpus=[0, 0])
    assert parse_gpus("0,2") == [0, 2]
    assert isinstance(build_executor({"executor": "local"}), LocalExecutor)
    ddp = build_executor({"executor": "local", "ddp": 2})  # a DDP cell needs processes: the pool starts them
    assert isinstance(ddp, PoolExecutor) and ddp.ddp == 2 and ddp.jobs == 1


def test_pool_refuses_devices_it_cannot_hand_out():
    from benchsuite.planning.cell_config import CellConfig, CellIdentity, CellRuntime, PluginTag
    from benchsuite.planning.plan import Cell

    tag = PluginTag("p", None, None)
    identity = CellIdentity("spoof", "d", {}, "f", "d", {}, "f", "m", {}, {"batch_size": 8}, 0, "quick", "fp32", None,
                            {"model": tag, "dataset": tag, "train_dataset": tag})

    def cell(device: str) -> Cell:
        return Cell("c1", CellConfig(identity, CellRuntime(device=device)))

    with pytest.raises(ConfigError, match=r"--device cuda:1 with --executor pool.*--gpus 1"):
        PoolExecutor()._devices([cell("cuda:1")])
    with pytest.raises(ConfigError, match="--gpus with --device cpu"):
        PoolExecutor(gpus=[0])._devices([cell("cpu")])
    assert PoolExecutor()._devices([cell("cpu")]) is None


def test_exit_descriptions():
    assert describe_exit(-9, 123, 0, 1).startswith("worker process 123 was killed by SIGKILL (out of memory")
    assert "rank 1 of 2" in describe_exit(-15, 7, 1, 2) and "SIGTERM" in describe_exit(-15, 7, 1, 2)
    assert describe_exit(1, 5, 0, 1) == ("worker process 5 exited with code 1 without writing a result "
                                         "(its traceback is in the log above)")


def test_gpu_slots_pack_cells_and_give_each_rank_its_own_device():
    packed = PoolExecutor(gpus=[0, 1], cells_per_gpu=2)
    free = {0: 2, 1: 2}
    assert [packed._take_gpus(free) for _ in range(5)] == [(0,), (1,), (0,), (1,), None]
    ddp = PoolExecutor(gpus=[0, 1, 2], ddp=2)
    free = {0: 1, 1: 1, 2: 1}
    assert ddp._take_gpus(free) == (0, 1) and ddp._take_gpus(free) is None
