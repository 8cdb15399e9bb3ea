"""Task kinds and what a model is told about the data it trains on."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Task(str, enum.Enum):
    SPOOF = "spoof"  # countermeasure: score per utterance, higher = bona fide
    VERIFY = "verify"  # speaker verification: score per trial, higher = same speaker
    CLASSIFY = "classify"  # N-way utterance classification

    def __str__(self) -> str:  # so f-strings and YAML show "spoof", not "Task.SPOOF"
        return self.value


BONAFIDE = "bonafide"
SPOOF = "spoof"


@dataclass(frozen=True)
class TaskInfo:
    """What a model needs to know about the data it will be trained on."""

    task: Task
    sample_rate: int = 16000
    num_classes: int = 2  # classify: number of classes; verify: training speakers
    class_names: tuple[str, ...] = ()
