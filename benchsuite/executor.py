"""Executors run cells.  A cell's only input is its resolved config and its only
output is its directory, so an executor may run cells in this process, in
worker processes or on a cluster; nothing is shared between cells."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

from .api import ConfigError
from .plan import Cell
from .progress import Progress


class Executor(ABC):
    name = ""

    @abstractmethod
    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        """Run every cell; return their results (failed cells included)."""


class LocalExecutor(Executor):
    """In-process, one cell after another."""

    name = "local"

    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        from .cell import run_cell

        return [run_cell(cell.config, out_root, progress=progress, position=i, total=len(cells))
                for i, cell in enumerate(cells, start=1)]


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor}


def make_executor(name: str, **options: Any) -> Executor:
    if name not in EXECUTORS:
        raise ConfigError(f"--executor {name!r}: expected one of {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](**options)
