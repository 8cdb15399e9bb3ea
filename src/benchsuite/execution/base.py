"""Executors run cells.  A cell's only input is its resolved config and its only
output is its directory, so an executor may run cells in this process, in
worker processes or on a cluster; nothing is shared between cells."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

from benchsuite.api import ConfigError
from benchsuite.planning.plan import Cell
from benchsuite.common.progress import Progress


class Executor(ABC):
    name = ""

    @abstractmethod
    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        """Run every cell; return their results (failed cells included)."""


class LocalExecutor(Executor):
    """In-process, one cell after another, with the registry the plan was built from."""

    name = "local"

    def __init__(self, registry: Any = None):
        self.registry = registry

    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        from benchsuite.cell.run import run_cell

        return [run_cell(cell.config, out_root, progress=progress, position=i, total=len(cells),
                         registry=self.registry)
                for i, cell in enumerate(cells, start=1)]


def _pool_executor(**options: Any) -> Executor:
    from benchsuite.execution.pool import PoolExecutor

    return PoolExecutor(**options)


def _slurm_executor(**options: Any) -> Executor:
    # imported on use: submitit is an optional extra
    from benchsuite.execution.slurm import SlurmExecutor

    return SlurmExecutor(**options)


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor, "pool": _pool_executor,
                                                 "slurm": _slurm_executor}

# Per cell, which executor runs it where (pool: host and pids; slurm: job id).
# Only `benchsuite status` reads it; results never depend on it.
EXECUTOR_RECORD = "executor.json"


def write_executor_record(out_root: Path, cell_id: str, record: dict[str, Any]) -> None:
    from benchsuite.storage.store import ResultsStore, atomic_write_json

    atomic_write_json(ResultsStore(out_root).cell_dir(cell_id) / EXECUTOR_RECORD, record)


def read_executor_record(out_root: Path, cell_id: str) -> dict[str, Any] | None:
    import json

    from benchsuite.storage.store import ResultsStore

    try:
        return json.loads((ResultsStore(out_root).cell_dir(cell_id) / EXECUTOR_RECORD).read_text())
    except (FileNotFoundError, ValueError):
        return None


def record_lost_cell(config: dict[str, Any], out_root: Path, error_type: str, message: str, *, start: str,
                     wall_seconds: float) -> dict[str, Any]:
    """Store a failed result for a cell whose process died before writing one
    (killed, out of memory, a cluster job lost); the next run resumes it from
    its last checkpoint."""
    from benchsuite.cell.run import describe_identity
    from benchsuite.planning.plan import cell_id_for
    from benchsuite.common.provenance import command_line, now_iso, provenance
    from benchsuite.storage.store import ResultsStore

    identity = config["identity"]
    cell_id = cell_id_for(identity)
    result = {
        "status": "failed",
        "error": {"type": error_type, "message": message, "traceback": ""},
        **describe_identity(identity),
        "metrics": {}, "metric_info": {}, "breakdown": {}, "notes": {}, "extra": {},
        "provenance": provenance(
            config["runtime"].get("device", "unknown"), start, now_iso(), wall_seconds, None,
            config["runtime"].get("command") or command_line(),
            [identity["plugins"][k] for k in ("model", "dataset", "train_dataset")], identity.get("precision", "fp32"),
        ),
    }
    ResultsStore(out_root).write_result(cell_id, result)
    return {"schema_version": 1, "cell_id": cell_id, **result}


def make_executor(name: str, **options: Any) -> Executor:
    if name not in EXECUTORS:
        raise ConfigError(f"--executor {name!r}: expected one of {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](**options)
