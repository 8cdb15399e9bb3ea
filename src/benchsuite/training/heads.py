"""Training heads that turn embeddings into class logits for the trainer's cross-entropy.

``build_head(recipe, embedding_dim, num_classes)`` picks the head from
``Recipe.loss``:

- ``softmax`` / ``ce``: a plain linear layer (with bias);
- ``am_softmax``: additive margin, target logit ``s * (cos(theta) - m)`` (CosFace);
- ``aam_softmax``: additive angular margin, target logit ``s * cos(theta + m)``
  (ArcFace), with WeSpeaker's continuation ``cos(theta) - (1 - cos m)`` once
  ``theta + m`` would pass pi, so the logit keeps decreasing in theta.

Margin heads apply the margin only to the labelled class and only when labels
are given; ``forward(embeddings, None)`` returns the plain scaled cosines.
The margin follows WeSpeaker's ``MarginScheduler``
(``wenet-e2e/wespeaker:wespeaker/utils/schedulers.py``): with
``Recipe.margin_ramp_epochs = (start, end)``, in WeSpeaker's 1-based epoch
numbers, the margin is 0 before epoch ``start``, rises exponentially to
``Recipe.margin`` at epoch ``end`` and stays there.  ``set_epoch`` takes the
trainer's 0-based epoch index (the loop variable, as ``Sampler.set_epoch``
does), so index 19 is WeSpeaker's epoch 20; a fractional index
(``epoch + batch / batches_per_epoch``) gives WeSpeaker's per-iteration ramp.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.contract import ConfigError, Recipe

HEAD_LOSSES = ("softmax", "ce", "am_softmax", "aam_softmax")

# WeSpeaker's exponential ramp goes from 1 to 1e-3 of the distance left; its
# denominator carries a 1e-6 guard, kept so our margins equal its margins.
_RAMP_FLOOR = 1e-3
_RAMP_GUARD = 1e-6


def ramped_margin(epoch_number: float, final_margin: float, ramp_epochs: tuple[int, int] | None) -> float:
    """The margin in force during 1-based (possibly fractional) ``epoch_number``, as WeSpeaker counts epochs."""
    if ramp_epochs is None:
        return final_margin
    start, end = ramp_epochs
    if epoch_number >= end:
        return final_margin
    if epoch_number < start:
        return 0.0
    progress = (epoch_number - start) / (end - start)
    ratio = 1.0 - math.exp(progress * math.log(_RAMP_FLOOR / (1.0 + _RAMP_GUARD)))
    return final_margin * ratio


class LinearHead(nn.Module):
    """Plain softmax classifier: ``logits = W e + b``; labels do not change the output."""

    def __init__(self, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(embeddings)

    def set_epoch(self, epoch: float) -> None:
        """No margin to schedule."""


class MarginHead(nn.Module):
    """Cosine classifier with an additive (``kind="additive"``, AM-softmax) or additive
    angular (``kind="angular"``, AAM-softmax) margin on the target class."""

    def __init__(self, embedding_dim: int, num_classes: int, *, kind: str, scale: float, final_margin: float,
                 ramp_epochs: tuple[int, int] | None = None) -> None:
        super().__init__()
        if kind not in ("additive", "angular"):
            raise ConfigError(f"margin head kind {kind!r}; expected 'additive' or 'angular'")
        self.kind = kind
        self.scale = float(scale)
        self.final_margin = float(final_margin)
        self.ramp_epochs = ramp_epochs
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)
        self.margin = ramped_margin(1, self.final_margin, ramp_epochs)

    def set_epoch(self, epoch: float) -> None:
        """Set the margin for the 0-based epoch index ``epoch`` the trainer is about to run."""
        self.margin = ramped_margin(epoch + 1, self.final_margin, self.ramp_epochs)

    def cosines(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(embeddings, dim=1), F.normalize(self.weight, dim=1))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cosine = self.cosines(embeddings)
        if labels is None or self.margin == 0.0:
            return self.scale * cosine
        if self.kind == "additive":
            target = cosine - self.margin
        else:
            sine = torch.sqrt((1.0 - cosine * cosine).clamp(min=0.0))
            shifted = cosine * math.cos(self.margin) - sine * math.sin(self.margin)
            # beyond theta = pi - m, cos(theta + m) would rise again; continue linearly in cos instead
            target = torch.where(cosine > math.cos(math.pi - self.margin), shifted,
                                 cosine - (1.0 - math.cos(self.margin)))
        is_target = F.one_hot(labels.long(), num_classes=cosine.shape[1]).bool()
        return self.scale * torch.where(is_target, target, cosine)

    def extra_repr(self) -> str:
        return (f"kind={self.kind}, classes={self.weight.shape[0]}, dim={self.weight.shape[1]}, scale={self.scale}, "
                f"margin={self.margin:.4f} (final {self.final_margin}, ramp {self.ramp_epochs})")


def build_head(recipe: Recipe, embedding_dim: int, num_classes: int) -> nn.Module:
    """The head ``Recipe.loss`` asks for, on ``embedding_dim``-dim embeddings and ``num_classes`` classes."""
    if recipe.loss not in HEAD_LOSSES:
        raise ConfigError(f"loss {recipe.loss!r} has no embedding head; expected one of {', '.join(HEAD_LOSSES)}")
    if embedding_dim < 1 or num_classes < 2:
        raise ConfigError(f"a {recipe.loss} head needs embedding_dim >= 1 and at least 2 classes "
                          f"(got embedding_dim={embedding_dim}, num_classes={num_classes})")
    if recipe.loss in ("softmax", "ce"):
        return LinearHead(embedding_dim, num_classes)
    if recipe.scale <= 0:
        raise ConfigError(f"recipe option scale must be positive for {recipe.loss}, got {recipe.scale}")
    if not 0.0 <= recipe.margin < math.pi / 2:
        raise ConfigError(f"recipe option margin must be in [0, pi/2) for {recipe.loss}, got {recipe.margin}")
    ramp = recipe.margin_ramp_epochs
    if ramp is not None:
        if len(ramp) != 2 or not 1 <= ramp[0] <= ramp[1]:
            raise ConfigError(f"recipe option margin_ramp_epochs must be (start, end) with 1 <= start <= end, "
                              f"got {ramp!r}")
        ramp = (int(ramp[0]), int(ramp[1]))
    kind = "additive" if recipe.loss == "am_softmax" else "angular"
    return MarginHead(embedding_dim, num_classes, kind=kind, scale=recipe.scale, final_margin=recipe.margin,
                      ramp_epochs=ramp)
