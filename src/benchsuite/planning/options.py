"""Run options, ``--set`` overrides, config files and where data lives.

Everything here is plain data: the plan turns it into cells, and a cell's
resolved config is a dict that survives YAML, pickling and other machines.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from benchsuite.contract import PROFILES, ConfigError, Recipe
from benchsuite.plugins.registry import did_you_mean

DATA_ENV_PREFIX = "BENCHSUITE_DATA_"
DEVICES_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")
PRECISIONS = ("fp32", "bf16", "fp16")
# "auto" resolves to one of PRECISIONS when the plan is made (planning/hardware.py), so a cell's
# identity always names the precision it trained in.
PRECISION_CHOICES = ("auto", *PRECISIONS)
# The decoded-audio cache of one split is built by default when it needs at most this much disk.
DEFAULT_AUDIO_CACHE_BUDGET_GB = 64.0


@dataclass
class DataSource:
    root: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOptions:
    """Everything ``benchsuite run`` was asked for, after merging the config file."""

    models: list[str] | None = None
    datasets: list[str] | None = None
    metrics: list[str] | None = None
    seeds: list[int] = field(default_factory=lambda: [1])
    profile: str = "paper"
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 on a CUDA device that has bf16 tensor cores, else fp32
    out: Path = Path("runs")
    overrides: list[str] = field(default_factory=list)  # "model.aasist.epochs=3", ...
    data: dict[str, DataSource] = field(default_factory=dict)
    train_on: str | None = None
    init_from: str | None = None
    checkpoints: list[str] = field(default_factory=list)  # "MODEL=PATH": eval-only cells of released weights
    num_workers: int | str = "auto"  # auto: 0 on CPU; on CUDA from the cores each cell gets (training/loading.py)
    pin_memory: bool | None = None  # None = on when training on CUDA
    persistent_workers: bool = True
    prefetch_factor: int | None = None  # batches each worker keeps ready; None = 4 on CUDA, torch's 2 elsewhere
    audio_cache: bool | None = None  # None = on when the split is 16-bit audio at the model's rate and fits the budget
    audio_cache_budget_gb: float = DEFAULT_AUDIO_CACHE_BUDGET_GB
    deterministic: bool = True  # deterministic kernels (cudnn.benchmark off); False trades bit-identity for speed
    render_report: bool = True
    report_dir: Path = Path("reports")
    command: str = ""
    sweep: Any = None  # planning.sweeps.SweepSpec: --sweep axes and the config's sweep: section

    def validate(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(f"--profile {self.profile!r}: expected one of {', '.join(PROFILES)}")
        if not DEVICES_RE.match(self.device):
            raise ConfigError(f"--device {self.device!r}: expected auto, cpu, cuda or cuda:N")
        if self.precision not in PRECISION_CHOICES:
            raise ConfigError(f"--precision {self.precision!r}: expected one of {', '.join(PRECISION_CHOICES)}")
        if not self.seeds:
            raise ConfigError("no seeds: give --seeds N (N >= 1) or --seed-list 1,2,3")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"--seed-list has repeated seeds: {self.seeds}")
        self.num_workers = parse_num_workers(self.num_workers)
        if self.prefetch_factor is not None and (isinstance(self.prefetch_factor, bool)
                                                 or not isinstance(self.prefetch_factor, int)
                                                 or self.prefetch_factor < 1):
            raise ConfigError(f"--prefetch {self.prefetch_factor!r}: expected a whole number of batches >= 1")
        if not isinstance(self.audio_cache_budget_gb, (int, float)) or not self.audio_cache_budget_gb >= 0:
            raise ConfigError(f"--audio-cache-budget {self.audio_cache_budget_gb!r}: expected gigabytes >= 0")


def parse_num_workers(value: Any) -> int | str:
    """``auto`` or a whole number >= 0 (from the CLI, a config file or a stored cell)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or (isinstance(value, float) and number != value):
        raise ConfigError(f"--num-workers {value!r}: expected auto or a whole number >= 0")
    return number


def parse_name_list(value: str | None, option: str) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ConfigError(f"{option} is empty; give comma-separated names")
    return names


def parse_seed_list(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"--seed-list {value!r}: expected comma-separated integers, e.g. 1,10,100") from exc


