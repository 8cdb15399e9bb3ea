"""Hyperparameter sweeps: axes of recipe, model-config and dataset values as matrix dimensions.

``--sweep recipe.optimizer=adam,sgd --sweep model.cnn-bilstm.lr=0.001,0.005`` makes two axes;
the matrix is their cartesian product x models x datasets x seeds.  A ``sweep:`` section in
``--config`` gives axes the same way, or an explicit list of combinations (rather than a product)::

    sweep:
      recipe.optimizer: [adam, sgd]          # an axis
      model.cnn-bilstm.lr: [0.001, 0.005]     # another axis

    sweep:
      axes: {recipe.optimizer: [adam, sgd]}
      combinations:                           # x the axes above
        - {model.cnn-bilstm.lr: 0.001, recipe.batch_size: 16}
        - {model.cnn-bilstm.lr: 0.005, recipe.batch_size: 32}

Keys take the scopes of ``--set``: ``recipe.FIELD`` (every model), ``model.NAME.FIELD``
(``model.*.FIELD``) and ``data.NAME.OPTION`` (or ``dataset.NAME.OPTION``).  Each combination is an
ordinary ``--set`` for the plan, so a swept cell keeps the config-hash identity of the cell that
``--set`` would make: adding a value to an axis trains only the new cells, and a combination that
equals the recipe's default is the very cell an unswept run has.  Every combination's recipe is
checked before any data is read.

What a cell's axis values are is kept beside (not inside) its identity: ``CellConfig.sweep`` and
``result.json``'s ``sweep`` hold ``{"key": ..., "values": {axis: value}}``, and each run records
its whole sweep (every cell, trained now or before) in its invocation record, which the
leaderboard groups by.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from benchsuite.contract import ConfigError
from benchsuite.planning.options import Override, RunOptions, _yaml_11_number, parse_override
from benchsuite.planning.plan import Cell, build_plan, describe
from benchsuite.planning.recipes import resolve_models
from benchsuite.plugins.registry import Registry, unknown_name_message

AXIS_SCOPES = "recipe.FIELD, model.NAME.FIELD, model.*.FIELD or data.NAME.OPTION"


@dataclass(frozen=True)
class SweepAxis:
    key: str  # as written, with data.* spelt dataset.*: "recipe.lr", "model.resnet18.lr", "dataset.synth-emo.x"
    values: tuple[Any, ...]
    source: str  # "--sweep recipe.lr=0.001,0.01" or "--config study.yaml: sweep"


@dataclass(frozen=True)
class SweepSpec:
    """Axes (a cartesian product) and, optionally, explicit combinations (multiplied with the axes)."""

    axes: tuple[SweepAxis, ...] = ()
    combinations: tuple[Mapping[str, Any], ...] = ()
    combinations_source: str = ""

    @property
    def keys(self) -> list[str]:
        """Every swept key, axes first, in the order given."""
        keys = [axis.key for axis in self.axes]
        for combo in self.combinations:
            keys.extend(k for k in combo if k not in keys)
        return keys

    def expand(self) -> list[dict[str, Any]]:
        """Every combination: key -> value."""
        explicit = [dict(c) for c in self.combinations] or [{}]
        product = [dict(zip([a.key for a in self.axes], values))
                   for values in itertools.product(*(a.values for a in self.axes))]
        return [{**combo, **point} for combo in explicit for point in product]

    def source_of(self, key: str) -> str:
        for axis in self.axes:
            if axis.key == key:
                return axis.source
        return self.combinations_source


# --------------------------------------------------------------------------- parsing


def canonical_key(text: str, where: str) -> str:
    """``recipe.F`` | ``model.NAME.F`` | ``data.NAME.OPT`` (kept as ``dataset.NAME.OPT``)."""
    parts = text.strip().split(".")
    if parts[0] == "data":
        parts[0] = "dataset"
    ok = (parts[0] == "recipe" and len(parts) == 2 and parts[1]) or (
        parts[0] in ("model", "dataset") and len(parts) == 3 and all(parts))
    if not ok:
        raise ConfigError(f"{where}: {text.strip()!r} is no sweep key; expected {AXIS_SCOPES}")
    return ".".join(parts)


def split_values(text: str) -> list[str]:
    """``0.001,0.005`` -> two values; commas inside [...] or {...} belong to one value (``[5,145],[5,100]``)."""
    values, depth, current = [], 0, ""
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            values.append(current)
            current = ""
        else:
            current += char
    values.append(current)
    return [v.strip() for v in values]


def _yaml_value(text: str, where: str) -> Any:
    """A YAML value; ``1e-3`` (a string to YAML 1.1) is the number researchers mean, so the
    sweep's values, tables and plots hold the value the recipe gets."""
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: cannot parse value {text!r} as YAML") from exc
    return _as_number(value)


def _as_number(value: Any) -> Any:
    return _yaml_11_number(value) if isinstance(value, str) else value


