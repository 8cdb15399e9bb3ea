"""Files every stage writes: atomically, so a reader never sees half a file; and the cache folder."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV = "BENCHSUITE_CACHE_DIR"


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
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n")


def json_default(obj: Any) -> Any:
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


def stat_fingerprint(paths: list[str]) -> str:
    """SHA-256 (16 hex digits) over each file's name, size and mtime (``os.stat``, nothing read),
    in sorted order of the paths; a missing file counts as such."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        try:
            stat = os.stat(path)
            digest.update(f"{os.path.basename(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{os.path.basename(path)}\0missing\n".encode())
    return digest.hexdigest()[:16]


def cache_dir_default() -> Path:
    """Where generated corpora and decoded-audio caches live (``BENCHSUITE_CACHE_DIR``)."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "benchsuite"))
