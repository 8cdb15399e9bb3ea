"""Utterance-classification metrics (task ``classify``): accuracy, unweighted
average recall (UAR), macro-F1 and the confusion matrix.

Conventions follow scikit-learn, so numbers are comparable with toolkits that
use it: UAR averages recall over the classes that occur in the true labels
(``balanced_accuracy_score``); macro-F1 averages over the classes that occur in
the true or the predicted labels, with F1 = 0 for a class never predicted
correctly (``f1_score(average="macro", zero_division=0)``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchsuite.api import (
    ClassifyScores, ConfigError, MetricOutput, MetricSpec, MetricValueInfo, ScoreSet, Task, hookimpl, validate_classify_scores,
)


@dataclass(frozen=True)
class ClassificationSummary:
    accuracy: float
    uar: float
    macro_f1: float
    confusion: np.ndarray  # [true, predicted]


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    flat = np.asarray(true, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def summarise(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> ClassificationSummary:
    confusion = confusion_matrix(true, predicted, n_classes)
    correct = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)  # true occurrences
    predicted_count = confusion.sum(axis=0)
    in_true = support > 0
    recall = np.divide(correct, support, out=np.zeros(n_classes), where=in_true)
    precision = np.divide(correct, predicted_count, out=np.zeros(n_classes), where=predicted_count > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(n_classes), where=denominator > 0)
    present = in_true | (predicted_count > 0)
    return ClassificationSummary(
        accuracy=float(correct.sum() / confusion.sum()),
        uar=float(recall[in_true].mean()),
        macro_f1=float(f1[present].mean()),
        confusion=confusion,
    )


def compute_accuracy(scores: ScoreSet) -> MetricOutput:
    if not isinstance(scores, ClassifyScores):
        raise ConfigError(f"classification metrics need ClassifyScores, got {type(scores).__name__}")
    validate_classify_scores(scores)
    true = np.asarray(scores.true)
    predicted = np.asarray(scores.predicted)
    n_classes = len(scores.class_names) if scores.class_names else int(max(true.max(), predicted.max())) + 1
    names = list(scores.class_names) if scores.class_names else [str(i) for i in range(n_classes)]
    summary = summarise(true, predicted, n_classes)
    per_class = {}
    for index, name in enumerate(names):
        support = int(summary.confusion[index].sum())
        per_class[name] = {"recall": float(summary.confusion[index, index] / support) if support else None}
    return MetricOutput(
        values={"accuracy": summary.accuracy, "uar": summary.uar, "macro_f1": summary.macro_f1},
        breakdown={"class": per_class},
        extra={"confusion_matrix": {"classes": names, "rows": "true class", "columns": "predicted class",
                                    "matrix": summary.confusion.tolist()}},
    )


CLASSIFY_METRICS = (
    MetricSpec(
        name="accuracy", task=Task.CLASSIFY, compute=lambda scores, options: compute_accuracy(scores),
        outputs=(
            MetricValueInfo(key="accuracy", label="accuracy", lower_is_better=False, percent=True,
                            description="Share of utterances whose predicted class is the true class."),
            MetricValueInfo(key="uar", label="UAR", lower_is_better=False, percent=True,
                            description="Unweighted average recall (macro recall, 'UA') over the classes present "
                                        "in the true labels."),
            MetricValueInfo(key="macro_f1", label="macro-F1", lower_is_better=False, percent=True,
                            description="Mean F1 over the classes present in the true or predicted labels; F1 = 0 "
                                        "for a class with no correct prediction."),
        ),
        description="Accuracy, UAR, macro-F1 and the confusion matrix (extra['confusion_matrix'], rows = true class).",
    ),
)


@hookimpl
def benchsuite_register_metrics(register):
    for spec in CLASSIFY_METRICS:
        register(spec)
