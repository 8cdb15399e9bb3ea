"""Utterance classifiers on a speaker embedding network (house systems of the seed logs, issue #18):
the network's frame-level output fed to an LSTM back-end, or its pooled embedding to one linear
layer, for N-class classification or binary liveness (spoof task: index 1 = bona fide).

- ``ecapa-lstm``: ECAPA-TDNN (Desplanques et al., Interspeech 2020; WeSpeaker's GLOB C=512, see
  :mod:`.ecapa_tdnn`) up to its multi-layer feature aggregation (1536 x frames) -> LSTM -> mean
  over time -> linear;
- ``xvector-lstm``: the x-vector TDNN (Snyder et al., ICASSP 2018; :mod:`.xvector`) up to its fifth
  frame layer (1500 x frames) -> LSTM -> mean over time -> linear;
- ``xvector-linear``: the whole x-vector network's 512-dim embedding -> linear.

The embedding network's module names are those of the stand-alone model under
``embedding_network.``, so its weights come from:

- a cell of that model (``ecapa-tdnn`` / ``xvector``) with ``--init-from CELL`` (its training head is
  not used; the back-end starts fresh);
- a checkpoint file, ``--set model.NAME.embedding_checkpoint=PATH``: a ``best.pt`` / ``last.pt`` of a
  benchsuite cell of that model, or WeSpeaker's released weights (through the model's converter);
- nowhere (trained from scratch with the back-end).

``freeze_embedding=true`` keeps the network as loaded: no gradient, eval mode while training (batch
norm statistics and fbank dither stay fixed), so only the back-end learns (frozen without either
source, the network keeps its seeded random initialisation: a random-feature baseline); by default
the two train jointly.

No paper defines these systems, and issue #18 transcribes no recipe for them, so the ``paper``
recipe is the seed log's ResNet18 training recipe (Adam lr 1e-3, batch 24, lr x 0.97 per epoch)
with the house classifier's data policy (3 s random crops, whole utterances at evaluation, 50
epochs, best dev accuracy; as ``cnn-bilstm``); the back-end sizes are house values too.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

import torch
from torch import nn

from benchsuite.api import ConfigError, ModelSpec, Recipe, Task, TaskInfo, hookimpl

from ._converters import convert_ecapa_tdnn, convert_xvector, load_weights_file
from .ecapa_tdnn import PAPER as ECAPA_PAPER, EcapaTdnn, EcapaTdnnConfig
from .xvector import PAPER as XVECTOR_PAPER, XVector, XVectorConfig

NETWORK_PREFIX = "embedding_network."


@dataclass
class EmbeddingSource:
    """Where the embedding network's weights come from and whether they train."""

    freeze_embedding: bool = False  # true: the network keeps its loaded weights and runs in eval mode
    embedding_checkpoint: str = ""  # a benchsuite checkpoint of the network's model, or WeSpeaker's weights


@dataclass
class LstmBackEnd:
    """House values (issue #18 names no sizes)."""

    lstm_hidden: int = 128  # per direction
    lstm_layers: int = 1
    bidirectional: bool = False
    back_end_dropout: float = 0.0  # between LSTM layers and before the output layer


@dataclass
class EcapaLstmConfig(LstmBackEnd, EmbeddingSource, EcapaTdnnConfig):
    """ECAPA-TDNN's fields (:class:`.ecapa_tdnn.EcapaTdnnConfig`) plus the back-end's."""


@dataclass
class XVectorLstmConfig(LstmBackEnd, EmbeddingSource, XVectorConfig):
    """The x-vector's fields (:class:`.xvector.XVectorConfig`) plus the back-end's."""


@dataclass
class XVectorLinearConfig(EmbeddingSource, XVectorConfig):
    """The x-vector's fields plus where its weights come from; the back-end is one linear layer."""


def network_config(config: Any, network_config_class: type) -> Any:
    """The embedding network's own config: the fields of ``config`` that ``network_config_class`` has."""
    return network_config_class(**{f.name: getattr(config, f.name) for f in dataclasses.fields(network_config_class)})


class EmbeddingNetworkClassifier(nn.Module):
    """Raw audio ``[batch, samples]`` -> ``[batch, num_outputs]`` logits through ``embedding_network``.

    With ``frozen`` the network gets no gradient and stays in eval mode whatever ``train()`` says.
    """

    def __init__(self, embedding_network: nn.Module, frozen: bool) -> None:
        super().__init__()
        self.embedding_network = embedding_network
        self.frozen = frozen
        if frozen:
            embedding_network.requires_grad_(False)

    def train(self, mode: bool = True) -> "EmbeddingNetworkClassifier":
        super().train(mode)
        if self.frozen:
            self.embedding_network.eval()
        return self

    def network_output(self, compute: Callable[[torch.Tensor], torch.Tensor], waveforms: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            with torch.no_grad():
                return compute(waveforms)
        return compute(waveforms)


class FrameLstmClassifier(EmbeddingNetworkClassifier):
    """The network's ``frame_features`` ``[batch, C, frames]`` -> LSTM -> mean over time -> linear."""

    def __init__(self, embedding_network: nn.Module, config: LstmBackEnd, frozen: bool, num_outputs: int) -> None:
        super().__init__(embedding_network, frozen)
        self.lstm = nn.LSTM(embedding_network.frame_dim, config.lstm_hidden, num_layers=config.lstm_layers,
                            batch_first=True, bidirectional=config.bidirectional,
                            dropout=config.back_end_dropout if config.lstm_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.back_end_dropout)
        self.classifier = nn.Linear(config.lstm_hidden * (2 if config.bidirectional else 1), num_outputs)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        frames = self.network_output(self.embedding_network.frame_features, waveforms)
        sequence, _ = self.lstm(frames.transpose(1, 2))  # [batch, frames, hidden]
        return self.classifier(self.dropout(sequence.mean(dim=1)))


class EmbeddingLinearClassifier(EmbeddingNetworkClassifier):
    """The network's pooled embedding -> one linear layer."""

    def __init__(self, embedding_network: nn.Module, embedding_dim: int, frozen: bool, num_outputs: int) -> None:
        super().__init__(embedding_network, frozen)
        self.classifier = nn.Linear(embedding_dim, num_outputs)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.network_output(self.embedding_network, waveforms))


