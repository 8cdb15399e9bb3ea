"""The public surface that plugins implement and the core consumes.

Plugin authors import from here only: task kinds, recipes, the spec objects they
hand to ``register``, the dataset and score containers, and the errors the core
knows how to report.  Nothing in this module imports torch, so listing plugins
and reading results stays fast.
"""
from __future__ import annotations

import dataclasses
import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np


# --------------------------------------------------------------------------- errors


class BenchsuiteError(Exception):
    """An error the CLI reports as one clear message, without a traceback."""


class ConfigError(BenchsuiteError):
    """A bad option, name or configuration value."""


class DataError(BenchsuiteError):
    """A corpus, protocol or audio file that is missing or malformed."""


class ScoreFileError(BenchsuiteError):
    """A score, key or trial file that cannot be evaluated as it is."""


class CellFailure(BenchsuiteError):
    """A cell that cannot finish (non-finite loss, diverged model, ...)."""


# --------------------------------------------------------------------------- tasks


class Task(str, enum.Enum):
    SPOOF = "spoof"  # countermeasure: score per utterance, higher = bona fide
    VERIFY = "verify"  # speaker verification: score per trial, higher = same speaker
    CLASSIFY = "classify"  # N-way utterance classification

    def __str__(self) -> str:  # so f-strings and YAML show "spoof", not "Task.SPOOF"
        return self.value


BONAFIDE = "bonafide"
SPOOF = "spoof"


@dataclass(frozen=True)
class TaskInfo:
    """What a model needs to know about the data it will be trained on."""

    task: Task
    sample_rate: int = 16000
    num_classes: int = 2  # classify: number of classes; verify: training speakers
    class_names: tuple[str, ...] = ()


# --------------------------------------------------------------------------- recipes


@dataclass
class Recipe:
    """How a model is trained and evaluated.  The ``paper`` profile holds the
    published values; ``quick`` keeps the architecture and shortens the rest."""

    epochs: int = 100
    batch_size: int = 24
    optimizer: str = "adam"  # adam | adamw | sgd | rmsprop
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    alpha: float = 0.99  # rmsprop smoothing constant
    eps: float = 1e-8
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    # none | cosine (per step, to lr_min) | step (x gamma every step_epochs) |
    # exponential (warm-up epochs, then per-step exponential decay to lr_min)
    scheduler: str = "none"
    lr_min: float = 0.0
    step_epochs: int = 10
    gamma: float = 0.5
    warmup_epochs: int = 0
    # weighted_ce | ce | bce | softmax | am_softmax | aam_softmax | none (fit/score estimators)
    loss: str = "weighted_ce"
    class_weights: tuple[float, ...] | None = None  # spoof: index 0 = spoof, 1 = bona fide
    margin: float = 0.2  # am/aam softmax
    scale: float = 32.0
    margin_ramp_epochs: tuple[int, int] | None = None  # (start, end) of the margin ramp
    grad_clip: float | None = None
    # input policy, in samples at the dataset's sample rate
    crop_samples: int = 64600
    train_crop: str = "random"  # random | first | full
    eval_crop: str = "first"  # first | full | chunked
    # data limits for quick runs (None = everything)
    max_train_utterances: int | None = None
    max_dev_utterances: int | None = None
    max_eval_utterances: int | None = None
    # model selection on dev only: dev_eer | dev_loss | dev_accuracy | last
    selection: str = "dev_eer"
    eval_batch_size: int | None = None
    score_norm: str = "none"  # verify: none | asnorm
    asnorm_top_n: int = 300
    # verify: subtract the mean training embedding before cosine scoring (WeSpeaker does)
    centre_embeddings: bool = True
    patience: int | None = None  # stop after this many epochs without dev improvement
    # online augmentation: registered augmentation names applied in order to training audio
    augmentations: tuple[str, ...] = ()
    augmentation_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> options

    def replace(self, **changes: Any) -> "Recipe":
        return dataclasses.replace(self, **changes)


PROFILES = ("paper", "quick")


# --------------------------------------------------------------------------- models


