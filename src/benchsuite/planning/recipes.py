"""Each model's recipe and config for a run, resolved and checked before any data is read.

The recipe of a (model, profile, task) is the plugin's, with ``--set`` / ``--config``
overrides applied; the plan refuses the run when a field is unknown (with the closest
field name), has the wrong type, is not one of its choices (naming them), or is out
of bounds, and when an override or a wildcard names a field no selected model has.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from benchsuite.contract import ConfigError, ModelSpec, Recipe, Task
from benchsuite.contract.recipe import Deviation, recipe_problems, value_problem
from benchsuite.planning import fidelity
from benchsuite.planning.options import Override
from benchsuite.plugins.registry import Registered, Registry, did_you_mean, unknown_name_message


@dataclass(frozen=True)
class ResolvedModel:
    recipe: Recipe
    config: Any
    # every difference from the authors' code (declared by the plugin, or made by the profile or --set)
    deviations: tuple[Deviation, ...] = ()


def resolve_models(registry: Registry, models: list[Registered[ModelSpec]], profile: str,
                   overrides: list[Override], implicit: bool = False) -> dict[tuple[str, Task], ResolvedModel]:
    """(model name, task) -> its checked recipe and config, for every task each model serves.

    A model config may name what it still needs from the user with a method ``problems()``
    (e.g. the path of pretrained weights).  ``implicit`` (the run did not name its models):
    such a model is left out of the matrix instead of failing the run."""
    model_overrides = [ov for ov in overrides if ov.scope == "model"]
    resolved: dict[tuple[str, Task], ResolvedModel] = {}
    fields_seen: set[str] = set()
    for reg in models:
        spec = reg.spec
        config_fields = _fields(spec.config_class)
        fields_seen |= config_fields | _fields(Recipe)
        for task in spec.tasks:
            recipe, config, _sources, deviations = fidelity.resolve(spec, profile, task, model_overrides)
            if implicit and config_problems(config):
                continue  # needs the user's input (e.g. weights) and was not asked for
            _check(registry, spec, profile, task, recipe, config, model_overrides)
            resolved[(spec.name, task)] = ResolvedModel(recipe, config, tuple(deviations))
    for ov in model_overrides:
        if ov.target == "*" and ov.key not in fields_seen:
            names = ", ".join(sorted(reg.spec.name for reg in models)) or "none"
            raise ConfigError(f"{ov.where}: no selected model ({names}) has a recipe or config field "
                              f"{ov.key!r}.{did_you_mean(ov.key, sorted(fields_seen), cutoff=0.6)} Recipe fields: "
                              f"{', '.join(sorted(_fields(Recipe)))}")
    return resolved


def _check(registry: Registry, spec: ModelSpec, profile: str, task: Task, recipe: Recipe, config: Any,
           overrides: list[Override]) -> None:
    problems = [(p.split(" ", 1)[0], p) for p in recipe_problems(recipe)]
    if dataclasses.is_dataclass(config):
        hints = typing.get_type_hints(type(config))
        for item in dataclasses.fields(config):
            expected = value_problem(getattr(config, item.name), hints.get(item.name, Any))
            if expected is not None:
                problems.append((item.name, f"{item.name} {getattr(config, item.name)!r}: expected {expected}"))
    problems += [(p.split(" ", 1)[0], p) for p in config_problems(config)] if not problems else []
    for name in recipe.augmentations:
        if name not in registry.augmentations:
            problems.append(("augmentations", "augmentations: " + unknown_name_message(
                "augmentation", name, registry.augmentations.names())))
    if not problems:
        return
    field_name, problem = problems[0]
    setter = next((ov for ov in reversed(overrides)
                   if ov.key == field_name and ov.target in ("*", spec.name)), None)
    where = setter.where if setter else f"model {spec.name!r}, {profile!r} recipe for {task}"
    more = f" (and {len(problems) - 1} more: {'; '.join(p for _, p in problems[1:])})" if len(problems) > 1 else ""
    raise ConfigError(f"{where}: {problem}{more}")


def config_problems(config: Any) -> list[str]:
    """What a model config still needs from the user, one line each ("ssl_checkpoint '': expected ...")."""
    check = getattr(config, "problems", None)
    return [str(p) for p in check()] if callable(check) else []


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
