"""The executors by name: ``--executor local|pool|slurm``."""
from __future__ import annotations

from typing import Any, Callable

from benchsuite.contract import ConfigError
from benchsuite.execution.base import Executor, LocalExecutor


def _pool_executor(**options: Any) -> Executor:
    from benchsuite.execution.pool import PoolExecutor

    return PoolExecutor(**options)


def _slurm_executor(**options: Any) -> Executor:
    # imported on use: submitit is an optional extra
    from benchsuite.execution.slurm import SlurmExecutor

    return SlurmExecutor(**options)


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor, "pool": _pool_executor,
                                                 "slurm": _slurm_executor}


def make_executor(name: str, **options: Any) -> Executor:
    if name not in EXECUTORS:
        raise ConfigError(f"--executor {name!r}: expected one of {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](**options)
