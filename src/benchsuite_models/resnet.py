"""ResNet34 speaker embedding extractor (r-vector style) as WeSpeaker trains it
(``ResNet34`` in ``wenet-e2e/wespeaker:wespeaker/models/resnet.py``, ``conf/resnet.yaml``):
a 2-D ResNet over the 80-dim fbank "image" with basic blocks [3, 4, 6, 3] and widths
32-64-128-256, a 3x3 stem without max pooling, temporal statistics pooling over the
(channel, frequency) rows and one 256-dim embedding layer: 6,634,336 parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from benchsuite.api import ConfigError, ModelSpec, Task, TaskInfo, hookimpl

from . import _published
from ._blocks import rename_state_dict
from ._fbank import KaldiFbank, wespeaker_recipes, without_head
from ._pooling import StatisticsPooling


@dataclass
class ResNetConfig:
    width: int = 32  # channels of the first stage; later stages double it
    blocks_per_stage: tuple[int, int, int, int] = (3, 4, 6, 3)  # ResNet34
    embedding_dim: int = 256
    num_mel_bins: int = 80
    dither: float = 1.0  # fbank dither while training (WeSpeaker); none at evaluation


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetSpeaker(nn.Module):
    """Raw 16 kHz audio ``[batch, samples]`` -> speaker embedding ``[batch, embedding_dim]``."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        if len(config.blocks_per_stage) != 4:
            raise ConfigError(f"resnet34: blocks_per_stage needs 4 stages, got {list(config.blocks_per_stage)}")
        self.config = config
        self.features = KaldiFbank(num_mel_bins=config.num_mel_bins, dither=config.dither)
        self.stem = nn.Sequential(
            nn.Conv2d(1, config.width, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(config.width),
            nn.ReLU(),
        )
        stages = []
        in_channels = config.width
        for stage, num_blocks in enumerate(config.blocks_per_stage):
            out_channels = config.width * 2 ** stage
            blocks = []
            for index in range(num_blocks):
                # the first block of stages 2-4 halves frequency and time
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(BasicBlock(in_channels, out_channels, stride))
                in_channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        # WeSpeaker sizes the pooled vector as floor(mel / 8) frequency rows of the last stage
        pooled_rows = (config.num_mel_bins // 8) * in_channels
        self.pool = StatisticsPooling(pooled_rows)
        self.embedding = nn.Linear(self.pool.out_dim, config.embedding_dim)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.features(waveforms).transpose(1, 2).unsqueeze(1)  # [batch, 1, mel, frames]
        x = self.stages(self.stem(x))
        return self.embedding(self.pool(x))


def build(config: ResNetConfig | None, task_info: TaskInfo) -> ResNetSpeaker:
    return ResNetSpeaker(config or ResNetConfig())


# WeSpeaker's ResNet names (conv1, bn1, layer1-4.i.*, seg_1) -> ours
_WESPEAKER_RULES = (
    (r"^conv1\.", "stem.0."),
    (r"^bn1\.", "stem.1."),
    (r"^layer([1-4])\.(\d+)\.bn([12])\.", lambda m: f"stages.{int(m.group(1)) - 1}.{m.group(2)}.norm{m.group(3)}."),
    (r"^layer([1-4])\.(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.{m.group(2)}."),
    (r"^seg_1\.", "embedding."),
)


def convert_checkpoint(state: Mapping[str, Any]) -> dict[str, Any]:
    """WeSpeaker ResNet weights (``two_emb_layer=False``; its ``projection.*`` head dropped) onto ours;
    a state dict of ours passes through unchanged."""
    return rename_state_dict(without_head(state), _WESPEAKER_RULES, foreign_marker=r"^layer1\.|^seg_1\.")


SPEC = ModelSpec(
    name="resnet34",
    tasks=(Task.VERIFY, Task.CLASSIFY),
    build=build,
    config_class=ResNetConfig,
    # about 3x the compute of ECAPA-TDNN per second of audio, so the quick cell sees fewer utterances
    recipes=wespeaker_recipes(max_train_utterances=240, max_dev_utterances=120, max_eval_utterances=200),
    description="ResNet34 r-vector (WeSpeaker ResNet34-TSTP-emb256): 80-dim fbank, basic blocks [3,4,6,3], "
                "width 32, temporal statistics pooling, 256-dim embedding",
    output="embedding",
    convert_checkpoint=convert_checkpoint,
    paper="Zeinali et al., BUT System Description to VoxCeleb Speaker Recognition Challenge 2019, arXiv:1910.12592; "
          "He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
)

@hookimpl
def benchsuite_register_models(register) -> None:
    register(SPEC)


@hookimpl
def benchsuite_register_baselines(register) -> None:
    _published.resnet(register)