def parse_data_root(value: str) -> tuple[str, Path]:
    if "=" not in value:
        raise ConfigError(f"--data-root {value!r}: expected NAME=DIR, e.g. asvspoof2019-la=/data/LA")
    name, root = value.split("=", 1)
    if not name or not root:
        raise ConfigError(f"--data-root {value!r}: expected NAME=DIR")
    return name.strip(), Path(root).expanduser()


def env_data_roots(environ: Mapping[str, str] | None = None) -> dict[str, Path]:
    """``BENCHSUITE_DATA_ASVSPOOF2019_LA=/data/LA`` -> ``{"asvspoof2019_la": Path}``;
    names are matched to datasets with '-' and '_' treated alike."""
    environ = os.environ if environ is None else environ
    out = {}
    for key, value in environ.items():
        if key.startswith(DATA_ENV_PREFIX) and value:
            out[key[len(DATA_ENV_PREFIX):].lower()] = Path(value).expanduser()
    return out


def env_key(dataset: str) -> str:
    return dataset.replace("-", "_").lower()


def load_config_file(path: Path) -> dict[str, Any]:
    """A YAML file whose keys mirror the ``benchsuite run`` options (``--data-root`` is
    ``data_root:``, ``--datasets`` is ``select_datasets:``, ``--set`` is ``set:``), checked
    here key by key so that a wrong value is refused naming the file and the key::

        models: [aasist-l, lfcc-lcnn]      # or "aasist-l,lfcc-lcnn", like --models
        seeds: 3                           # or seed_list: [1, 10, 100]
        profile: quick
        set: {model.aasist-l.epochs: 2}    # or a list of KEY=VALUE strings, like repeated --set
        data_root:                         # or a list of NAME=DIR strings, like repeated --data-root
          asvspoof2019-la: /data/LA
          asvspoof2021-la: {root: /data/ASVspoof2021, options: {subset: progress}}
        select_datasets: [asvspoof2019-la]   # optional, like --datasets
        checkpoints: {aasist: /w/AASIST.pth}  # optional, like --checkpoint (a list of MODEL=PATH too)

    ``datasets:`` (the older name of ``data_root:``) is still read; see docs/config.md.
    The result has ``set`` as a mapping and every data root under ``datasets``."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--config {path}: is a directory; expected a YAML file of options")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"--config {path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot be read as text ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: not valid YAML ({exc})") from exc
    if data is None:
        # an empty file would otherwise run the whole default matrix: almost never what was meant
        raise ConfigError(f"--config {path}: the file holds no options; expected a mapping such as "
                          f"'models: [lfcc-lcnn]' and 'profile: quick' (see docs/config.md)")
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of options at the top level, found "
                          f"{type(data).__name__}")
    unknown = sorted(str(k) for k in set(data) - set(CONFIG_KEYS))
    if unknown:
        hints = "".join(did_you_mean(k, sorted(CONFIG_KEYS), cutoff=0.6) for k in unknown[:1])
        raise ConfigError(f"--config {path}: unknown key(s) {', '.join(unknown)}.{hints} Known keys: "
                          f"{', '.join(sorted(CONFIG_KEYS))}")
    for key, value in data.items():
        expected = CONFIG_KEYS[key](value)
        if expected is not None:
            raise ConfigError(f"--config {path}: {key}: {value!r}; expected {expected}")
    checked = dict(data)
    for key in ("models", "select_datasets", "metrics"):
        if isinstance(checked.get(key), str):
            checked[key] = parse_name_list(checked[key], f"--config {path}: {key}")
    if isinstance(checked.get("set"), list):
        checked["set"] = dict(item.split("=", 1) for item in checked["set"])
    roots = _config_roots(checked.pop("data_root", None))
    if roots:
        older = checked.get("datasets") or {}
        both = sorted(set(roots) & set(older))
        if both:
            raise ConfigError(f"--config {path}: {', '.join(both)} appear(s) under both data_root and datasets "
                              f"(the older name of data_root); keep one")
        checked["datasets"] = {**older, **roots}
    return checked


def _config_roots(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {name: str(root) for name, root in (parse_data_root(item) for item in value)}
    return dict(value or {})


def _names(value: Any) -> str | None:
    ok = (isinstance(value, str) and value.strip()) or (
        isinstance(value, list) and value and all(isinstance(v, str) and v for v in value))
    return None if ok else "a list of names, e.g. [lfcc-lcnn, aasist-l], or a comma-separated string"


def _positive_int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else "an integer >= 1"


def _seed_list(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return None if ok else "a list of integers, e.g. [1, 10, 100]"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) or value is None else "true or false"


def _workers(value: Any) -> str | None:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return None
    return "auto or an integer >= 0"


def _prefetch(value: Any) -> str | None:
    return None if value is None or _positive_int(value) is None else "an integer >= 1 (batches per worker)"


def _gigabytes(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    return None if ok else "a number of gigabytes >= 0"


def _key_values(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return None
    if isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
        return None
    return "a mapping of KEY: VALUE (e.g. {model.lfcc-lcnn.epochs: 2}) or a list of KEY=VALUE strings"


def _roots(value: Any) -> str | None:
    if isinstance(value, dict) or value is None:
        return None  # each entry is checked by data_sources_from_config
    if isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
        return None
    return "a mapping of dataset name to a directory or {root, options}, or a list of NAME=DIR strings"


def _older_roots(value: Any) -> str | None:
    if isinstance(value, list):
        return ("a mapping of dataset name to its data root ('datasets:' says where data lives, like --data-root; "
                "to choose datasets as --datasets does, use select_datasets: [...])")
    return _roots(value)


# each key of a --config file, mirroring the `benchsuite run` flag of the same name, and its check
def _sweep_section(value: Any) -> str | None:
    # the axes and combinations themselves are checked by planning.sweeps, like --sweep
    return None if isinstance(value, dict) else "a mapping of axes (KEY: [values]) or axes: plus combinations:"


def _checkpoints(value: Any) -> str | None:
    # the MODEL=PATH entries themselves are checked by planning.released, like --checkpoint
    ok = isinstance(value, dict) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    return None if ok else "a mapping MODEL: PATH or a list of MODEL=PATH"


CONFIG_KEYS: dict[str, Any] = {
    "models": _names, "select_datasets": _names, "metrics": _names, "seeds": _positive_int, "seed_list": _seed_list,
    "profile": _text, "device": _text, "precision": _text, "out": _text, "report_dir": _text, "set": _key_values,
    "data_root": _roots, "datasets": _older_roots, "train_on": _text, "num_workers": _workers, "pin_memory": _flag,
    "audio_cache": _flag, "sweep": _sweep_section, "persistent_workers": _flag, "prefetch": _prefetch,
    "audio_cache_budget_gb": _gigabytes, "deterministic": _flag, "checkpoints": _checkpoints,
}


def data_sources_from_config(section: Any, path: Path) -> dict[str, DataSource]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"--config {path}: 'datasets' must map dataset names to a directory or {{root, options}}")
    out = {}
    for name, value in section.items():
        if isinstance(value, str):
            out[name] = DataSource(Path(value).expanduser())
        elif isinstance(value, dict):
            extra = set(value) - {"root", "options"}
            if extra:
                raise ConfigError(f"--config {path}: datasets.{name}: unknown key(s) {', '.join(sorted(extra))}")
            root = value.get("root")
            options = value.get("options") or {}
            if not isinstance(options, dict):
                raise ConfigError(f"--config {path}: datasets.{name}.options must be a mapping")
            out[name] = DataSource(Path(root).expanduser() if root else None, dict(options))
        else:
            raise ConfigError(f"--config {path}: datasets.{name}: expected a directory or {{root, options}}")
    return out


# --------------------------------------------------------------------------- --set


@dataclass(frozen=True)
class Override:
    scope: str  # "model" | "dataset" | "recipe"
    target: str  # model/dataset name or "*"
    key: str
    value: Any
    text: str
    option: str = "--set"  # the option that gave it, for messages ("--sweep" for a sweep axis value)

    @property
    def where(self) -> str:
        return f"{self.option} {self.text}"


def parse_override(text: str) -> Override:
    """``model.aasist.epochs=3``, ``model.*.epochs=1``, ``recipe.epochs=1`` (all
    models), ``dataset.asvspoof2021-la.subset=progress``.  Values are YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. model.aasist.epochs=3")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: cannot parse value {raw!r}") from exc
    if parts[0] == "recipe" and len(parts) == 2:
        return Override("model", "*", parts[1], value, text)
    if parts[0] in ("model", "dataset") and len(parts) == 3 and all(parts):
        return Override(parts[0], parts[1], parts[2], value, text)
    raise ConfigError(
        f"--set {text!r}: expected model.<name>.<field>=V, model.*.<field>=V, recipe.<field>=V or "
        f"dataset.<name>.<option>=V"
    )


