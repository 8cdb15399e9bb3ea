"""Temporal pooling layers that turn frame-level features into one vector per utterance.

Both follow WeSpeaker's ``wespeaker/models/pooling_layers.py`` (TSTP and ASTP):
the standard deviation uses the unbiased variance plus 1e-7 for plain
statistics pooling, and the attention-weighted variance clamped at 1e-7 for the
attentive one, so trained behaviour and parameter counts match that toolkit.
"""
from __future__ import annotations

import torch
from torch import nn

_VARIANCE_FLOOR = 1e-7


def _time_variance(frames: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    # unbiased like WeSpeaker, except that a single frame (very short input) gets 0 instead of NaN
    correction = 1 if frames.shape[-1] > 1 else 0
    return frames.var(dim=-1, correction=correction, keepdim=keepdim)


def _as_channels_by_time(frames: torch.Tensor) -> torch.Tensor:
    # a 2-D CNN output [batch, channels, freq, time] pools every (channel, freq) row over time
    if frames.dim() == 4:
        return frames.reshape(frames.shape[0], frames.shape[1] * frames.shape[2], frames.shape[3])
    if frames.dim() != 3:
        raise ValueError(f"pooling expects [batch, channels, time] or [batch, channels, freq, time], "
                         f"got shape {tuple(frames.shape)}")
    return frames


class StatisticsPooling(nn.Module):
    """Mean and standard deviation over time, concatenated: ``[B, C, T] -> [B, 2C]``."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = 2 * in_dim

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        frames = _as_channels_by_time(frames)
        mean = frames.mean(dim=-1)
        std = torch.sqrt(_time_variance(frames) + _VARIANCE_FLOOR)
        return torch.cat([mean, std], dim=1)


class AttentiveStatisticsPooling(nn.Module):
    """Channel- and context-dependent attentive statistics (Desplanques et al. 2020, Sec. 2.2).

    With ``global_context`` the attention also sees each channel's utterance-level
    mean and standard deviation (the ECAPA-TDNN "GLOB" variant).  The attention
    scores pass through tanh, not ReLU: WeSpeaker notes the ReLU form converges badly.
    """

    def __init__(self, in_dim: int, bottleneck_dim: int = 128, global_context: bool = True) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = 2 * in_dim
        self.global_context = global_context
        attention_in = 3 * in_dim if global_context else in_dim
        self.attention_hidden = nn.Conv1d(attention_in, bottleneck_dim, kernel_size=1)
        self.attention_scores = nn.Conv1d(bottleneck_dim, in_dim, kernel_size=1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        frames = _as_channels_by_time(frames)
        if self.global_context:
            context_mean = frames.mean(dim=-1, keepdim=True).expand_as(frames)
            context_std = torch.sqrt(_time_variance(frames, keepdim=True) + _VARIANCE_FLOOR).expand_as(frames)
            attention_input = torch.cat([frames, context_mean, context_std], dim=1)
        else:
            attention_input = frames
        weights = torch.softmax(self.attention_scores(torch.tanh(self.attention_hidden(attention_input))), dim=2)
        mean = torch.sum(weights * frames, dim=2)
        variance = torch.sum(weights * frames * frames, dim=2) - mean * mean
        std = torch.sqrt(variance.clamp(min=_VARIANCE_FLOOR))
        return torch.cat([mean, std], dim=1)
