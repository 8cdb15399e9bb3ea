"""A small plugin used by the core tests (put on sys.path / PYTHONPATH by them).

``tiny-cnn`` is a real (small) 1-D CNN countermeasure; two test-only config
knobs make runs observable: ``step_delay`` slows each training forward so a
test can kill the process mid-epoch, and ``nan_after_steps`` poisons the
output to exercise the non-finite-loss path."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from benchsuite.api import ModelSpec, Recipe, Task, TaskInfo
from benchsuite.contract.hookspecs import hookimpl


@dataclass
class TinyCnnConfig:
    channels: int = 8
    step_delay: float = 0.0
    nan_after_steps: int = -1


class TinyCnn(torch.nn.Module):
    def __init__(self, config: TinyCnnConfig, task_info: TaskInfo):
        super().__init__()
        c = config.channels
        self.config = config
        self.features = torch.nn.Sequential(
            torch.nn.Conv1d(1, c, 64, stride=16), torch.nn.BatchNorm1d(c), torch.nn.ReLU(),
            torch.nn.Conv1d(c, c, 8, stride=4), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        )
        self.out = torch.nn.Linear(2 * c, task_info.num_classes)
        self.training_steps = 0

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        h = self.features(waveforms.unsqueeze(1))
        logits = self.out(torch.cat([h.mean(-1), h.std(-1)], dim=1))
        if self.training:
            self.training_steps += 1
            if self.config.step_delay:
                time.sleep(self.config.step_delay)
            if 0 <= self.config.nan_after_steps < self.training_steps:
                logits = logits * float("nan")
        return logits


@hookimpl
def benchsuite_register_models(register):
    recipe = Recipe(epochs=3, batch_size=8, lr=3e-3, loss="weighted_ce", class_weights=(0.5, 0.5), crop_samples=4000,
                    train_crop="random", eval_crop="first", selection="dev_eer")
    register(ModelSpec(name="tiny-cnn", tasks=(Task.SPOOF, Task.CLASSIFY), build=lambda c, t: TinyCnn(c, t),
                       config_class=TinyCnnConfig, recipes={"paper": recipe, "quick": recipe.replace(epochs=2)},
                       description="a tiny 1-D CNN used by the core tests"))
