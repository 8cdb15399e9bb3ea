"""Checkpoints: ``last.pt`` for resuming, ``best.pt`` for the dev-selected model.

Each is written to a temporary file, fsynced and renamed (a crash leaves the old file), with a
sidecar ``NAME.sha256`` holding the byte count and SHA-256 of what was written, so a file that
was cut short or damaged later (a full disk, a copy that stopped) is recognised instead of
failing the cell on every re-run.  Before ``last.pt`` is replaced, the previous good one is
kept as ``last.prev.pt``: resuming falls back to it, or starts the cell over, with a notice
that names the bad file.  Checkpoint files given by the user (released weights) are read safely
and loaded strictly.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from benchsuite.common.files import atomic_write_bytes, atomic_write_text
from benchsuite.common.weights import key_problems
from benchsuite.contract import CellFailure, ModelSpec

LAST = "last.pt"
BEST = "best.pt"
SIDECAR_SUFFIX = ".sha256"


class CheckpointError(CellFailure):
    """A checkpoint that cannot be loaded: cut short, damaged, or not a checkpoint."""


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def previous_path(path: Path) -> Path:
    """``last.pt`` -> ``last.prev.pt``: the checkpoint before the latest, kept for a fallback."""
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_checkpoint(path: Path, state: dict[str, Any], *, keep_previous: bool = False) -> None:
    """Write ``state`` atomically with its size+SHA-256 sidecar; with ``keep_previous`` the
    current file, when it verifies, first becomes :func:`previous_path`."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    if keep_previous and path.exists() and checkpoint_problem(path) is None:
        os.replace(path, previous_path(path))
        if sidecar_path(path).exists():
            os.replace(sidecar_path(path), sidecar_path(previous_path(path)))
    # the sidecar goes first: a crash between the two writes leaves a file that fails its check
    atomic_write_text(sidecar_path(path), json.dumps({"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}))
    atomic_write_bytes(path, data)


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` does not match its sidecar, or None (also None without a sidecar: a
    checkpoint of an older version, checked when it is loaded)."""
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        return None
    try:
        expected = json.loads(sidecar.read_text(encoding="utf-8"))
        size, digest = int(expected["bytes"]), str(expected["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"its checksum file {sidecar.name} is unreadable"
    actual = path.stat().st_size
    if actual != size:
        return f"{actual} bytes where {size} were written (cut short or damaged)"
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    if hasher.hexdigest() != digest:
        return "its SHA-256 differs from the one written with it (damaged)"
    return None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's state; a :class:`CheckpointError` naming the file when it fails its
    check or cannot be unpickled."""
    problem = checkpoint_problem(path)
    if problem is not None:
        raise CheckpointError(f"checkpoint {path}: {problem}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError ... for a bad file
        raise CheckpointError(f"checkpoint {path}: cannot be loaded ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: holds a {type(state).__name__}, not a checkpoint")
    return state


def load_resume_checkpoint(path: Path, notice: Callable[[str], None], *,
                           selected: Path | None = None) -> dict[str, Any] | None:
    """The state to resume from: ``path`` when it verifies, else the previous good checkpoint,
    else None (start over); each fallback is announced with ``notice``, naming the bad file.
    A damaged ``selected`` checkpoint (``best.pt``, the dev-selected model, which only training
    can give back) is removed and the cell starts over, so it cannot fail every re-run."""
    if selected is not None and selected.exists() and path.exists():
        problem = checkpoint_problem(selected)
        if problem is not None:
            selected.unlink()
            notice(f"checkpoint {selected}: {problem}; the dev-selected model is lost, starting this cell over")
            return None
    problems = []
    for candidate in (path, previous_path(path)):
        if not candidate.exists():
            continue
        try:
            state = load_checkpoint(candidate)
        except CheckpointError as err:
            problems.append(str(err))
            continue
        if problems:
            notice(f"{'; '.join(problems)}; resuming from the previous checkpoint {candidate.name} instead")
        return state
    if problems:
        notice(f"{'; '.join(problems)}; no good checkpoint is left, starting this cell over")
    return None

# --------------------------------------------------------------------------- released weights


def read_weights_file(path: Path, option: str = "--checkpoint") -> dict[str, Any]:
    """A checkpoint file read with tensors-only unpickling (``weights_only``), so loading it cannot
    run code: a benchsuite checkpoint or a plain state dict such as an author's released weights."""
    import pickle

    from benchsuite.contract import DataError

    if not path.is_file():
        raise DataError(f"{option} {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsupported = [line.strip() for line in str(exc).splitlines() if "Unsupported global" in line]
        if not unsupported:
            raise DataError(f"{option} {path}: not a PyTorch checkpoint (cannot unpickle it)") from exc
        raise DataError(f"{option} {path}: holds objects other than tensors and plain values, which are not "
                        f"loaded for safety ({unsupported[0]})") from exc
    except Exception as exc:  # zip/pickle corruption surfaces as RuntimeError, EOFError, ...
        raise DataError(f"{option} {path}: not a PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, Mapping):
        raise DataError(f"{option} {path}: expected a state dict or a benchsuite checkpoint, "
                        f"got a {type(state).__name__}")
    return dict(state)


def is_benchsuite_checkpoint(state: Mapping[str, Any]) -> bool:
    return "model_state" in state and isinstance(state["model_state"], Mapping)


def load_weights_strictly(spec: ModelSpec, model: Any, state: Mapping[str, Any], path: Path,
                          option: str = "--checkpoint") -> None:
    """Load a checkpoint's weights (ours, or foreign ones through the spec's ``convert_checkpoint``)
    into ``model``; any missing or unexpected tensor is an error, since a partial load would score
    with random weights."""
    from benchsuite.contract import DataError

    weights = state["model_state"] if is_benchsuite_checkpoint(state) else state
    if spec.convert_checkpoint is not None:
        weights = spec.convert_checkpoint(weights)
    if isinstance(model, torch.nn.Module):
        result = model.load_state_dict(weights, strict=False)
        problems = key_problems(result.missing_keys, result.unexpected_keys, shown=4)
        if problems:
            raise DataError(f"{option} {path}: does not match model {spec.name!r} with this config "
                            f"({'; '.join(problems)})")
    else:
        try:
            model.load_state_dict(dict(weights))
        except Exception as exc:
            raise DataError(f"{option} {path}: cannot load into {spec.name!r} ({exc})") from exc


