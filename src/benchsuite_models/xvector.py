"""TDNN x-vector (Snyder, Garcia-Romero, Sell, Povey & Khudanpur, "X-Vectors: Robust DNN
Embeddings for Speaker Recognition", ICASSP 2018) as WeSpeaker trains it (``XVEC`` in
``wenet-e2e/wespeaker:wespeaker/models/tdnn.py``, ``conf/xvec.yaml``): five frame
layers with contexts [t-2..t+2], {t-2,t,t+2}, {t-3,t,t+3}, {t}, {t} (512, 512, 512,
512, 1500 channels; ReLU then batch norm without affine parameters, as in Kaldi),
mean + standard deviation pooling, segment layers 3000 -> 512 -> 512.  As in
WeSpeaker the embedding is the output of the second segment layer (the one the
training head sits on).  4,610,524 parameters with 80-dim fbank input.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _published
from ._converters import convert_xvector
from ._fbank import KaldiFbank, registration_hooks, speaker_embedding_spec, wespeaker_recipes
from ._pooling import StatisticsPooling

PAPER = ("Snyder, Garcia-Romero, Sell, Povey & Khudanpur, X-Vectors: Robust DNN Embeddings for Speaker "
         "Recognition, ICASSP 2018")


@dataclass
class XVectorConfig:
    hidden_channels: int = 512
    stats_channels: int = 1500
    embedding_dim: int = 512
    num_mel_bins: int = 80
    dither: float = 1.0  # fbank dither while training (WeSpeaker); none at evaluation


class TdnnLayer(nn.Module):
    """A dilated 1-D convolution over frames, ReLU, then a non-affine batch norm (Kaldi's layout)."""

    def __init__(self, in_channels: int, out_channels: int, context: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, context, dilation=dilation)
        self.norm = nn.BatchNorm1d(out_channels, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.relu(self.conv(x)))


class XVector(nn.Module):
    """Raw 16 kHz audio ``[batch, samples]`` -> x-vector ``[batch, embedding_dim]``.

    The frame layers have no padding, so an input needs at least 15 fbank frames
    (0.165 s); shorter inputs are tiled to that length first.
    """

    min_frames = 15

    def __init__(self, config: XVectorConfig) -> None:
        super().__init__()
        self.config = config
        self.features = KaldiFbank(num_mel_bins=config.num_mel_bins, dither=config.dither)
        hidden = config.hidden_channels
        self.frame_layers = nn.Sequential(
            TdnnLayer(config.num_mel_bins, hidden, context=5),
            TdnnLayer(hidden, hidden, context=3, dilation=2),
            TdnnLayer(hidden, hidden, context=3, dilation=3),
            TdnnLayer(hidden, hidden, context=1),
            TdnnLayer(hidden, config.stats_channels, context=1),
        )
        self.pool = StatisticsPooling(config.stats_channels)
        self.segment1 = nn.Linear(self.pool.out_dim, config.embedding_dim)
        self.segment1_norm = nn.BatchNorm1d(config.embedding_dim, affine=False)
        self.segment2 = nn.Linear(config.embedding_dim, config.embedding_dim)

    @property
    def frame_dim(self) -> int:
        return self.config.stats_channels

    def frame_features(self, waveforms: torch.Tensor) -> torch.Tensor:
        """The last frame layer's output, ``[batch, stats_channels, frames - 14]``."""
        features = self.features(waveforms)  # [batch, frames, mel]
        if features.shape[1] < self.min_frames:
            repeats = -(-self.min_frames // features.shape[1])
            features = features.repeat(1, repeats, 1)[:, :self.min_frames]
        return self.frame_layers(features.transpose(1, 2))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.segment1_norm(torch.relu(self.segment1(self.pool(self.frame_features(waveforms)))))
        return self.segment2(x)


SPEC = speaker_embedding_spec(
    "xvector", XVector, XVectorConfig, wespeaker_recipes(),
    "TDNN x-vector (WeSpeaker XVEC-TSTP-emb512): 80-dim fbank, 5 frame layers, statistics pooling (3000), "
    "512-dim embedding",
    PAPER, convert_xvector)

benchsuite_register_models, benchsuite_register_baselines = registration_hooks((SPEC,), _published.xvector)
