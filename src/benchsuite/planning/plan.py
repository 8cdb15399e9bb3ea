"""The plan: every compatible (dataset, model) pair x seeds, as typed cell configs.

A cell config (:mod:`benchsuite.planning.cell_config`) has two parts, and ``fidelity`` (the
recipe's deviations from the authors' code, which documents the cell and is not part of its id):

- ``identity``: what the result depends on (dataset and its fingerprint, model,
  model config, recipe, seed, profile, precision, plugin versions); its hash is
  the cell id, so changing a hyperparameter makes new cells and never
  overwrites old ones;
- ``runtime``: how to run it here (device, data roots, loader workers), which
  does not change the result's identity.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchsuite.common.files import stat_fingerprint
from benchsuite.contract import ConfigError, Dataset, DatasetSpec, ModelSpec, Task
from benchsuite.contract.recipe import without_added_defaults
from benchsuite.planning.cell_config import CellConfig, CellIdentity, CellRuntime, DataEntry, PluginTag
from benchsuite.planning.options import (
    DataSource, Override, RunOptions, dataset_overrides, env_data_roots, env_key, parse_override, to_plain,
)
from benchsuite.planning.fidelity import deviations_record
from benchsuite.planning.hardware import resolve_precision
from benchsuite.planning.recipes import ResolvedModel, resolve_models
from benchsuite.planning.released import ReleasedWeights, parse_checkpoints
from benchsuite.plugins.registry import Registered, Registry, unknown_name_message


@dataclass
class Cell:
    cell_id: str
    config: CellConfig

    @property
    def identity(self) -> CellIdentity:
        return self.config.identity

    @property
    def label(self) -> str:
        return self.config.label


def _plugin_tag(reg: Registered) -> PluginTag:
    return PluginTag(reg.plugin.name, reg.plugin.distribution, reg.plugin.version)


def resolve_data_sources(registry: Registry, options: RunOptions) -> dict[str, DataSource]:
    """Where each dataset's data lives: --data-root / config first, then the
    BENCHSUITE_DATA_<NAME> environment variables."""
    sources = {name: DataSource(src.root, dict(src.options)) for name, src in options.data.items()}
    for name in sources:
        if name not in registry.datasets:
            raise ConfigError("--data-root / config datasets: " + unknown_name_message("dataset", name, registry.datasets.names()))
    from_env = env_data_roots()
    for reg in registry.datasets:
        name = reg.spec.name
        key = env_key(name)
        if key in from_env and (name not in sources or sources[name].root is None):
            sources.setdefault(name, DataSource()).root = from_env[key]
    return sources


def _available(spec: DatasetSpec, sources: dict[str, DataSource]) -> bool:
    return spec.embedded or (spec.name in sources and sources[spec.name].root is not None)


def build_plan(registry: Registry, options: RunOptions, overrides: list[Override] | None = None,
               check_audio: bool = True) -> list[Cell]:
    """Resolve the matrix.  Raises ConfigError for unknown names (with a
    suggestion), incompatible explicit choices and missing data roots, and
    DataError for corpora that fail validation — all before any training."""
    options.validate()
    precision = resolve_precision(options.precision, options.device)  # once per plan, before any identity
    overrides = overrides if overrides is not None else [parse_override(o) for o in options.overrides]
    sources = resolve_data_sources(registry, options)

    for ov in overrides:
        kind = registry.models if ov.scope == "model" else registry.datasets
        if ov.target != "*" and ov.target not in kind:
            raise ConfigError(f"{ov.where}: " + unknown_name_message(kind.noun, ov.target, kind.names()))

    models = [registry.models.get(n) for n in options.models] if options.models else list(registry.models)
    # every recipe and config is typed and checked here, before any dataset is opened
    resolved = resolve_models(registry, models, options.profile, overrides, implicit=not options.models)
    models = [m for m in models if any((m.spec.name, task) in resolved for task in m.spec.tasks)]
    released = parse_checkpoints(options.checkpoints, [m.spec.name for m in models])
    if options.datasets:
        datasets = [registry.datasets.get(n) for n in options.datasets]
        for reg in datasets:
            if not _available(reg.spec, sources):
                raise ConfigError(
                    f"dataset {reg.spec.name!r} needs its data: give --data-root {reg.spec.name}=DIR, a 'datasets:' "
                    f"entry in --config, or BENCHSUITE_DATA_{env_key(reg.spec.name).upper()}=DIR"
                )
    else:
        datasets = [reg for reg in registry.datasets if _available(reg.spec, sources)]

    metric_tasks: set[Task] | None = None
    if options.metrics:
        metric_tasks = {registry.metrics.get(n).spec.task for n in options.metrics}

    def data_entry(name: str) -> DataEntry:
        src = sources.get(name, DataSource())
        return DataEntry(str(src.root) if src.root else None, {**src.options, **dataset_overrides(name, overrides)})

    model_tasks = {task for m in models for task in m.spec.tasks}
    checks = _DatasetChecks(check_audio)
    cells: list[Cell] = []
    for dreg in datasets:
        dspec = dreg.spec
        eval_data = data_entry(dspec.name)
        # a dataset serving several tasks picks one with its `task` option; otherwise the spec's task holds
        if "task" not in eval_data.options and dspec.task not in model_tasks:
            continue
        task = checks.open(dspec, eval_data).task
        if metric_tasks is not None and task not in metric_tasks:
            continue
        train_name = dspec.name
        if dspec.eval_only:
            train_name = options.train_on or dspec.train_on or ""
            if not train_name:
                raise ConfigError(f"dataset {dspec.name!r} has no training data; choose one with --train-on NAME")
            treg = registry.datasets.get(train_name)
            if not _available(treg.spec, sources):
                raise ConfigError(f"--train-on {train_name}: give its data with --data-root {train_name}=DIR")
        train_data = data_entry(train_name)
        train_task = checks.open(registry.datasets.get(train_name).spec, train_data).task
        if train_task != task:
            raise ConfigError(f"--train-on {train_name}: its task {train_task} does not match {dspec.name}'s {task}")
        for mreg in models:
            if task not in mreg.spec.tasks:
                continue
            if mreg.spec.name in released:
                # eval-only cells: one per released checkpoint, whatever the seeds (nothing is trained)
                for weights in released[mreg.spec.name]:
                    cells.append(_make_cell(registry, dreg, train_name, mreg, 0, options, task, eval_data,
                                            train_data, checks, resolved[(mreg.spec.name, task)], precision,
                                            released=weights))
                continue
            for seed in options.seeds:
                cells.append(_make_cell(registry, dreg, train_name, mreg, seed, options, task, eval_data, train_data,
                                        checks, resolved[(mreg.spec.name, task)], precision))

    if not cells:
        raise ConfigError(_empty_plan_message(models, datasets, options))
    return cells


def _empty_plan_message(models: list[Registered], datasets: list[Registered], options: RunOptions) -> str:
    if not datasets:
        return "no dataset is available: give --data-root NAME=DIR or use an embedded dataset such as synth-la"
    if not models:
        return "no model is registered (check `benchsuite plugins` for plugins that failed to load)"
    pairs = ", ".join(f"{m.spec.name} ({'/'.join(str(t) for t in m.spec.tasks)})" for m in models)
    dsets = ", ".join(f"{d.spec.name} ({d.spec.task})" for d in datasets)
    metrics = f" with metrics {', '.join(options.metrics)}" if options.metrics else ""
    return f"no compatible (dataset, model) pair{metrics}: models {pairs}; datasets {dsets}"


def open_dataset(spec: DatasetSpec, entry: DataEntry) -> Dataset:
    """Open a dataset from a cell's ``runtime.data`` entry."""
    root = Path(entry.root) if entry.root else None
    if root is not None and not root.exists():
        raise ConfigError(f"data root for {spec.name!r} does not exist: {root}")
    return spec.open(root, dict(entry.options))


