"""Where a number came from: versions, git revision, device, host, command."""
from __future__ import annotations

import functools
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from benchsuite import __version__


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """The git revision of the benchsuite checkout in use (None when installed from a wheel)."""
    here = Path(__file__).resolve().parent
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True,
                             timeout=10)
        if top.returncode != 0 or not (Path(top.stdout.strip()) / "benchsuite").is_dir():
            return {"git_revision": None, "git_dirty": None}
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return {"git_revision": rev.stdout.strip() or None, "git_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"git_revision": None, "git_dirty": None}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "benchsuite": __version__,
        "torch": torch.__version__,
        "torchaudio": _version("torchaudio"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "soundfile": _version("soundfile"),
        "pluggy": _version("pluggy"),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    }


def device_name(device: Any) -> str:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command_line() -> str:
    import shlex

    argv = list(sys.argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return " ".join(shlex.quote(a) for a in argv)


def provenance(device: Any, start: str, end: str, wall_seconds: float, peak_memory_mb: float | None,
               command: str, plugins: list[dict[str, Any]], precision: str) -> dict[str, Any]:
    return {
        "benchsuite_version": __version__,
        **git_state(),
        "plugins": plugins,
        "versions": versions(),
        "device": str(device),
        "device_name": device_name(device),
        # the CUDA runtime in use; the build's CUDA version is in versions.cuda
        "cuda": versions()["cuda"] if getattr(device, "type", None) == "cuda" else None,
        "precision": precision,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "start": start,
        "end": end,
        "wall_seconds": round(wall_seconds, 3),
        "peak_memory_mb": None if peak_memory_mb is None else round(peak_memory_mb, 1),
        "command": command,
    }
