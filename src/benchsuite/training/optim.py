"""Optimisers, learning-rate schedules and losses, built from a recipe."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from benchsuite.contract import ConfigError, Recipe


def lr_scale(recipe: Recipe) -> float:
    """The factor the recipe's lr (and lr_min) is multiplied by: 1, or, for ``batch_over_64``, the global
    batch over 64 (WeSpeaker ``bin/train.py``: ``scale_ratio = world_size * batch_size / 64`` with a per-GPU
    batch; the recipe's ``batch_size`` is the global batch that data-parallel ranks share)."""
    if recipe.lr_scaling == "none":
        return 1.0
    if recipe.lr_scaling == "batch_over_64":
        return recipe.batch_size / 64.0
    raise ConfigError(f"recipe lr_scaling {recipe.lr_scaling!r}: expected none or batch_over_64")


def parameter_groups(recipe: Recipe, modules: list[torch.nn.Module | None]) -> list[dict]:
    """The trainable parameters of ``modules`` as optimiser groups.

    A module may declare its own groups with a method ``parameter_groups(recipe)`` returning
    torch-style groups (``{"params": [...], "lr": ...}``; a group without ``lr`` trains at the
    recipe's), e.g. a pretrained front-end at a lower learning rate than its back-end.  Every
    other trainable parameter joins the first group, at the recipe's lr.  The schedule then
    scales every group's lr by the same factor (``lr_factor``)."""
    default: list[torch.nn.Parameter] = []
    extra: list[dict] = []
    for module in modules:
        if module is None:
            continue
        declared = getattr(module, "parameter_groups", None)
        if not callable(declared):
            default += [p for p in module.parameters() if p.requires_grad]
            continue
        groups = declared(recipe)
        grouped = {id(p) for group in groups for p in group["params"]}
        missing = [p for p in module.parameters() if p.requires_grad and id(p) not in grouped]
        if missing:
            raise ConfigError(f"{type(module).__name__}.parameter_groups leaves out {len(missing)} trainable "
                              f"parameter tensor(s)")
        for group in groups:
            params = [p for p in group["params"] if p.requires_grad]
            if not params:
                continue
            if "lr" not in group:
                default += params
            else:
                extra.append({**group, "params": params})
    return ([{"params": default}] if default else []) + extra


def build_optimizer(recipe: Recipe, parameters: list[torch.nn.Parameter] | list[dict]) -> torch.optim.Optimizer:
    """The recipe's optimiser over ``parameters`` (tensors, or groups from :func:`parameter_groups`); the lr
    scaling rule applies to every group's lr alike."""
    scale = lr_scale(recipe)
    lr = recipe.lr * scale
    if parameters and isinstance(parameters[0], dict):
        parameters = [{**g, "lr": g["lr"] * scale} if "lr" in g else g for g in parameters]
    if recipe.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=tuple(recipe.betas), eps=recipe.eps,
                                weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, betas=tuple(recipe.betas), eps=recipe.eps,
                                 weight_decay=recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
                               weight_decay=recipe.weight_decay)
    if recipe.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, alpha=recipe.alpha, eps=recipe.eps,
                                   weight_decay=recipe.weight_decay, momentum=0.0)
    raise ConfigError(f"recipe optimizer {recipe.optimizer!r}: expected adam, adamw, sgd or rmsprop")


# --------------------------------------------------------------------------- schedule shapes
# Each maps (recipe, optimiser step, steps per epoch) to a factor of the optimiser's base lr.  Pure functions
# of the step, so resuming needs nothing but the step count.  ``floor`` is lr_min / lr.


def _floor(recipe: Recipe) -> float:
    return recipe.lr_min / recipe.lr if recipe.lr > 0 else 0.0


