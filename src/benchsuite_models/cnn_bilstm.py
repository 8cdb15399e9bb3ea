"""CNN-BiLSTM utterance classifier: 80-dim Kaldi fbank, three 1-D convolution blocks
over time (Conv1d, batch norm, ReLU, max-pool 2), a two-layer bidirectional LSTM,
mean pooling over time and a two-layer DNN whose output is the embedding; the
trainer's linear head turns it into class logits.

This is the generic CNN + recurrent baseline of the utterance-classification
literature (e.g. emotion recognition), not a reproduction of one paper, so its
``paper`` recipe is a plain Adam recipe rather than a published one.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from benchsuite.api import ConfigError, ModelSpec, Recipe, Task, TaskInfo, hookimpl

from ._fbank import KaldiFbank


@dataclass
class CnnBiLstmConfig:
    num_mel_bins: int = 80
    conv_channels: tuple[int, ...] = (128, 128, 128)
    conv_kernel_size: int = 5
    lstm_hidden: int = 128  # per direction
    lstm_layers: int = 2
    dnn_hidden: int = 256
    embedding_dim: int = 128
    dropout_rate: float = 0.3
    dither: float = 1.0  # fbank dither while training; none at evaluation


class CnnBiLstm(nn.Module):
    """Raw 16 kHz audio ``[batch, samples]`` -> utterance embedding ``[batch, embedding_dim]``."""

    def __init__(self, config: CnnBiLstmConfig) -> None:
        super().__init__()
        if config.conv_kernel_size % 2 == 0:
            raise ConfigError(f"cnn-bilstm: conv_kernel_size must be odd (same-length padding), "
                              f"got {config.conv_kernel_size}")
        self.config = config
        self.features = KaldiFbank(num_mel_bins=config.num_mel_bins, dither=config.dither)
        blocks = []
        channels = config.num_mel_bins
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
        self.lstm = nn.LSTM(channels, config.lstm_hidden, num_layers=config.lstm_layers, batch_first=True,
                            bidirectional=True, dropout=config.dropout_rate if config.lstm_layers > 1 else 0.0)
        self.dnn = nn.Sequential(
            nn.Linear(2 * config.lstm_hidden, config.dnn_hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout_rate),
            nn.Linear(config.dnn_hidden, config.embedding_dim),
            nn.ReLU(),
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = self.cnn(self.features(waveforms).transpose(1, 2))  # [batch, channels, frames]
        sequence, _ = self.lstm(x.transpose(1, 2))  # [batch, frames, 2 * hidden]
        return self.dnn(sequence.mean(dim=1))


def build(config: CnnBiLstmConfig | None, task_info: TaskInfo) -> CnnBiLstm:
    return CnnBiLstm(config or CnnBiLstmConfig())


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


@hookimpl
def benchsuite_register_models(register) -> None:
    register(SPEC)
