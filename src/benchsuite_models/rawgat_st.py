"""RawGAT-ST (Tak et al., "End-to-end spectro-temporal graph attention networks for
speaker verification anti-spoofing and speech deepfake detection", ASVspoof 2021 workshop).

Raw waveform -> fixed mel sinc filterbank (70 bands, 129 taps) -> |.| -> 3x3
max-pool -> BN -> SELU, then two identical residual encoders: one feeds a
spectral graph (23 frequency nodes, max over time), the other a temporal graph
(29 frame nodes, max over frequency); graph attention + graph pooling on each,
node-count projections to 12 nodes, fusion (element-wise product by default;
sum or concatenation selectable), a spectro-temporal graph attention layer,
pooling to 7 nodes, a feature projection to one value per node and a linear
classifier over the 7 nodes -> 2 logits (index 1 = bona fide).

The node-count projections fix the input length: the encoders must yield 29
frames, i.e. 63,551 to 65,737 samples (the published 64,600-sample window).

Our own implementation from the paper and the facts of the authors' code
(eurecom-asp/RawGAT-ST-antispoofing ``model.py`` and ``RawGAT_models/``, MIT);
:func:`._converters.convert_rawgat_st` maps the released key names.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.api import ConfigError, Deviation, ModelSpec, Recipe, Task, TaskInfo, hookimpl

from ._blocks import GraphAttention, GraphPool, ResidualBlock2d, max_pool_bands_and_time
from ._converters import convert_rawgat_st
from . import _published
from ._sinc import FixedSincFilterbank, magnitude, mask_filter_bands

PAPER = ("H. Tak, J.-w. Jung, J. Patino, M. Kamble, M. Todisco, N. Evans, \"End-to-end spectro-temporal graph "
         "attention networks for speaker verification anti-spoofing and speech deepfake detection\", "
         "ASVspoof 2021 Workshop")
FUSIONS = ("mul", "add", "concat")
# frames left after the 3x3 input pooling and six (1, 3) poolings: (samples - taps + 1) // 3**7
_POOLING_FACTOR = 3 ** 7


@dataclass
class RawGatStConfig:
    """``eurecom-asp/RawGAT-ST-antispoofing:model_config_RawGAT_ST.yaml`` and the constants of ``model.py``."""

    fusion: str = "mul"  # mul | add | concat (the three released variants)
    sinc_filters: int = 70  # out_channels
    sinc_kernel_size: int = 128  # first_conv; made odd (129) like the reference
    # (in, out) of the six blocks of each encoder: filts[1] x 2, filts[2], filts[3] x 3.
    # The first block's convolution reads the 1-channel input whatever its "in" says.
    block_channels: tuple[tuple[int, int], ...] = ((32, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64))
    gat_dim: int = 32  # spectral and temporal graph attention output
    fused_gat_dim: int = 16  # spectro-temporal layer output (32 with concat, as released)
    pool_ratios: tuple[float, float, float] = (0.64, 0.81, 0.64)  # spectral, temporal, fused
    projected_nodes: int = 12  # both graphs are projected to this many nodes before fusion
    frames: int = 29  # temporal nodes the encoder yields for a 64,600-sample input
    gat_input_dropout: float = 0.2
    pool_dropout: float = 0.3
    # training-time masking of up to this many - 1 sinc bands: the authors train with Freq_aug=True
    freq_mask_filters: int = 14
    sinc_method: str = "auto"  # auto | direct | fft: same output to float32 rounding


class RawGatSt(nn.Module):
    """``forward([batch, samples]) -> [batch, 2]`` logits."""

    def __init__(self, config: RawGatStConfig) -> None:
        super().__init__()
        if config.fusion not in FUSIONS:
            raise ConfigError(f"RawGAT-ST fusion {config.fusion!r}: expected one of {', '.join(FUSIONS)}")
        if len(config.block_channels) != 6:
            raise ConfigError("RawGAT-ST has six residual blocks per encoder; block_channels needs six (in, out) pairs")
        self.config = config
        n_rows = config.sinc_filters // 3
        self.sinc = FixedSincFilterbank(config.sinc_filters, config.sinc_kernel_size, method=config.sinc_method,
                                        keep_filters=3 * n_rows)
        self.input_bn = nn.BatchNorm2d(1)
        self.spectral_encoder = self._encoder(config)
        self.temporal_encoder = self._encoder(config)
        channels = config.block_channels[-1][1]
        fused_in = 2 * config.gat_dim if config.fusion == "concat" else config.gat_dim
        fused_dim = 2 * config.fused_gat_dim if config.fusion == "concat" else config.fused_gat_dim
        # the reference pools keep at least 2 nodes
        self.gat_spectral = GraphAttention(channels, config.gat_dim, input_dropout=config.gat_input_dropout)
        self.pool_spectral = GraphPool(config.pool_ratios[0], config.gat_dim, config.pool_dropout, min_nodes=2)
        self.gat_temporal = GraphAttention(channels, config.gat_dim, input_dropout=config.gat_input_dropout)
        self.pool_temporal = GraphPool(config.pool_ratios[1], config.gat_dim, config.pool_dropout, min_nodes=2)
        self.gat_fused = GraphAttention(fused_in, fused_dim, input_dropout=config.gat_input_dropout)
        self.pool_fused = GraphPool(config.pool_ratios[2], fused_dim, config.pool_dropout, min_nodes=2)
        spectral_kept = self.pool_spectral.kept_nodes(n_rows)
        temporal_kept = self.pool_temporal.kept_nodes(config.frames)
        fused_kept = self.pool_fused.kept_nodes(config.projected_nodes)
        self.spectral_node_proj = nn.Linear(spectral_kept, config.projected_nodes)
        self.temporal_node_proj = nn.Linear(temporal_kept, config.projected_nodes)
        self.fused_feature_proj = nn.Linear(fused_dim, 1)
        self.classifier = nn.Linear(fused_kept, 2)
        lowest = config.frames * _POOLING_FACTOR + self.sinc.taps - 1
        self.input_samples_range = (lowest, lowest + _POOLING_FACTOR - 1)

    @staticmethod
    def _encoder(config: RawGatStConfig) -> nn.Sequential:
        blocks = []
        for index, (c_in, c_out) in enumerate(config.block_channels):
            if index == 0:
                # reads the 1-channel input; with in == out there is no shortcut conv and the
                # input is broadcast-added to every channel (reference behaviour)
                blocks.append(ResidualBlock2d(1, c_out, first=True, shortcut_conv=c_in != c_out))
            else:
                blocks.append(ResidualBlock2d(c_in, c_out, unused_conv=True))
        return nn.Sequential(*blocks)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise ValueError(f"RawGAT-ST expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        low, high = self.input_samples_range
        if not low <= waveforms.shape[1] <= high:
            raise ConfigError(
                f"RawGAT-ST takes inputs of {low:,} to {high:,} samples (its node projections are sized for "
                f"{self.config.frames} frames); got {waveforms.shape[1]:,}: use crop_samples=64600 with a "
                f"first/random crop"
            )
        bands = self.sinc(waveforms)
        if self.training and self.config.freq_mask_filters > 0:
            bands = mask_filter_bands(bands, self.config.freq_mask_filters, self.config.sinc_filters)
        x = max_pool_bands_and_time(magnitude(bands))  # = F.max_pool2d(|bands|, (3, 3))
        x = F.selu(self.input_bn(x), inplace=True)

        spectral = self.spectral_encoder(x).abs().amax(dim=3).transpose(1, 2)  # [B, rows, C]
        spectral = self.pool_spectral(self.gat_spectral(spectral))  # [B, 14, gat_dim]
        spectral = self.spectral_node_proj(spectral.transpose(1, 2))  # [B, gat_dim, 12]

        temporal = self.temporal_encoder(x).abs().amax(dim=2).transpose(1, 2)  # [B, frames, C]
        temporal = self.pool_temporal(self.gat_temporal(temporal))  # [B, 23, gat_dim]
        temporal = self.temporal_node_proj(temporal.transpose(1, 2))  # [B, gat_dim, 12]

        if self.config.fusion == "mul":
            fused = spectral * temporal
        elif self.config.fusion == "add":
            fused = spectral + temporal
        else:
            fused = torch.cat([spectral, temporal], dim=1)
        fused = self.pool_fused(self.gat_fused(fused.transpose(1, 2)))  # [B, 7, fused_dim]
        return self.classifier(self.fused_feature_proj(fused).squeeze(-1))


# --------------------------------------------------------------------------- registration


_RAWGAT = "eurecom-asp/RawGAT-ST-antispoofing"


def _paper_recipe() -> Recipe:
    # The authors' values with their lines (eurecom-asp/RawGAT-ST-antispoofing main.py).  The yaml's
    # "amsgrad: 1" never reaches the optimizer (main.py:240).
    return Recipe(
        epochs=300, batch_size=10, optimizer="adam", lr=1e-4, weight_decay=1e-4, scheduler="none",
        loss="weighted_ce", class_weights=(0.1, 0.9), crop_samples=64600, train_crop="first",
        eval_crop="first", selection="dev_eer",
        sources={
            "epochs": f"{_RAWGAT} main.py:154 --num_epochs 300",
            "batch_size": f"{_RAWGAT} main.py:153 --batch_size 10",
            "optimizer": f"{_RAWGAT} main.py:240 torch.optim.Adam (no amsgrad)",
            "lr": f"{_RAWGAT} main.py:155 --lr 0.0001",
            "weight_decay": f"{_RAWGAT} main.py:156 --weight_decay 0.0001",
            "scheduler": f"{_RAWGAT} main.py:264-273 no scheduler in the epoch loop",
            "loss": f"{_RAWGAT} main.py:101-102 CrossEntropyLoss(weight=[0.1, 0.9])",
            "class_weights": f"{_RAWGAT} main.py:101 [0.1, 0.9] (spoof, bona fide)",
            "crop_samples": f"{_RAWGAT} main.py:17-23 pad(x, max_len=64600)",
            "train_crop": f"{_RAWGAT} main.py:17-20,216-217 pad: the first 64600 samples (short files tiled)",
            "eval_crop": f"{_RAWGAT} main.py:17-20,216-217 the same pad for every split",
            "freq_mask_filters": f"{_RAWGAT} main.py:115 Freq_aug=True in training; model.py:214-219 "
                                 f"int(uniform(0, 14)) bands zeroed",
            "validation_mode": f"{_RAWGAT} main.py:30 model.eval() before the dev loss",
        },
        deviations=(Deviation(
            name="no-selection-rule",
            what="the authors' code has no selection rule: it saves every epoch and logs the dev loss "
                 "(the released Best_epoch.pth was chosen by a rule the code does not show); benchsuite "
                 "keeps the epoch with the lowest dev EER",
            why="a reproduction needs one model per run; dev EER is the rule of the same group's AASIST and "
                "uses dev only",
            reference=f"{_RAWGAT} main.py:264-273 (torch.save every epoch, val_loss only logged)",
            fields=("selection",),
        ),),
    )


def _quick_recipe() -> Recipe:
    # The architecture needs 64,600-sample inputs, so the quick profile shortens the data instead of the
    # crop; two 4 s encoders make it the slowest of the raw models on a CPU (several minutes per cell).
    return _paper_recipe().with_added_defaults(epochs=2, batch_size=8, lr=1e-3, max_train_utterances=32,
                                               max_dev_utterances=32, max_eval_utterances=64)


def build_rawgat_st(config: RawGatStConfig, task_info: TaskInfo) -> RawGatSt:
    if task_info.task != Task.SPOOF:
        raise ConfigError(f"RawGAT-ST is a spoofing countermeasure; task {task_info.task} is not supported")
    return RawGatSt(config)


@hookimpl
def benchsuite_register_models(register):
    register(ModelSpec(
        name="rawgat-st", tasks=(Task.SPOOF,), build=build_rawgat_st, config_class=RawGatStConfig,
        recipes={"paper": _paper_recipe(), "quick": _quick_recipe()},
        description="RawGAT-ST: sinc front end + two residual encoders + spectral/temporal graph attention fused "
                    "(mul/add/concat); 440,810 parameters (4,032 unused, kept for the released weights)",
        output="logits", paper=PAPER, convert_checkpoint=convert_rawgat_st,
    ))


@hookimpl
def benchsuite_register_baselines(register):
    _published.rawgat_st(register)
