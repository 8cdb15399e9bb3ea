"""Optimisers, learning-rate schedules and losses, built from a recipe."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from benchsuite.contract import ConfigError, Recipe


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
    if recipe.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=recipe.lr, betas=tuple(recipe.betas), eps=recipe.eps,
                                weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=recipe.lr, betas=tuple(recipe.betas), eps=recipe.eps,
                                 weight_decay=recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
                               weight_decay=recipe.weight_decay)
    if recipe.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=recipe.lr, alpha=recipe.alpha, eps=recipe.eps,
                                   weight_decay=recipe.weight_decay, momentum=0.0)
    raise ConfigError(f"recipe optimizer {recipe.optimizer!r}: expected adam, adamw, sgd or rmsprop")


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Learning rate at optimiser step ``step`` as a factor of ``recipe.lr``.
    A pure function of the step, so resuming needs nothing but the step count."""
    total = max(1, recipe.epochs * steps_per_epoch)
    floor = recipe.lr_min / recipe.lr if recipe.lr > 0 else 0.0
    if recipe.scheduler == "none":
        return 1.0
    if recipe.scheduler == "cosine":
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    if recipe.scheduler == "step":
        return recipe.gamma ** ((step // max(1, steps_per_epoch)) // max(1, recipe.step_epochs))
    if recipe.scheduler == "exponential":
        warmup = recipe.warmup_epochs * steps_per_epoch
        if step < warmup:
            return (step + 1) / warmup
        span = max(1, total - warmup)
        progress = min(1.0, (step - warmup) / span)
        return max(floor, 1e-12) ** progress if floor > 0 else 1.0
    raise ConfigError(f"recipe scheduler {recipe.scheduler!r}: expected none, cosine, step or exponential")


def make_loss(recipe: Recipe, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if recipe.loss == "weighted_ce":
        weight = torch.tensor(recipe.class_weights, dtype=torch.float32, device=device) if recipe.class_weights else None
        return lambda logits, labels: F.cross_entropy(logits.float(), labels, weight=weight)
    if recipe.loss in ("ce", "softmax", "am_softmax", "aam_softmax"):
        return lambda logits, labels: F.cross_entropy(logits.float(), labels)
    if recipe.loss == "bce":
        return lambda logits, labels: F.binary_cross_entropy_with_logits(logits.float()[:, 0], labels.float())
    raise ConfigError(f"recipe loss {recipe.loss!r}: expected weighted_ce, ce, bce, softmax, am_softmax or aam_softmax")


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
    return lambda logits, labels: (F.cross_entropy(logits.float(), labels, reduction="none"),
                                   torch.ones(len(labels), device=logits.device))
