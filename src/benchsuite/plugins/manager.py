"""Loads plugins: every entry point in the ``benchsuite`` group, built-in ones
included (they ship in this distribution but register exactly like a
third-party package).  ``BENCHSUITE_LOAD_PLUGINS=a,b`` limits loading to the
named entry points; an empty value loads none.  A command that needs some
kinds of item only (``benchsuite score`` needs metrics) asks for those
``kinds`` and the built-in plugins that register none of them are not
imported: model plugins import torch.

Each call of :func:`make_plugin_manager` makes a new plugin manager: there is no
module-level state, so a test or a notebook that changes the environment, or
registers a plugin object of its own, simply makes another one."""
from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import dataclass
from importlib import metadata
from typing import Iterable, Mapping

import pluggy

from benchsuite.contract import hookspecs
from benchsuite.contract import ConfigError

PROJECT = "benchsuite"
ENTRY_POINT_GROUP = "benchsuite"
LOAD_PLUGINS_ENV = "BENCHSUITE_LOAD_PLUGINS"
KINDS = ("models", "datasets", "metrics", "baselines", "augmentations")

# What each built-in entry point registers.  Plugins of other distributions are
# always loaded when kinds are asked for: what they register is known only once
# they are imported.  tests/test_core_plugins.py checks this table against the
# hooks each built-in module implements.
BUILTIN_DISTRIBUTION = "benchsuite"
_MODELS, _MODELS_BASELINES = frozenset({"models"}), frozenset({"models", "baselines"})
_DATASETS, _DATASETS_BASELINES = frozenset({"datasets"}), frozenset({"datasets", "baselines"})
BUILTIN_KINDS: dict[str, frozenset[str]] = {
    "aasist": _MODELS_BASELINES, "rawgat-st": _MODELS_BASELINES, "rawnet2": _MODELS, "lfcc-lcnn": _MODELS_BASELINES,
    "gmm": _MODELS, "ecapa-tdnn": _MODELS_BASELINES, "resnet": _MODELS_BASELINES, "xvector": _MODELS_BASELINES,
    "sincnet": _MODELS, "cnn-bilstm": _MODELS, "se-lcnn": _MODELS, "partialspoof": _DATASETS,
    "embedding-classifiers": _MODELS, "vggish": _MODELS, "ssl-systems": _MODELS_BASELINES,
    "synth": _DATASETS, "asvspoof": _DATASETS_BASELINES, "in-the-wild": _DATASETS, "voxceleb": _DATASETS,
    "kaldi": _DATASETS_BASELINES, "csv-manifest": _DATASETS,
    "augment": frozenset({"augmentations"}),
    "spoof-metrics": frozenset({"metrics"}), "verify-metrics": frozenset({"metrics"}),
    "classify-metrics": frozenset({"metrics"}),
}
# The built-in models' published numbers, importable without torch: when baselines but no
# models are asked for, this module's plugin for each model stands in for the model plugin.
BASELINES_WITHOUT_MODELS = "benchsuite_models._published"


@dataclass(frozen=True)
class PluginInfo:
    name: str  # entry-point name, or the name given to pm.register
    distribution: str | None  # None for plugins registered in-process
    version: str | None
    module: str

    def as_dict(self) -> dict:
        return {"name": self.name, "distribution": self.distribution, "version": self.version, "module": self.module}


@dataclass(frozen=True)
class PluginFailure:
    name: str
    distribution: str | None
    error: str  # "ExceptionType: message"
    detail: str  # the traceback, for --verbose


@dataclass
class LoadedPlugins:
    """A plugin manager with every plugin it loaded, and every plugin that failed to load."""

    manager: pluggy.PluginManager
    infos: dict[str, PluginInfo]
    failures: list[PluginFailure]

    def info(self, name: str) -> PluginInfo:
        """Who a registered plugin is; in-process registrations have no distribution."""
        if name in self.infos:
            return self.infos[name]
        plugin = self.manager.get_plugin(name)
        return PluginInfo(name, None, None, getattr(plugin, "__name__", type(plugin).__name__))