def parse_sweep_option(text: str) -> SweepAxis:
    """One ``--sweep KEY=V1,V2,...`` axis."""
    where = f"--sweep {text}"
    if "=" not in text:
        raise ConfigError(f"{where}: expected KEY=V1,V2,..., e.g. recipe.optimizer=adam,sgd")
    key, raw = text.split("=", 1)
    key = canonical_key(key, where)
    values = [_yaml_value(v, where) for v in split_values(raw)]
    return _axis(key, values, where)


def _axis(key: str, values: Sequence[Any], where: str) -> SweepAxis:
    if not values or any(v == "" for v in values):
        raise ConfigError(f"{where}: give at least one value, separated by commas")
    seen: list[str] = []
    for value in values:
        text = json.dumps(value, sort_keys=True, default=str)
        if text in seen:
            raise ConfigError(f"{where}: value {value!r} is given twice")
        seen.append(text)
    return SweepAxis(key, tuple(values), where)


def sweep_from_config(section: Any, path: Path) -> SweepSpec:
    """The ``sweep:`` section of a config file (see the module docstring)."""
    where = f"--config {path}: sweep"
    if section is None:
        return SweepSpec()
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a mapping of KEY: [values], or axes: / combinations:")
    structured = bool(section) and set(section) <= {"axes", "combinations"}
    axes_section = section.get("axes") or {} if structured else section
    if not isinstance(axes_section, Mapping):
        raise ConfigError(f"{where}.axes: expected a mapping of KEY: [values]")
    axes = []
    for key, values in axes_section.items():
        if not isinstance(values, list):
            raise ConfigError(f"{where}.{key}: expected a list of values, got {values!r}")
        axes.append(_axis(canonical_key(str(key), f"{where}.{key}"), [_as_number(v) for v in values], f"{where}.{key}"))
    combinations: list[dict[str, Any]] = []
    raw_combos = section.get("combinations") if structured else None
    if raw_combos is not None:
        if not isinstance(raw_combos, list) or not raw_combos:
            raise ConfigError(f"{where}.combinations: expected a non-empty list of {{KEY: value}} mappings")
        for number, combo in enumerate(raw_combos, 1):
            if not isinstance(combo, Mapping) or not combo:
                raise ConfigError(f"{where}.combinations[{number}]: expected a mapping KEY: value, got {combo!r}")
            combinations.append({canonical_key(str(k), f"{where}.combinations[{number}]"): _as_number(v)
                                 for k, v in combo.items()})
        keys = set(combinations[0])
        for number, combo in enumerate(combinations, 1):
            if set(combo) != keys:
                raise ConfigError(f"{where}.combinations[{number}]: sets {', '.join(sorted(combo))}; every "
                                  f"combination must set the same keys ({', '.join(sorted(keys))})")
        if len({json.dumps(c, sort_keys=True, default=str) for c in combinations}) != len(combinations):
            raise ConfigError(f"{where}.combinations: a combination is listed twice")
    return SweepSpec(tuple(axes), tuple(combinations), f"{where}.combinations")


def sweep_spec(cli_axes: Iterable[str], config_section: Any, config_path: Path | None) -> SweepSpec | None:
    """The run's sweep: the config's axes and combinations, with each ``--sweep`` axis added or
    replacing the config's axis of the same key.  None when nothing is swept."""
    spec = sweep_from_config(config_section, config_path or Path(".")) if config_section is not None else SweepSpec()
    axes = {axis.key: axis for axis in spec.axes}
    for text in cli_axes or ():
        axis = parse_sweep_option(text)
        axes[axis.key] = axis
    spec = replace(spec, axes=tuple(axes.values()))
    overlap = set(axes) & {k for c in spec.combinations for k in c}
    if overlap:
        raise ConfigError(f"sweep: {', '.join(sorted(overlap))} is both an axis and a key of the explicit "
                          "combinations; give it in one place")
    return spec if spec.axes or spec.combinations else None


# --------------------------------------------------------------------------- planning


def _override(key: str, value: Any, source: str) -> Override:
    scope, rest = key.split(".", 1)
    text = f"{key}={json.dumps(value, default=str) if not isinstance(value, str) else value}"
    option = source if source.startswith("--config") else "--sweep"
    if scope == "recipe":
        return Override("model", "*", rest, value, text, option)
    target, name = rest.split(".", 1)
    return Override(scope, target, name, value, text, option)


def combination_overrides(spec: SweepSpec, combo: Mapping[str, Any]) -> list[Override]:
    return [_override(key, value, spec.source_of(key)) for key, value in combo.items()]


