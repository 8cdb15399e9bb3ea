"""Bootstrap confidence interval of the EER over trials.

A single-seed EER carries the sampling error of its evaluation trials; this
interval shows it.  Bona fide (target) and spoof (nontarget) trials are
resampled with replacement separately, keeping both class sizes (a stratified
bootstrap, as in ``nii-yamagishilab/project-NN-Pytorch-scripts:sandbox/eval_conf_inter.py``),
and the interval is the percentile interval of the resampled EERs.

A resample never re-sorts: drawing trials with replacement from sorted
scores gives sorted scores again, so a resample is a copy count per trial of
the :class:`~benchsuite.api.DetSweep` of the original scores.  Its EER depends
only on those counts near the point where FRR meets FAR, so the counts are
drawn coarse to fine (:class:`BlockPlan`): the copies per block of about
sqrt(|P|) bona fide trials and per matching run of spoof trials (one
multinomial draw each, which is how the counts of n draws with replacement are
distributed), then, inside the one block pair where FRR - FAR changes sign,
the copies of each trial in it.  Every resample is an exact stratified
bootstrap resample with the official EER, at O(sqrt n) cost instead of O(n).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from benchsuite.api import DetSweep

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class BootstrapInterval:
    low: float
    high: float
    resamples: int
    seed: int
    level: float
    method: str = "stratified bootstrap over trials, percentile interval"

    def as_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "resamples": self.resamples, "seed": self.seed,
                "level": self.level, "method": self.method}


def bootstrap_eers(sweep: DetSweep, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The official EER of ``resamples`` stratified bootstrap resamples (the same
    ``seed`` gives the same resamples)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    plan = BlockPlan.of(sweep)
    positive_blocks = rng.multinomial(plan.n_positive, plan.positive_sizes / plan.n_positive, size=resamples)
    negative_blocks = rng.multinomial(plan.n_negative, plan.negative_sizes / plan.n_negative, size=resamples)

    def positive_copies(block: int, count: int) -> np.ndarray:
        size = int(plan.positive_sizes[block])
        return rng.multinomial(count, np.full(size, 1.0 / size))

    def negative_copies(edges: np.ndarray, count: int) -> np.ndarray:
        pieces = np.diff(edges)
        total = int(pieces.sum())
        return rng.multinomial(count, pieces / total) if total else np.zeros(pieces.size, dtype=np.int64)

    return np.array([plan.eer(positive_blocks[r], negative_blocks[r], positive_copies, negative_copies)
                     for r in range(resamples)], dtype=np.float64)


@dataclass(frozen=True)
class BlockPlan:
    """The blocks of a sweep that resamples are drawn over.

    Bona fide trials (ascending) are cut into blocks at ``bounds``; spoof trials
    into runs at the number of spoofs below each block's first trial, so block
    ``j`` is followed in the sweep by spoof run ``j + 1`` (run 0 lies below
    every bona fide trial)."""

    negatives_below: np.ndarray
    bounds: np.ndarray  # K + 1 bona fide indices, 0 ... |P|
    run_bounds: np.ndarray  # K + 2 spoof indices, 0, below[bounds[:-1]], |N|
    n_positive: int
    n_negative: int

    @classmethod
    def of(cls, sweep: DetSweep) -> "BlockPlan":
        n_pos, n_neg = sweep.n_positive, sweep.n_negative
        blocks = max(1, int(math.isqrt(n_pos)))
        bounds = np.unique(np.linspace(0, n_pos, blocks + 1).round().astype(np.int64))
        run_bounds = np.concatenate(([0], sweep.negatives_below[bounds[:-1]], [n_neg])).astype(np.int64)
        return cls(sweep.negatives_below, bounds, run_bounds, n_pos, n_neg)

    @property
    def positive_sizes(self) -> np.ndarray:
        return np.diff(self.bounds)

    @property
    def negative_sizes(self) -> np.ndarray:
        return np.diff(self.run_bounds)

    def eer(self, positive_blocks: np.ndarray, negative_runs: np.ndarray,
            positive_copies: Callable[[int, int], np.ndarray],
            negative_copies: Callable[[np.ndarray, int], np.ndarray]) -> float:
        """The official EER of one resample, given its copies per block and run;
        ``positive_copies(block, count)`` and ``negative_copies(edges, count)``
        draw the copies inside the one block (and run) that needs them: of each
        bona fide trial of the block, and of the spoofs between each trial's
        ``edges`` (spoof indices) and the next."""
        n_pos, n_neg = self.n_positive, self.n_negative
        # the cuts in front of each block's first trial: (rejected bona fide, rejected spoof)
        rejected_pos = np.concatenate(([0], np.cumsum(positive_blocks)))
        rejected_neg = np.cumsum(negative_runs)
        gaps = rejected_pos / n_pos - (n_neg - rejected_neg) / n_neg
        k = int(np.argmax(gaps >= 0))  # the last cut, (|P|, |N|), has gap 1
        if k == 0:  # inside spoof run 0, below every bona fide trial
            return _eer_on_path(np.array([0]), np.array([int(rejected_neg[0])]), 0, 0, n_pos, n_neg)
        block = k - 1
        first, stop = int(self.bounds[block]), int(self.bounds[block + 1])
        copies = positive_copies(block, int(positive_blocks[block]))
        # spoofs between consecutive trials of the block, then up to the next block
        edges = np.concatenate((self.negatives_below[first:stop], [self.run_bounds[k + 1]]))
        spoofs = negative_copies(edges, int(negative_runs[k]))
        b0, s0 = int(rejected_pos[block]), int(rejected_neg[block])
        after_pos = b0 + np.cumsum(copies)  # each trial's copies rejected, then the spoofs after it
        after_neg = s0 + np.cumsum(spoofs)
        path_b = np.repeat(after_pos, 2)
        path_s = np.empty(2 * copies.size, dtype=np.int64)
        path_s[0::2] = np.concatenate(([s0], after_neg[:-1]))
        path_s[1::2] = after_neg
        return _eer_on_path(path_b, path_s, b0, s0, n_pos, n_neg)


def _eer_on_path(path_b: np.ndarray, path_s: np.ndarray, b0: int, s0: int, n_pos: int, n_neg: int) -> float:
    """The official EER where FRR - FAR changes sign along the monotone path of
    cuts from ``(b0, s0)`` through the ``(path_b, path_s)`` corners, one trial
    rejected a step: the first cut with FRR - FAR >= 0 or the one before it,
    whichever is closer to zero (the earlier on a tie), as ``np.argmin`` over
    the whole sweep picks it (see :func:`benchsuite.api.eer_cut`)."""
    def gap(b: int, s: int) -> float:
        return b / n_pos - (n_neg - s) / n_neg

    corner = int(np.argmax(path_b / n_pos - (n_neg - path_s) / n_neg >= 0))
    start_b, start_s = (b0, s0) if corner == 0 else (int(path_b[corner - 1]), int(path_s[corner - 1]))
    end_b, end_s = int(path_b[corner]), int(path_s[corner])
    if end_b > start_b:  # bona fide copies rejected along this step of the path
        low, high = start_b + 1, end_b
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if gap(middle, end_s) >= 0 else (middle + 1, high)
        after, before = (low, end_s), (low - 1, end_s)
    else:  # spoof copies rejected
        low, high = start_s + 1, end_s
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if gap(end_b, middle) >= 0 else (middle + 1, high)
        after, before = (end_b, low), (end_b, low - 1)
    b, s = before if abs(gap(*before)) <= abs(gap(*after)) else after
    return (b / n_pos + (n_neg - s) / n_neg) / 2


def bootstrap_eer_interval(sweep: DetSweep, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                           level: float = DEFAULT_LEVEL) -> BootstrapInterval:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    eers = bootstrap_eers(sweep, resamples, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(eers, [tail, 100 - tail])
    return BootstrapInterval(float(low), float(high), resamples, seed, level)
