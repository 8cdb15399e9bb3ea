"""How far a resolved recipe is from the authors' code: where each field's value comes from, and every
deviation, named.

A model's ``paper`` recipe carries the authors' values with their references (``Recipe.sources``) and the
deliberate differences it keeps (``Recipe.deviations``).  Everything else that makes a cell's recipe or
model config differ from the ``paper`` one becomes a deviation here too, named after its origin: a
profile's shortening (``quick:epochs``) or an override (``--set:lr``).  The plan stores the list beside each
cell's identity (not in it) and every result carries it, so a row can only look faithful when the list is
empty.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchsuite.contract import ConfigError, ModelSpec, Task
from benchsuite.contract.recipe import Deviation, Recipe
from benchsuite.planning.options import Override, apply_model_overrides, to_plain
from benchsuite.plugins.registry import did_you_mean

PAPER = "paper"
PROFILE_REASON = ("the {profile} profile shortens the paper recipe for a CPU smoke run; its numbers are not a "
                  "reproduction")


@dataclass(frozen=True)
class FieldSource:
    """One resolved field: its value, where the value comes from (``default`` | ``paper`` | ``profile`` |
    ``--set``), the authors' reference when the plugin gives one, and the deviations that concern it."""

    kind: str  # recipe | model_config
    name: str
    value: Any
    source: str
    reference: str
    deviations: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.name, "value": to_plain(self.value), "source": self.source,
                "reference": self.reference, "deviations": list(self.deviations)}


def identity_fields(cls: type) -> list[str]:
    """The fields of a recipe or config dataclass that describe training (documentation fields excluded)."""
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("identity") != "never"]


def profile_config(spec: ModelSpec, recipe: Recipe, where: str) -> Any:
    """The model's config with the recipe's ``model_config`` values applied (a profile may set config
    fields, e.g. the GMM initialisation of the paper recipe)."""
    config = spec.config_class()
    if not recipe.model_config:
        return config
    known = {f.name for f in dataclasses.fields(config)} if dataclasses.is_dataclass(config) else set()
    unknown = sorted(set(recipe.model_config) - known)
    if unknown:
        raise ConfigError(f"model {spec.name!r}, {where}: model_config names {', '.join(unknown)}, which "
                          f"{spec.config_class.__name__} does not have.{did_you_mean(unknown[0], sorted(known))}")
    return dataclasses.replace(config, **recipe.model_config)


def _declared_fields(recipe: Recipe) -> dict[str, list[str]]:
    covered: dict[str, list[str]] = {}
    for deviation in recipe.deviations:
        for name in deviation.fields:
            covered.setdefault(name, []).append(deviation.name)
    return covered


def resolve(spec: ModelSpec, profile: str, task: Task | None, overrides: list[Override]
            ) -> tuple[Recipe, Any, list[FieldSource], list[Deviation]]:
    """The recipe and config of (model, profile, task) with ``overrides`` applied, every field's source, and
    every deviation from the authors' code (declared by the plugin, or made by the profile or an override)."""
    paper = spec.recipe(PAPER, task)
    paper_config = profile_config(spec, paper, "paper recipe")
    plugin = spec.recipe(profile, task)
    plugin_config = profile_config(spec, plugin, f"{profile!r} recipe")
    # an override of the recipe's model_config reaches the config; direct config overrides win over it
    recipe, _config = apply_model_overrides(spec.name, plugin, plugin_config, overrides)
    recipe, config = apply_model_overrides(spec.name, recipe, profile_config(spec, recipe, "--set model_config"),
                                           overrides)
    default_recipe = Recipe()
    default_config = spec.config_class()
    covered = _declared_fields(plugin)
    set_texts = {ov.key: ov.text for ov in overrides if ov.scope == "model" and ov.target in ("*", spec.name)}
    sources: list[FieldSource] = []
    automatic: list[Deviation] = []
    rows = [("recipe", name, recipe, plugin, paper, default_recipe) for name in identity_fields(Recipe)
            if name != "model_config"]
    if dataclasses.is_dataclass(config):
        rows += [("model_config", f.name, config, plugin_config, paper_config, default_config)
                 for f in dataclasses.fields(config)]
    for kind, name, resolved, from_plugin, from_paper, default in rows:
        value, plugin_value, paper_value = (getattr(resolved, name), getattr(from_plugin, name),
                                            getattr(from_paper, name))
        reference = paper.sources.get(name, "")
        if to_plain(value) != to_plain(plugin_value):
            source = "--set"
        elif to_plain(plugin_value) != to_plain(paper_value):
            source = "profile"
        elif name in paper.sources or to_plain(paper_value) != to_plain(getattr(default, name)):
            source = PAPER
        else:
            source = "default"
        names = list(covered.get(name, []))
        if to_plain(value) != to_plain(paper_value):
            origin = "--set" if source == "--set" else profile
            if source == "--set":
                why = f"set by --set {set_texts.get(name) or set_texts.get('model_config', '')}".rstrip()
            else:
                why = PROFILE_REASON.format(profile=profile)
            deviation = Deviation(name=f"{origin}:{name}", fields=(name,), reference=reference, why=why,
                                  what=f"{name} {_show(value)} where the paper recipe has {_show(paper_value)}")
            automatic.append(deviation)
            names.append(deviation.name)
        sources.append(FieldSource(kind, name, value, source, reference, tuple(names)))
    return recipe, config, sources, list(plugin.deviations) + automatic


def deviations_record(deviations: list[Deviation]) -> dict[str, Any]:
    """What a cell stores: whether its recipe is the authors' and, if not, each deviation."""
    return {"faithful": not deviations, "deviations": [dataclasses.asdict(d) | {"fields": list(d.fields)}
                                                       for d in deviations]}


def _show(value: Any) -> str:
    plain = to_plain(value)
    return "null" if plain is None else repr(plain) if isinstance(plain, str) else str(plain)
