"""Helpers for the raw-waveform model and ``benchsuite predict`` tests."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile
import torch

from benchsuite.api import Task, TaskInfo
from benchsuite.planning.options import to_plain


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """The CI box is a shared 2-core machine: two OpenMP threads per process spin against each
    other under load and run several times slower than one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def save_random_checkpoint(spec, path: Path, seed: int = 0, **config_changes) -> torch.nn.Module:
    """A freshly initialised model saved in the trainer's checkpoint format; returns the model (eval mode)."""
    import dataclasses

    torch.manual_seed(seed)
    config = dataclasses.replace(spec.config_class(), **config_changes)
    model = spec.build(config, TaskInfo(Task.SPOOF)).eval()
    torch.save({"model_state": model.state_dict(), "model": spec.name, "model_config": to_plain(config),
                "epoch": 1}, path)
    return model


def write_float_wav(path: Path, samples: np.ndarray, sample_rate: int = 16000) -> Path:
    """32-bit float WAV, so the scored samples are exactly ``samples``."""
    soundfile.write(str(path), np.asarray(samples, dtype=np.float32), sample_rate, subtype="FLOAT")
    return path
