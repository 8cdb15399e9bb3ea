"""The results store: one directory per cell (the source of truth) and an
SQLite index over them that can always be rebuilt.

Layout of an output directory::

    OUT/
      cells/<cell_id>/config.yaml      resolved cell config (what the hash covers + runtime)
      cells/<cell_id>/result.json      written last, atomically; its presence means "finished"
      cells/<cell_id>/scores.txt       eval scores in the task's official format
      cells/<cell_id>/dev_scores.txt   dev scores of the selected checkpoint
      cells/<cell_id>/train_log.csv    one row per epoch
      cells/<cell_id>/checkpoints/     last.pt (resume), best.pt (dev-selected)
      invocations/<time>.json          each `benchsuite run`: command, cells, versions
      runs.sqlite                      index; rebuilt when missing or stale
"""
from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
CONFIG_FILE = "config.yaml"
INDEX_FILE = "runs.sqlite"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename, so a
    reader never sees a half-written file and a crash leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "value") and isinstance(getattr(obj, "value"), str):  # enums
        return obj.value
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


class ResultsStore:
    """Cell directories under ``root/cells`` plus the ``runs.sqlite`` index."""

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
        try:
            self._index_one(self.cell_dir(cell_id), result)
        except sqlite3.Error:
            # e.g. SQLite on a cluster's shared filesystem: the cell directory is the source
            # of truth and a stale index is rebuilt from it on the next read
            pass

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

    # ---------------------------------------------------------------- index

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_FILE

    def _connect(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.index_path, timeout=30)
        conn.execute(
            """CREATE TABLE IF NOT EXISTS cells (
                cell_id TEXT PRIMARY KEY, status TEXT, task TEXT, dataset TEXT, train_dataset TEXT,
                model TEXT, seed INTEGER, profile TEXT, result_mtime REAL, result_json TEXT)"""
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS metrics (cell_id TEXT, split TEXT, metric TEXT, value REAL,"
            " PRIMARY KEY (cell_id, split, metric))"
        )
        return conn

    def _index_one(self, cell_dir: Path, result: dict, conn: sqlite3.Connection | None = None) -> None:
        own = conn is None
        conn = conn or self._connect()
        try:
            mtime = (cell_dir / RESULT_FILE).stat().st_mtime
            cell_id = result["cell_id"]
            conn.execute("DELETE FROM metrics WHERE cell_id = ?", (cell_id,))
            conn.execute(
                "INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    cell_id, result.get("status"), (result.get("dataset") or {}).get("task"),
                    (result.get("dataset") or {}).get("name"), (result.get("dataset") or {}).get("train_dataset"),
                    (result.get("model") or {}).get("name"), result.get("seed"), result.get("profile"), mtime,
                    json.dumps(result, default=_json_default),
                ),
            )
            for split, values in (result.get("metrics") or {}).items():
                for metric, value in values.items():
                    if isinstance(value, (int, float)) or value is None:
                        conn.execute("INSERT OR REPLACE INTO metrics VALUES (?,?,?,?)", (cell_id, split, metric, value))
            conn.commit()
        finally:
            if own:
                conn.close()

    def index_is_stale(self) -> bool:
        if not self.index_path.exists():
            return True
        try:
            conn = self._connect()
            indexed = dict(conn.execute("SELECT cell_id, result_mtime FROM cells").fetchall())
            conn.close()
        except sqlite3.DatabaseError:
            return True
        on_disk = {}
        for cell_id in self.cell_ids():
            path = self.result_path(cell_id)
            if path.exists():
                on_disk[cell_id] = path.stat().st_mtime
        return on_disk != indexed

    def rebuild_index(self) -> int:
        """Recreate ``runs.sqlite`` from the cell directories; returns the number of cells indexed."""
        if self.index_path.exists():
            self.index_path.unlink()
        conn = self._connect()
        count = 0
        try:
            for cell_id in self.cell_ids():
                result = self.read_result(cell_id)
                if result is not None:
                    self._index_one(self.cell_dir(cell_id), result, conn)
                    count += 1
        finally:
            conn.close()
        return count

    def ensure_index(self) -> None:
        if self.index_is_stale():
            self.rebuild_index()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Read-only query over the index (rebuilt first when stale)."""
        self.ensure_index()
        conn = self._connect()
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        finally:
            conn.close()

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
