"""Checkpoints: ``last.pt`` for resuming, ``best.pt`` for the dev-selected model, written atomically."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from benchsuite.common.files import atomic_write_bytes

LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)
