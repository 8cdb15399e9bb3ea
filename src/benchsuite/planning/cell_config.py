"""The typed config of one cell: what its result depends on, and how to run it here.

- :class:`CellIdentity` is everything the result depends on.  Its JSON form
  (:meth:`CellIdentity.to_plain`) is hashed into the cell id, so its keys and
  values are exactly those that cells have always been stored with.
- :class:`CellRuntime` is how to run the cell on this machine (device, data
  roots, loader workers, executor); it never changes the id.

A cell crosses process and machine boundaries as this object (pickled to pool
and Slurm workers) and is stored as its plain form in ``config.yaml``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from benchsuite.contract import ConfigError

PLUGIN_ROLES = ("model", "dataset", "train_dataset")
_OMITTED_WHEN_NONE = ("released",)  # identity fields added later: left out while None, so ids stay


@dataclass(frozen=True)
class PluginTag:
    """Which plugin provided a model or dataset, and at which version."""

    name: str
    distribution: str | None
    version: str | None

    def to_plain(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version}


@dataclass(frozen=True)
class DataEntry:
    """Where one dataset's data lives and the options it is opened with."""

    root: str | None
    options: dict[str, Any] = field(default_factory=dict)

    def to_plain(self) -> dict[str, Any]:
        return {"root": self.root, "options": dict(self.options)}


@dataclass(frozen=True)
class CellIdentity:
    task: str
    dataset: str
    dataset_options: dict[str, Any]
    dataset_fingerprint: str
    train_dataset: str
    train_dataset_options: dict[str, Any]
    train_dataset_fingerprint: str
    model: str
    model_config: dict[str, Any]  # the model's config dataclass, in plain form
    recipe: dict[str, Any]  # the recipe, in plain form (see contract.recipe.without_added_defaults)
    seed: int
    profile: str
    precision: str
    init_from: str | None
    plugins: dict[str, PluginTag]
    # an eval-only cell of released weights: {"sha256": ..., "file": name}; absent (None) for every
    # trained cell, so their identities and ids are what they always were
    released: dict[str, str] | None = None

    def to_plain(self) -> dict[str, Any]:
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        plain["plugins"] = {role: tag.to_plain() for role, tag in self.plugins.items()}
        for name in _OMITTED_WHEN_NONE:
            if plain[name] is None:
                del plain[name]
        return plain

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> "CellIdentity":
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data and n not in _OMITTED_WHEN_NONE]
        if missing:
            raise ConfigError(f"cell identity: missing {', '.join(missing)} (not a config written by benchsuite)")
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"cell identity: unknown field(s) {', '.join(unknown)}")
        values = {n: data[n] for n in names if n in data}
        values["plugins"] = {role: PluginTag(**tag) for role, tag in data["plugins"].items()}
        return cls(**values)

    @property
    def cell_id(self) -> str:
        canonical = json.dumps(self.to_plain(), sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
        run = "released" if self.released is not None else f"s{self.seed}"
        readable = f"{self.dataset}.{self.model}.{self.profile}.{run}"
        # plugin-chosen names become a directory name: keep it to one safe path component
        readable = re.sub(r"[^A-Za-z0-9._+-]", "_", readable)
        return f"{readable}.{digest}"

    @property
    def label(self) -> str:
        run = f"released weights {self.released['file']}" if self.released is not None else f"seed{self.seed}"
        return f"{self.dataset}/{self.model}/{self.profile}/{run}"

    def plugin_tags(self) -> list[dict[str, Any]]:
        return [self.plugins[role].to_plain() for role in PLUGIN_ROLES]


@dataclass(frozen=True)
class CellRuntime:
    device: str = "auto"
    data: dict[str, DataEntry] = field(default_factory=dict)
    num_workers: int | str = 0  # "auto": from the cores and devices (training.loading)
    pin_memory: bool | None = None  # None: on when training on CUDA
    persistent_workers: bool = True
    prefetch_factor: int | None = None  # None: 4 on CUDA, torch's 2 elsewhere
    audio_cache: bool | None = False  # None: on when the split is lossless at the model's rate and fits the budget
    audio_cache_budget_gb: float | None = None
    deterministic: bool = True
    precision_requested: str | None = None  # what --precision asked for ("auto"); the identity has what it became
    command: str = ""
    # set by the executor that launches the cell in another process
    executor: str | None = None
    ddp: int | None = None
    threads: int | None = None
    gpus: list[int] | None = None
    # {dataset: {split: fingerprint}} of the audio (storage.reuse): checked on reuse, never hashed
    audio_fingerprints: dict[str, dict[str, str]] | None = None
    released_path: str | None = None  # where this machine has the released weights of an eval-only cell

    def to_plain(self) -> dict[str, Any]:
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        plain["data"] = {name: entry.to_plain() for name, entry in self.data.items()}
        # the launcher's fields appear only once an executor has set them, as they always have
        optional = ("executor", "ddp", "threads", "gpus", "audio_fingerprints", "released_path")
        return {k: v for k, v in plain.items() if k not in optional or v is not None}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> "CellRuntime":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"cell runtime: unknown field(s) {', '.join(unknown)}")
        values = dict(data)
        values["data"] = {name: DataEntry(entry.get("root"), dict(entry.get("options") or {}))
                          for name, entry in (data.get("data") or {}).items()}
        return cls(**values)


@dataclass(frozen=True)
class CellConfig:
    identity: CellIdentity
    runtime: CellRuntime
    # a swept cell's axis values ({"key", "values"}, planning.sweeps): beside the identity, never hashed
    sweep: dict[str, Any] | None = None
    # the recipe's deviations from the authors' code (planning.fidelity): documents the cell, never hashed
    fidelity: dict[str, Any] | None = None

    @property
    def cell_id(self) -> str:
        return self.identity.cell_id

    @property
    def label(self) -> str:
        return self.identity.label

    def with_runtime(self, **changes: Any) -> "CellConfig":
        return dataclasses.replace(self, runtime=dataclasses.replace(self.runtime, **changes))

    def with_sweep(self, sweep: dict[str, Any]) -> "CellConfig":
        return dataclasses.replace(self, sweep=sweep)

    def to_plain(self) -> dict[str, Any]:
        plain = {"identity": self.identity.to_plain(), "runtime": self.runtime.to_plain()}
        if self.sweep:
            plain["sweep"] = self.sweep
        if self.fidelity is not None:
            plain["fidelity"] = self.fidelity
        return plain

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> "CellConfig":
        if not isinstance(data, Mapping) or not isinstance(data.get("identity"), Mapping):
            raise ConfigError("cell config: expected a mapping with 'identity' and 'runtime'")
        return cls(CellIdentity.from_plain(data["identity"]), CellRuntime.from_plain(data.get("runtime") or {}),
                   data.get("sweep") or None, data.get("fidelity"))

    @classmethod
    def coerce(cls, config: "CellConfig | Mapping[str, Any]") -> "CellConfig":
        return config if isinstance(config, CellConfig) else cls.from_plain(config)
