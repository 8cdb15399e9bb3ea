"""The registry: what the loaded plugins registered, and who registered it."""
from __future__ import annotations

import difflib
import traceback
from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, Iterator, Mapping, TypeVar

from benchsuite.contract import AugmentationSpec, Baseline, ConfigError, DatasetSpec, MetricSpec, ModelSpec, Task
from benchsuite.plugins.manager import LoadedPlugins, PluginFailure, PluginInfo, failure_message, make_plugin_manager

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    spec: T
    plugin: PluginInfo


@dataclass
class Kind(Generic[T]):
    """One namespace of registered items (models, datasets or metrics)."""

    noun: str
    items: dict[str, Registered[T]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)  # one line per name two plugins registered

    def add(self, spec: T, plugin: PluginInfo) -> None:
        name = spec.name  # type: ignore[attr-defined]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"plugin {plugin.name!r} registered a {self.noun} without a name")
        if name in self.items:
            # recorded, not raised here: `benchsuite plugins` lists it and every other command refuses
            self.conflicts.append(f"{self.noun} {name!r} is registered twice: by plugin {_who(self.items[name].plugin)}"
                                  f" and by plugin {_who(plugin)}")
            return
        self.items[name] = Registered(spec, plugin)

    def get(self, name: str) -> Registered[T]:
        if name not in self.items:
            raise ConfigError(unknown_name_message(self.noun, name, list(self.items)))
        return self.items[name]

    def __iter__(self) -> Iterator[Registered[T]]:
        return iter(sorted(self.items.values(), key=lambda r: r.spec.name))  # type: ignore[attr-defined]

    def in_registration_order(self) -> list[Registered[T]]:
        """Plugins load sorted by name and register in their own order (iteration sorts by item name)."""
        return list(self.items.values())

    def __contains__(self, name: object) -> bool:
        return name in self.items

    def names(self) -> list[str]:
        return sorted(self.items)


def _who(plugin: PluginInfo) -> str:
    if plugin.distribution:
        return f"{plugin.name!r} ({plugin.distribution} {plugin.version})"
    return f"{plugin.name!r}"


def did_you_mean(name: str, known: list[str], cutoff: float = 0.5) -> str:
    """" Did you mean 'x'?" for the closest known name, or "" when none is close."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_name_message(noun: str, name: str, known: list[str]) -> str:
    hint = did_you_mean(name, known)
    listing = ", ".join(sorted(known)) if known else "none registered"
    return f"unknown {noun} {name!r}.{hint} Known {noun}s: {listing}"


@dataclass
class Registry:
    models: Kind[ModelSpec] = field(default_factory=lambda: Kind("model"))
    datasets: Kind[DatasetSpec] = field(default_factory=lambda: Kind("dataset"))
    metrics: Kind[MetricSpec] = field(default_factory=lambda: Kind("metric"))
    augmentations: Kind[AugmentationSpec] = field(default_factory=lambda: Kind("augmentation"))
    baselines: list[Registered[Baseline]] = field(default_factory=list)
    loaded: LoadedPlugins | None = None  # the plugin manager the items came from

    hook_failures: list[PluginFailure] = field(default_factory=list)  # plugins whose hook raised

    @property
    def failures(self) -> list[PluginFailure]:
        """Plugins that failed to load or whose hook raised (the registry holds what the others
        registered)."""
        return (list(self.loaded.failures) if self.loaded is not None else []) + self.hook_failures

    @property
    def conflicts(self) -> list[str]:
        """Names registered by two plugins, one line each naming both."""
        return [line for kind in (self.models, self.datasets, self.metrics, self.augmentations)
                for line in kind.conflicts]

    def refuse_conflicts(self) -> None:
        """Raise one ConfigError naming every name two plugins registered (which of the two is
        meant cannot be guessed); ``benchsuite plugins`` lists them instead."""
        if self.conflicts:
            raise ConfigError("; ".join(self.conflicts) + ". Uninstall one of the plugins, or load only the "
                              "ones you want with BENCHSUITE_LOAD_PLUGINS=a,b (see `benchsuite plugins`)")

    def metrics_for(self, task: Task) -> list[Registered[MetricSpec]]:
        """A plugin registers its headline metric first, and the report's columns follow this order."""
        return [m for m in self.metrics.in_registration_order() if m.spec.task == task]

    def baselines_for(self, dataset: str) -> list[Registered[Baseline]]:
        return [b for b in self.baselines if b.spec.dataset == dataset]

    def plugins(self) -> list[dict[str, Any]]:
        """Every plugin with what it registered, for ``benchsuite plugins``."""
        by_plugin: dict[str, dict[str, Any]] = {}
        manager = self.loaded.manager if self.loaded is not None else None
        for name, _plugin in (manager.list_name_plugin() if manager is not None else []):
            info = self.loaded.info(name)
            by_plugin[name] = {**info.as_dict(), "models": [], "datasets": [], "metrics": [], "augmentations": [],
                               "baselines": 0, "hooks": sorted(h.name for h in manager.get_hookcallers(_plugin) or [])}
        for kind, key in ((self.models, "models"), (self.datasets, "datasets"), (self.metrics, "metrics"),
                          (self.augmentations, "augmentations")):
            for item in kind:
                by_plugin[item.plugin.name][key].append(item.spec.name)
        for b in self.baselines:
            by_plugin[b.plugin.name]["baselines"] += 1
        return [by_plugin[k] for k in sorted(by_plugin)]