def _selected_names() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def torch_pair_problem() -> str | None:
    """Why the installed torch and torchaudio cannot load together, or None.

    torchaudio's compiled library links against one torch release: up to
    2.11.0 it needs the torch of its own major.minor version; 2.11.1 is built
    against a torch newer than 2.11.0 (it fails to load beside 2.11.0 with an
    undefined symbol).  Read from the installed metadata, without importing
    either."""
    try:
        torch_version = metadata.version("torch")
        audio_version = metadata.version("torchaudio")
    except metadata.PackageNotFoundError as exc:
        return f"{exc.name} is not installed: install benchsuite with `make install` or `pip install -e .`"
    torch_release = _release(torch_version)
    audio_release = _release(audio_version)
    if audio_release >= (2, 11, 1):
        fits = torch_release >= (2, 12)
    else:
        fits = torch_release[:2] == audio_release[:2]
    if fits:
        return None
    if torch_release >= (2, 12):
        wanted = "torch==2.11.0 torchaudio==2.11.0 (benchsuite supports torch 2.9 to 2.11)"
    elif torch_release[:2] == (2, 11):
        wanted = "torchaudio==2.11.0"
    else:
        wanted = f"torchaudio=={torch_release[0]}.{torch_release[1]}.*"
    return (f"torch {torch_version} with torchaudio {audio_version} cannot load together (torchaudio is built for "
            f"one torch release); install {wanted}, or run `make install`, which installs the tested pair pinned "
            f"in requirements/lock.txt")


def _release(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    return tuple(parts)


def make_plugin_manager(*, strict: bool = False, extra: Mapping[str, object] | None = None,
                        only: Iterable[str] | None = None, kinds: Iterable[str] | None = None) -> LoadedPlugins:
    """Import every selected entry point (``only`` those named, else as ``BENCHSUITE_LOAD_PLUGINS``
    says, else all; of the built-in ones only those registering one of ``kinds``, when given) and
    register it, then ``extra`` (name -> plugin object, registered in-process).  A plugin that fails to import, or whose hook
    implementations name no benchsuite hook (a misspelt hook would otherwise register
    nothing, silently), is recorded and the others still load; with ``strict`` any
    failure raises one :class:`ConfigError` that names them all."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(manager, {}, [])
    wanted = _checked_kinds(kinds)
    pair = torch_pair_problem() if wanted is None or "models" in wanted else None  # it breaks model plugins
    if pair is not None:  # named on its own, before the plugins it breaks
        loaded.failures.append(PluginFailure("torch/torchaudio", None, pair, ""))
    selected = set(only) if only is not None else _selected_names()
    seen: set[str] = set()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen or (selected is not None and ep.name not in selected):
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        provides = BUILTIN_KINDS.get(ep.name) if dist_name == BUILTIN_DISTRIBUTION else None
        if wanted is not None and provides is not None:
            if not provides & wanted:
                continue  # a built-in plugin that registers nothing of the kinds asked for
            if "models" in provides and "models" not in wanted:  # its published numbers only, without torch
                stand_in = importlib.import_module(BASELINES_WITHOUT_MODELS).baselines_plugin(ep.name)
                if _register_checked(loaded, stand_in, ep.name, dist_name):
                    loaded.infos[ep.name] = PluginInfo(ep.name, dist_name, version, ep.value)
                continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            error = f"{type(exc).__name__}: {exc}"
            if pair is not None and "torchaudio" in error:
                error = f"{error} (cause: the torch/torchaudio pair, see its line)"
            loaded.failures.append(PluginFailure(ep.name, dist_name, error, traceback.format_exc()))
            continue
        if _register_checked(loaded, module, ep.name, dist_name):
            loaded.infos[ep.name] = PluginInfo(ep.name, dist_name, version, ep.value)
    for name, plugin in (extra or {}).items():
        _register_checked(loaded, plugin, name, None)
    if selected:
        for name in sorted(selected - seen):
            loaded.failures.append(
                PluginFailure(name, None, f"no entry point named {name!r} in group {ENTRY_POINT_GROUP!r}", ""))
    if strict and loaded.failures:
        raise ConfigError(_strict_message(loaded.failures))
    return loaded


def _checked_kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    wanted = frozenset(kinds)
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise ValueError(f"unknown plugin kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    return wanted


def _register_checked(loaded: LoadedPlugins, plugin: object, name: str, distribution: str | None) -> bool:
    """Register ``plugin`` and check that each of its hook implementations names a hook."""
    try:
        loaded.manager.register(plugin, name=name)
        loaded.manager.check_pending()
    except (pluggy.PluginValidationError, ValueError) as exc:
        if loaded.manager.get_plugin(name) is not None:
            loaded.manager.unregister(name=name)
        known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("benchsuite_")))
        loaded.failures.append(PluginFailure(name, distribution, f"{type(exc).__name__}: {exc} (benchsuite's hooks: "
                                                                f"{known})", traceback.format_exc()))
        return False
    return True


def _strict_message(failures: list[PluginFailure]) -> str:
    if len(failures) == 1:
        return failure_message(failures[0])
    lines = "\n".join(f"  {failure_message(f)}" for f in failures)
    return f"{len(failures)} plugins failed to load:\n{lines}"


def failure_message(failure: PluginFailure) -> str:
    if failure.name == "torch/torchaudio":
        return failure.error
    where = f" (from {failure.distribution})" if failure.distribution else ""
    return f"plugin {failure.name!r}{where} failed to load: {failure.error}"
