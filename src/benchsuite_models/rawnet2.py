"""RawNet2 anti-spoofing baseline (Tak et al., "End-to-end anti-spoofing with RawNet2",
ICASSP 2021), in the configuration of the ASVspoof 2021 baseline B04.

Raw waveform -> fixed mel sinc filterbank (20 bands, 1,025 taps) -> |.| ->
max-pool 3 -> BN -> SELU -> six 1-D residual blocks (2 x 20 channels, 4 x 128),
each followed by filter-wise feature map scaling (FMS: ``x * s + s`` with
``s = sigmoid(W mean_t(x))``) -> BN -> SELU -> 3-layer GRU (1,024) -> last
frame -> FC 1,024 -> FC 2 -> log-softmax.  The output is log-probabilities
(index 1 = log P(bona fide), the score); the reference trains with weighted
cross-entropy on them, which is the same as on logits because log-softmax is
idempotent.

Our own implementation from the paper and the facts of the baseline code
(asvspoof-challenge/2021 ``LA/Baseline-RawNet2/model.py``, ``model_config_RawNet.yaml``);
:func:`._converters.convert_rawnet2` maps that code's key names (e.g. the organisers'
pre-trained DF model) onto ours.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.api import ConfigError, Deviation, ModelSpec, Recipe, Task, TaskInfo, hookimpl

from ._blocks import fold_batch_norm, max_pool_last_dim
from ._converters import convert_rawnet2
from ._sinc import FixedSincFilterbank, magnitude

PAPER = ("H. Tak, J. Patino, M. Todisco, A. Nautsch, N. Evans, A. Larcher, \"End-to-end anti-spoofing with "
         "RawNet2\", ICASSP 2021; ASVspoof 2021 baseline B04")


@dataclass
class RawNet2Config:
    """``asvspoof-challenge/2021:LA/Baseline-RawNet2/model_config_RawNet.yaml``."""

    sinc_filters: int = 20  # filts[0]
    sinc_kernel_size: int = 1024  # first_conv; made odd (1,025) like the reference
    # (in, out) of the six residual blocks: filts[1] x 2, filts[2], then filts[2] with in = out x 3
    block_channels: tuple[tuple[int, int], ...] = ((20, 20), (20, 20), (20, 128), (128, 128), (128, 128), (128, 128))
    gru_hidden: int = 1024  # gru_node
    gru_layers: int = 3  # nb_gru_layer
    fc_hidden: int = 1024  # nb_fc_node
    leaky_slope: float = 0.3
    sinc_method: str = "auto"  # auto | direct | fft: same output to float32 rounding


class ResidualBlock1d(nn.Module):
    """conv(3) -> BN -> LeakyReLU -> conv(3) + shortcut -> max-pool 3.

    Non-first blocks own ``discarded_bn``: the reference applies it (and a
    LeakyReLU) to the input and then convolves the raw input instead.  It is in
    the state dict and the parameter count but cannot change the output, so it
    is not evaluated.  In eval mode the BN is folded into the first conv unless
    ``fast_paths`` is switched off on the class."""

    fast_paths = True

    def __init__(self, in_channels: int, out_channels: int, *, first: bool, leaky_slope: float) -> None:
        super().__init__()
        self.leaky_slope = leaky_slope
        if not first:
            self.discarded_bn = nn.BatchNorm1d(in_channels)
        self.conv_in = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm1d(out_channels)
        self.conv_out = nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = nn.Conv1d(in_channels, out_channels, kernel_size=1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.fast_paths:
            out = self.bn(self.conv_in(x))
        else:  # BN folded into the conv: one pass less, equal to float32 rounding
            weight, bias = fold_batch_norm(self.conv_in, self.bn)
            out = F.conv1d(x, weight, bias, padding=self.conv_in.padding)
        out = self.conv_out(F.leaky_relu(out, self.leaky_slope, inplace=True))
        out += self.shortcut(x) if self.shortcut is not None else x
        return max_pool_last_dim(out, 3)


class RawNet2(nn.Module):
    """``forward([batch, samples]) -> [batch, 2]`` log-probabilities."""

    def __init__(self, config: RawNet2Config) -> None:
        super().__init__()
        if len(config.block_channels) != 6:
            raise ConfigError("RawNet2 has six residual blocks; block_channels needs six (in, out) pairs")
        self.config = config
        self.sinc = FixedSincFilterbank(config.sinc_filters, config.sinc_kernel_size, method=config.sinc_method)
        self.input_bn = nn.BatchNorm1d(config.sinc_filters)
        self.blocks = nn.ModuleList([
            ResidualBlock1d(c_in, c_out, first=index == 0, leaky_slope=config.leaky_slope)
            for index, (c_in, c_out) in enumerate(config.block_channels)
        ])
        self.feature_map_scaling = nn.ModuleList([nn.Linear(c_out, c_out) for _, c_out in config.block_channels])
        channels = config.block_channels[-1][1]
        self.pre_gru_bn = nn.BatchNorm1d(channels)
        self.gru = nn.GRU(channels, config.gru_hidden, num_layers=config.gru_layers, batch_first=True)
        self.fc_hidden = nn.Linear(config.gru_hidden, config.fc_hidden)
        self.fc_out = nn.Linear(config.fc_hidden, 2)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise ValueError(f"RawNet2 expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        x = max_pool_last_dim(magnitude(self.sinc(waveforms)), 3)
        x = F.selu(self.input_bn(x), inplace=True)
        for block, scaling in zip(self.blocks, self.feature_map_scaling):
            x = block(x)
            scale = torch.sigmoid(scaling(x.mean(dim=-1))).unsqueeze(-1)  # [B, C, 1]
            x = torch.addcmul(scale, x, scale)  # x * s + s
        x = F.selu(self.pre_gru_bn(x), inplace=True)
        if x.is_cuda:
            self.gru.flatten_parameters()  # keeps cuDNN's weight layout contiguous after DataParallel/.to()
        hidden, _ = self.gru(x.transpose(1, 2))  # [B, frames, gru_hidden]
        return torch.log_softmax(self.fc_out(self.fc_hidden(hidden[:, -1])), dim=1)


# --------------------------------------------------------------------------- registration


_B04 = "asvspoof-challenge/2021 LA/Baseline-RawNet2"


def _paper_recipe() -> Recipe:
    # The ASVspoof 2021 RawNet2 baseline's values with their lines.  (The yaml's "amsgrad: 1" never
    # reaches the optimizer: main.py:187.)
    return Recipe(
        epochs=100, batch_size=32, optimizer="adam", lr=1e-4, weight_decay=1e-4, scheduler="none",
        loss="weighted_ce", class_weights=(0.1, 0.9), crop_samples=64600, train_crop="first",
        eval_crop="first", selection="dev_eer",
        sources={
            "epochs": f"{_B04} main.py:115 --num_epochs 100",
            "batch_size": f"{_B04} main.py:114 --batch_size 32; main.py:208 drop_last=True",
            "optimizer": f"{_B04} main.py:187 torch.optim.Adam (no amsgrad)",
            "lr": f"{_B04} main.py:116 --lr 0.0001",
            "weight_decay": f"{_B04} main.py:117 --weight_decay 0.0001",
            "scheduler": f"{_B04} main.py:228-240 no scheduler in the epoch loop",
            "loss": f"{_B04} main.py:66 CrossEntropyLoss(weight=[0.1, 0.9])",
            "class_weights": f"{_B04} main.py:66 [0.1, 0.9] (spoof, bona fide)",
            "crop_samples": f"{_B04} data_utils.py:42 pad(x, max_len=64600); :67,90 cut 64600",
            "train_crop": f"{_B04} data_utils.py:42-49 pad: the first 64600 samples (short files tiled)",
            "eval_crop": f"{_B04} data_utils.py:42-49 the same pad for every split",
        },
        deviations=(Deviation(
            name="no-selection-rule",
            what="the baseline saves every epoch and only logs the best dev accuracy; benchsuite keeps the "
                 "epoch with the lowest dev EER",
            why="a reproduction needs one model per run; dev EER uses dev only and is the task's metric",
            reference=f"{_B04} main.py:237-240 (best_acc logged, torch.save every epoch)",
            fields=("selection",),
        ),),
    )


def _quick_recipe() -> Recipe:
    return _paper_recipe().with_added_defaults(epochs=3, batch_size=16, crop_samples=16000,
                                               max_train_utterances=300, max_dev_utterances=200,
                                               max_eval_utterances=300)


def build_rawnet2(config: RawNet2Config, task_info: TaskInfo) -> RawNet2:
    if task_info.task != Task.SPOOF:
        raise ConfigError(f"RawNet2 (anti-spoofing) supports task spoof, not {task_info.task}")
    return RawNet2(config)


@hookimpl
def benchsuite_register_models(register):
    register(ModelSpec(
        name="rawnet2", tasks=(Task.SPOOF,), build=build_rawnet2, config_class=RawNet2Config,
        recipes={"paper": _paper_recipe(), "quick": _quick_recipe()},
        description="RawNet2 (ASVspoof 2021 baseline B04): sinc front end + residual blocks with FMS + GRU; "
                    "log-softmax output (17,621,410 parameters)",
        output="logits", paper=PAPER, convert_checkpoint=convert_rawnet2,
    ))

