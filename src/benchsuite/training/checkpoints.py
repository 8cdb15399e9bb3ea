"""Checkpoints: ``last.pt`` for resuming, ``best.pt`` for the dev-selected model, written atomically;
and checkpoint files given by the user (released weights), read safely and loaded strictly."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from benchsuite.common.files import atomic_write_bytes
from benchsuite.contract import ModelSpec

LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


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
        problems = []
        if result.missing_keys:
            problems.append(f"missing {_first(result.missing_keys)}")
        if result.unexpected_keys:
            problems.append(f"unexpected {_first(result.unexpected_keys)}")
        if problems:
            raise DataError(f"{option} {path}: does not match model {spec.name!r} with this config "
                            f"({'; '.join(problems)})")
    else:
        try:
            model.load_state_dict(dict(weights))
        except Exception as exc:
            raise DataError(f"{option} {path}: cannot load into {spec.name!r} ({exc})") from exc


def _first(keys: Sequence[str], shown: int = 4) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more
