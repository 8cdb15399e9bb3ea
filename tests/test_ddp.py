"""Data-parallel cells (--ddp N): sharding of the epoch order, the global batch,
gloo on CPU, rank 0 alone writing, a killed rank, and resume.

Tolerance for the loss curve: DDP with 2 processes vs one process with the same
global batch, per-epoch mean training loss within 1e-5 relative (measured: equal
to ~1e-7).  Each global step sees the same items, the loss is normalised over
the global batch (class weights included), and batch-norm statistics are
all-reduced, so what remains is fp32 summation order (split conv reductions,
the gradient all-reduce).  Eval scores are not compared tightly: a conv bias in
front of batch norm has a true gradient of zero, and Adam scales its rounding
noise up to lr-sized steps, so such biases (and the running means behind them)
drift apart by ~1e-2 between any two summation orders while the training loss
is unaffected."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from benchsuite.api import ConfigError
from benchsuite.training.data import EpochSampler
from benchsuite.training.distributed import ShardedEpochSampler, per_process_batch
from builders_core import run_cli
from builders_scale import executor_record, plugin_dir, scale_env, start_cli, tiny_la, wait_for  # noqa: F401 (fixtures)


def _single_process_batches(size: int, batch: int, seed: int, epoch: int) -> list[list[int]]:
    sampler = EpochSampler(size, seed, shuffle=True)
    sampler.set_epoch(epoch)
    order = [i for i, _ in sampler]
    if size > batch:  # the training loader drops the last partial batch
        return [order[k:k + batch] for k in range(0, size - batch + 1, batch)]
    return [order]


@pytest.mark.parametrize("size,batch,world", [(37, 8, 2), (37, 8, 4), (32, 8, 2), (8, 8, 2), (5, 8, 2), (64, 6, 3)])
def test_shards_make_up_the_single_process_batches(size, batch, world):
    for epoch in (0, 3):
        shards = []
        for rank in range(world):
            sampler = ShardedEpochSampler(EpochSampler(size, seed=11, shuffle=True), batch, rank, world)
            sampler.set_epoch(epoch)
            items = list(sampler)
            assert len(items) == len(sampler)
            assert all(e == epoch for _, e in items)
            shards.append([i for i, _ in items])
        assert len({len(s) for s in shards}) == 1  # every rank takes the same number of steps
        expected = _single_process_batches(size, batch, 11, epoch)
        local = len(shards[0]) // len(expected)
        for step, global_batch in enumerate(expected):
            union = [i for shard in shards for i in shard[step * local:(step + 1) * local]]
            if len(global_batch) >= batch:
                assert union == global_batch
            else:  # a lone partial batch is split evenly; at most world-1 items left out
                assert union == global_batch[:len(union)] and len(global_batch) - len(union) < world


def test_batch_must_divide_by_the_process_count():
    assert per_process_batch(32, 4) == 8
    with pytest.raises(ConfigError, match=r"--ddp 3: the recipe's batch size 8 is not divisible by 3 processes"):
        per_process_batch(8, 3)
    with pytest.raises(ConfigError, match="not divisible"):
        ShardedEpochSampler(EpochSampler(20, 0, True), 8, 0, 3)


def test_indivisible_batch_is_refused_before_any_training(tiny_la, plugin_dir, tmp_path):
    done = run_cli("run", "--models", "tiny-bn", "--datasets", "asvspoof2019-la", "--data-root",
                   f"asvspoof2019-la={tiny_la}", "--profile", "quick", "--ddp", "3", "--out", str(tmp_path),
                   "--no-report", env=scale_env(plugin_dir))
    assert done.returncode == 2, done.stderr
    assert "--ddp 3: cell asvspoof2019-la/tiny-bn/quick/seed1's batch size 8 is not divisible by 3" in done.stderr
    assert not list(tmp_path.glob("cells/*/checkpoints"))


def _history(cell: Path) -> list[float]:
    state = torch.load(cell / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    return [record["train_loss"] for record in state["history"]]


@pytest.mark.slow
def test_ddp2_on_gloo_follows_the_single_process_loss_curve_and_resumes_after_a_killed_rank(
        tiny_la, plugin_dir, tmp_path):
    env = scale_env(plugin_dir)
    args = ["run", "--models", "tiny-bn", "--datasets", "asvspoof2019-la", "--data-root", f"asvspoof2019-la={tiny_la}",
            "--profile", "quick", "--set", "model.tiny-bn.step_delay=0.1", "--no-report"]
    reference = run_cli(*args, "--threads", "1", "--out", str(tmp_path / "single"), env=env)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "ddp"
    process = start_cli(*args, "--ddp", "2", "--out", str(out), env=env)
    checkpoint = wait_for(lambda: next(iter(out.glob("cells/*/checkpoints/last.pt")), None),
                          "the first DDP checkpoint", process=process)
    cell = checkpoint.parents[1]
    pids = executor_record(cell)["pids"]
    assert len(pids) == 2
    os.kill(pids[1], signal.SIGKILL)  # rank 1 dies mid-cell; rank 0's next collective breaks
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    failed = json.loads((cell / "result.json").read_text())
    assert failed["status"] == "failed"
    assert f"worker process {pids[1]} (rank 1 of 2) was killed by SIGKILL" in failed["error"]["message"]

    resumed = run_cli(*args, "--ddp", "2", "--out", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads((cell / "result.json").read_text())
    assert result["status"] == "done"
    assert result["training"]["resumed_from_epoch"] >= 1
    assert result["provenance"]["distributed"] == {"world_size": 2, "backend": "gloo", "per_process_batch": 4,
                                                   "sync_batchnorm": True}
    config_text = (cell / "config.yaml").read_text()
    assert "ddp: 2" in config_text  # a runtime setting, recorded; the cell id does not depend on it

    single_cell = tmp_path / "single" / "cells" / cell.name
    assert single_cell.is_dir()  # same identity with and without --ddp
    single, ddp = _history(single_cell), _history(cell)
    assert len(ddp) == len(single) == 3
    np.testing.assert_allclose(ddp, single, rtol=1e-5)
    single_result = json.loads((single_cell / "result.json").read_text())
    assert result["selection"]["epoch"] == single_result["selection"]["epoch"]
    # only rank 0 wrote: one score file, one log row per epoch
    assert (cell / "scores.txt").read_text().count("\n") == 24
    assert (cell / "train_log.csv").read_text().count("\n") == 4
