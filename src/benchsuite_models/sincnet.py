"""SincNet (Ravanelli & Bengio, "Speaker Recognition from Raw Waveform with SincNet", SLT 2018)
as configured in ``mravanelli/SincNet:cfg/SincNet_TIMIT.cfg``.

The network sees 200 ms windows (3,200 samples at 16 kHz):

- layer norm of the raw window;
- 80 learnable sinc band-pass filters of 251 taps (only each filter's low cut-off
  and bandwidth are learnt; Hamming-windowed), |.|, max-pool 3, layer norm, LeakyReLU(0.2);
- two Conv1d(60, kernel 5) layers, each max-pool 3, layer norm, LeakyReLU(0.2);
- layer norm of the flattened 6,420 values, then three fully connected layers of
  2,048 units with batch norm (momentum 0.05) and LeakyReLU(0.2).

The last hidden layer is the embedding (the d-vector); the trainer's linear
head plays the role of SincNet's softmax layer.  A longer input is cut into
windows every ``window_hop_samples`` (10 ms in the reference code) whose
embeddings are averaged; a shorter one is tiled up to one window.  Like the
reference code, "layer norm" normalises each channel over time (unbiased
standard deviation, epsilon added to it) with an affine weight per (channel,
time) position.  22,765,560 parameters with the defaults (the reference code also
creates batch-norm and layer-norm modules it never uses; they are left out).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.api import ConfigError, Deviation, ModelSpec, Recipe, Task, TaskInfo, added_field, hookimpl

from ._sinc import hz_to_mel, mel_to_hz


@dataclass
class SincNetConfig:
    sinc_filters: int = 80
    sinc_kernel_size: int = 251
    conv_channels: tuple[int, ...] = (60, 60)
    conv_kernel_sizes: tuple[int, ...] = (5, 5)
    pool_sizes: tuple[int, ...] = (3, 3, 3)  # after the sinc layer and after each conv layer
    dnn_units: tuple[int, ...] = (2048, 2048, 2048)
    window_samples: int = 3200  # 200 ms
    window_hop_samples: int = 160  # 10 ms, as the reference evaluates whole sentences
    leaky_slope: float = 0.2
    min_low_hz: float = 50.0
    min_band_hz: float = 50.0
    sample_rate: int = 16000
    windows_per_pass: int = 256  # bounds memory when a long utterance yields many windows
    # How window embeddings make an utterance's d-vector outside training: "mean" (a plain mean), or
    # "energy_l2" as mravanelli/SincNet compute_d_vector.py:29-30,197,234-238 does: windows with less than
    # 0.1 x the mean window energy dropped, each remaining embedding L2-normalised, then averaged.
    # The paper recipe selects energy_l2 through its model_config.
    dvector_pooling: Literal["mean", "energy_l2"] = added_field("mean")


class SincConv(nn.Module):
    """Band-pass filters parametrised by low cut-off and bandwidth (Hz), mel-spaced at initialisation.

    Each filter is the difference of two ideal low-pass sincs,
    ``h(t) = (sin(2 pi f2 t) - sin(2 pi f1 t)) / (pi t)``, times a Hamming window,
    scaled so its centre tap is 1.
    """

    def __init__(self, num_filters: int, kernel_size: int, sample_rate: int, min_low_hz: float,
                 min_band_hz: float) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"sincnet: sinc_kernel_size must be odd so the filters are symmetric, got {kernel_size}")
        self.sample_rate = sample_rate
        self.min_low_hz = min_low_hz
        self.min_band_hz = min_band_hz
        top = sample_rate / 2 - (min_low_hz + min_band_hz)
        edges = torch.tensor(mel_to_hz(np.linspace(hz_to_mel(30.0), hz_to_mel(top), num_filters + 1)),
                             dtype=torch.float32)
        self.low_hz = nn.Parameter(edges[:-1].clone())
        self.band_hz = nn.Parameter(torch.diff(edges))
        half = (kernel_size - 1) / 2
        self.register_buffer("time", (torch.arange(kernel_size) - half) / sample_rate, persistent=False)
        self.register_buffer("window", torch.hamming_window(kernel_size, periodic=False), persistent=False)

    def filters(self) -> torch.Tensor:
        low = self.min_low_hz + self.low_hz.abs()
        high = torch.clamp(low + self.min_band_hz + self.band_hz.abs(), self.min_low_hz, self.sample_rate / 2)
        band = (high - low).unsqueeze(1)
        t = self.time.unsqueeze(0)
        centre = t == 0
        safe_t = torch.where(centre, torch.ones_like(t), t)
        response = (torch.sin(2 * math.pi * high.unsqueeze(1) * safe_t)
                    - torch.sin(2 * math.pi * low.unsqueeze(1) * safe_t)) / (math.pi * safe_t)
        response = torch.where(centre, 2 * band, response)
        return (response * self.window / (2 * band)).unsqueeze(1)  # [filters, 1, taps]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.filters())


class TimeLayerNorm(nn.Module):
    """SincNet's layer norm: statistics over the last axis, affine weights over ``shape``."""

    def __init__(self, shape: tuple[int, ...], eps: float = 1e-6) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True)
        return self.gain * (x - mean) / (std + self.eps) + self.bias


