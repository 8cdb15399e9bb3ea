"""Score sets per task, as the metrics read them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .data import AsvScores


@dataclass
class SpoofScores:
    utt_ids: np.ndarray  # str
    scores: np.ndarray  # float64, higher = bona fide
    is_bonafide: np.ndarray  # bool
    attacks: np.ndarray  # str, "-" (or "bonafide") for bona fide
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    asv: AsvScores | None = None
    source: str = ""


@dataclass
class VerifyScores:
    enrol: np.ndarray  # str
    test: np.ndarray  # str
    scores: np.ndarray  # float64, higher = same speaker
    is_target: np.ndarray  # bool
    source: str = ""


@dataclass
class ClassifyScores:
    utt_ids: np.ndarray
    true: np.ndarray  # int class index
    predicted: np.ndarray  # int class index
    class_names: tuple[str, ...] = ()
    source: str = ""


ScoreSet = SpoofScores | VerifyScores | ClassifyScores
