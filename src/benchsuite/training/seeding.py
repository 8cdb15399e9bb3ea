"""Seeding the global RNGs and choosing deterministic kernels (the streams themselves are
:mod:`benchsuite.contract.streams`)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def configure_determinism(device: torch.device, deterministic: bool = True) -> dict[str, bool]:
    """Deterministic kernels where the device allows (``deterministic``), else the fastest.

    On CUDA determinism needs a cuBLAS workspace setting made before the first cuBLAS
    call (worker processes set it at start, :mod:`benchsuite.execution.worker`; this is
    the fallback for a cell run in the calling process) and cudnn.benchmark off, since
    benchmarking picks kernels by timing.  Off, cudnn.benchmark is on: convolution
    algorithms are timed once per input shape and the fastest kept, and atomics-based
    kernels are allowed.  Ops without a deterministic kernel warn rather than fail
    (``warn_only``).  Returns the settings, for the cell's provenance."""
    if device.type == "cuda":
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return {"deterministic": deterministic,
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if device.type == "cuda" else False}


# cuBLAS's documented setting for reproducible results (8 buffers of 4 MiB per stream)
CUBLAS_WORKSPACE = ":4096:8"
