"""The 1-D CNN + sequence-model family of utterance classifiers (house systems of the
utterance-classification logs benchsuite was built from; no single paper).

Every member reads 16 kHz audio and has the same four stages:

1. a front end giving a frame sequence ``[batch, channels, frames]``:
   ``fbank`` (80-dim Kaldi log mel filterbank, 25 ms / 10 ms, mean-normalised,
   ``_fbank.KaldiFbank``), ``waveform`` (a learnable strided Conv1d on the raw
   samples, max-pool, batch norm, ReLU) or ``sinc`` (the same, with the first
   convolution replaced by SincNet's learnable band-pass filters, whose low
   cut-off and bandwidth alone are learnt: Ravanelli & Bengio, SLT 2018,
   ``mravanelli/SincNet:dnn_models.py`` ``SincConv_fast``; ``sincnet.SincConv``
   here), then |.| as in SincNet;
2. 1-D convolution blocks over time (Conv1d, batch norm, ReLU, max-pool 2), one
   per entry of ``conv_channels`` (32, 64 or 128 wide in the source logs, issue #18);
3. a sequence model: an LSTM, uni- or bidirectional, or a transformer encoder
   (``transformer_layers``, ``transformer_heads``, ``transformer_width``);
4. mean pooling over time and an optional DNN head (e.g. 128-128-128, with
   batch or layer norm); its last layer is the embedding, and the trainer's
   linear head turns it into class logits.

Registered members: ``cnn-bilstm`` (the original model of this module: fbank,
3 x 128 channels, 2-layer BiLSTM, DNN 256-128; its name, defaults and stored
cell ids are unchanged, every later option is an ``added_field``), ``cnn-lstm``
(unidirectional, 64 channels, DNN 128-128-128 with batch norm), ``raw-cnn-lstm``
(waveform front end), ``sinc-cnn-lstm`` (sinc front end) and ``cnn-transformer``.
Any member becomes another with ``--set model.NAME.FIELD=VALUE``.

Recipes: these systems have no published recipe.  ``cnn-bilstm`` keeps the plain
Adam recipe it has had since it was added (so its cells keep their ids).  The
newer members' ``paper`` profile is the seed log's recipe as issue #18 states it
for the house systems (``_house_recipes.py``: Adam, lr 1e-3, batch 24, the lr
multiplied by 0.97 per epoch; 50 epochs, as ``cnn-bilstm``, since the issue names
no epoch count).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.api import ConfigError, ModelSpec, Recipe, Task, TaskInfo, added_field, hookimpl

from ._fbank import KaldiFbank
from ._house_recipes import SEED_LOG_NOTE, SEED_LOG_PAPER, seed_log_quick
from ._sequence import DnnNorm, TransformerSequence, dnn_head, make_lstm
from .sincnet import SincConv

FrontEnd = Literal["fbank", "waveform", "sinc"]
SequenceModel = Literal["lstm", "transformer"]


@dataclass
class CnnBiLstmConfig:
    """``cnn-bilstm``'s defaults; the other members change some of them (subclasses below)."""

    num_mel_bins: int = 80  # fbank front end
    conv_channels: tuple[int, ...] = (128, 128, 128)
    conv_kernel_size: int = 5
    lstm_hidden: int = 128  # per direction
    lstm_layers: int = 2
    dnn_hidden: int = 256
    embedding_dim: int = 128
    dropout_rate: float = 0.3
    dither: float = 1.0  # fbank dither while training; none at evaluation
    # added later: off the cell identity while at these defaults
    front_end: FrontEnd = added_field("fbank")
    # waveform / sinc front end: filters, taps, stride and max-pool of the first layer.  251 taps
    # are SincNet's (cfg/SincNet_TIMIT.cfg cnn_len_filt=251,5,5); stride 20 x pool 8 = 160 samples, the
    # 10 ms frame rate of the fbank front end
    front_filters: int = added_field(64)
    front_kernel_size: int = added_field(251)
    front_stride: int = added_field(20)
    front_pool: int = added_field(8)
    sinc_min_low_hz: float = added_field(50.0)  # SincNet's min_low_hz / min_band_hz
    sinc_min_band_hz: float = added_field(50.0)
    sequence_model: SequenceModel = added_field("lstm")
    bidirectional: bool = added_field(True)
    transformer_layers: int = added_field(2)
    transformer_heads: int = added_field(4)
    transformer_width: int = added_field(128)
    transformer_feedforward: int = added_field(256)
    # the DNN head: dnn_layers - 1 layers of dnn_hidden units, then embedding_dim; 0 = no head
    # (the pooled sequence is the embedding)
    dnn_layers: int = added_field(2)
    dnn_norm: DnnNorm = added_field("none")