_KINDS = {
    "benchsuite_register_models": ("models", ModelSpec),
    "benchsuite_register_datasets": ("datasets", DatasetSpec),
    "benchsuite_register_metrics": ("metrics", MetricSpec),
    "benchsuite_register_baselines": ("baselines", Baseline),
    "benchsuite_register_augmentations": ("augmentations", AugmentationSpec),
}


def build_registry(strict: bool = False, extra: Mapping[str, object] | None = None,
                   only: Iterable[str] | None = None, kinds: Iterable[str] | None = None,
                   allow_conflicts: bool = False) -> Registry:
    """Load the plugins of this environment (``only`` the named entry points, when given; and
    ``extra``: name -> plugin object) into a new plugin manager and collect their
    registrations.  Each hook implementation is called on its own, so every item records
    the plugin that registered it.  A plugin whose hook raises (or registers the wrong type)
    is a failure like one that does not import: none of its items are registered, it is
    listed in :attr:`Registry.failures`, and ``strict`` makes it an error.  A name two plugins
    register is an error unless ``allow_conflicts`` (``benchsuite plugins`` reports it).  With
    ``kinds``, built-in plugins that register none of them are left out (see ``plugins.manager``)."""
    loaded = make_plugin_manager(strict=strict, extra=extra, only=only, kinds=kinds)
    registry = Registry(loaded=loaded)
    # each hook's registrations per plugin, in order, committed once every hook has run
    pending: list[tuple[str, PluginInfo, list[Any]]] = []
    failed: set[str] = set()
    for hook_name, (attr, expected) in _KINDS.items():
        caller = getattr(loaded.manager.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):  # registration order
            plugin = loaded.info(impl.plugin_name)
            if plugin.name in failed:
                continue
            items: list[Any] = []

            def register(item: Any, _plugin: PluginInfo = plugin, _expected: type = expected,
                         _items: list = items) -> None:
                if not isinstance(item, _expected):
                    raise ConfigError(
                        f"plugin {_plugin.name!r} passed a {type(item).__name__} to register in "
                        f"{hook_name}; expected {_expected.__name__}"
                    )
                _items.append(item)

            try:
                impl.function(register=register)
            except Exception as exc:  # a broken plugin must not take the others (or the CLI) down
                failed.add(plugin.name)
                registry.hook_failures.append(PluginFailure(
                    plugin.name, plugin.distribution, f"hook {hook_name} raised {type(exc).__name__}: {exc}",
                    traceback.format_exc()))
                continue
            pending.append((attr, plugin, items))
    for attr, plugin, items in pending:
        if plugin.name in failed:
            continue
        for item in items:
            if attr == "baselines":
                registry.baselines.append(Registered(item, plugin))
            else:
                getattr(registry, attr).add(item, plugin)
    if strict and registry.hook_failures:
        raise ConfigError("; ".join(failure_message(f) for f in registry.hook_failures))
    if not allow_conflicts:
        registry.refuse_conflicts()
    return registry


def get_registry(strict: bool = False, kinds: Iterable[str] | None = None, allow_conflicts: bool = False) -> Registry:
    """The registry of this environment's plugins, loaded afresh (importing a plugin
    module twice costs nothing: Python keeps it); with ``kinds`` (e.g. ``("metrics",)``),
    built-in plugins that register none of them are left out (see ``plugins.manager``)."""
    return build_registry(strict=strict, kinds=kinds, allow_conflicts=allow_conflicts)
