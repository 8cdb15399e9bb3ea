"""What differs between the tasks inside a cell, one strategy object per task.

The cell runs the same steps for every task (splits, loaders, training, dev selection,
scoring, metrics); a :class:`TaskStrategy` answers the questions whose answer is the
task's: its class names, whether its scored splits are trial lists, how model outputs
become a score set, and how a score set is written in the task's official format.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from benchsuite.contract import ConfigError, Dataset, Recipe, ScoreSet, SplitData, Task
from benchsuite.scoring import files as scorefiles
from benchsuite.scoring.inference import (
    classify_outputs, classify_scores, embeddings, spoof_outputs, spoof_scores, verify_scores,
)


@dataclass
class TrainingReference:
    """Verify: embeddings of training utterances, for centring and the AS-Norm cohort."""

    mean: np.ndarray | None
    cohort: np.ndarray | None
    utterances: int


@dataclass
class Scoring:
    """What a strategy needs to score: the model (and head), where, and at which precision.
    ``train_mode``: score with the modules in train mode (dropout on, batch norm on batch statistics and
    updating its running ones), only while validating with ``validation_mode: train``."""

    model: Any
    head: Any
    device: torch.device
    autocast: torch.dtype | None
    recipe: Recipe
    estimator: bool
    class_names: tuple[str, ...]
    train_mode: bool = False

    @contextmanager
    def validating(self, train_mode: bool) -> Iterator[None]:
        """Score in train mode inside the block when ``train_mode`` (the recipe's validation mode)."""
        self.train_mode = train_mode
        try:
            yield
        finally:
            self.train_mode = False


class TaskStrategy:
    task: Task
    # verify scores trial lists: dev and eval are scored unlabelled, on their trials, and never subset
    scores_trials: bool = False

    def class_names(self, train_dataset: Dataset, train: SplitData) -> tuple[str, ...]:
        return tuple(sorted({u.label for u in train.utterances}))

    def check_recipe(self, recipe: Recipe) -> None:
        """Refuse a recipe the task cannot train with (the plan has checked each field already)."""

    def outputs(self, scoring: Scoring, loader: Any) -> torch.Tensor:
        raise NotImplementedError

    def score(self, scoring: Scoring, split: SplitData, loader: Any, reference: TrainingReference | None = None,
              outputs: torch.Tensor | None = None) -> ScoreSet:
        raise NotImplementedError

    def write_scores(self, path: Path, scores: Any) -> None:
        raise NotImplementedError

    def stored_class_names(self, class_names: tuple[str, ...]) -> list[str] | None:
        return list(class_names)

    def scoring_note(self, recipe: Recipe, reference: TrainingReference | None) -> str | None:
        return None


class SpoofStrategy(TaskStrategy):
    task = Task.SPOOF

    def class_names(self, train_dataset: Dataset, train: SplitData) -> tuple[str, ...]:
        return ("spoof", "bonafide")

    def outputs(self, scoring: Scoring, loader: Any) -> torch.Tensor:
        return spoof_outputs(scoring.model, loader, scoring.device, scoring.autocast, scoring.estimator,
                             train_mode=scoring.train_mode)

    def score(self, scoring: Scoring, split: SplitData, loader: Any, reference: TrainingReference | None = None,
              outputs: torch.Tensor | None = None) -> ScoreSet:
        return spoof_scores(split, self.outputs(scoring, loader) if outputs is None else outputs)

    def write_scores(self, path: Path, scores: Any) -> None:
        scorefiles.write_spoof_scores(path, scores.utt_ids, scores.attacks, scores.is_bonafide, scores.scores)

    def stored_class_names(self, class_names: tuple[str, ...]) -> list[str] | None:
        return None  # always spoof / bona fide


class VerifyStrategy(TaskStrategy):
    task = Task.VERIFY
    scores_trials = True

    def score(self, scoring: Scoring, split: SplitData, loader: Any, reference: TrainingReference | None = None,
              outputs: torch.Tensor | None = None) -> ScoreSet:
        emb = embeddings(scoring.model, loader, scoring.device, scoring.autocast, scoring.recipe,
                         train_mode=scoring.train_mode)
        if reference is None:
            # dev selection compares epochs on raw cosine scores; centring and
            # normalisation with training embeddings are for the final eval
            return verify_scores(split, emb, recipe=scoring.recipe.replace(score_norm="none"))
        return verify_scores(split, emb, recipe=scoring.recipe, cohort=reference.cohort, mean_vector=reference.mean)

    def write_scores(self, path: Path, scores: Any) -> None:
        scorefiles.write_verify_scores(path, scores.enrol, scores.test, scores.scores, scores.is_target)

    def scoring_note(self, recipe: Recipe, reference: TrainingReference | None) -> str | None:
        parts = ["cosine scoring"]
        if reference is not None and reference.mean is not None:
            parts.append(f"after subtracting the mean embedding of {reference.utterances} training utterances")
        if recipe.score_norm == "asnorm":
            parts.append(f"with AS-Norm (top {recipe.asnorm_top_n} of a cohort of training-speaker mean embeddings)")
        return " ".join(parts)


class ClassifyStrategy(TaskStrategy):
    task = Task.CLASSIFY

    def class_names(self, train_dataset: Dataset, train: SplitData) -> tuple[str, ...]:
        return tuple(train_dataset.class_names()) or super().class_names(train_dataset, train)

    def check_recipe(self, recipe: Recipe) -> None:
        if recipe.loss not in ("softmax", "ce"):
            raise ConfigError(f"classification trains with loss 'ce'; the recipe says {recipe.loss!r}")

    def outputs(self, scoring: Scoring, loader: Any) -> torch.Tensor:
        return classify_outputs(scoring.model, scoring.head, loader, scoring.device, scoring.autocast, scoring.recipe,
                                train_mode=scoring.train_mode)

    def score(self, scoring: Scoring, split: SplitData, loader: Any, reference: TrainingReference | None = None,
              outputs: torch.Tensor | None = None) -> ScoreSet:
        return classify_scores(split, self.outputs(scoring, loader) if outputs is None else outputs,
                               scoring.class_names)

    def write_scores(self, path: Path, scores: Any) -> None:
        names = scores.class_names
        scorefiles.write_classify_scores(path, scores.utt_ids, [names[i] for i in scores.true],
                                         [names[i] for i in scores.predicted])


STRATEGIES: dict[Task, Callable[[], TaskStrategy]] = {
    Task.SPOOF: SpoofStrategy, Task.VERIFY: VerifyStrategy, Task.CLASSIFY: ClassifyStrategy,
}


def strategy_for(task: Task) -> TaskStrategy:
    return STRATEGIES[task]()