def _yaml_11_number(text: str) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; researchers write learning rates that way."""
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _coerce(value: Any, current: Any, where: str) -> Any:
    """Convert a YAML value to the type of the field it replaces."""
    if current is None or value is None:
        return value
    if isinstance(value, str) and isinstance(current, (int, float)) and not isinstance(current, bool):
        value = _yaml_11_number(value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if isinstance(current, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(value)
    if isinstance(current, str) and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _as_tuple_field(value: Any, item: dataclasses.Field) -> Any:
    """A YAML list for a tuple field whose current value is None (``margin_ramp_epochs=[1, 5]``)."""
    return tuple(value) if isinstance(value, list) and "tuple[" in str(item.type) else value


def apply_model_overrides(model_name: str, recipe: Recipe, config: Any, overrides: list[Override]) -> tuple[Recipe, Any]:
    """Route each override to the recipe (a Recipe field) or the model config
    (a field of the model's config dataclass); anything else is an error."""
    recipe_fields = {f.name: f for f in dataclasses.fields(Recipe) if f.metadata.get("identity") != "never"}
    config_fields = {f.name: f for f in dataclasses.fields(config)} if dataclasses.is_dataclass(config) else {}
    recipe_changes: dict[str, Any] = {}
    config_changes: dict[str, Any] = {}
    for ov in overrides:
        if ov.scope != "model" or ov.target not in ("*", model_name):
            continue
        if ov.key in recipe_fields:
            recipe_changes[ov.key] = _as_tuple_field(_coerce(ov.value, getattr(recipe, ov.key), ov.where),
                                                     recipe_fields[ov.key])
        elif ov.key in config_fields:
            config_changes[ov.key] = _as_tuple_field(_coerce(ov.value, getattr(config, ov.key), ov.where),
                                                     config_fields[ov.key])
        elif ov.target != "*":
            known = sorted(set(recipe_fields) | set(config_fields))
            hint = did_you_mean(ov.key, known, cutoff=0.6)
            raise ConfigError(f"{ov.where}: model {model_name!r} has no recipe or config field {ov.key!r}.{hint} "
                              f"Known fields: {', '.join(known)}")
        else:
            continue  # wildcard keys apply only to models that have the field
    if recipe_changes:
        recipe = dataclasses.replace(recipe, **recipe_changes)
    if config_changes:
        config = dataclasses.replace(config, **config_changes)
    return recipe, config


def dataset_overrides(dataset_name: str, overrides: list[Override]) -> dict[str, Any]:
    return {ov.key: ov.value for ov in overrides if ov.scope == "dataset" and ov.target in ("*", dataset_name)}


def to_plain(obj: Any) -> Any:
    """Dataclasses, tuples, paths and enums -> YAML/JSON-safe structures."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "value") and isinstance(getattr(obj, "value"), str) and not isinstance(obj, str):
        return obj.value
    return obj


def _shaped_like(default: Any, value: Any) -> Any:
    """Lists read back from YAML become tuples again where the default is a tuple."""
    if isinstance(default, tuple) and isinstance(value, list):
        if default:
            return tuple(_shaped_like(default[min(i, len(default) - 1)], v) for i, v in enumerate(value))
        return tuple(value)
    return value


def _from_plain(cls: type, data: Mapping[str, Any], what: str) -> Any:
    defaults = cls()
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in types:
            raise ConfigError(f"unknown {what} field {key!r} in a stored cell config")
        default = getattr(defaults, key)
        if default is None and isinstance(value, list) and types[key].startswith("tuple"):
            default = ()  # an optional tuple field whose default is None
        kwargs[key] = _shaped_like(default, value)
    return cls(**kwargs)


def recipe_from_plain(data: Mapping[str, Any]) -> Recipe:
    return _from_plain(Recipe, data, "recipe")


def config_from_plain(config_class: type, data: Mapping[str, Any]) -> Any:
    return _from_plain(config_class, data, config_class.__name__)
