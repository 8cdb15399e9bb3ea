"""How a model is trained and evaluated: the recipe of each profile.

Every field is typed, choices are ``Literal`` types and numbers have bounds, and
:func:`recipe_problems` checks a recipe against them: the plan checks each cell's
recipe (a plugin's, with ``--set`` and ``--config`` applied) before any data is read.
The field names are what ``--set model.NAME.FIELD=VALUE`` takes.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
# The schedule shapes, each a named function in benchsuite.training.optim.SCHEDULES:
# none | cosine (per step, to lr_min) | step (x gamma every step_epochs) |
# exponential (linear warm-up over warmup_epochs, then an exponential decay to lr_min restarted after it) |
# exponential_warmup_product (WeSpeaker's ExponentialDecrease: the exponential decay runs from step 0 and a
# linear warm-up from zero multiplies it during the first warmup_epochs)
Scheduler = Literal["none", "cosine", "step", "exponential", "exponential_warmup_product"]
# "none": estimators that fit and score without a loss (GMMs); "p2sgrad": mean squared error between
# the outputs (cosines of the class angles) and the one-hot label (X. Zhang et al., CVPR 2019, as in
# nii-yamagishilab/project-NN-Pytorch-scripts core_modules/p2sgrad.py)
Loss = Literal["weighted_ce", "ce", "bce", "softmax", "am_softmax", "aam_softmax", "p2sgrad", "none"]
TrainCrop = Literal["random", "first", "full"]
EvalCrop = Literal["first", "full", "chunked"]
Selection = Literal["dev_eer", "dev_loss", "dev_accuracy", "last"]  # dev only, never eval
ScoreNorm = Literal["none", "asnorm"]
# none | utterance (each waveform to zero mean, unit std) | train (the train split's mean and std)
WaveformNorm = Literal["none", "utterance", "train"]
# What the trained model is: the selected epoch (none), the average of the last `average_epochs` epochs'
# weights (last_n, WeSpeaker's average_model.py), or the average of every epoch that was a new best or tied
# it on the dev selection value (improving, clovaai/aasist's SWA over dev-improving epochs)
Averaging = Literal["none", "last_n", "improving"]
SelectionTies = Literal["earlier", "later"]  # which of two epochs with the same dev value is kept
ValidationMode = Literal["eval", "train"]  # module mode while the dev split is scored during training
# none | batch_over_64: lr (and lr_min) x global batch / 64 (WeSpeaker bin/train.py: world_size * batch / 64)
LrScaling = Literal["none", "batch_over_64"]


@dataclass(frozen=True)
class Deviation:
    """A deliberate difference between a recipe and the authors' code: ``what`` differs, ``why``, and where
    the authors' choice is (``reference``: repository, file, line).  ``fields`` names the recipe or model-config
    fields it concerns (empty when the difference cannot be expressed as a field)."""

    name: str
    what: str
    why: str
    reference: str = ""
    fields: tuple[str, ...] = ()


def added_field(default: Any = None, *, default_factory: Any = None) -> Any:
    """A field of a recipe or model config added after cells were first stored.  While it holds
    its default it is left out of the cell identity (:func:`without_added_defaults`), so adding it
    keeps every stored cell's id, and a cell that sets it gets a new one.  Every field added to
    :class:`Recipe` or to a model's config dataclass from now on is declared with this."""
    if default_factory is not None:
        return field(default_factory=default_factory, metadata={"identity": "omit-default"})
    return field(default=default, metadata={"identity": "omit-default"})


def documentation_field(default: Any = None, *, default_factory: Any = None) -> Any:
    """A recipe field that documents the recipe (its deviations and sources) and never enters the cell
    identity: rewording a reference must not orphan stored cells."""
    if default_factory is not None:
        return field(default_factory=default_factory, compare=False, metadata={"identity": "never"})
    return field(default=default, compare=False, metadata={"identity": "never"})


