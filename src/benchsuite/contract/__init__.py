"""The contract between the core and its plugins.

Specs that plugins register, the recipe, task kinds, the data and score containers, the errors
the core reports, and the hook specifications.  Nothing here imports torch.
"""
from .data import AsvScores, Dataset, SplitData, Trial, Utterance
from .errors import BenchsuiteError, CellFailure, ConfigError, DataError, ScoreFileError
from .hookspecs import hookimpl, hookspec
from .recipe import PROFILES, Deviation, Recipe, added_field
from .scores import ClassifyScores, ScoreSet, SpoofScores, VerifyScores
from .streams import RandomStreams, derive_seed
from .specs import (
    AugmentationSpec, Baseline, DatasetSpec, Estimator, MetricOptions, MetricOutput, MetricSpec, MetricValueInfo, ModelSpec,
)
from .tasks import BONAFIDE, SPOOF, Task, TaskInfo

__all__ = [
    "AsvScores",
    "AugmentationSpec",
    "BONAFIDE",
    "Baseline",
    "BenchsuiteError",
    "CellFailure",
    "ClassifyScores",
    "ConfigError",
    "DataError",
    "Dataset",
    "DatasetSpec",
    "Deviation",
    "Estimator",
    "MetricOptions",
    "MetricOutput",
    "MetricSpec",
    "MetricValueInfo",
    "ModelSpec",
    "PROFILES",
    "RandomStreams",
    "Recipe",
    "SPOOF",
    "ScoreFileError",
    "ScoreSet",
    "SplitData",
    "SpoofScores",
    "Task",
    "TaskInfo",
    "Trial",
    "Utterance",
    "VerifyScores",
    "added_field",
    "derive_seed",
    "hookimpl",
    "hookspec",
]
