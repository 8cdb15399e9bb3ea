"""Throughput of the raw-waveform countermeasures (issue 5, "Speed").

    .venv/bin/python -m pytest benchmarks/test_bench_models_raw.py --benchmark-only

Training step (forward + backward, batch 8) on 1 s and 4 s crops, and
inference (eval mode, no autograd) at batch 8; ``extra_info["samples_per_s"]``
holds utterances per second.  RawGAT-ST only takes ~4 s inputs (its node
projections are sized for 29 frames), so it has no 1 s case.
``BENCHSUITE_BENCH_THREADS`` sets torch's thread count (on a shared, loaded
machine one thread per process avoids OpenMP threads spinning against each
other).  bf16 autocast is measured only where oneDNN has native bf16 kernels.
"""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from benchsuite.api import Task, TaskInfo
from benchsuite.plugins.registry import get_registry

BATCH = 8
CROPS = {"1s": 16000, "4s": 64600}
CASES = [(model, crop) for model in ("aasist", "aasist-l", "rawgat-st", "rawnet2") for crop in CROPS
         if not (model == "rawgat-st" and crop == "1s")]


@pytest.fixture(autouse=True, scope="module")
def threads():
    wanted = os.environ.get("BENCHSUITE_BENCH_THREADS")
    previous = torch.get_num_threads()
    if wanted:
        torch.set_num_threads(int(wanted))
    yield
    torch.set_num_threads(previous)


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    spec = get_registry().models.get(name).spec
    return spec.build(spec.config_class(), TaskInfo(Task.SPOOF))


def batch(samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return 0.1 * torch.randn(BATCH, samples, generator=generator), torch.arange(BATCH) % 2


def record(benchmark, name: str, crop: str, mode: str) -> None:
    benchmark.extra_info.update({"model": name, "crop": crop, "batch": BATCH, "mode": mode,
                                 "threads": torch.get_num_threads(),
                                 "samples_per_s": BATCH / benchmark.stats.stats.mean})


@pytest.mark.parametrize("name, crop", CASES)
def test_train_step(benchmark, name, crop):
    benchmark.group = f"train-{crop}"
    model = build(name).train()
    waves, labels = batch(CROPS[crop])
    weight = torch.tensor([0.1, 0.9])

    def step() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(waves), labels, weight=weight).backward()

    benchmark.pedantic(step, rounds=3, warmup_rounds=1, iterations=1)
    record(benchmark, name, crop, "forward+backward")


@pytest.mark.parametrize("name, crop", CASES)
def test_inference(benchmark, name, crop):
    benchmark.group = f"inference-{crop}"
    model = build(name).eval()
    waves, _ = batch(CROPS[crop])

    def score() -> torch.Tensor:
        with torch.inference_mode():
            return model(waves)

    benchmark.pedantic(score, rounds=3, warmup_rounds=1, iterations=1)
    record(benchmark, name, crop, "inference")


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(),
                    reason="this CPU has no native bf16 (AVX512-BF16/AMX): bf16 autocast would be emulated")
@pytest.mark.parametrize("name", ["aasist", "rawnet2"])
def test_inference_bf16_autocast(benchmark, name):
    benchmark.group = "inference-4s-bf16"
    model = build(name).eval()
    waves, _ = batch(CROPS["4s"])

    def score() -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(waves)

    benchmark.pedantic(score, rounds=3, warmup_rounds=1, iterations=1)
    record(benchmark, name, "4s", "inference, bf16 autocast")