class _DatasetChecks:
    """Opens and validates each (dataset, options) once per plan, before any training."""

    def __init__(self, check_audio: bool):
        self.check_audio = check_audio
        self.opened: dict[str, Dataset] = {}
        self.fingerprints: dict[str, str] = {}
        self.audio: dict[str, dict[str, str]] = {}

    def open(self, spec: DatasetSpec, entry: DataEntry) -> Dataset:
        key = json.dumps([spec.name, entry.to_plain()], sort_keys=True, default=str)
        if key not in self.opened:
            dataset = open_dataset(spec, entry)
            dataset.validate(check_audio=self.check_audio)
            self.opened[key] = dataset
            self.fingerprints[key] = dataset.fingerprint()
        return self.opened[key]

    def fingerprint(self, spec: DatasetSpec, entry: DataEntry) -> str:
        self.open(spec, entry)
        return self.fingerprints[json.dumps([spec.name, entry.to_plain()], sort_keys=True, default=str)]

    def audio_fingerprint(self, spec: DatasetSpec, entry: DataEntry) -> dict[str, str]:
        """split -> the stat fingerprint of its audio files (see storage.reuse): outside the cell id,
        checked when a stored cell is reused, from the splits this plan has already parsed."""
        key = json.dumps([spec.name, entry.to_plain()], sort_keys=True, default=str)
        if key not in self.audio:
            dataset = self.open(spec, entry)
            self.audio[key] = {split: stat_fingerprint([str(u.path) for u in dataset.load_split(split).utterances])
                               for split in dataset.split_names()}
        return self.audio[key]


