"""Score, key and trial files: reading, writing and validating them.

Every reader refuses bad input with a :class:`~benchsuite.api.ScoreFileError`
that names the file, the line and what was expected, before any metric sees a
number.  Score files are joined to protocols on utterance id, never on row
order (misaligned rows are the most common cause of wrong published EERs).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .api import AsvScores, ScoreFileError

MAX_LISTED = 5  # ids quoted in a message before "... and N more"


# --------------------------------------------------------------------------- line helpers


def _open_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(line_number, stripped_text)`` of every non-blank line, 1-based."""
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if text.strip():
                    yield number, text
    except UnicodeDecodeError as err:
        raise ScoreFileError(f"{path}: {what} is not UTF-8 text ({err.reason} at byte {err.start})") from err


def _parse_score(token: str, path: Path, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ScoreFileError(f"{path}:{line}: score {token!r} is not a number") from None
    if not math.isfinite(value):
        raise ScoreFileError(f"{path}:{line}: score {token!r} is not finite (NaN/inf scores cannot be evaluated)")
    return value


def _column_error(path: Path, line: int, expected: str, fields: Sequence[str], text: str) -> ScoreFileError:
    return ScoreFileError(f"{path}:{line}: expected {expected} columns, found {len(fields)}: {text.strip()!r}")


# --------------------------------------------------------------------------- ASV scores (t-DCF)

ASV_KEYS = ("target", "nontarget", "spoof")


def read_asv_scores(path: str | Path) -> AsvScores:
    """The organisers' ASV scores (``SOURCE KEY SCORE``, KEY target|nontarget|spoof),
    e.g. ``ASVspoof2019.LA.asv.eval.gi.trl.scores.txt``.  They fix the ASV
    operating point of the t-DCF, so every class must be present."""
    path = Path(path)
    by_key: dict[str, list[float]] = {key: [] for key in ASV_KEYS}
    for line, text in _open_lines(path, "ASV score file"):
        fields = text.split()
        if len(fields) != 3:
            raise _column_error(path, line, "3 (SOURCE KEY SCORE)", fields, text)
        key = fields[1]
        if key not in by_key:
            raise ScoreFileError(f"{path}:{line}: key {key!r} is not one of {', '.join(ASV_KEYS)}")
        by_key[key].append(_parse_score(fields[2], path, line))
    empty = [key for key in ASV_KEYS if not by_key[key]]
    if empty:
        raise ScoreFileError(
            f"{path}: ASV score file has no {' / '.join(empty)} scores; the t-DCF needs target, "
            "nontarget and spoof ASV scores"
        )
    return AsvScores(
        target=np.asarray(by_key["target"], dtype=np.float64),
        nontarget=np.asarray(by_key["nontarget"], dtype=np.float64),
        spoof=np.asarray(by_key["spoof"], dtype=np.float64),
        source=str(path),
    )