class SincNet(nn.Module):
    """Raw 16 kHz audio ``[batch, samples]`` -> d-vector ``[batch, dnn_units[-1]]``."""

    def __init__(self, config: SincNetConfig) -> None:
        super().__init__()
        if len(config.conv_channels) != len(config.conv_kernel_sizes) or \
                len(config.pool_sizes) != len(config.conv_channels) + 1:
            raise ConfigError("sincnet: conv_channels and conv_kernel_sizes need one entry per conv layer and "
                              "pool_sizes one more (for the sinc layer)")
        self.config = config
        self.input_norm = TimeLayerNorm((config.window_samples,))
        self.sinc = SincConv(config.sinc_filters, config.sinc_kernel_size, config.sample_rate, config.min_low_hz,
                             config.min_band_hz)
        length = (config.window_samples - config.sinc_kernel_size + 1) // config.pool_sizes[0]
        self.sinc_norm = TimeLayerNorm((config.sinc_filters, length))
        self.convs = nn.ModuleList()
        self.conv_norms = nn.ModuleList()
        channels = config.sinc_filters
        for out_channels, kernel, pool in zip(config.conv_channels, config.conv_kernel_sizes, config.pool_sizes[1:]):
            self.convs.append(nn.Conv1d(channels, out_channels, kernel))
            length = (length - kernel + 1) // pool
            self.conv_norms.append(TimeLayerNorm((out_channels, length)))
            channels = out_channels
        if length < 1:
            raise ConfigError(f"sincnet: a window of {config.window_samples} samples is too short for the conv stack")
        flat = channels * length
        self.dnn_input_norm = TimeLayerNorm((flat,))
        self.dnn = nn.ModuleList()
        self.dnn_norms = nn.ModuleList()
        for units in config.dnn_units:
            layer = nn.Linear(flat, units)
            # the reference initialises uniformly in +-sqrt(0.01 / (fan_in + fan_out)), biases at 0
            bound = math.sqrt(0.01 / (flat + units))
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
            self.dnn.append(layer)
            self.dnn_norms.append(nn.BatchNorm1d(units, momentum=0.05))
            flat = units

    def embed_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """``[n, window_samples]`` -> ``[n, D]``."""
        slope = self.config.leaky_slope
        x = self.input_norm(windows).unsqueeze(1)
        x = F.max_pool1d(self.sinc(x).abs(), self.config.pool_sizes[0])
        x = F.leaky_relu(self.sinc_norm(x), slope)
        for conv, norm, pool in zip(self.convs, self.conv_norms, self.config.pool_sizes[1:]):
            x = F.leaky_relu(norm(F.max_pool1d(conv(x), pool)), slope)
        x = self.dnn_input_norm(x.flatten(1))
        for layer, norm in zip(self.dnn, self.dnn_norms):
            x = F.leaky_relu(norm(layer(x)), slope)
        return x

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        size = self.config.window_samples
        if waveforms.shape[1] < size:
            repeats = -(-size // waveforms.shape[1])
            waveforms = waveforms.repeat(1, repeats)[:, :size]
        windows = waveforms.unfold(1, size, self.config.window_hop_samples)  # [batch, n, size]
        batch, count = windows.shape[0], windows.shape[1]
        flat = windows.reshape(batch * count, size)
        step = max(1, self.config.windows_per_pass)
        embedded = torch.cat([self.embed_windows(flat[i:i + step]) for i in range(0, flat.shape[0], step)])
        embedded = embedded.reshape(batch, count, -1)
        if self.config.dvector_pooling == "energy_l2" and not self.training:
            return energy_filtered_mean(embedded, windows.square().sum(dim=-1))
        return embedded.mean(dim=1)


def energy_filtered_mean(embedded: torch.Tensor, energies: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """``[batch, windows, D]`` -> ``[batch, D]``: the mean of the L2-normalised embeddings of the windows whose
    energy exceeds ``threshold`` x the utterance's mean window energy (every window if none does)."""
    keep = energies > threshold * energies.mean(dim=1, keepdim=True)
    keep = torch.where(keep.any(dim=1, keepdim=True), keep, torch.ones_like(keep))
    unit = F.normalize(embedded, dim=-1)
    weights = keep.to(unit.dtype).unsqueeze(-1)
    return (unit * weights).sum(dim=1) / weights.sum(dim=1)


def build(config: SincNetConfig | None, task_info: TaskInfo) -> SincNet:
    return SincNet(config or SincNetConfig())


_SINCNET = "mravanelli/SincNet"
_CFG = f"{_SINCNET} cfg/SincNet_TIMIT.cfg"

# The authors' TIMIT recipe with its lines.  Their three RMSprop optimisers (CNN, DNN1, DNN2) share every
# setting, which one optimiser over all parameters reproduces.
_PAPER = Recipe(
    epochs=1500, batch_size=128, optimizer="rmsprop", lr=1e-3, alpha=0.95, eps=1e-8, weight_decay=0.0,
    scheduler="none", loss="softmax", crop_samples=3200, train_crop="random", eval_crop="full", selection="last",
    steps_per_epoch=800, augmentations=("gain",), model_config={"dvector_pooling": "energy_l2"},
    sources={
        "epochs": f"{_CFG}:46 N_epochs=1500",
        "batch_size": f"{_CFG}:45 batch_size=128",
        "steps_per_epoch": f"{_CFG}:47 N_batches=800; {_SINCNET} speaker_id.py:230",
        "optimizer": f"{_SINCNET} speaker_id.py:214-216 optim.RMSprop",
        "lr": f"{_CFG}:44 lr=0.001",
        "alpha": f"{_SINCNET} speaker_id.py:214-216 alpha=0.95",
        "eps": f"{_SINCNET} speaker_id.py:214-216 eps=1e-8",
        "loss": f"{_SINCNET} speaker_id.py:144,236 NLLLoss on the log-softmax output layer",
        "crop_samples": f"{_SINCNET} speaker_id.py:148 wlen = fs * cw_len / 1000 (200 ms)",
        "train_crop": f"{_SINCNET} speaker_id.py:49-50 a random 200 ms chunk per sentence",
        "augmentations": f"{_SINCNET} speaker_id.py:37,57,232 random amplitude uniform(0.8, 1.2)",
        "window_hop_samples": f"{_SINCNET} speaker_id.py:149 wshift (10 ms)",
        "dvector_pooling": f"{_SINCNET} compute_d_vector.py:29-30,197,234-238",
        "eval_crop": f"{_SINCNET} compute_d_vector.py:207-232 the whole sentence in 200 ms windows every 10 ms",
        "selection": f"{_SINCNET} speaker_id.py:261,336 model_raw.pkl overwritten at every evaluation: the last",
    },
    deviations=(
        Deviation(
            name="batches-by-shuffled-passes",
            what="the reference draws each batch's sentences at random with replacement; benchsuite takes the "
                 "800 batches of an epoch from shuffled passes over the training list (each sentence once "
                 "per pass, a random 200 ms chunk each time)",
            why="the trainer's sampler is pass-based so crops and order depend on (seed, epoch) alone",
            reference=f"{_SINCNET} speaker_id.py:35 snt_id_arr = np.random.randint(N_snt, size=batch_size)",
            fields=("steps_per_epoch",)),
        Deviation(
            name="no-amplitude-normalisation-before-d-vectors",
            what="the reference divides each test signal by its peak before computing d-vectors; benchsuite "
                 "scores the audio as read",
            why="the input layer norm and the L2-normalised windows make the d-vector nearly scale-free",
            reference=f"{_SINCNET} compute_d_vector.py:174"),
    ),
)
# Quick: Adam, 4 epochs, and 200 ms windows every 100 ms at evaluation ("chunked"), which is
# 10x fewer windows than the reference's 10 ms hop.  The fields the paper recipe gained later keep their
# former quick values (alpha 0.99, no gain, one pass an epoch, mean pooling) so stored quick cells keep their ids.
_QUICK = _PAPER.with_added_defaults(
    epochs=4, batch_size=32, optimizer="adam", alpha=0.99, augmentations=(), eval_crop="chunked",
    max_train_utterances=400, max_dev_utterances=200, max_eval_utterances=300,
)

SPEC = ModelSpec(
    name="sincnet",
    tasks=(Task.VERIFY, Task.CLASSIFY),
    build=build,
    config_class=SincNetConfig,
    recipes={"paper": _PAPER, "quick": _QUICK,
             "paper:classify": _PAPER.replace(loss="ce", selection="dev_accuracy"),
             "quick:classify": _QUICK.replace(loss="ce", selection="dev_accuracy")},
    description="SincNet on raw waveform: 80 learnable sinc band-pass filters (251 taps), 2 conv layers, "
                "3x2048 DNN; 200 ms windows averaged over the utterance; 2048-dim d-vector",
    output="embedding",
    paper="Ravanelli & Bengio, Speaker Recognition from Raw Waveform with SincNet, IEEE SLT 2018",
)


@hookimpl
def benchsuite_register_models(register) -> None:
    register(SPEC)