def _make_cell(registry: Registry, dreg: Registered, train_name: str, mreg: Registered, seed: int,
               options: RunOptions, task: Task, eval_data: DataEntry, train_data: DataEntry,
               checks: _DatasetChecks, model: ResolvedModel, precision: str,
               released: ReleasedWeights | None = None) -> Cell:
    dspec: DatasetSpec = dreg.spec
    mspec: ModelSpec = mreg.spec
    recipe, model_config = model.recipe, model.config
    treg = registry.datasets.get(train_name)
    identity = CellIdentity(
        task=task.value,
        dataset=dspec.name,
        dataset_options=dict(eval_data.options),
        dataset_fingerprint=checks.fingerprint(dspec, eval_data),
        train_dataset=train_name,
        train_dataset_options=dict(train_data.options),
        train_dataset_fingerprint=checks.fingerprint(treg.spec, train_data),
        model=mspec.name,
        model_config=without_added_defaults(model_config, to_plain(model_config)),
        recipe=without_added_defaults(recipe, to_plain(recipe)),
        seed=seed,
        profile=options.profile,
        precision=precision,
        init_from=options.init_from,
        plugins={"model": _plugin_tag(mreg), "dataset": _plugin_tag(dreg), "train_dataset": _plugin_tag(treg)},
        released=released.identity() if released is not None else None,
    )
    runtime = CellRuntime(
        device=options.device,
        data={dspec.name: eval_data, train_name: train_data},
        num_workers=options.num_workers,
        pin_memory=options.pin_memory,
        persistent_workers=options.persistent_workers,
        prefetch_factor=options.prefetch_factor,
        audio_cache=options.audio_cache,
        audio_cache_budget_gb=options.audio_cache_budget_gb,
        deterministic=options.deterministic,
        precision_requested=options.precision,
        command=options.command,
        released_path=str(released.path) if released is not None else None,
        audio_fingerprints={dspec.name: checks.audio_fingerprint(dspec, eval_data),
                            train_name: checks.audio_fingerprint(treg.spec, train_data)},
    )
    # beside the identity, not in it: a reworded reference must not orphan stored cells
    config = CellConfig(identity, runtime, fidelity=deviations_record(list(model.deviations)))
    return Cell(config.cell_id, config)


def describe(cells: list[Cell]) -> str:
    models = sorted({c.identity.model for c in cells})
    datasets = sorted({c.identity.dataset for c in cells})
    seeds = sorted({c.identity.seed for c in cells})
    return (f"{len(cells)} cell(s): {len(datasets)} dataset(s) [{', '.join(datasets)}] x {len(models)} model(s) "
            f"[{', '.join(models)}] x {len(seeds)} seed(s) {seeds}")


def out_path(options: RunOptions) -> Path:
    return Path(options.out)
