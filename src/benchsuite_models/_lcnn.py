"""Shared parts of the LFCC-LCNN-LSTM countermeasures (LFCC-LCNN, SE-LCNN), after
nii-yamagishilab/project-NN-Pytorch-scripts ``project/03-asvspoof-mega/lfcc-lcnn-lstmsum-*/model.py``."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from benchsuite.api import DataError


def checked_lfcc(frontend: Callable[[torch.Tensor], torch.Tensor], waveforms: torch.Tensor, name: str,
                 min_samples: int, min_frames: int) -> torch.Tensor:
    """``[batch, frames, 60]`` LFCC of ``[batch, samples]`` audio, in float32 even under autocast and
    without gradients (the reference computes it so); audio of the wrong shape or too short is refused."""
    if waveforms.dim() != 2:
        raise DataError(f"{name} expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
    if waveforms.shape[1] < min_samples:
        raise DataError(f"{name} needs at least {min_samples} samples per input ({min_frames} LFCC frames); "
                        f"got {waveforms.shape[1]}")
    with torch.no_grad(), torch.autocast(device_type=waveforms.device.type, enabled=False):
        return frontend(waveforms.float())


def lcnn_blstm_skip(lcnn: nn.Module, blstm: nn.ModuleList, lfcc: torch.Tensor) -> torch.Tensor:
    """The LCNN over the LFCC "image", its output as a sequence ``[batch, frames, channels x width]``,
    the BLSTMs over it, and the skip connection (BLSTM output + sequence) the reference pools over time."""
    hidden = lcnn(lfcc.unsqueeze(1))  # [B, 32, T/16, 3]
    batch, channels, frames, width = hidden.shape
    sequence = hidden.permute(0, 2, 1, 3).reshape(batch, frames, channels * width)
    recurrent = sequence
    for lstm in blstm:
        recurrent, _ = lstm(recurrent)
    return recurrent + sequence
