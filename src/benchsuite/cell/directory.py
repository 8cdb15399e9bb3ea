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
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no leases, cells are not protected against a second run
    fcntl = None  # type: ignore[assignment]

import yaml

from benchsuite.common.files import atomic_write_json, atomic_write_text

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
CONFIG_FILE = "config.yaml"
# Per cell, which executor runs it where (pool: host and pids; slurm: job id).
# Only `benchsuite status` reads it; results never depend on it.
EXECUTOR_RECORD = "executor.json"
# The lease of the process running a cell: an flock on this file, which the kernel releases when
# the process ends however it ends (killed included); the file holds "host pid <pid> since <time>".
LEASE_FILE = ".lease"
STATUSES = ("done", "failed")
UNREADABLE = "unreadable"  # the status read_result gives a result.json that is not a result


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
        """The cell's result, or None when the cell has not finished (no result.json).  A file that
        is not a result (not JSON, cut short, the wrong schema) reads as a result of status
        ``unreadable`` whose error names the file: one bad file never stops the commands that read
        the store, is never taken for a finished cell, and the next run re-runs that cell."""
        path = self.result_path(cell_id)
        try:
            with open(path, encoding="utf-8") as handle:
                result = json.load(handle)
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return unreadable_result(cell_id, f"{path}: cannot be read as JSON ({err})")
        problem = result_problem(result, cell_id)
        if problem is not None:
            return unreadable_result(cell_id, f"{path}: {problem}")
        return result

    def set_aside_result(self, cell_id: str, previous: dict) -> Path:
        """Move a failed or unreadable result out of the way before the cell runs again; the
        attempt stays in the cell directory for the record (an unreadable file as it was)."""
        path = self.result_path(cell_id)
        kind = "unreadable" if previous.get("status") == UNREADABLE else "failed"
        kept = path.with_name(f"result.{kind}-{int(time.time())}.json")
        if kind == "unreadable":
            os.replace(path, kept)
        else:
            atomic_write_json(kept, previous)
            path.unlink()
        return kept

    def write_result(self, cell_id: str, result: dict) -> None:
        result = {"schema_version": SCHEMA_VERSION, "cell_id": cell_id, **result}
        atomic_write_json(self.result_path(cell_id), result)

    def write_config(self, cell_id: str, config: dict) -> None:
        atomic_write_text(self.cell_dir(cell_id) / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))

    def read_config(self, cell_id: str) -> dict | None:
        path = self.cell_dir(cell_id) / CONFIG_FILE
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):  # missing, or a file that is not a cell config
            return None
        return config if isinstance(config, dict) else None

    def cell_ids(self) -> list[str]:
        if not self.cells_dir.is_dir():
            return []
        return sorted(p.name for p in self.cells_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def results(self) -> list[dict]:
        """Every finished cell's result (done and failed), read from the cell directories."""
        out = []
        for cell_id in self.cell_ids():
            result = self.read_result(cell_id)
            if result is not None and result["status"] in STATUSES:
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

    @contextmanager
    def cell_lease(self, cell_id: str) -> Iterator[str | None]:
        """Hold the cell's lease while the block runs.  Yields None when this process holds it,
        or the holder's description when another live process (another ``benchsuite run``, a
        pool worker, a Slurm task on a shared filesystem) holds it, and then nothing is held."""
        if fcntl is None:
            yield None
            return
        path = self.cell_dir(cell_id) / LEASE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield _lease_text(fd) or "another process"
                return
            os.ftruncate(fd, 0)
            os.write(fd, f"{socket.gethostname()} pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}"
                     .encode())
            try:
                yield None
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def lease_holder(self, cell_id: str) -> str | None:
        """Who holds the cell's lease (a live process running it), or None."""
        path = self.cell_dir(cell_id) / LEASE_FILE
        if fcntl is None or not path.exists():
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return _lease_text(fd) or "another process"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

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
        serial = 1
        while path.exists():  # two runs of one process in the same second keep both records, in order
            serial += 1
            path = self.root / "invocations" / f"{stamp}.{serial:03d}-{os.getpid()}.json"
        atomic_write_json(path, record)
        return path

    def invocations(self) -> Iterator[dict]:
        folder = self.root / "invocations"
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                try:
                    data = _read_json(path)
                except (ValueError, OSError):
                    continue  # a damaged record of an earlier run: provenance only, never a reason to stop
                if isinstance(data, dict):
                    yield data


def _lease_text(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def result_problem(result: Any, cell_id: str) -> str | None:
    """What makes ``result`` (a parsed result.json of the cell ``cell_id``) not a result, or None."""
    if not isinstance(result, dict):
        return f"expected a JSON object, found {type(result).__name__}"
    if result.get("schema_version") != SCHEMA_VERSION:
        return f"schema_version {result.get('schema_version')!r}; expected {SCHEMA_VERSION}"
    if result.get("cell_id") != cell_id:
        return f"cell_id {result.get('cell_id')!r}; expected the directory's name {cell_id!r}"
    if result.get("status") not in STATUSES:
        return f"status {result.get('status')!r}; expected one of {', '.join(STATUSES)}"
    for key in ("dataset", "model", "metrics"):
        if not isinstance(result.get(key), dict):
            return f"{key!r} is {type(result.get(key)).__name__}; expected a mapping"
    return None


def running_elsewhere(cell_id: str, holder: str) -> dict[str, Any]:
    """What a run returns for a cell it left to the live process holding its lease (nothing is
    written): neither done nor failed."""
    return {"schema_version": SCHEMA_VERSION, "cell_id": cell_id, "status": "running", "held_by": holder,
            "error": None}


def unreadable_result(cell_id: str, message: str) -> dict[str, Any]:
    """What :meth:`CellDirectories.read_result` gives for a result.json that is not a result."""
    return {"schema_version": SCHEMA_VERSION, "cell_id": cell_id, "status": UNREADABLE,
            "error": {"type": "UnreadableResult", "message": f"{message}; the next run runs this cell again"},
            "dataset": {}, "model": {}, "metrics": {}}


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
