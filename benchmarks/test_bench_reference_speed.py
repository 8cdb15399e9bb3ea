"""Training step of benchsuite's AASIST, AASIST-L and RawNet2 beside the authors' code, in one run.

The authors' code is not part of this repository (and never copied into it); point the benchmark at a
checkout of it, kept outside the repository:

    BENCHSUITE_REFERENCE_AASIST=/path/to/clovaai-aasist            # holds models/AASIST.py, config/*.conf
    BENCHSUITE_REFERENCE_RAWNET2=/path/to/2021/LA/Baseline-RawNet2  # holds model.py, model_config_RawNet.yaml
    .venv/bin/python -m pytest benchmarks/test_bench_reference_speed.py --benchmark-only -s

Each test times a forward + backward step of both implementations on the same batch (the quick
profile's: 16 one-second crops), alternating them so that load on a shared machine hits both alike,
and stores ``extra_info["speedup"]`` = reference median time / benchsuite median time (> 1: benchsuite
is faster).  Cases without the reference code are skipped with the reason.
"""
from __future__ import annotations

import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

from benchsuite.api import Task, TaskInfo
from benchsuite.plugins.registry import get_registry

BATCH = 16  # the quick profile's batch and crop
CROP = 16000
ALTERNATIONS = 5


def _load_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _reference_aasist(conf: str) -> torch.nn.Module:
    root = os.environ.get("BENCHSUITE_REFERENCE_AASIST")
    if not root or not (Path(root) / "models" / "AASIST.py").is_file():
        pytest.skip("set BENCHSUITE_REFERENCE_AASIST to a checkout of clovaai/aasist (models/AASIST.py)")
    module = _load_module(Path(root) / "models" / "AASIST.py", "reference_aasist")
    config = json.loads((Path(root) / "config" / conf).read_text())["model_config"]
    model = module.Model(config)
    return _ForwardOutput(model, lambda out: out[1])  # it returns (last_hidden, logits)


def _reference_rawnet2() -> torch.nn.Module:
    root = os.environ.get("BENCHSUITE_REFERENCE_RAWNET2")
    if not root or not (Path(root) / "model.py").is_file():
        pytest.skip("set BENCHSUITE_REFERENCE_RAWNET2 to asvspoof-challenge/2021 LA/Baseline-RawNet2 (model.py)")
    import yaml

    module = _load_module(Path(root) / "model.py", "reference_rawnet2")
    config = yaml.safe_load((Path(root) / "model_config_RawNet.yaml").read_text())["model"]
    return _ForwardOutput(module.RawNet(config, "cpu"), lambda out: out)


class _ForwardOutput(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, pick: Callable[[Any], torch.Tensor]):
        super().__init__()
        self.model, self.pick = model, pick

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.pick(self.model(waves))


def _ours(name: str) -> torch.nn.Module:
    spec = get_registry().models.get(name).spec
    return spec.build(spec.config_class(), TaskInfo(Task.SPOOF))


def _step(model: torch.nn.Module, waves: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    weight = torch.tensor([0.1, 0.9])

    def step() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(waves), labels, weight=weight).backward()

    return step


def _seconds_of(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


REFERENCES = {"aasist": lambda: _reference_aasist("AASIST.conf"),
              "aasist-l": lambda: _reference_aasist("AASIST-L.conf"),
              "rawnet2": _reference_rawnet2}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_train_step_beside_the_authors_code(benchmark, name: str) -> None:
    torch.manual_seed(0)
    reference = REFERENCES[name]().train()
    ours = _ours(name).train()
    # same number of trainable parameters: the comparison is of the same network
    assert sum(p.numel() for p in ours.parameters() if p.requires_grad) == \
        sum(p.numel() for p in reference.parameters() if p.requires_grad)
    generator = torch.Generator().manual_seed(0)
    waves = 0.1 * torch.randn(BATCH, CROP, generator=generator)
    labels = torch.arange(BATCH) % 2
    ours_step, reference_step = _step(ours, waves, labels), _step(reference, waves, labels)
    ours_step(), reference_step()  # warm-up
    ours_times, reference_times = [], []
    for _ in range(ALTERNATIONS):
        ours_times.append(_seconds_of(ours_step))
        reference_times.append(_seconds_of(reference_step))
    benchmark.group = f"train-step-vs-reference-b{BATCH}-{CROP}"
    benchmark.pedantic(ours_step, rounds=1, iterations=1)
    ours_median, reference_median = statistics.median(ours_times), statistics.median(reference_times)
    benchmark.extra_info.update({
        "model": name, "batch": BATCH, "crop": CROP, "threads": torch.get_num_threads(),
        "benchsuite_median_s": ours_median, "reference_median_s": reference_median,
        "speedup": reference_median / ours_median,
        "benchsuite_samples_per_s": BATCH / ours_median, "reference_samples_per_s": BATCH / reference_median,
    })
    print(f"\n{name}: benchsuite {ours_median:.3f} s/step, reference {reference_median:.3f} s/step, "
          f"speed-up {reference_median / ours_median:.2f}x ({torch.get_num_threads()} threads)")
