"""One output directory's cells, as files: the source of truth for every result.

Layout of an output directory::

    OUT/
      cells/<cell_id>/config.yaml      resolved cell config (what the hash covers + runtime)
      cells/<cell_id>/result.json      written last, atomically; its presence means "finished"
      cells/<cell_id>/scores.txt       eval scores in the task's official format
      cells/<cell_id>/dev_scores.txt   dev scores of the selected checkpoint
      cells/<cell_id>/train_log.csv    one row per epoch
      cells/<cell_id>/checkpoints/     last.pt (resume), best.pt (dev-selected)
      cells/<cell_id>/executor.json    which executor runs it where (read by `benchsuite status`)
      invocations/<time>.json          each `benchsuite run`: command, cells, versions

The SQLite index over these files belongs to :mod:`benchsuite.storage`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import yaml

from benchsuite.common.files import atomic_write_json, atomic_write_text

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
CONFIG_FILE = "config.yaml"
# Per cell, which executor runs it where (pool: host and pids; slurm: job id).
# Only `benchsuite status` reads it; results never depend on it.
EXECUTOR_RECORD = "executor.json"


class CellDirectories:
    """The cell directories under ``root/cells``: what a cell writes and an executor reads back."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.cells_dir = self.root / "cells"

    # ---------------------------------------------------------------- cells

    def cell_dir(self, cell_id: str) -> Path:
        return self.cells_dir / cell_id

    def result_path(self, cell_id: str) -> Path:
        return self.cell_dir(cell_id) / RESULT_FILE

    def read_result(self, cell_id: str) -> dict | None:
        """The cell's result, or None when the cell has not finished (no result.json)."""
        return _read_json(self.result_path(cell_id))

    def write_result(self, cell_id: str, result: dict) -> None:
        result = {"schema_version": SCHEMA_VERSION, "cell_id": cell_id, **result}
        atomic_write_json(self.result_path(cell_id), result)

    def write_config(self, cell_id: str, config: dict) -> None:
        atomic_write_text(self.cell_dir(cell_id) / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))

    def read_config(self, cell_id: str) -> dict | None:
        path = self.cell_dir(cell_id) / CONFIG_FILE
        if not path.exists():
            return None
        return yaml.safe_load(path.read_text())

    def cell_ids(self) -> list[str]:
        if not self.cells_dir.is_dir():
            return []
        return sorted(p.name for p in self.cells_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def results(self) -> list[dict]:
        """Every finished cell's result (done and failed), read from the cell directories."""
        out = []
        for cell_id in self.cell_ids():
            result = self.read_result(cell_id)
            if result is not None:
                out.append(result)
        return out

    def incomplete(self) -> list[dict]:
        """Cells that started (config written) but have no result: running, or killed."""
        out = []
        for cell_id in self.cell_ids():
            if not self.result_path(cell_id).exists():
                config = self.read_config(cell_id) or {}
                out.append({"cell_id": cell_id, "config": config})
        return out

    def write_executor_record(self, cell_id: str, record: dict[str, Any]) -> None:
        atomic_write_json(self.cell_dir(cell_id) / EXECUTOR_RECORD, record)

    def read_executor_record(self, cell_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.cell_dir(cell_id) / EXECUTOR_RECORD).read_text())
        except (FileNotFoundError, ValueError):
            return None

    # ---------------------------------------------------------------- invocations

    def record_invocation(self, record: dict) -> Path:
        stamp = record.get("start", "").replace(":", "").replace("-", "") or "unknown"
        path = self.root / "invocations" / f"{stamp}-{os.getpid()}.json"
        atomic_write_json(path, record)
        return path

    def invocations(self) -> Iterator[dict]:
        folder = self.root / "invocations"
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                data = _read_json(path)
                if data is not None:
                    yield data


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