@dataclass
class CnnLstmConfig(CnnBiLstmConfig):
    conv_channels: tuple[int, ...] = (64, 64, 64)
    lstm_layers: int = 1
    bidirectional: bool = False
    dnn_hidden: int = 128  # DNN 128-128-128
    dnn_layers: int = 3
    dnn_norm: DnnNorm = "batch"


@dataclass
class RawCnnLstmConfig(CnnLstmConfig):
    front_end: FrontEnd = "waveform"


@dataclass
class SincCnnLstmConfig(CnnLstmConfig):
    front_end: FrontEnd = "sinc"


@dataclass
class CnnTransformerConfig(CnnLstmConfig):
    sequence_model: SequenceModel = "transformer"


class CnnBiLstm(nn.Module):
    """Raw audio ``[batch, samples]`` -> utterance embedding ``[batch, D]`` (D = the last DNN
    width, or the sequence model's output width without a head)."""

    def __init__(self, config: CnnBiLstmConfig, sample_rate: int = 16000) -> None:
        super().__init__()
        if config.conv_kernel_size % 2 == 0:
            raise ConfigError(f"cnn-bilstm: conv_kernel_size must be odd (same-length padding), "
                              f"got {config.conv_kernel_size}")
        self.config = config
        channels = self._build_front_end(config, sample_rate)
        blocks = []
        for out_channels in config.conv_channels:
            blocks += [
                nn.Conv1d(channels, out_channels, config.conv_kernel_size, padding=config.conv_kernel_size // 2),
                nn.BatchNorm1d(out_channels),
                nn.ReLU(),
                # ceil_mode keeps one frame even when a block sees a single frame
                nn.MaxPool1d(2, ceil_mode=True),
            ]
            channels = out_channels
        self.cnn = nn.Sequential(*blocks)
        if config.sequence_model == "lstm":
            self.lstm = make_lstm(channels, config.lstm_hidden, config.lstm_layers, config.bidirectional,
                                  config.dropout_rate)
            sequence_size = config.lstm_hidden * (2 if config.bidirectional else 1)
        elif config.sequence_model == "transformer":
            self.transformer = TransformerSequence(channels, config.transformer_width, config.transformer_layers,
                                                   config.transformer_heads, config.transformer_feedforward,
                                                   config.dropout_rate)
            sequence_size = config.transformer_width
        else:
            raise ConfigError(f"sequence_model {config.sequence_model!r}: expected lstm or transformer")
        if config.dnn_layers < 0:
            raise ConfigError(f"dnn_layers {config.dnn_layers!r}: expected 0 (no head) or more")
        units = (config.dnn_hidden,) * (config.dnn_layers - 1) + (config.embedding_dim,) if config.dnn_layers else ()
        self.dnn = dnn_head(sequence_size, units, config.dnn_norm, config.dropout_rate)

    def _build_front_end(self, config: CnnBiLstmConfig, sample_rate: int) -> int:
        """Creates the front end's modules; returns its channel count."""
        if config.front_end == "fbank":
            self.features = KaldiFbank(num_mel_bins=config.num_mel_bins, dither=config.dither)
            return config.num_mel_bins
        if config.front_end not in ("waveform", "sinc"):
            raise ConfigError(f"front_end {config.front_end!r}: expected fbank, waveform or sinc")
        for name in ("front_filters", "front_kernel_size", "front_stride", "front_pool"):
            if getattr(config, name) < 1:
                raise ConfigError(f"{name} {getattr(config, name)!r}: expected a positive integer")
        if config.front_end == "sinc":
            if config.front_kernel_size % 2 == 0:
                raise ConfigError(f"front_kernel_size {config.front_kernel_size}: the sinc filters need an odd "
                                  f"length (they are symmetric)")
            self.sinc = SincConv(config.front_filters, config.front_kernel_size, sample_rate,
                                 config.sinc_min_low_hz, config.sinc_min_band_hz)
        else:
            self.front_conv = nn.Conv1d(1, config.front_filters, config.front_kernel_size,
                                        stride=config.front_stride)
        self.front_norm = nn.BatchNorm1d(config.front_filters)
        return config.front_filters

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """The front end's output, ``[batch, channels, frames]``."""
        config = self.config
        if config.front_end == "fbank":
            return self.features(waveforms).transpose(1, 2)
        if waveforms.dim() != 2:
            raise ValueError(f"expected [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        if waveforms.shape[1] < config.front_kernel_size:  # tile a very short input up to one kernel
            repeats = -(-config.front_kernel_size // waveforms.shape[1])
            waveforms = waveforms.repeat(1, repeats)[:, :config.front_kernel_size]
        x = waveforms.unsqueeze(1)
        if config.front_end == "sinc":
            x = F.conv1d(x, self.sinc.filters(), stride=config.front_stride).abs()
        else:
            x = self.front_conv(x)
        x = F.max_pool1d(x, config.front_pool, ceil_mode=True)
        return F.relu(self.front_norm(x))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.cnn(self.frames(waveforms)).transpose(1, 2)  # [batch, frames, channels]
        if self.config.sequence_model == "lstm":
            sequence, _ = self.lstm(x)
        else:
            sequence = self.transformer(x)
        return self.dnn(sequence.mean(dim=1))


def build(config: CnnBiLstmConfig | None, task_info: TaskInfo) -> CnnBiLstm:
    return CnnBiLstm(config or CnnBiLstmConfig(), sample_rate=task_info.sample_rate)


# cnn-bilstm's recipe since it was added: plain Adam with a cosine schedule (unchanged, so stored
# cells keep their ids).
_PAPER = Recipe(
    epochs=50, batch_size=32, optimizer="adam", lr=1e-3, weight_decay=1e-5, scheduler="cosine", lr_min=1e-5,
    loss="ce", crop_samples=48000, train_crop="random", eval_crop="full", selection="dev_accuracy",
)
_QUICK = _PAPER.replace(
    epochs=4, crop_samples=32000, max_train_utterances=600, max_dev_utterances=200, max_eval_utterances=300,
)


SPEC = ModelSpec(
    name="cnn-bilstm",
    tasks=(Task.CLASSIFY,),
    build=build,
    config_class=CnnBiLstmConfig,
    recipes={"paper": _PAPER, "quick": _QUICK},
    description="CNN-BiLSTM classifier: 80-dim fbank, 3 Conv1d blocks (128), 2-layer BiLSTM (128 per direction), "
                "mean pooling, DNN to a 128-dim embedding; house recipe (no published one)",
    output="embedding",
    paper="",
)


def _member(name: str, config_class: type, description: str) -> ModelSpec:
    return ModelSpec(name=name, tasks=(Task.CLASSIFY,), build=build, config_class=config_class,
                     recipes={"paper": SEED_LOG_PAPER, "quick": seed_log_quick()},
                     description=f"{description}; {SEED_LOG_NOTE}", output="embedding", paper="")


FAMILY = (
    SPEC,
    _member("cnn-lstm", CnnLstmConfig, "1-D CNN + LSTM: 80-dim fbank, 3 Conv1d blocks (64), 1-layer LSTM (128), "
                                       "mean pooling, DNN 128-128-128 with batch norm"),
    _member("raw-cnn-lstm", RawCnnLstmConfig, "1-D CNN + LSTM on the raw waveform: strided Conv1d (64 x 251 taps, "
                                              "10 ms frames), 3 Conv1d blocks (64), LSTM (128), DNN 128-128-128"),
    _member("sinc-cnn-lstm", SincCnnLstmConfig, "SincNet front layer (64 learnable band-pass filters, 251 taps) + "
                                                "3 Conv1d blocks (64), LSTM (128), DNN 128-128-128"),
    _member("cnn-transformer", CnnTransformerConfig, "1-D CNN + transformer encoder: 80-dim fbank, 3 Conv1d "
                                                     "blocks (64), 2 pre-norm layers (width 128, 4 heads), mean "
                                                     "pooling, DNN 128-128-128"),
)


@hookimpl
def benchsuite_register_models(register) -> None:
    for spec in FAMILY:
        register(spec)
