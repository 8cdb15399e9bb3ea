"""The results store: the cell directories of an output directory (the source of truth,
:mod:`benchsuite.cell.directory`) and an SQLite index over them (``runs.sqlite``) that is
rebuilt whenever it is missing or stale."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from benchsuite.cell.directory import CONFIG_FILE, RESULT_FILE, SCHEMA_VERSION, CellDirectories
from benchsuite.common.files import json_default

__all__ = ["CONFIG_FILE", "INDEX_FILE", "RESULT_FILE", "SCHEMA_VERSION", "ResultsStore"]

INDEX_FILE = "runs.sqlite"


class ResultsStore(CellDirectories):
    """The cell directories plus the ``runs.sqlite`` index over them, which can always be rebuilt."""

    def write_result(self, cell_id: str, result: dict) -> None:
        super().write_result(cell_id, result)
        try:
            self._index_one(self.cell_dir(cell_id), self.read_result(cell_id))
        except sqlite3.Error:
            # e.g. SQLite on a cluster's shared filesystem: the cell directory is the source
            # of truth and a stale index is rebuilt from it on the next read
            pass

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
                    json.dumps(result, default=json_default),
                ),
            )
            for split, values in (result.get("metrics") or {}).items():
                if not isinstance(values, dict):
                    continue  # not a result's metrics: the row keeps the result, the metrics table skips it
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