@dataclass
class Recipe:
    """How a model is trained and evaluated.  The ``paper`` profile holds the
    published values; ``quick`` keeps the architecture and shortens the rest."""

    epochs: int = 100
    batch_size: int = 24
    optimizer: Optimizer = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    alpha: float = 0.99  # rmsprop smoothing constant
    eps: float = 1e-8
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    scheduler: Scheduler = "none"
    lr_min: float = 0.0
    step_epochs: int = 10
    gamma: float = 0.5
    warmup_epochs: int = 0
    loss: Loss = "weighted_ce"
    class_weights: tuple[float, ...] | None = None  # spoof: index 0 = spoof, 1 = bona fide
    margin: float = 0.2  # am/aam softmax
    scale: float = 32.0
    margin_ramp_epochs: tuple[int, int] | None = None  # (start, end) of the margin ramp
    grad_clip: float | None = None
    # input policy, in samples at the dataset's sample rate
    crop_samples: int = 64600
    train_crop: TrainCrop = "random"
    eval_crop: EvalCrop = "first"
    # data limits for quick runs (None = everything)
    max_train_utterances: int | None = None
    max_dev_utterances: int | None = None
    max_eval_utterances: int | None = None
    selection: Selection = "dev_eer"
    eval_batch_size: int | None = None
    score_norm: ScoreNorm = "none"  # verify only
    asnorm_top_n: int = 300
    # verify: subtract the mean training embedding before cosine scoring (WeSpeaker does)
    centre_embeddings: bool = True
    patience: int | None = None  # stop after this many epochs without dev improvement
    # online augmentation: registered augmentation names applied in order to training audio
    augmentations: tuple[str, ...] = ()
    augmentation_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> options
    # data knobs any dataset gets (benchsuite.training.data_knobs): training utterances per
    # speaker, a cap N or the range [first, last] (1-based, in utterance-id order); white noise
    # added to training audio at a fixed std or at an SNR to each utterance; waveform normalisation
    utterances_per_speaker: int | tuple[int, int] | None = added_field(None)
    noise_scale: float | None = added_field(None)
    noise_snr_db: float | None = added_field(None)
    waveform_norm: WaveformNorm = added_field("none")
    # ---- added later (added_field: out of the cell identity while at the default)
    averaging: Averaging = added_field("none")
    average_epochs: int = added_field(10)  # averaging last_n: how many final epochs
    bn_update: bool = added_field(False)  # after averaging, recompute batch-norm statistics on the train split
    selection_ties: SelectionTies = added_field("earlier")
    validation_mode: ValidationMode = added_field("eval")
    steps_per_epoch: int | None = added_field(None)  # None: one pass over the training split
    # label -> N: train on every N-th utterance of that label, in protocol order from the first
    class_subsample: dict[str, int] = added_field(default_factory=dict)
    lr_scaling: LrScaling = added_field("none")
    # model-config values this profile sets (before --set), e.g. {"init": "random"} for a GMM's paper recipe
    model_config: dict[str, Any] = added_field(default_factory=dict)
    # ---- documentation, never part of the cell identity (see benchsuite.planning.fidelity)
    deviations: tuple[Deviation, ...] = documentation_field(())
    # field -> where the authors set it and to what ("clovaai/aasist config/AASIST.conf:25 base_lr 0.0001")
    sources: dict[str, str] = documentation_field(default_factory=dict)

    def replace(self, **changes: Any) -> "Recipe":
        return dataclasses.replace(self, **changes)

    def with_added_defaults(self, **changes: Any) -> "Recipe":
        """This recipe with every :func:`added_field` back at its default, then ``changes``: a ``quick``
        profile derived from a ``paper`` recipe that gained such fields keeps its stored cell ids."""
        defaults = {}
        for item in dataclasses.fields(self):
            if item.metadata.get("identity") == "omit-default":
                defaults[item.name] = (item.default_factory() if item.default_factory is not dataclasses.MISSING
                                       else item.default)
        return dataclasses.replace(self, **{**defaults, **changes})


PROFILES = ("paper", "quick")

# The smallest value each number may take: (bound, inclusive).
_MINIMUM: dict[str, tuple[float, bool]] = {
    "epochs": (1, True), "batch_size": (1, True), "lr": (0, False), "weight_decay": (0, True), "alpha": (0, True),
    "eps": (0, False), "momentum": (0, True), "lr_min": (0, True), "step_epochs": (1, True), "gamma": (0, False),
    "warmup_epochs": (0, True), "margin": (0, True), "scale": (0, False), "grad_clip": (0, False),
    "crop_samples": (1, True), "max_train_utterances": (1, True), "max_dev_utterances": (1, True),
    "max_eval_utterances": (1, True), "eval_batch_size": (1, True), "asnorm_top_n": (1, True), "patience": (1, True),
    "utterances_per_speaker": (1, True), "noise_scale": (0, False),
    "average_epochs": (1, True), "steps_per_epoch": (1, True),
}


