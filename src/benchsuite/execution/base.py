"""Executors run cells.  A cell's only input is its resolved config and its only
output is its directory, so an executor may run cells in this process, in
worker processes or on a cluster; nothing is shared between cells."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from benchsuite.planning.cell_config import CellConfig
from benchsuite.planning.plan import Cell
from benchsuite.cell.directory import CellDirectories
from benchsuite.cell.results import failed_result
from benchsuite.common.progress import Progress


class Executor(ABC):
    name = ""

    @abstractmethod
    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        """Run every cell; return their results (failed cells included)."""

    def check_device(self, device: str) -> None:
        """Refuse, before any cell runs, a ``--device`` the cells could not get here (CUDA on a
        machine without it), instead of storing every cell as failed."""
        if device.startswith("cuda"):
            from benchsuite.training.device import resolve_device

            resolve_device(device)


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


def write_executor_record(out_root: Path, cell_id: str, record: dict[str, Any]) -> None:
    CellDirectories(out_root).write_executor_record(cell_id, record)


def read_executor_record(out_root: Path, cell_id: str) -> dict[str, Any] | None:
    return CellDirectories(out_root).read_executor_record(cell_id)


def record_lost_cell(config: CellConfig, out_root: Path, error_type: str, message: str, *, start: str,
                     wall_seconds: float) -> dict[str, Any]:
    """Store a failed result for a cell whose process died before writing one
    (killed, out of memory, a cluster job lost); the next run resumes it from
    its last checkpoint."""
    from benchsuite.common.provenance import command_line, now_iso, provenance

    identity, cell_id = config.identity, config.cell_id
    result = {
        **failed_result(identity, error_type, message),
        "provenance": provenance(
            config.runtime.device, start, now_iso(), wall_seconds, None,
            config.runtime.command or command_line(), identity.plugin_tags(), identity.precision,
        ),
    }
    CellDirectories(out_root).write_result(cell_id, result)
    return {"schema_version": 1, "cell_id": cell_id, **result}
