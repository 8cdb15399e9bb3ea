"""Released weights as leaderboard rows: ``benchsuite run --checkpoint MODEL=PATH``.

A released checkpoint (an author's published weights, or any checkpoint file) makes
eval-only cells: the model is built with its config, the weights are loaded strictly
and the cell scores the dev and eval splits without training.  The cell's identity
holds the file's SHA-256 (not its path), so the same weights give the same cell id on
any machine, and other weights of the same model give other rows.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from benchsuite.contract import ConfigError, DataError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReleasedWeights:
    model: str
    path: Path
    sha256: str

    def identity(self) -> dict[str, str]:
        """What enters the cell identity: the content hash and, for the reader, the file name."""
        return {"sha256": self.sha256, "file": self.path.name}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_texts(value: Any, source: str) -> list[str]:
    """The ``checkpoints:`` entry of a ``--config`` file as ``MODEL=PATH`` texts: a mapping
    ``{model: path}`` (a list of paths per model allowed) or a list of ``MODEL=PATH`` strings."""
    if value is None:
        return []
    if isinstance(value, dict):
        texts = []
        for model, paths in value.items():
            for path in paths if isinstance(paths, list) else [paths]:
                if not isinstance(path, str) or not path:
                    raise ConfigError(f"{source}: checkpoints.{model}: expected a file path, got {path!r}")
                texts.append(f"{model}={path}")
        return texts
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{source}: 'checkpoints' must map model names to checkpoint files, "
                      f"or be a list of MODEL=PATH")


def parse_checkpoints(texts: Iterable[str], known_models: Iterable[str]) -> dict[str, list[ReleasedWeights]]:
    """``["aasist=/w/AASIST.pth", ...]`` -> model name -> its released weights, each file hashed.
    Unknown models, missing files and the same file given twice for one model are errors."""
    known = set(known_models)
    out: dict[str, list[ReleasedWeights]] = {}
    for text in texts:
        model, sep, raw = text.partition("=")
        model, raw = model.strip(), raw.strip()
        if not sep or not model or not raw:
            raise ConfigError(f"--checkpoint {text!r}: expected MODEL=PATH, e.g. aasist=/weights/AASIST.pth")
        if model not in known:
            raise ConfigError(f"--checkpoint {text!r}: model {model!r} is not in this run "
                              f"(models: {', '.join(sorted(known))})")
        path = Path(raw).expanduser()
        if not path.is_file():
            raise DataError(f"--checkpoint {text!r}: no such file {path}")
        weights = ReleasedWeights(model, path.resolve(), file_sha256(path))
        if any(w.sha256 == weights.sha256 for w in out.get(model, [])):
            raise ConfigError(f"--checkpoint {text!r}: the same weights are given twice for {model!r}")
        out.setdefault(model, []).append(weights)
    return out
