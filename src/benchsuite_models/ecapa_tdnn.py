"""ECAPA-TDNN speaker embedding extractor (Desplanques, Thienpondt & Demuynck, Interspeech 2020),
in the form WeSpeaker trains it (``ECAPA_TDNN_GLOB_c512`` / ``_c1024`` in
``wenet-e2e/wespeaker:wespeaker/models/ecapa_tdnn.py``): three SE-Res2Blocks with
dilations 2/3/4 and Res2Net scale 8, multi-layer feature aggregation into 1536
channels (also at C=1024), attentive statistics pooling with global context,
and a 192-dim embedding.  Parameter counts equal WeSpeaker's: 6,190,720 (C=512),
14,657,088 (C=1024).  SpeechBrain's C=1024 model is a different size (about
20.8 M: it widens the aggregation layer to 3072 channels).
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from benchsuite.api import ConfigError, ModelSpec, Task, TaskInfo, hookimpl

from . import _published
from ._blocks import rename_state_dict
from ._fbank import KaldiFbank, wespeaker_recipes, without_head
from ._pooling import AttentiveStatisticsPooling


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

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.features(waveforms).transpose(1, 2)  # [batch, mel, frames]
        x = self.stem(x)
        block_outputs = []
        for block in self.blocks:
            x = block(x)
            block_outputs.append(x)
        x = torch.relu(self.aggregate(torch.cat(block_outputs, dim=1)))
        return self.embedding(self.pool_norm(self.pool(x)))


def build(config: EcapaTdnnConfig | None, task_info: TaskInfo) -> EcapaTdnn:
    return EcapaTdnn(config or EcapaTdnnConfig())


def _block(match: re.Match, part: str) -> str:
    return f"blocks.{int(match.group(1)) - 2}.body.{part}"


# WeSpeaker's ECAPA_TDNN names (layer1, layer2-4.se_res2block.*, conv, pool.linear*, bn, linear) -> ours
_WESPEAKER_RULES = (
    (r"^layer1\.conv\.", "stem.conv."),
    (r"^layer1\.bn\.", "stem.norm."),
    (r"^layer([234])\.se_res2block\.1\.convs\.(\d+)\.", lambda m: _block(m, f"1.branches.{m.group(2)}.conv.")),
    (r"^layer([234])\.se_res2block\.1\.bns\.(\d+)\.", lambda m: _block(m, f"1.branches.{m.group(2)}.norm.")),
    (r"^layer([234])\.se_res2block\.([02])\.conv\.", lambda m: _block(m, f"{m.group(2)}.conv.")),
    (r"^layer([234])\.se_res2block\.([02])\.bn\.", lambda m: _block(m, f"{m.group(2)}.norm.")),
    (r"^layer([234])\.se_res2block\.3\.linear1\.", lambda m: _block(m, "3.squeeze.")),
    (r"^layer([234])\.se_res2block\.3\.linear2\.", lambda m: _block(m, "3.excite.")),
    (r"^conv\.", "aggregate."),
    (r"^pool\.linear1\.", "pool.attention_hidden."),
    (r"^pool\.linear2\.", "pool.attention_scores."),
    (r"^bn\.", "pool_norm."),
    (r"^linear\.", "embedding."),
)


def convert_checkpoint(state: Mapping[str, Any]) -> dict[str, Any]:
    """WeSpeaker ECAPA_TDNN(_GLOB) weights (its training head ``projection.*`` dropped) onto ours;
    a state dict of ours passes through unchanged."""
    return rename_state_dict(without_head(state), _WESPEAKER_RULES, foreign_marker=r"se_res2block|^layer1\.")


SPEC = ModelSpec(
    name="ecapa-tdnn",
    tasks=(Task.VERIFY, Task.CLASSIFY),
    build=build,
    config_class=EcapaTdnnConfig,
    recipes=wespeaker_recipes(),
    description="ECAPA-TDNN (WeSpeaker GLOB variant): 80-dim fbank, 3 SE-Res2Blocks, MFA, attentive statistics "
                "pooling, 192-dim embedding; C=512 by default, --set model.ecapa-tdnn.channels=1024 for the "
                "large model",
    output="embedding",
    convert_checkpoint=convert_checkpoint,
    paper="Desplanques, Thienpondt & Demuynck, ECAPA-TDNN: Emphasized Channel Attention, Propagation and "
          "Aggregation in TDNN Based Speaker Verification, Interspeech 2020",
)

@hookimpl
def benchsuite_register_models(register) -> None:
    register(SPEC)


@hookimpl
def benchsuite_register_baselines(register) -> None:
    _published.ecapa_tdnn(register)