@runtime_checkable
class Estimator(Protocol):
    """A non-neural model (e.g. a GMM back end) that fits on whole splits.

    ``fit`` receives an iterable of ``(waveforms, labels)`` batches and may pass
    over it several times; ``score`` maps a batch of waveforms to one score each.
    """

    def fit(self, batches: Callable[[], Any], *, device: str, progress: Callable[[dict], None]) -> None: ...

    def score(self, waveforms: Any) -> Any: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> Any: ...


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    ``build(config, task_info)`` returns a ``torch.nn.Module`` (trained by the
    core trainer) or an :class:`Estimator`.  A module's ``forward(waveforms)``
    takes ``[batch, samples]`` float audio and returns, depending on ``output``:

    - ``"logits"``: ``[batch, 2]`` with index 1 = bona fide / the positive class,
      ``[batch, 1]`` for a single logit, or ``[batch, C]`` for classify;
    - ``"embedding"``: ``[batch, D]``; the trainer adds the classification or
      margin head for the task.
    """

    name: str
    tasks: tuple[Task, ...]
    build: Callable[[Any, TaskInfo], Any]
    config_class: type
    recipes: Mapping[str, Recipe]  # profile name -> recipe
    description: str = ""
    output: str = "logits"  # logits | embedding
    paper: str = ""  # citation of the architecture
    # optional: map a foreign (e.g. released) state dict onto our module names
    convert_checkpoint: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    # optional: parameter count without building (for estimators)
    count_parameters: Callable[[Any], int] | None = None

    def recipe(self, profile: str, task: Task | None = None) -> Recipe:
        key = f"{profile}:{task.value}" if task is not None and f"{profile}:{task.value}" in self.recipes else profile
        if key not in self.recipes:
            raise ConfigError(
                f"model {self.name!r} has no {profile!r} profile (available: {', '.join(sorted(self.recipes))})"
            )
        return self.recipes[key]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    path: Path
    label: str  # spoof: bonafide|spoof; verify: speaker id; classify: class name
    speaker: str | None = None
    attack: str | None = None  # spoof: system id (A01 ...), "-" for bona fide
    conditions: Mapping[str, str] = field(default_factory=dict)  # breakdown columns (codec, vocoder, ...)


@dataclass(frozen=True)
class Trial:
    enrol: str  # utterance id (or enrolment model id, see SplitData.enrolments)
    test: str
    is_target: bool


@dataclass(frozen=True)
class AsvScores:
    """The organisers' ASV scores that fix the ASV operating point of the t-DCF."""

    target: np.ndarray
    nontarget: np.ndarray
    spoof: np.ndarray
    source: str = ""  # file the scores came from, for provenance
    # attack id of each spoof score, when the file names them: per-attack t-DCF then
    # uses that attack's ASV spoof scores, as the official 2021 package does
    spoof_attacks: np.ndarray | None = None


@dataclass
class SplitData:
    name: str
    utterances: list[Utterance]
    trials: list[Trial] | None = None  # verify
    # verify: enrolment model id -> utterance ids whose embeddings are averaged
    enrolments: Mapping[str, Sequence[str]] | None = None
    asv_scores: AsvScores | None = None  # spoof: for t-DCF
    source: str = ""  # protocol / key file, for messages


