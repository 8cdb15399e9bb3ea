"""Hook specifications.  Every hook hands the plugin a ``register`` callback,
so one plugin can contribute any number of items and the core knows which
plugin contributed each (see :mod:`benchsuite.plugins.registry`)."""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("benchsuite")
hookimpl = pluggy.HookimplMarker("benchsuite")


@hookspec
def benchsuite_register_models(register):
    """Register models: ``register(ModelSpec(...))``."""


@hookspec
def benchsuite_register_datasets(register):
    """Register datasets: ``register(DatasetSpec(...))``."""


@hookspec
def benchsuite_register_metrics(register):
    """Register metrics: ``register(MetricSpec(...))``."""


@hookspec
def benchsuite_register_baselines(register):
    """Register published results: ``register(Baseline(...))``."""


@hookspec
def benchsuite_register_augmentations(register):
    """Register online augmentations: ``register(AugmentationSpec(...))``."""