def check_sweep(registry: Registry, options: RunOptions, base: list[Override]) -> None:
    """Every combination's names, fields, types, choices and bounds, before any data is read."""
    spec: SweepSpec = options.sweep
    options.validate()
    models = [registry.models.get(n) for n in options.models] if options.models else list(registry.models)
    set_keys = {(ov.scope, ov.target, ov.key): ov for ov in base}
    for key in spec.keys:
        probe = _override(key, None, spec.source_of(key))
        kind = registry.models if probe.scope == "model" else registry.datasets
        if probe.target != "*" and probe.target not in kind:
            raise ConfigError(f"{spec.source_of(key)}: " + unknown_name_message(kind.noun, probe.target, kind.names()))
        if probe.scope == "model" and probe.target != "*" and probe.target not in {m.spec.name for m in models}:
            raise ConfigError(f"{spec.source_of(key)}: model {probe.target!r} is not in the run's models "
                              f"({', '.join(m.spec.name for m in models)})")
        named = set(options.datasets or ()) | ({options.train_on} if options.train_on else set())
        if probe.scope == "dataset" and probe.target != "*" and options.datasets and probe.target not in named:
            raise ConfigError(f"{spec.source_of(key)}: dataset {probe.target!r} is not in the run's datasets "
                              f"({', '.join(sorted(named))})")
        clash = set_keys.get((probe.scope, probe.target, probe.key))
        if clash is not None:
            raise ConfigError(f"{spec.source_of(key)}: {key} is also fixed by {clash.where}; give it in one place")
    for combo in spec.expand():
        resolve_models(registry, models, options.profile, base + combination_overrides(spec, combo))


def sweep_key(options: RunOptions) -> str:
    """Which sweep a cell belongs to: its axes, profile and fixed ``--set`` values, not the axis
    values, so a later run with more values on an axis extends the same sweep."""
    spec: SweepSpec = options.sweep
    signature = {"axes": spec.keys, "profile": options.profile, "set": sorted(options.overrides)}
    return hashlib.sha256(json.dumps(signature, sort_keys=True, default=str).encode()).hexdigest()[:10]


def plan_matrix(registry: Registry, options: RunOptions, check_audio: bool = True) -> list[Cell]:
    """The plan of a run: :func:`build_plan`, once per sweep combination when something is swept.

    A cell reached from several combinations (an axis that does not apply to its model, e.g. a
    ``model.A.lr`` axis for model B's cells) is one cell, and that axis is dropped from its values."""
    if options.sweep is None:
        return build_plan(registry, options, check_audio=check_audio)
    base = [parse_override(o) for o in options.overrides]
    check_sweep(registry, options, base)
    spec: SweepSpec = options.sweep
    key = sweep_key(options)
    cells: dict[str, Cell] = {}
    values: dict[str, dict[str, Any]] = {}
    varies: dict[str, set[str]] = {}
    for combo in spec.expand():
        for cell in build_plan(registry, options, base + combination_overrides(spec, combo), check_audio=check_audio):
            if cell.cell_id not in cells:
                cells[cell.cell_id] = cell
                values[cell.cell_id] = dict(combo)
                varies[cell.cell_id] = set()
            else:
                varies[cell.cell_id] |= {k for k, v in combo.items() if values[cell.cell_id].get(k) != v}
    for cell_id, cell in cells.items():
        own = {k: v for k, v in values[cell_id].items() if k not in varies[cell_id]}
        if own:
            cell.config = cell.config.with_sweep({"key": key, "values": own})
    return list(cells.values())


def sweep_record(options: RunOptions, cells: Sequence[Cell]) -> dict[str, Any] | None:
    """What an invocation record keeps of the sweep: its axes and every swept cell's values."""
    if options.sweep is None:
        return None
    spec: SweepSpec = options.sweep
    return {"key": sweep_key(options), "axes": spec.keys, "profile": options.profile,
            "set": list(options.overrides),
            "cells": {c.cell_id: c.config.sweep["values"] for c in cells if c.config.sweep}}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))


def describe_matrix(cells: Sequence[Cell], done: set[str], sweep: SweepSpec | None = None) -> str:
    """The matrix as ``benchsuite run --dry-run`` prints it: its size, then one line a cell."""
    lines = [describe(cells)]
    if sweep is not None:
        combos = sweep.expand()
        axes = " x ".join(f"{a.key} [{', '.join(_shown(v) for v in a.values)}]" for a in sweep.axes)
        explicit = f"{len(sweep.combinations)} explicit combination(s)" if sweep.combinations else ""
        lines.append(f"sweep: {' x '.join(p for p in (explicit, axes) if p)} = {len(combos)} combination(s)")
    pending = [c for c in cells if c.cell_id not in done]
    lines.append(f"{len(cells) - len(pending)} already done, {len(pending)} to train")
    for cell in cells:
        values = (cell.config.sweep or {}).get("values") or {}
        shown = " ".join(f"{k}={_shown(v)}" for k, v in values.items())
        state = "done " if cell.cell_id in done else "train"
        lines.append(f"  {state} {cell.label:<48} {shown}".rstrip() + f"  [{cell.cell_id}]")
    return "\n".join(lines)
