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


def configure_determinism(device: torch.device) -> None:
    """Deterministic kernels where the device allows; on CUDA this needs a
    cuBLAS workspace setting made before the first cuBLAS call."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