def constant(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    return 1.0


def cosine(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Cosine annealing per step from 1 to the floor over the whole run (clovaai/aasist utils.py:33)."""
    total = max(1, recipe.epochs * steps_per_epoch)
    floor = _floor(recipe)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def step_decay(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """x gamma every ``step_epochs`` epochs (torch StepLR stepped per epoch)."""
    return recipe.gamma ** ((step // max(1, steps_per_epoch)) // max(1, recipe.step_epochs))


def warmup_then_exponential(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up to 1 over ``warmup_epochs``, then an exponential decay to the floor that starts after
    the warm-up."""
    total = max(1, recipe.epochs * steps_per_epoch)
    warmup = recipe.warmup_epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    floor = _floor(recipe)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return max(floor, 1e-12) ** progress if floor > 0 else 1.0


def exponential_warmup_product(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """WeSpeaker's ``ExponentialDecrease`` with ``warm_from_zero`` (wespeaker/utils/schedulers.py:275-336): the
    exponential decay from 1 to the floor runs from step 0 over the whole run, and during the first
    ``warmup_epochs`` a linear ramp from 0 multiplies it (step / warm-up steps, so the first step has lr 0)."""
    total = max(1, recipe.epochs * steps_per_epoch)
    warmup = recipe.warmup_epochs * steps_per_epoch
    floor = _floor(recipe)
    decay = max(floor, 1e-12) ** (min(step, total) / total) if floor > 0 else 1.0
    ramp = step / warmup if step < warmup else 1.0
    return ramp * decay


SCHEDULES: dict[str, Callable[[Recipe, int, int], float]] = {
    "none": constant, "cosine": cosine, "step": step_decay, "exponential": warmup_then_exponential,
    "exponential_warmup_product": exponential_warmup_product,
}


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Learning rate at optimiser step ``step`` as a factor of the optimiser's base lr."""
    shape = SCHEDULES.get(recipe.scheduler)
    if shape is None:
        raise ConfigError(f"recipe scheduler {recipe.scheduler!r}: expected one of {', '.join(SCHEDULES)}")
    return shape(recipe, step, steps_per_epoch)


def make_loss(recipe: Recipe, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if recipe.loss == "weighted_ce":
        weight = torch.tensor(recipe.class_weights, dtype=torch.float32, device=device) if recipe.class_weights else None
        return lambda logits, labels: F.cross_entropy(logits.float(), labels, weight=weight)
    if recipe.loss in ("ce", "softmax", "am_softmax", "aam_softmax"):
        return lambda logits, labels: F.cross_entropy(logits.float(), labels)
    if recipe.loss == "bce":
        return lambda logits, labels: F.binary_cross_entropy_with_logits(logits.float()[:, 0], labels.float())
    if recipe.loss == "p2sgrad":
        return lambda cosines, labels: _p2sgrad_losses(cosines, labels).mean()
    raise ConfigError(f"recipe loss {recipe.loss!r}: expected weighted_ce, ce, bce, softmax, am_softmax, aam_softmax "
                      "or p2sgrad")


def _p2sgrad_losses(cosines: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per sample: the mean over classes of (cos theta_j - [j == label])^2; their batch mean is the
    reference's ``MSELoss`` over the whole [batch, classes] matrix."""
    one_hot = F.one_hot(labels, cosines.shape[1]).to(torch.float32)
    return (cosines.float() - one_hot).pow(2).mean(dim=1)


def make_sample_loss(recipe: Recipe, device: torch.device
                     ) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The loss of :func:`make_loss` per sample, with each sample's weight in the
    batch mean (its class weight, else 1): ``mean = sum(losses) / sum(weights)``.
    Data-parallel training needs the parts to normalise over the global batch."""
    make_loss(recipe, device)  # the same validation and error message
    if recipe.loss == "weighted_ce" and recipe.class_weights:
        weight = torch.tensor(recipe.class_weights, dtype=torch.float32, device=device)
        return lambda logits, labels: (F.cross_entropy(logits.float(), labels, weight=weight, reduction="none"),
                                       weight[labels])
    if recipe.loss == "bce":
        return lambda logits, labels: (
            F.binary_cross_entropy_with_logits(logits.float()[:, 0], labels.float(), reduction="none"),
            torch.ones(len(labels), device=logits.device))
    if recipe.loss == "p2sgrad":
        return lambda cosines, labels: (_p2sgrad_losses(cosines, labels),
                                        torch.ones(len(labels), device=cosines.device))
    return lambda logits, labels: (F.cross_entropy(logits.float(), labels, reduction="none"),
                                   torch.ones(len(labels), device=logits.device))
