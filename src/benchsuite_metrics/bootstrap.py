"""Bootstrap confidence interval of the EER over trials.

A single-seed EER carries the sampling error of its evaluation trials; this
interval shows it.  Bona fide (target) and spoof (nontarget) trials are
resampled with replacement separately, keeping both class sizes (a stratified
bootstrap, as in ``nii-yamagishilab/project-NN-Pytorch-scripts:sandbox/eval_conf_inter.py``),
and the interval is the percentile interval of the resampled EERs.

A resample never re-sorts: drawing trials with replacement from sorted scores
gives sorted scores again, so each resample only reweights the
:class:`~benchsuite_metrics.det.DetSweep` of the original scores and reuses its
staircase (O(n) per resample instead of O(n log n)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchsuite.api import DetSweep, eer_cut

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
    """The official EER of ``resamples`` stratified bootstrap resamples."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    n_pos, n_neg = sweep.n_positive, sweep.n_negative
    eers = np.empty(resamples, dtype=np.float64)
    for r in range(resamples):
        positive_copies = np.bincount(rng.integers(0, n_pos, n_pos), minlength=n_pos)
        negative_copies = np.bincount(rng.integers(0, n_neg, n_neg), minlength=n_neg)
        negatives_up_to = np.zeros(n_neg + 1, dtype=np.int64)
        np.cumsum(negative_copies, out=negatives_up_to[1:])
        # every copy of positive i has the resampled negatives below it
        below = np.repeat(negatives_up_to[sweep.negatives_below], positive_copies)
        b, s = eer_cut(below, n_pos, n_neg)
        eers[r] = (b / n_pos + (n_neg - s) / n_neg) / 2
    return eers


def bootstrap_eer_interval(sweep: DetSweep, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                           level: float = DEFAULT_LEVEL) -> BootstrapInterval:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    eers = bootstrap_eers(sweep, resamples, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(eers, [tail, 100 - tail])
    return BootstrapInterval(float(low), float(high), resamples, seed, level)
