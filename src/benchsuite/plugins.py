"""Loads plugins: every entry point in the ``benchsuite`` group, built-in ones
included (they ship in this distribution but register exactly like a
third-party package).  ``BENCHSUITE_LOAD_PLUGINS=a,b`` limits loading to the
named entry points; an empty value loads none."""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from importlib import metadata

import pluggy

from . import hookspecs
from .api import ConfigError

ENTRY_POINT_GROUP = "benchsuite"
LOAD_PLUGINS_ENV = "BENCHSUITE_LOAD_PLUGINS"


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


pm = pluggy.PluginManager("benchsuite")
pm.add_hookspecs(hookspecs)

_loaded = False
_infos: dict[str, PluginInfo] = {}
_failures: list[PluginFailure] = []


def _selected_names() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_plugins(strict: bool = False) -> None:
    """Import every selected entry point once.  A plugin that fails to import
    is recorded (see :func:`plugin_failures`) and the others still load; with
    ``strict`` the first failure raises :class:`ConfigError`."""
    global _loaded
    if _loaded:
        if strict and _failures:
            raise ConfigError(_failure_message(_failures[0]))
        return
    _loaded = True
    selected = _selected_names()
    seen: set[str] = set()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen or (selected is not None and ep.name not in selected):
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the others down
            failure = PluginFailure(ep.name, dist_name, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            _failures.append(failure)
            if strict:
                raise ConfigError(_failure_message(failure)) from exc
            continue
        _infos[ep.name] = PluginInfo(ep.name, dist_name, version, ep.value)
    if selected:
        missing = selected - seen
        for name in sorted(missing):
            _failures.append(PluginFailure(name, None, f"no entry point named {name!r} in group {ENTRY_POINT_GROUP!r}", ""))
        if strict and missing:
            raise ConfigError(_failure_message(_failures[-1]))


def _failure_message(failure: PluginFailure) -> str:
    where = f" (from {failure.distribution})" if failure.distribution else ""
    return f"plugin {failure.name!r}{where} failed to load: {failure.error}"


def plugin_failures() -> list[PluginFailure]:
    return list(_failures)


def plugin_info(name: str) -> PluginInfo:
    """Who a registered plugin is; in-process registrations have no distribution."""
    if name in _infos:
        return _infos[name]
    plugin = pm.get_plugin(name)
    module = getattr(plugin, "__name__", type(plugin).__name__)
    return PluginInfo(name, None, None, module)


def failure_message(failure: PluginFailure) -> str:
    return _failure_message(failure)


def reset_for_tests() -> None:
    """Forget loaded entry points so a test can load them again under another environment."""
    global _loaded
    for name in list(_infos):
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
    _infos.clear()
    _failures.clear()
    _loaded = False
