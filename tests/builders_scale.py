"""Helpers for the scale-out tests (pool, slurm, DDP).

This module is also a benchsuite plugin: ``tiny-bn`` is a small CNN with batch
norm and no dropout, trained with unequal class weights, so a data-parallel run
can be compared with a single-process run step for step (dropout masks could
not match across process counts; batch norm and the class-weighted mean are
exactly what DDP must get right).  :func:`install_scale_plugin` writes the
entry-point metadata that makes it discoverable in subprocesses."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from benchsuite.api import ModelSpec, Recipe, Task, TaskInfo
from benchsuite.contract.hookspecs import hookimpl
from builders_core import REPO, TESTPLUGIN, benchsuite_cmd, write_tiny_la

FAKE_SLURM = REPO / "tests" / "fake_slurm"
TESTS = REPO / "tests"
LOADED = "testplugin,scale-test,asvspoof,spoof-metrics"


@dataclass
class TinyBnConfig:
    channels: int = 8
    step_delay: float = 0.0


class TinyBn(torch.nn.Module):
    def __init__(self, config: TinyBnConfig, task_info: TaskInfo):
        super().__init__()
        c = config.channels
        self.config = config
        self.features = torch.nn.Sequential(
            torch.nn.Conv1d(1, c, 64, stride=16), torch.nn.BatchNorm1d(c), torch.nn.ReLU(),
            torch.nn.Conv1d(c, c, 8, stride=4), torch.nn.BatchNorm1d(c), torch.nn.ReLU(),
        )
        self.out = torch.nn.Linear(2 * c, task_info.num_classes)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        h = self.features(waveforms.unsqueeze(1))
        if self.training and self.config.step_delay:
            time.sleep(self.config.step_delay)
        return self.out(torch.cat([h.mean(-1), h.std(-1)], dim=1))


@hookimpl
def benchsuite_register_models(register):
    recipe = Recipe(epochs=3, batch_size=8, lr=3e-3, loss="weighted_ce", class_weights=(0.3, 0.7), crop_samples=4000,
                    train_crop="random", eval_crop="first", selection="dev_eer")
    register(ModelSpec(name="tiny-bn", tasks=(Task.SPOOF,), build=lambda c, t: TinyBn(c, t), config_class=TinyBnConfig,
                       recipes={"paper": recipe, "quick": recipe}, description="batch norm, no dropout (DDP tests)"))


def install_scale_plugin(folder: Path) -> Path:
    """Entry-point metadata for this module as the plugin ``scale-test``; put
    ``folder`` and tests/ on PYTHONPATH to load it."""
    info = folder / "benchsuite_scaletest-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchsuite-scaletest\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[benchsuite]\nscale-test = builders_scale\n")
    return folder


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The core tests' tiny ASVspoof-2019-layout corpus (import this fixture into a test module)."""
    return write_tiny_la(tmp_path_factory.mktemp("tiny_la"))


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose entry-point metadata loads this module as the plugin ``scale-test``."""
    return install_scale_plugin(tmp_path_factory.mktemp("scale_plugin"))


def scale_env(plugin_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a subprocess that loads the test plugins (tiny-cnn and tiny-bn)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir), str(TESTS), str(TESTPLUGIN),
                                                      env.get("PYTHONPATH", "")]))
    env["BENCHSUITE_LOAD_PLUGINS"] = LOADED
    env.update(extra or {})
    return env


def fake_slurm_env(plugin_dir: Path, record_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The fake sbatch/squeue/sacct/scancel/scontrol/srun first on PATH, recording into ``record_dir``."""
    env = scale_env(plugin_dir, extra)
    env["PATH"] = os.pathsep.join([str(FAKE_SLURM), env.get("PATH", "")])
    env["FAKE_SLURM_DIR"] = str(record_dir)
    return env


def fake_slurm_calls(record_dir: Path) -> list[list[str]]:
    log = record_dir / "calls.log"
    return [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []


def array_task_env(env: dict[str, str], array_job_id: str, task_id: int, ntasks: int = 1) -> dict[str, str]:
    """What Slurm sets for one array task (the fake srun starts ``ntasks`` copies)."""
    return {**env, "SLURM_ARRAY_JOB_ID": array_job_id, "SLURM_ARRAY_TASK_ID": str(task_id),
            "SLURM_JOB_ID": str(int(array_job_id) + 100 + task_id), "SLURM_NTASKS": str(ntasks),
            "SLURM_JOB_NUM_NODES": "1", "SLURM_NODEID": "0", "SLURM_JOB_NODELIST": "localhost"}


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(benchsuite_cmd(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, what: str, timeout: float = 300, process: subprocess.Popen | None = None, poll: float = 0.02):
    """Poll until ``predicate()`` is truthy; fail if ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended (code {process.returncode}) before {what}")
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def scores(out: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(out.glob("cells/*/scores.txt"))}


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("cells/*/result.json"))}


def train_losses(cell_dir: Path) -> list[float]:
    with open(cell_dir / "train_log.csv", newline="") as handle:
        return [float(row["train_loss"]) for row in csv.DictReader(handle)]


def executor_record(cell_dir: Path) -> dict:
    return json.loads((cell_dir / "executor.json").read_text())
