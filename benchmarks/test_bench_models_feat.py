"""Throughput of the feature-based countermeasures (lfcc-lcnn, lfcc-gmm, cqcc-gmm).

Run with ``make benchmark`` or
``.venv/bin/python -m pytest benchmarks/test_bench_models_feat.py --benchmark-only --benchmark-enable``.
Each benchmark stores its rate (samples/s or frames/s) in ``extra_info``.
On a shared machine, wall-clock medians swing several-fold with the other
load; ``OMP_NUM_THREADS=1 ... --benchmark-timer time.process_time`` gives
stable single-thread figures.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchsuite_models._features import CQCC, gmm_lfcc, lcnn_lfcc
from benchsuite_models.gmm import DiagonalGMM
from benchsuite_models.lfcc_lcnn import LfccLcnn

BATCH = 8
SAMPLE_RATE = 16000


def _rate(benchmark, amount: float, unit: str) -> None:
    benchmark.extra_info[unit] = amount / benchmark.stats.stats.median


@pytest.fixture(scope="module")
def lcnn() -> LfccLcnn:
    torch.manual_seed(0)
    return LfccLcnn()


@pytest.mark.parametrize("seconds", [1, 4])
def test_lfcc_lcnn_forward_backward(benchmark, lcnn: LfccLcnn, seconds: int) -> None:
    """One training step without the optimizer: BCE on the logit, backward."""
    waves = 0.1 * torch.randn(BATCH, seconds * SAMPLE_RATE)
    target = (torch.arange(BATCH) % 2).float()
    lcnn.train()

    def step() -> float:
        lcnn.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(lcnn(waves)[:, 0], target)
        loss.backward()
        return float(loss.detach())

    loss = benchmark.pedantic(step, rounds=5, warmup_rounds=1)
    assert np.isfinite(loss)
    _rate(benchmark, BATCH * seconds * SAMPLE_RATE, "samples_per_second")


@pytest.mark.parametrize("seconds", [1, 4])
def test_lfcc_lcnn_inference(benchmark, lcnn: LfccLcnn, seconds: int) -> None:
    waves = 0.1 * torch.randn(BATCH, seconds * SAMPLE_RATE)
    lcnn.eval()

    def score() -> torch.Tensor:
        with torch.no_grad():
            return lcnn(waves)

    out = benchmark.pedantic(score, rounds=5, warmup_rounds=1)
    assert out.shape == (BATCH, 1)
    _rate(benchmark, BATCH * seconds * SAMPLE_RATE, "samples_per_second")


@pytest.mark.parametrize("name", ["lfcc-b03", "lfcc-b02", "cqcc-b01"])
def test_front_end(benchmark, name: str) -> None:
    """Feature extraction of 8 x 4 s."""
    frontend = {"lfcc-b03": lcnn_lfcc, "lfcc-b02": gmm_lfcc, "cqcc-b01": CQCC}[name]()
    waves = 0.1 * torch.randn(BATCH, 4 * SAMPLE_RATE)
    with torch.no_grad():
        features = benchmark.pedantic(frontend, args=(waves,), rounds=5, warmup_rounds=1)
    assert features.shape[0] == BATCH and torch.isfinite(features).all()
    _rate(benchmark, BATCH * 4 * SAMPLE_RATE, "samples_per_second")


def _mixture(dims: int, dtype: torch.dtype) -> DiagonalGMM:
    generator = torch.Generator().manual_seed(0)
    components = 512
    return DiagonalGMM(torch.full((components,), 1.0 / components, dtype=torch.float64),
                       torch.randn(components, dims, generator=generator, dtype=torch.float64),
                       0.5 + torch.rand(components, dims, generator=generator, dtype=torch.float64), dtype)


@pytest.mark.parametrize("em_dtype", ["float64", "float32"])
def test_gmm_em_statistics(benchmark, em_dtype: str) -> None:
    """E-step statistics of 20,000 LFCC-sized frames (57 dims) against 512 components."""
    gmm = _mixture(57, getattr(torch, em_dtype))
    frames = torch.randn(20_000, 57)

    def accumulate() -> dict:
        stats = gmm.new_statistics()
        gmm.accumulate(frames, stats)
        return stats

    stats = benchmark.pedantic(accumulate, rounds=3, warmup_rounds=1)
    assert stats["frames"] == 20_000
    _rate(benchmark, 20_000, "frames_per_second")


def test_gmm_scoring(benchmark) -> None:
    """Frame log-likelihoods of 20,000 CQCC-sized frames (60 dims), 512 components."""
    gmm = _mixture(60, torch.float64)
    frames = torch.randn(20_000, 60)
    loglik = benchmark.pedantic(gmm.frame_log_likelihood, args=(frames,), rounds=3, warmup_rounds=1)
    assert loglik.shape == (20_000,)
    _rate(benchmark, 20_000, "frames_per_second")
