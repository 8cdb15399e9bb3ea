"""The back half shared by the frame-sequence classifiers (the 1-D CNN family of
``cnn_bilstm.py`` and VGGish + LSTM): a sequence model over frames (an LSTM,
one- or two-directional, or a transformer encoder), mean pooling over time, and
an optional DNN head whose last layer is the embedding the trainer's linear head
turns into class logits.

These are builders, not a wrapper module, so each model keeps its own attribute
names (``lstm``, ``transformer``, ``dnn``) and with them its state-dict keys.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from benchsuite.api import ConfigError

DnnNorm = Literal["none", "batch", "layer"]


def make_lstm(input_size: int, hidden: int, layers: int, bidirectional: bool, dropout: float) -> nn.LSTM:
    """A batch-first LSTM; dropout between layers only (PyTorch warns on one layer)."""
    return nn.LSTM(input_size, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
                   dropout=dropout if layers > 1 else 0.0)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sine/cosine position code of Vaswani et al. (2017) to ``[batch, frames, width]``.
    Without it the encoder would see a bag of frames.  Computed per length, never stored."""

    def __init__(self, width: int) -> None:
        super().__init__()
        if width % 2:
            raise ConfigError(f"transformer_width must be even for the sine/cosine position code, got {width}")
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[1]
        position = torch.arange(frames, device=x.device, dtype=torch.float32).unsqueeze(1)
        rate = torch.exp(torch.arange(0, self.width, 2, device=x.device, dtype=torch.float32)
                         * (-math.log(10000.0) / self.width))
        code = torch.zeros(frames, self.width, device=x.device)
        code[:, 0::2] = torch.sin(position * rate)
        code[:, 1::2] = torch.cos(position * rate)
        return x + code.to(x.dtype)


class TransformerSequence(nn.Module):
    """``[batch, frames, input_size]`` -> ``[batch, frames, width]``: a linear projection to
    ``width``, the position code, ``layers`` pre-norm encoder layers (self-attention with
    ``heads`` heads, a ReLU feed-forward of ``feedforward`` units) and a final layer norm."""

    def __init__(self, input_size: int, width: int, layers: int, heads: int, feedforward: int,
                 dropout: float) -> None:
        super().__init__()
        if layers < 1 or heads < 1 or width % heads:
            raise ConfigError(f"transformer: need layers >= 1 and transformer_width divisible by "
                              f"transformer_heads; got {layers} layers, width {width}, {heads} heads")
        self.projection = nn.Linear(input_size, width)
        self.positions = SinusoidalPositions(width)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=feedforward, dropout=dropout,
                                           batch_first=True, norm_first=True)
        # the nested-tensor fast path only applies to padded batches, which never occur here
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.encoder(self.positions(self.projection(x))))


def dnn_head(input_size: int, units: tuple[int, ...], norm: DnnNorm, dropout: float) -> nn.Sequential:
    """``Linear -> [BatchNorm1d | LayerNorm] -> ReLU`` per entry of ``units``, with dropout between
    layers (not after the last).  ``units == ()`` is no head: the pooled sequence is the embedding."""
    if norm not in ("none", "batch", "layer"):
        raise ConfigError(f"dnn_norm {norm!r}: expected none, batch or layer")
    layers: list[nn.Module] = []
    size = input_size
    for index, width in enumerate(units):
        layers.append(nn.Linear(size, width))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(width))
        elif norm == "layer":
            layers.append(nn.LayerNorm(width))
        layers.append(nn.ReLU())
        if index < len(units) - 1:
            layers.append(nn.Dropout(dropout))
        size = width
    return nn.Sequential(*layers)