class Dataset(ABC):
    """A corpus opened from a data root.  Cheap to construct; audio opened lazily."""

    name: str = ""
    task: Task = Task.SPOOF  # a dataset serving several tasks picks one with its `task` option
    sample_rate: int = 16000
    channel: int | None = None  # which channel of multi-channel audio to read (None: refuse multi-channel)

    @abstractmethod
    def split_names(self) -> list[str]:
        """Splits in this corpus, e.g. ``["train", "dev", "eval"]``."""

    @abstractmethod
    def load_split(self, split: str) -> SplitData:
        """Parse and validate a split's protocol (no audio decoding)."""

    def condition_columns(self) -> tuple[str, ...]:
        """Columns of :attr:`Utterance.conditions` worth a breakdown."""
        return ()

    def class_names(self) -> tuple[str, ...]:
        return ()

    def fingerprint(self) -> str:
        """A short hash of the protocol/key files, so results name the data they used."""
        return ""

    def validate(self, check_audio: bool = True) -> None:
        """Raise :class:`DataError` naming every problem found before training starts."""
        for split in self.split_names():
            self.load_split(split)

    def statistics(self, check_audio: bool = False) -> dict:
        out: dict[str, Any] = {"splits": {}}
        for split in self.split_names():
            data = self.load_split(split)
            labels: dict[str, int] = {}
            for utt in data.utterances:
                labels[utt.label] = labels.get(utt.label, 0) + 1
            out["splits"][split] = {
                "utterances": len(data.utterances),
                "labels": labels,
                "speakers": len({u.speaker for u in data.utterances if u.speaker}),
            }
        return out


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    ``open(root, options)`` returns a :class:`Dataset`.  ``root`` is the user's
    ``--data-root`` for this dataset (``None`` when the dataset is embedded and
    ``default_root`` provides one).  ``generate(out_dir, **options)`` exists for
    corpora the suite synthesises itself.
    """

    name: str
    task: Task
    open: Callable[[Path | None, Mapping[str, Any]], Dataset]
    description: str = ""
    splits: tuple[str, ...] = ("train", "dev", "eval")
    embedded: bool = False  # generated by the suite, always available
    default_root: Callable[[], Path] | None = None
    generate: Callable[..., Path] | None = None
    eval_only: bool = False  # needs --train-on another dataset
    train_on: str | None = None  # default training dataset for eval-only corpora


# --------------------------------------------------------------------------- scores and metrics


@dataclass
class SpoofScores:
    utt_ids: np.ndarray  # str
    scores: np.ndarray  # float64, higher = bona fide
    is_bonafide: np.ndarray  # bool
    attacks: np.ndarray  # str, "-" (or "bonafide") for bona fide
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    asv: AsvScores | None = None
    source: str = ""


@dataclass
class VerifyScores:
    enrol: np.ndarray  # str
    test: np.ndarray  # str
    scores: np.ndarray  # float64, higher = same speaker
    is_target: np.ndarray  # bool
    source: str = ""


@dataclass
class ClassifyScores:
    utt_ids: np.ndarray
    true: np.ndarray  # int class index
    predicted: np.ndarray  # int class index
    class_names: tuple[str, ...] = ()
    source: str = ""


ScoreSet = SpoofScores | VerifyScores | ClassifyScores


@dataclass(frozen=True)
class MetricValueInfo:
    """Describes one headline number a metric produces."""

    key: str  # e.g. "eer", "min_tdcf_legacy"
    label: str  # e.g. "EER", "min t-DCF (legacy)"
    lower_is_better: bool = True
    percent: bool = False  # shown x100 with a % sign; always stored as a fraction
    formulation: str | None = None  # e.g. "legacy", "revised", "p_target=0.01"
    description: str = ""


@dataclass
class MetricOutput:
    values: dict[str, float | None]  # headline numbers; None = not applicable (see notes)
    breakdown: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # confusion matrix, CI bounds, ...


@dataclass(frozen=True)
class MetricSpec:
    name: str
    task: Task
    compute: Callable[[ScoreSet], MetricOutput]
    outputs: tuple[MetricValueInfo, ...]
    description: str = ""
    # optional: the headline values alone (no breakdowns, intervals or warnings);
    # model selection calls it on the dev split after every epoch
    headline: Callable[[ScoreSet], Mapping[str, float | None]] | None = None


# --------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class AugmentationSpec:
    """An online training-time augmentation.

    ``build(options)`` returns a callable ``augment(waveform, rng) -> waveform``
    (float32 numpy in, float32 numpy out, same sample rate) that draws all its
    randomness from ``rng`` (a ``numpy.random.Generator`` seeded per worker and
    per sample by the core), so runs stay reproducible.  ``stage`` says where it
    applies: ``"waveform"`` (before the model) or ``"features"`` for models that
    accept feature-domain augmentation through their config.
    """

    name: str
    build: Callable[[Mapping[str, Any]], Callable[[np.ndarray, np.random.Generator], np.ndarray]]
    description: str = ""
    stage: str = "waveform"


# --------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class Baseline:
    """A published number, shown beside reproduced ones in the leaderboard."""

    system: str  # as the source names it, e.g. "AASIST"
    dataset: str  # registered dataset name, e.g. "asvspoof2019-la"
    split: str  # e.g. "eval"
    metric: str  # MetricValueInfo.key, e.g. "eer"
    value: float  # fraction for rates (0.0083), raw for costs (0.0275)
    source: str  # paper or results page
    year: int | None = None
    model: str | None = None  # registered model name it corresponds to, if any
    formulation: str | None = None  # e.g. "legacy" t-DCF
    conditions: Mapping[str, str] = field(default_factory=dict)  # crop, subset, selection rule
    kind: str = "paper"  # paper | official