# --------------------------------------------------------------------------- recipes


def classifier_recipes() -> dict[str, Recipe]:
    paper = Recipe(
        epochs=50, batch_size=24, optimizer="adam", lr=1e-3,
        scheduler="step", step_epochs=1, gamma=0.97,  # the seed log: lr x 0.97 per epoch
        loss="ce", crop_samples=48000, train_crop="random", eval_crop="full", selection="dev_accuracy",
    )
    quick = paper.replace(epochs=4, crop_samples=32000, max_train_utterances=400, max_dev_utterances=200,
                          max_eval_utterances=300)
    # binary liveness as a spoof task: the same, selected on dev EER
    return {"paper": paper, "quick": quick, "paper:spoof": paper.replace(selection="dev_eer"),
            "quick:spoof": quick.replace(selection="dev_eer")}


# --------------------------------------------------------------------------- specs


def num_outputs(name: str, task_info: TaskInfo) -> int:
    if task_info.task == Task.CLASSIFY:
        return task_info.num_classes
    if task_info.task == Task.SPOOF:
        return 2  # index 1 = bona fide
    raise ConfigError(f"{name} classifies utterances (tasks classify, spoof); task {task_info.task} is not supported")


@dataclass(frozen=True)
class EmbeddingSystem:
    """One classifier: its name, config, the embedding network's model and class, and its back-end."""

    name: str
    config_class: type
    network_model: str
    network_class: type
    network_config_class: type
    convert: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    back_end: Literal["lstm", "linear"]
    description: str
    paper: str
    # the network's layers after the frame level (pooling, embedding), which the LSTM back-end leaves out
    pooling_modules: tuple[str, ...] = ()

    def unused_modules(self) -> tuple[str, ...]:
        return self.pooling_modules if self.back_end == "lstm" else ()

    def build(self, config: Any, task_info: TaskInfo) -> EmbeddingNetworkClassifier:
        config = config if config is not None else self.config_class()
        network = self.network_class(network_config(config, self.network_config_class))
        if config.embedding_checkpoint:
            load_weights_file(network, config.embedding_checkpoint, self.network_model, self.convert,
                              where=f"{self.name}: embedding_checkpoint {config.embedding_checkpoint}")
        outputs = num_outputs(self.name, task_info)
        if self.back_end == "lstm":
            for module in self.unused_modules():
                setattr(network, module, None)  # not trained, not counted, not in the checkpoints
            return FrameLstmClassifier(network, config, config.freeze_embedding, outputs)
        return EmbeddingLinearClassifier(network, config.embedding_dim, config.freeze_embedding, outputs)

    def adopt_network_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A cell of the embedding model as ``--init-from`` loads it into the classifier: under
        ``embedding_network.``, without the layers the back-end leaves out."""
        unused = tuple(f"{module}." for module in self.unused_modules())
        return {NETWORK_PREFIX + key: value for key, value in state.items() if not key.startswith(unused)}

    def spec(self) -> ModelSpec:
        return ModelSpec(name=self.name, tasks=(Task.CLASSIFY, Task.SPOOF), build=self.build,
                         config_class=self.config_class, recipes=classifier_recipes(), description=self.description,
                         output="logits", paper=self.paper,
                         init_from_models={self.network_model: self.adopt_network_state})


_SOURCE = ("--init-from an {model} cell or embedding_checkpoint=PATH, freeze_embedding=true|false; house recipe "
           "(the seed log's optimiser)")

SYSTEMS = (
    EmbeddingSystem("ecapa-lstm", EcapaLstmConfig, "ecapa-tdnn", EcapaTdnn, EcapaTdnnConfig, convert_ecapa_tdnn,
                    "lstm", "ECAPA-TDNN (C=512) frame-level output (1536 x frames) -> LSTM (128) -> mean over time "
                    "-> linear; " + _SOURCE.format(model="ecapa-tdnn"), ECAPA_PAPER,
                    pooling_modules=("pool", "pool_norm", "embedding")),
    EmbeddingSystem("xvector-lstm", XVectorLstmConfig, "xvector", XVector, XVectorConfig, convert_xvector,
                    "lstm", "x-vector TDNN frame-level output (1500 x frames) -> LSTM (128) -> mean over time -> "
                    "linear; " + _SOURCE.format(model="xvector"), XVECTOR_PAPER,
                    pooling_modules=("pool", "segment1", "segment1_norm", "segment2")),
    EmbeddingSystem("xvector-linear", XVectorLinearConfig, "xvector", XVector, XVectorConfig, convert_xvector,
                    "linear", "x-vector (512-dim embedding) -> linear classifier; " + _SOURCE.format(model="xvector"),
                    XVECTOR_PAPER),
)


@hookimpl
def benchsuite_register_models(register) -> None:
    for system in SYSTEMS:
        register(system.spec())
