"""ResNet r-vector speaker embedding extractors (Zeinali et al., "BUT System Description to
VoxCeleb Speaker Recognition Challenge 2019", arXiv:1910.12592; He et al., "Deep Residual
Learning for Image Recognition", CVPR 2016), as WeSpeaker builds them (``ResNet34`` and
``ResNet18`` in ``wenet-e2e/wespeaker:wespeaker/models/resnet.py``, ``conf/resnet.yaml``):
a 2-D ResNet over the 80-dim fbank "image" with basic blocks and widths 32-64-128-256,
a 3x3 stem without max pooling, temporal statistics pooling over the (channel,
frequency) rows and one 256-dim embedding layer.

- ``resnet34``: blocks [3, 4, 6, 3], 6,634,336 parameters; WeSpeaker's VoxCeleb recipe.
- ``resnet18``: blocks [2, 2, 2, 2], 4,105,440 parameters (WeSpeaker's ``ResNet18``
  with feat_dim 80, embed_dim 256); SpecAugment on the fbank features while training.
  A house system: its ``paper`` recipe is the seed log's recipe as issue #18 states it
  (Adam lr 1e-3, batch 24, lr x 0.97 per epoch, SpecAugment, AAM-softmax m=0.2),
  WeSpeaker's ``conf/resnet.yaml`` where that says nothing (epochs, chunk, scale,
  margin ramp, weight decay).  The seed log's other heads and optimiser are
  ``--set model.resnet18.loss=am_softmax --set model.resnet18.scale=15`` (or 30),
  ``margin=0.3``, ``optimizer=sgd``.  WeSpeaker publishes no ResNet18 VoxCeleb
  result (examples/voxceleb/v2/README.md lists XVEC, ECAPA, ResNet34/221/293 and
  others), so it has no baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from benchsuite.api import ConfigError, Recipe, added_field

from . import _published
from ._converters import convert_resnet
from ._fbank import (WESPEAKER_CHUNK_SAMPLES, KaldiFbank, registration_hooks, speaker_embedding_spec,
                     wespeaker_recipes)
from ._pooling import StatisticsPooling
from ._specaugment import SpecAugment

PAPER = ("Zeinali et al., BUT System Description to VoxCeleb Speaker Recognition Challenge 2019, arXiv:1910.12592; "
         "He et al., Deep Residual Learning for Image Recognition, CVPR 2016")


@dataclass
class ResNetConfig:
    width: int = 32  # channels of the first stage; later stages double it (m_channels)
    blocks_per_stage: tuple[int, int, int, int] = (3, 4, 6, 3)  # ResNet34
    embedding_dim: int = 256  # conf/resnet.yaml embed_dim
    num_mel_bins: int = 80  # conf/resnet.yaml fbank_args.num_mel_bins
    dither: float = 1.0  # fbank dither while training (WeSpeaker); none at evaluation
    # SpecAugment while training (processor.py spec_aug; conf/resnet.yaml spec_aug_args): the
    # probability an utterance is masked (0 = off, WeSpeaker's "spec_aug: False"), masks and widths
    spec_augment_probability: float = added_field(0.0)
    spec_augment_time_masks: int = added_field(1)  # num_t_mask
    spec_augment_max_frames: int = added_field(10)  # max_t
    spec_augment_freq_masks: int = added_field(1)  # num_f_mask
    spec_augment_max_bins: int = added_field(8)  # max_f


@dataclass
class ResNet18Config(ResNetConfig):
    blocks_per_stage: tuple[int, int, int, int] = (2, 2, 2, 2)  # resnet.py ResNet18
    # the seed log trains with SpecAugment; WeSpeaker's spec_aug_args prob 0.6 (the log names no values)
    spec_augment_probability: float = 0.6


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
            raise ConfigError(f"resnet: blocks_per_stage needs 4 stages, got {list(config.blocks_per_stage)}")
        self.config = config
        self.features = KaldiFbank(num_mel_bins=config.num_mel_bins, dither=config.dither)
        self.spec_augment = SpecAugment(config.spec_augment_probability, config.spec_augment_time_masks,
                                        config.spec_augment_max_frames, config.spec_augment_freq_masks,
                                        config.spec_augment_max_bins)
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
        features = self.spec_augment(self.features(waveforms))  # [batch, frames, mel]
        x = self.stages(self.stem(features.transpose(1, 2).unsqueeze(1)))  # [batch, C, mel / 8, frames / 8]
        return self.embedding(self.pool(x))


def resnet18_recipes() -> dict[str, Recipe]:
    """The seed log's ResNet18 recipe (issue #18) as ``paper``; WeSpeaker's ``conf/resnet.yaml``
    (num_epochs 150, num_frms 200, arc_margin scale 32, margin 0 -> 0.2 over epochs 20-40,
    weight_decay 1e-4, eval on the whole utterance, last epoch) where the log is silent."""
    paper = Recipe(
        epochs=150, batch_size=24, optimizer="adam", lr=1e-3, weight_decay=1e-4,
        scheduler="step", step_epochs=1, gamma=0.97,  # "exponential lr decay 0.97 per epoch"
        loss="aam_softmax", margin=0.2, scale=32.0, margin_ramp_epochs=(20, 40),
        crop_samples=WESPEAKER_CHUNK_SAMPLES, train_crop="random", eval_crop="full", selection="last",
    )
    # as resnet34's quick cell: 1 s crops, a few hundred utterances, the margin ramped over the short run
    quick = paper.replace(epochs=4, margin_ramp_epochs=(2, 4), crop_samples=16000, max_train_utterances=240,
                          max_dev_utterances=120, max_eval_utterances=200)
    classify = {"loss": "ce", "margin_ramp_epochs": None, "selection": "dev_accuracy"}
    return {"paper": paper, "quick": quick, "paper:classify": paper.replace(**classify),
            "quick:classify": quick.replace(**classify)}


SPECS = (
    speaker_embedding_spec(
        "resnet34", ResNetSpeaker, ResNetConfig,
        # about 3x the compute of ECAPA-TDNN per second of audio, so the quick cell sees fewer utterances
        wespeaker_recipes(max_train_utterances=240, max_dev_utterances=120, max_eval_utterances=200),
        "ResNet34 r-vector (WeSpeaker ResNet34-TSTP-emb256): 80-dim fbank, basic blocks [3,4,6,3], width 32, "
        "temporal statistics pooling, 256-dim embedding",
        PAPER, convert_resnet),
    speaker_embedding_spec(
        "resnet18", ResNetSpeaker, ResNet18Config,
        resnet18_recipes(),
        "ResNet18 r-vector (WeSpeaker ResNet18, TSTP, emb 256): 80-dim fbank + SpecAugment, basic blocks "
        "[2,2,2,2], width 32, temporal statistics pooling, 256-dim embedding; house recipe (the seed log's)",
        PAPER, convert_resnet),
)

benchsuite_register_models, benchsuite_register_baselines = registration_hooks(SPECS, _published.resnet)
