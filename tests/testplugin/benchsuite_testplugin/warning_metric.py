"""A spoof metric that always warns, so a test can watch a metric warning travel
through a cell (one progress line, a stored note) whatever the model learned."""
from __future__ import annotations

import warnings

from benchsuite.api import MetricOutput, MetricSpec, MetricValueInfo, Task
from benchsuite.contract.hookspecs import hookimpl

PROBE = "warning probe: this metric always warns"


def compute(scores, options) -> MetricOutput:
    warnings.warn(PROBE, UserWarning, stacklevel=2)
    return MetricOutput(values={"trials": float(len(scores.scores))})


@hookimpl
def benchsuite_register_metrics(register):
    register(MetricSpec(name="warning-probe", task=Task.SPOOF, compute=compute,
                        outputs=(MetricValueInfo(key="trials", label="trials"),),
                        description="counts the trials and always warns (test plugin)"))
