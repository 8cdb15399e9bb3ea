"""Throughput of the SSL front-end systems (issue 16) on CPU, and their full-size parameter counts.

    .venv/bin/python -m pytest benchmarks/test_bench_models_ssl.py --benchmark-only

A *small* random front-end (XLS-R's CNN strides with 128 channels, 4 transformer layers of
dim 256, 4 heads, FFN 1024; no weights needed) behind each back-end: one training step
(forward + backward, batch 4; 1 s crops, SLS on its 64,600-sample input) and, for the AASIST
back-end, the same step with gradient checkpointing.  On GPU the full-size front-end
dominates; ``test_full_size_parameters`` records the full-size counts (torchaudio's builders on
the meta device, no download).  ``BENCHSUITE_BENCH_THREADS`` sets torch's thread count.
"""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from benchsuite_models._ssl import SslArchitecture, SslFrontEnd
from benchsuite_models.ssl_systems import (SslAasist, SslAasistConfig, SslLinear, SslLinearConfig, SslSls,
                                           SslSlsConfig, full_size_parameters)

BATCH = 4
SMALL = SslArchitecture("wav2vec2", dict(
    extractor_mode="layer_norm", extractor_conv_layer_config=[(128, 10, 5)] + [(128, 3, 2)] * 4 + [(128, 2, 2)] * 2,
    extractor_conv_bias=True, encoder_embed_dim=256, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=128,
    encoder_pos_conv_groups=16, encoder_num_layers=4, encoder_num_heads=4, encoder_attention_dropout=0.0,
    encoder_ff_interm_features=1024, encoder_ff_interm_dropout=0.0, encoder_dropout=0.1,
    encoder_layer_norm_first=True, encoder_layer_drop=0.0))
CASES = {
    "aasist": (SslAasist, SslAasistConfig(), 16000),
    "aasist-checkpointed": (SslAasist, SslAasistConfig(gradient_checkpointing=True), 16000),
    "sls": (SslSls, SslSlsConfig(), 64600),
    "linear-finetuned": (SslLinear, SslLinearConfig(freeze_front_end=False), 16000),
}


@pytest.fixture(autouse=True, scope="module")
def threads():
    wanted = os.environ.get("BENCHSUITE_BENCH_THREADS")
    previous = torch.get_num_threads()
    if wanted:
        torch.set_num_threads(int(wanted))
    yield
    torch.set_num_threads(previous)


def build(name: str) -> tuple[torch.nn.Module, int]:
    torch.manual_seed(0)
    module, config, samples = CASES[name]
    front_end = SslFrontEnd(SMALL.build(), SMALL, freeze=config.freeze_front_end,
                            gradient_checkpointing=config.gradient_checkpointing)
    return module(config, front_end), samples


@pytest.mark.parametrize("name", list(CASES))
def test_train_step(benchmark, name):
    benchmark.group = "ssl-train-small"
    model, samples = build(name)
    model.train()
    waves = 0.1 * torch.randn(BATCH, samples, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(BATCH) % 2
    weight = torch.tensor([0.1, 0.9])

    def step() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(waves), labels, weight=weight).backward()

    benchmark.pedantic(step, rounds=3, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update({"model": name, "samples": samples, "batch": BATCH, "mode": "forward+backward",
                                 "threads": torch.get_num_threads(),
                                 "params": sum(p.numel() for p in model.parameters()),
                                 "samples_per_s": BATCH / benchmark.stats.stats.mean})


def test_full_size_parameters(benchmark):
    benchmark.group = "ssl-parameters"
    counts = benchmark.pedantic(lambda: {name: full_size_parameters(name) for name in
                                         ("xlsr-aasist", "xlsr-sls", "wavlm-aasist", "hubert-aasist")},
                                rounds=1, iterations=1)
    benchmark.extra_info.update(counts)
    # XLS-R 300M as torchaudio builds it (wav2vec2_xlsr_300m) + Tak et al.'s AASIST back-end
    assert counts["xlsr-aasist"] == 315_437_696 + 447_242
    benchmark.extra_info["ssl-linear"] = full_size_parameters("ssl-linear")