def recipe_problems(recipe: Recipe) -> list[str]:
    """Every field of ``recipe`` whose value does not fit its type, choices or bounds, one line each
    ("optimizer 'adamx': expected one of adam, adamw, sgd, rmsprop")."""
    problems = []
    hints = typing.get_type_hints(Recipe)
    for item in dataclasses.fields(Recipe):
        value = getattr(recipe, item.name)
        expected = value_problem(value, hints[item.name])
        if expected is None and item.name in _MINIMUM and isinstance(value, (int, float)):
            bound, inclusive = _MINIMUM[item.name]
            if value < bound or (value == bound and not inclusive):
                expected = f"a number {'>=' if inclusive else '>'} {bound:g}"
        if expected is not None:
            problems.append(f"{item.name} {value!r}: expected {expected}")
    if not problems and recipe.lr_min > recipe.lr:
        problems.append(f"lr_min {recipe.lr_min!r}: expected at most lr ({recipe.lr!r})")
    ramp = recipe.margin_ramp_epochs
    if ramp is not None and not value_problem(ramp, tuple[int, int]) and not 0 <= ramp[0] <= ramp[1]:
        problems.append(f"margin_ramp_epochs {list(ramp)!r}: expected [start, end] with 0 <= start <= end")
    per_speaker = recipe.utterances_per_speaker
    if isinstance(per_speaker, tuple) and not value_problem(per_speaker, tuple[int, int]) and not (
            1 <= per_speaker[0] <= per_speaker[1]):
        problems.append(f"utterances_per_speaker {list(per_speaker)!r}: expected [first, last] with 1 <= first <= last")
    if recipe.noise_scale is not None and recipe.noise_snr_db is not None:
        problems.append(f"noise_snr_db {recipe.noise_snr_db!r}: give noise_scale or noise_snr_db, not both")
    for label, factor in recipe.class_subsample.items():
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            problems.append(f"class_subsample {label}={factor!r}: expected an integer >= 1 (every N-th utterance)")
    unknown = set(recipe.augmentation_options) - set(recipe.augmentations)
    if unknown:
        problems.append(f"augmentation_options for {', '.join(sorted(unknown))}: not in augmentations "
                        f"{list(recipe.augmentations)!r}")
    return problems


def value_problem(value: Any, hint: Any) -> str | None:
    """What ``value`` should have been to fit the type ``hint``, or None when it fits."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return None if value in args else "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        wanted = [value_problem(value, a) for a in args if a is not type(None)]
        if any(w is None for w in wanted):
            return None
        return " or ".join(w for w in wanted if w) + (" or null" if type(None) in args else "")
    if origin is tuple:
        if not isinstance(value, tuple):
            return _describe(hint)
        items = args if not (len(args) == 2 and args[1] is Ellipsis) else (args[0],) * len(value)
        if len(items) != len(value) or any(value_problem(v, a) for v, a in zip(value, items)):
            return _describe(hint)
        return None
    if origin is dict:
        return None if isinstance(value, dict) and all(isinstance(k, str) for k in value) else "a mapping"
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else "a finite number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    return None if hint is Any or isinstance(value, hint) else _describe(hint)


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}s"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    return {int: "integer", float: "number", str: "string", bool: "true/false"}.get(hint, getattr(hint, "__name__", str(hint)))


def without_added_defaults(config: Any, plain: dict[str, Any]) -> dict[str, Any]:
    """``plain`` (the JSON-safe form of the dataclass ``config``) as it enters the cell identity:
    without the :func:`added_field` fields that hold their default."""
    identity = dict(plain)
    for item in dataclasses.fields(config):
        if item.metadata.get("identity") == "never":
            identity.pop(item.name, None)
            continue
        if item.metadata.get("identity") != "omit-default":
            continue
        default = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
        if getattr(config, item.name) == default:
            identity.pop(item.name, None)
    return identity
