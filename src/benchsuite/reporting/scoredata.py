"""The score files a report plots, found from result.json and read with the
project's readers (:mod:`benchsuite.scoring.files`), each once per report
(:class:`ScoreFiles`) however many plots and tables use it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from benchsuite.contract import ClassifyScores, ScoreFileError
from benchsuite.scoring.files import read_classify_scores, read_cm_scores, read_sv_scores

# the two score populations of each two-class task, positive first
POPULATIONS = {"spoof": ("bona fide", "spoof"), "verify": ("target", "nontarget")}


@dataclass
class BinaryScores:
    positive: np.ndarray  # bona fide / target
    negative: np.ndarray  # spoof / nontarget
    source: str


def score_path(result: Mapping[str, Any], cell_dir: Path, split: str) -> Path | None:
    """The score file of ``split`` in ``cell_dir``, or None when the cell keeps none for it."""
    data = result.get("dataset") or {}
    artifacts = result.get("artifacts") or {}
    if split == data.get("eval_split", "eval"):
        name = artifacts.get("scores", "scores.txt")
    elif split == data.get("dev_split", "dev"):
        name = artifacts.get("dev_scores", "dev_scores.txt")
    else:
        return None
    return cell_dir / str(name) if name else None


def read_binary_scores(path: Path, task: str) -> BinaryScores:
    """Scores split by their labels: spoof ``UTT SRC KEY SCORE``, verify ``ENROL TEST SCORE LABEL``."""
    if task == "spoof":
        score_file = read_cm_scores(path)
        positive_mask = score_file.is_bonafide
    elif task == "verify":
        score_file = read_sv_scores(path)
        positive_mask = score_file.is_target
    else:
        raise ScoreFileError(f"{path}: task {task!r} has no two-class scores to plot")
    if positive_mask is None:
        raise ScoreFileError(f"{path}: the score file carries no labels ({score_file.__class__.__name__} without a "
                             "key column), so it cannot be plotted on its own")
    positive = score_file.scores[positive_mask]
    negative = score_file.scores[~positive_mask]
    if positive.size == 0 or negative.size == 0:
        names = POPULATIONS[task]
        raise ScoreFileError(f"{path}: needs both {names[0]} and {names[1]} scores "
                             f"(found {positive.size} and {negative.size})")
    return BinaryScores(positive, negative, str(path))


def read_predictions(path: Path) -> ClassifyScores:
    """Classify ``UTT TRUE PRED`` (class names)."""
    return read_classify_scores(path)


class ScoreFiles:
    """The score files of one report, each read once: plots and tables that show
    the same cell's scores ask here, and a file that cannot be read gives the
    same error each time it is asked for."""

    def __init__(self) -> None:
        self._read: dict[tuple[Path, str], Any] = {}
        self.reads = 0  # files actually read (for tests)

    def binary(self, path: Path, task: str) -> BinaryScores:
        found = self._get(path, task, lambda: read_binary_scores(path, task))
        assert isinstance(found, BinaryScores)
        return found

    def predictions(self, path: Path) -> ClassifyScores:
        found = self._get(path, "classify", lambda: read_predictions(path))
        assert isinstance(found, ClassifyScores)
        return found

    def trials(self, path: Path, task: str, read: Any) -> Any:
        """A score file as another reader parses it (e.g. with its trial ids, for the paired bootstrap),
        read once like the others."""
        return self._get(path, f"trials-{task}", read)

    def _get(self, path: Path, task: str, read: Any) -> Any:
        key = (Path(path).resolve(), task)
        if key not in self._read:
            self.reads += 1
            try:
                self._read[key] = read()
            except ScoreFileError as err:
                self._read[key] = err
        found = self._read[key]
        if isinstance(found, ScoreFileError):
            raise found
        return found
