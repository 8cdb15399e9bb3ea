"""AASIST and AASIST-L (Jung et al., "AASIST: Audio Anti-Spoofing using Integrated
Spectro-Temporal Graph Attention Networks", ICASSP 2022).

Raw waveform -> fixed mel sinc filterbank (70 bands, 129 taps) -> |.| -> 3x3
max-pool -> BN -> SELU -> six 2-D residual blocks -> a spectral graph (one node
per frequency row, max over time, plus a learnt positional embedding) and a
temporal graph (one node per frame, max over frequency), each through graph
attention and graph pooling -> two parallel heterogeneous stacking graph
attention branches (HS-GAL) with a master node -> element-wise max of the
branches -> [max|T|, mean T, max|S|, mean S, master] -> linear -> 2 logits
(index 1 = bona fide).

Our own implementation.  The structure, the quirks that decide weight
compatibility and the released checkpoints' key names come from the authors'
code (clovaai/aasist ``models/AASIST.py``, MIT); :func:`._converters.convert_aasist` maps the
released key names.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.api import ConfigError, Deviation, ModelSpec, Recipe, Task, TaskInfo, hookimpl

from ._blocks import (GraphAttention, GraphPool, ResidualBlock2d, batch_norm_nodes, max_pool_bands_and_time,
                     pairwise_products)
from ._converters import convert_aasist
from . import _published
from ._sinc import FixedSincFilterbank, magnitude, mask_filter_bands

PAPER = ("J.-w. Jung, H.-S. Heo, H. Tak, H.-j. Shim, J. S. Chung, B.-J. Lee, H.-J. Yu, N. Evans, "
         "\"AASIST: Audio anti-spoofing using integrated spectro-temporal graph attention networks\", ICASSP 2022")


@dataclass
class AasistConfig:
    """``clovaai/aasist:config/AASIST.conf`` ``model_config``."""

    sinc_filters: int = 70  # filts[0]
    sinc_kernel_size: int = 128  # first_conv; made odd (129) like the reference
    # (in, out) channels of the six residual blocks: filts[1], filts[2], filts[3], filts[4] x 3
    block_channels: tuple[tuple[int, int], ...] = ((1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64))
    gat_dims: tuple[int, int] = (64, 32)  # GAT-S/GAT-T output, HS-GAL output
    # S pool, T pool, HS-GAL pools; the 4th entry is in the published config but unused by the model
    pool_ratios: tuple[float, float, float, float] = (0.5, 0.7, 0.5, 0.5)
    # GAT-S, GAT-T, HS-GAL; the 4th entry is in the published config but unused by the model
    temperatures: tuple[float, float, float, float] = (2.0, 2.0, 100.0, 100.0)
    gat_input_dropout: float = 0.2
    pool_dropout: float = 0.3
    branch_dropout: float = 0.2  # "drop_way" on both HS-GAL branches
    hidden_dropout: float = 0.5  # before the output layer
    # training-time masking of up to this many - 1 sinc bands (the reference's freq_aug uses 20;
    # AASIST.conf leaves it off)
    freq_mask_filters: int = 0
    sinc_method: str = "auto"  # auto | direct | fft: same output to float32 rounding


@dataclass
class AasistLConfig(AasistConfig):
    """``clovaai/aasist:config/AASIST-L.conf``: narrower encoder and graphs."""

    block_channels: tuple[tuple[int, int], ...] = ((1, 32), (32, 32), (32, 24), (24, 24), (24, 24), (24, 24))
    gat_dims: tuple[int, int] = (24, 32)
    pool_ratios: tuple[float, float, float, float] = (0.4, 0.5, 0.7, 0.5)


class HeterogeneousGraphAttention(nn.Module):
    """HS-GAL: attention over the union of temporal and spectral nodes plus a master node.

    Both node sets are projected to a common space and concatenated; edges
    within the temporal set, within the spectral set and across them get their
    own attention vectors.  The master node attends over all nodes (its own
    vector and projections) and is not batch-normalised.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float, input_dropout: float) -> None:
        super().__init__()
        self.temperature = temperature
        self.proj_temporal_in = nn.Linear(in_dim, in_dim)
        self.proj_spectral_in = nn.Linear(in_dim, in_dim)
        self.attention_proj = nn.Linear(in_dim, out_dim)
        self.master_attention_proj = nn.Linear(in_dim, out_dim)
        self.vector_temporal = nn.Parameter(torch.empty(out_dim, 1))
        self.vector_spectral = nn.Parameter(torch.empty(out_dim, 1))
        self.vector_cross = nn.Parameter(torch.empty(out_dim, 1))
        self.vector_master = nn.Parameter(torch.empty(out_dim, 1))
        for vector in (self.vector_temporal, self.vector_spectral, self.vector_cross, self.vector_master):
            nn.init.xavier_normal_(vector)
        self.proj_attended = nn.Linear(in_dim, out_dim)
        self.proj_self = nn.Linear(in_dim, out_dim)
        self.master_proj_attended = nn.Linear(in_dim, out_dim)
        self.master_proj_self = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_dropout = nn.Dropout(input_dropout)

    def forward(self, temporal: torch.Tensor, spectral: torch.Tensor,
                master: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n_temporal = temporal.shape[1]
        nodes = torch.cat([self.proj_temporal_in(temporal), self.proj_spectral_in(spectral)], dim=1)
        if master is None:
            master = nodes.mean(dim=1, keepdim=True)
        nodes = self.input_dropout(nodes)

        hidden = torch.tanh(self.attention_proj(pairwise_products(nodes)))  # [B, N, N, out]
        vectors = torch.cat([self.vector_temporal, self.vector_spectral, self.vector_cross], dim=1)
        logits_by_type = hidden @ vectors  # [B, N, N, 3]: each edge type's logit for every pair
        edge_type = self._edge_types(n_temporal, nodes.shape[1], nodes.device)
        edge_logits = logits_by_type.gather(-1, edge_type.expand(nodes.shape[0], -1, -1, -1)).squeeze(-1)
        weights = torch.softmax(edge_logits / self.temperature, dim=-1)

        master_logits = torch.tanh(self.master_attention_proj(nodes * master)) @ self.vector_master  # [B, N, 1]
        master_weights = torch.softmax(master_logits / self.temperature, dim=1)
        new_master = (self.master_proj_attended(master_weights.transpose(1, 2) @ nodes)
                      + self.master_proj_self(master))

        out = self.proj_attended(weights @ nodes) + self.proj_self(nodes)
        out = F.selu(batch_norm_nodes(self.bn, out), inplace=True)
        return out[:, :n_temporal], out[:, n_temporal:], new_master

    @staticmethod
    def _edge_types(n_temporal: int, n_nodes: int, device: torch.device) -> torch.Tensor:
        """``[1, N, N, 1]`` index: 0 temporal-temporal, 1 spectral-spectral, 2 across."""
        is_spectral = torch.arange(n_nodes, device=device) >= n_temporal
        same = is_spectral.unsqueeze(0) == is_spectral.unsqueeze(1)
        edge_type = torch.where(same, is_spectral.long().unsqueeze(0).expand(n_nodes, -1), 2)
        return edge_type.view(1, n_nodes, n_nodes, 1)


class HsGalBranch(nn.Module):
    """One of AASIST's two parallel inference branches: HS-GAL -> pool both node
    sets -> second HS-GAL whose output is added back (residual), master included."""

    def __init__(self, in_dim: int, out_dim: int, pool_ratio: float, temperature: float, config: AasistConfig) -> None:
        super().__init__()
        self.master = nn.Parameter(torch.randn(1, 1, in_dim))
        self.first = HeterogeneousGraphAttention(in_dim, out_dim, temperature, config.gat_input_dropout)
        self.pool_spectral = GraphPool(pool_ratio, out_dim, config.pool_dropout)
        self.pool_temporal = GraphPool(pool_ratio, out_dim, config.pool_dropout)
        self.second = HeterogeneousGraphAttention(out_dim, out_dim, temperature, config.gat_input_dropout)

    def forward(self, temporal: torch.Tensor, spectral: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # the learnt master (batch dim 1) broadcasts over the batch inside the layer
        temporal, spectral, master = self.first(temporal, spectral, self.master)
        spectral = self.pool_spectral(spectral)
        temporal = self.pool_temporal(temporal)
        temporal_res, spectral_res, master_res = self.second(temporal, spectral, master)
        return temporal + temporal_res, spectral + spectral_res, master + master_res


class Aasist(nn.Module):
    """``forward([batch, samples]) -> [batch, 2]`` logits; :meth:`embed` gives the 5 x gat_dims[1] hidden vector."""

    def __init__(self, config: AasistConfig) -> None:
        super().__init__()
        self.config = config
        if len(config.block_channels) != 6:
            raise ConfigError("AASIST has six residual blocks; block_channels needs six (in, out) pairs")
        n_rows = config.sinc_filters // 3  # frequency rows after the 3x3 max-pool
        # the 3x3 pooling drops the bands beyond 3 * n_rows: never compute them
        self.sinc = FixedSincFilterbank(config.sinc_filters, config.sinc_kernel_size, method=config.sinc_method,
                                        keep_filters=3 * n_rows)
        self.input_bn = nn.BatchNorm2d(1)
        self.encoder = nn.Sequential(*[
            ResidualBlock2d(c_in, c_out, first=index == 0) for index, (c_in, c_out) in enumerate(config.block_channels)
        ])
        channels = config.block_channels[-1][1]
        gat_dim, hs_dim = config.gat_dims
        self.spectral_position = nn.Parameter(torch.randn(1, n_rows, channels))
        self.gat_spectral = GraphAttention(channels, gat_dim, config.temperatures[0], config.gat_input_dropout)
        self.gat_temporal = GraphAttention(channels, gat_dim, config.temperatures[1], config.gat_input_dropout)
        self.pool_spectral = GraphPool(config.pool_ratios[0], gat_dim, config.pool_dropout)
        self.pool_temporal = GraphPool(config.pool_ratios[1], gat_dim, config.pool_dropout)
        self.branches = nn.ModuleList(
            [HsGalBranch(gat_dim, hs_dim, config.pool_ratios[2], config.temperatures[2], config) for _ in range(2)]
        )
        self.branch_dropout = nn.Dropout(config.branch_dropout)
        self.hidden_dropout = nn.Dropout(config.hidden_dropout)
        self.classifier = nn.Linear(5 * hs_dim, 2)

    def embed(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise ValueError(f"AASIST expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        bands = self.sinc(waveforms)
        if self.training and self.config.freq_mask_filters > 0:
            bands = mask_filter_bands(bands, self.config.freq_mask_filters, self.config.sinc_filters)
        x = max_pool_bands_and_time(magnitude(bands))  # = F.max_pool2d(|bands|, (3, 3))
        x = F.selu(self.input_bn(x), inplace=True)
        encoded = self.encoder(x).abs()  # [B, C, rows, frames]; both graphs read |e|

        spectral = encoded.amax(dim=3).transpose(1, 2) + self.spectral_position  # [B, rows, C]
        spectral = self.pool_spectral(self.gat_spectral(spectral))
        temporal = encoded.amax(dim=2).transpose(1, 2)  # [B, frames, C]
        temporal = self.pool_temporal(self.gat_temporal(temporal))

        return branch_readout(self.branches, self.branch_dropout, temporal, spectral)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden_dropout(self.embed(waveforms)))


def branch_readout(branches: nn.ModuleList, dropout: nn.Module, temporal: torch.Tensor,
                   spectral: torch.Tensor) -> torch.Tensor:
    """The two HS-GAL branches, dropout on each, their element-wise max, then the readout
    ``[max|T|, mean T, max|S|, mean S, master]``."""
    outputs = [branches[i](temporal, spectral) for i in range(2)]
    temporal_1, spectral_1, master_1 = (dropout(t) for t in outputs[0])
    temporal_2, spectral_2, master_2 = (dropout(t) for t in outputs[1])
    temporal = torch.maximum(temporal_1, temporal_2)
    spectral = torch.maximum(spectral_1, spectral_2)
    master = torch.maximum(master_1, master_2)
    return torch.cat([temporal.abs().amax(dim=1), temporal.mean(dim=1),
                      spectral.abs().amax(dim=1), spectral.mean(dim=1), master.squeeze(1)], dim=1)


# --------------------------------------------------------------------------- registration


_AASIST = "clovaai/aasist"


def _conf(lines: str, text: str) -> str:
    """A line of the two configs: AASIST.conf and AASIST-L.conf share the optimisation block line by line."""
    return f"{_AASIST} config/AASIST.conf:{lines} (AASIST-L.conf:{lines}) {text}"


def _paper_recipe() -> Recipe:
    # The authors' values with their lines (clovaai/aasist at a04c986), shared by AASIST and AASIST-L.
    return Recipe(
        epochs=100, batch_size=24, optimizer="adam", lr=1e-4, weight_decay=1e-4, betas=(0.9, 0.999),
        scheduler="cosine", lr_min=5e-6, loss="weighted_ce", class_weights=(0.1, 0.9),
        crop_samples=64600, train_crop="random", eval_crop="first", selection="dev_eer",
        selection_ties="later", averaging="improving", bn_update=True,
        sources={
            "epochs": _conf("6", "num_epochs 100"),
            "batch_size": _conf("5", "batch_size 24"),
            "optimizer": _conf("23-24", "adam, amsgrad False"),
            "lr": _conf("25", "base_lr 0.0001"),
            "lr_min": _conf("26", "lr_min 0.000005"),
            "betas": _conf("27", "betas [0.9, 0.999]"),
            "weight_decay": _conf("28", "weight_decay 0.0001"),
            "scheduler": _conf("29", "cosine") + f"; {_AASIST} utils.py:108-118 LambdaLR over epochs x steps, "
                                                 f"main.py:350-351 stepped every batch",
            "loss": f"{_AASIST} main.py:335-336 CrossEntropyLoss(weight=[0.1, 0.9])",
            "class_weights": f"{_AASIST} main.py:335 [0.1, 0.9] (spoof, bona fide)",
            "crop_samples": f"{_AASIST} data_utils.py:69,89 cut 64600",
            "train_crop": f"{_AASIST} data_utils.py:49-58 pad_random (random window, short files tiled)",
            "eval_crop": f"{_AASIST} data_utils.py:39-45 pad (first 64600 samples, short files tiled)",
            "selection": f"{_AASIST} main.py:148 if best_dev_eer >= dev_eer",
            "selection_ties": f"{_AASIST} main.py:148 '>=': an equal dev EER replaces the best",
            "averaging": f"{_AASIST} main.py:115,177-179 SWA(optimizer).update_swa() on every such epoch",
            "bn_update": f"{_AASIST} main.py:185-187 swap_swa_sgd(); bn_update(trn_loader, model)",
            "freq_mask_filters": f"{_AASIST} main.py:48-49 freq_aug defaults to False (AASIST.conf has none)",
        },
        deviations=(Deviation(
            name="eval-set-selection",
            what="the authors' best.pth is chosen on the evaluation set: among the dev-improving checkpoints "
                 "and the SWA model, whichever has the lowest eval min t-DCF; benchsuite's model is the SWA "
                 "model (dev-improving epochs, BN statistics recomputed on train), chosen without eval",
            why="selecting on the evaluation set reports an optimistic number; the SWA model is the closest "
                "choice that uses dev only",
            reference=f"{_AASIST} main.py:155-172 (eval on every new best, best.pth by eval t-DCF), 199-207",
            fields=("selection",),
        ),),
    )


def _quick_recipe() -> Recipe:
    # The encoder's first blocks run at full time resolution (~2.2 GMAC per second of audio even for
    # AASIST-L), so a CPU cell stays within a few minutes only with 1 s crops and ~100 utterances per
    # split; the higher learning rate lets two epochs show some learning.  Fields added to the paper
    # recipe later (SWA, tie rule) stay at their defaults so stored quick cells keep their ids.
    return _paper_recipe().with_added_defaults(
        epochs=2, batch_size=16, lr=1e-3, lr_min=1e-4, crop_samples=16000,
        max_train_utterances=128, max_dev_utterances=64, max_eval_utterances=128)


def build_aasist(config: AasistConfig, task_info: TaskInfo) -> Aasist:
    if task_info.task != Task.SPOOF:
        raise ConfigError(f"AASIST is a spoofing countermeasure; task {task_info.task} is not supported")
    return Aasist(config)


def _spec(name: str, config_class: type, description: str) -> ModelSpec:
    return ModelSpec(name=name, tasks=(Task.SPOOF,), build=build_aasist, config_class=config_class,
                     recipes={"paper": _paper_recipe(), "quick": _quick_recipe()}, description=description,
                     output="logits", paper=PAPER, convert_checkpoint=convert_aasist)


@hookimpl
def benchsuite_register_models(register):
    register(_spec("aasist", AasistConfig,
                   "AASIST: sinc front end + residual encoder + spectro-temporal graph attention (297,866 parameters)"))
    register(_spec("aasist-l", AasistLConfig,
                   "AASIST-L: the light AASIST (85,306 parameters)"))


@hookimpl
def benchsuite_register_baselines(register):
    _published.aasist(register)
