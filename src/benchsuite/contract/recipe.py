"""How a model is trained and evaluated: the recipe of each profile."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


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
