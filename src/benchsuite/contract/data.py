"""What a dataset plugin returns: utterances, trials, splits, the organisers' ASV scores."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .tasks import Task


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    path: Path
    label: str  # spoof: bonafide|spoof; verify: speaker id; classify: class name
    speaker: str | None = None
    attack: str | None = None  # spoof: system id (A01 ...), "-" for bona fide
    conditions: Mapping[str, str] = field(default_factory=dict)  # breakdown columns (codec, vocoder, ...)


@dataclass(frozen=True)
class Trial:
    enrol: str  # utterance id (or enrolment model id, see SplitData.enrolments)
    test: str
    is_target: bool


@dataclass(frozen=True)
class AsvScores:
    """The organisers' ASV scores that fix the ASV operating point of the t-DCF."""

    target: np.ndarray
    nontarget: np.ndarray
    spoof: np.ndarray
    source: str = ""  # file the scores came from, for provenance
    # attack id of each spoof score, when the file names them: per-attack t-DCF then
    # uses that attack's ASV spoof scores, as the official 2021 package does
    spoof_attacks: np.ndarray | None = None


@dataclass
class SplitData:
    name: str
    utterances: list[Utterance]
    trials: list[Trial] | None = None  # verify
    # verify: enrolment model id -> utterance ids whose embeddings are averaged
    enrolments: Mapping[str, Sequence[str]] | None = None
    asv_scores: AsvScores | None = None  # spoof: for t-DCF
    source: str = ""  # protocol / key file, for messages


class Dataset(ABC):
    """A corpus opened from a data root.  Cheap to construct; audio opened lazily."""

    name: str = ""
    task: Task = Task.SPOOF  # a dataset serving several tasks picks one with its `task` option
    sample_rate: int = 16000
    channel: int | None = None  # which channel of multi-channel audio to read (None: refuse multi-channel)

    @abstractmethod
    def split_names(self) -> list[str]:
        """Splits in this corpus, e.g. ``["train", "dev", "eval"]``."""

    @abstractmethod
    def load_split(self, split: str) -> SplitData:
        """Parse and validate a split's protocol (no audio decoding)."""

    def condition_columns(self) -> tuple[str, ...]:
        """Columns of :attr:`Utterance.conditions` worth a breakdown."""
        return ()

    def class_names(self) -> tuple[str, ...]:
        return ()

    def fingerprint(self) -> str:
        """A short hash of the protocol/key files, so results name the data they used."""
        return ""

    def validate(self, check_audio: bool = True) -> None:
        """Raise :class:`DataError` naming every problem found before training starts."""
        for split in self.split_names():
            self.load_split(split)

    def statistics(self, check_audio: bool = False) -> dict:
        out: dict[str, Any] = {"splits": {}}
        for split in self.split_names():
            data = self.load_split(split)
            labels: dict[str, int] = {}
            for utt in data.utterances:
                labels[utt.label] = labels.get(utt.label, 0) + 1
            out["splits"][split] = {
                "utterances": len(data.utterances),
                "labels": labels,
                "speakers": len({u.speaker for u in data.utterances if u.speaker}),
            }
        return out
