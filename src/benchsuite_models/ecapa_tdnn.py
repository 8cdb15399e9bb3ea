"""ECAPA-TDNN (Desplanques, Thienpondt & Demuynck, "ECAPA-TDNN: Emphasized Channel Attention,
Propagation and Aggregation in TDNN Based Speaker Verification", Interspeech 2020): a speaker
embedding extractor, in the form WeSpeaker trains it (``ECAPA_TDNN_GLOB_c512`` / ``_c1024`` in
``wenet-e2e/wespeaker:wespeaker/models/ecapa_tdnn.py``): three SE-Res2Blocks with
dilations 2/3/4 and Res2Net scale 8, multi-layer feature aggregation into 1536
channels (also at C=1024), attentive statistics pooling with global context,
and a 192-dim embedding.  Parameter counts equal WeSpeaker's: 6,190,720 (C=512),
14,657,088 (C=1024).  SpeechBrain's C=1024 model is a different size (about
20.8 M: it widens the aggregation layer to 3072 channels).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from benchsuite.api import ConfigError

from . import _published
from ._converters import convert_ecapa_tdnn
from ._fbank import (KaldiFbank, registration_hooks, speaker_embedding_spec, wespeaker_recipes)
from ._pooling import AttentiveStatisticsPooling

PAPER = ("Desplanques, Thienpondt & Demuynck, ECAPA-TDNN: Emphasized Channel Attention, Propagation and "
         "Aggregation in TDNN Based Speaker Verification, Interspeech 2020")


@dataclass
class EcapaTdnnConfig:
    channels: int = 512  # C; 1024 for the large model
    embedding_dim: int = 192
    num_mel_bins: int = 80
    res2net_scale: int = 8
    se_bottleneck: int = 128
    attention_bottleneck: int = 128
    aggregation_channels: int = 1536  # WeSpeaker keeps 3 x 512 at C=1024 too
    global_context: bool = True
    dither: float = 1.0  # fbank dither while training (WeSpeaker); none at evaluation


class ConvReluBn(nn.Module):
    """Conv1d, ReLU, then batch norm: the order WeSpeaker uses throughout ECAPA-TDNN."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.norm = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.relu(self.conv(x)))


class Res2Conv(nn.Module):
    """Res2Net multi-scale convolution: the channels are cut into ``scale`` groups;
    each group but the last is convolved after adding the previous group's output,
    the last group passes through unchanged."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, scale: int) -> None:
        super().__init__()
        if channels % scale:
            raise ConfigError(f"ecapa-tdnn: channels ({channels}) must be divisible by res2net_scale ({scale})")
        self.group_width = channels // scale
        self.branches = nn.ModuleList(
            ConvReluBn(self.group_width, self.group_width, kernel_size, dilation) for _ in range(scale - 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.split(x, self.group_width, dim=1)
        outputs = []
        carried = groups[0]
        for index, branch in enumerate(self.branches):
            if index > 0:
                carried = carried + groups[index]
            carried = branch(carried)
            outputs.append(carried)
        outputs.append(groups[-1])
        return torch.cat(outputs, dim=1)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, bottleneck: int) -> None:
        super().__init__()
        self.squeeze = nn.Linear(channels, bottleneck)
        self.excite = nn.Linear(bottleneck, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = torch.sigmoid(self.excite(torch.relu(self.squeeze(x.mean(dim=2)))))
        return x * gates.unsqueeze(2)


class SERes2Block(nn.Module):
    def __init__(self, channels: int, dilation: int, scale: int, se_bottleneck: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvReluBn(channels, channels),
            Res2Conv(channels, kernel_size=3, dilation=dilation, scale=scale),
            ConvReluBn(channels, channels),
            SqueezeExcitation(channels, se_bottleneck),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class EcapaTdnn(nn.Module):
    """Raw 16 kHz audio ``[batch, samples]`` -> speaker embedding ``[batch, embedding_dim]``."""

    def __init__(self, config: EcapaTdnnConfig) -> None:
        super().__init__()
        self.config = config
        self.features = KaldiFbank(num_mel_bins=config.num_mel_bins, dither=config.dither)
        self.stem = ConvReluBn(config.num_mel_bins, config.channels, kernel_size=5)
        self.blocks = nn.ModuleList(
            SERes2Block(config.channels, dilation, config.res2net_scale, config.se_bottleneck) for dilation in (2, 3, 4)
        )
        self.aggregate = nn.Conv1d(3 * config.channels, config.aggregation_channels, kernel_size=1)
        self.pool = AttentiveStatisticsPooling(config.aggregation_channels, config.attention_bottleneck,
                                               config.global_context)
        self.pool_norm = nn.BatchNorm1d(self.pool.out_dim)
        self.embedding = nn.Linear(self.pool.out_dim, config.embedding_dim)

    @property
    def frame_dim(self) -> int:
        return self.config.aggregation_channels

    def frame_features(self, waveforms: torch.Tensor) -> torch.Tensor:
        """The multi-layer feature aggregation output, ``[batch, aggregation_channels, frames]``."""
        x = self.features(waveforms).transpose(1, 2)  # [batch, mel, frames]
        x = self.stem(x)
        block_outputs = []
        for block in self.blocks:
            x = block(x)
            block_outputs.append(x)
        return torch.relu(self.aggregate(torch.cat(block_outputs, dim=1)))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.pool_norm(self.pool(self.frame_features(waveforms))))


SPEC = speaker_embedding_spec(
    "ecapa-tdnn", EcapaTdnn, EcapaTdnnConfig, wespeaker_recipes(),
    "ECAPA-TDNN (WeSpeaker GLOB variant): 80-dim fbank, 3 SE-Res2Blocks, MFA, attentive statistics "
    "pooling, 192-dim embedding; C=512 by default, --set model.ecapa-tdnn.channels=1024 for the large model",
    PAPER, convert_ecapa_tdnn)

benchsuite_register_models, benchsuite_register_baselines = registration_hooks((SPEC,), _published.ecapa_tdnn)
