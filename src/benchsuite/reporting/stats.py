"""Is a difference between two systems real or seed noise?  The seed-level tests and the per-trial
paired bootstrap behind sweep comparisons and ``benchsuite compare``, implemented here (and checked
against ``scipy.stats`` on fixed inputs by the tests):

- :func:`paired_t`: a t-test on per-seed differences, for two systems run with the same seeds
  (seed s of A and seed s of B share their initialisation and data order, so the seed's own
  effect cancels in the difference);
- :func:`wilcoxon_signed_rank`: the signed-rank test on the same differences (exact distribution
  without ties, normal approximation otherwise);
- :func:`welch_t`: Welch's unequal-variance t-test, when the seeds do not match;
- :func:`holm`: Holm's step-down adjustment of a family of p-values;
- :func:`paired_bootstrap`: resampling evaluation trials (the same resampled trials for both
  systems and every seed), for the trial-sampling error of a metric difference such as an EER.

The paired t-test is the one the verdicts use: with the 3-5 seeds a sweep usually has, the
signed-rank test's smallest two-sided p-value is ``2 / 2**n`` (0.25 with 3 seeds, 0.0625 with 5),
so it could never call a difference real; it is reported beside the t-test from 6 matched seeds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.special import betainc, ndtr

ALPHA = 0.05
WILCOXON_MIN_N = 6  # below this the signed-rank test cannot reach p < 0.05 (2 / 2**5 = 0.0625)
EXACT_WILCOXON_MAX_N = 50


@dataclass(frozen=True)
class HypothesisTest:
    test: str  # "paired t", "Welch t", "Wilcoxon signed-rank"
    statistic: float
    p_value: float
    n: int  # pairs (paired tests) or the smaller group (Welch)
    df: float | None = None
    detail: str = ""  # e.g. "exact" / "normal approximation", or why no p-value

    def as_dict(self) -> dict:
        return {"test": self.test, "statistic": self.statistic, "p_value": self.p_value, "n": self.n,
                "df": self.df, "detail": self.detail}


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2)."""
    if math.isnan(t):
        return float("nan")
    if math.isinf(t):
        return 0.0
    return float(betainc(df / 2, 0.5, df / (df + t * t)))


def _mean_var(values: Sequence[float]) -> tuple[float, float, int]:
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    mean = float(x.mean())
    var = float(((x - mean) ** 2).sum() / (n - 1)) if n > 1 else float("nan")
    return mean, var, n


def paired_t(a: Sequence[float], b: Sequence[float]) -> HypothesisTest:
    """The one-sample t-test of the differences ``a[i] - b[i]`` against zero (two-sided)."""
    if len(a) != len(b):
        raise ValueError(f"paired_t needs pairs, got {len(a)} and {len(b)} values")
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mean, var, n = _mean_var(diffs)
    if n < 2:
        return HypothesisTest("paired t", float("nan"), float("nan"), n, None, "needs at least 2 matched seeds")
    if var == 0:
        detail = "every seed differs by the same amount"
        return HypothesisTest("paired t", math.copysign(math.inf, mean) if mean else float("nan"),
                          0.0 if mean else 1.0, n, n - 1, detail)
    t = mean / math.sqrt(var / n)
    return HypothesisTest("paired t", t, t_two_sided_p(t, n - 1), n, float(n - 1))


def welch_t(a: Sequence[float], b: Sequence[float]) -> HypothesisTest:
    """Welch's t-test of mean(a) - mean(b) (two-sided), Welch-Satterthwaite degrees of freedom."""
    mean_a, var_a, n_a = _mean_var(a)
    mean_b, var_b, n_b = _mean_var(b)
    if n_a < 2 or n_b < 2:
        return HypothesisTest("Welch t", float("nan"), float("nan"), min(n_a, n_b), None,
                          "needs at least 2 seeds on each side")
    se2 = var_a / n_a + var_b / n_b
    if se2 == 0:
        diff = mean_a - mean_b
        return HypothesisTest("Welch t", math.copysign(math.inf, diff) if diff else float("nan"),
                          0.0 if diff else 1.0, min(n_a, n_b), None, "no spread on either side")
    t = (mean_a - mean_b) / math.sqrt(se2)
    df = se2 ** 2 / ((var_a / n_a) ** 2 / (n_a - 1) + (var_b / n_b) ** 2 / (n_b - 1))
    return HypothesisTest("Welch t", t, t_two_sided_p(t, df), min(n_a, n_b), float(df))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) with ties sharing the mean of their positions."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    sorted_values = values[order]
    i = 0
    while i < values.size:
        j = i
        while j + 1 < values.size and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _signed_rank_null_counts(n: int) -> np.ndarray:
    """How many of the 2**n sign patterns give each W+ = 0 .. n(n+1)/2 (ranks 1..n, no ties)."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=np.float64)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> HypothesisTest:
    """Two-sided signed-rank test of ``a - b``; zero differences are dropped (Wilcoxon's rule).
    The statistic is min(W+, W-); exact without ties for up to 50 pairs, else the normal
    approximation with the tie correction of the variance (no continuity correction)."""
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    diffs = diffs[diffs != 0]
    n = diffs.size
    if n == 0:
        return HypothesisTest("Wilcoxon signed-rank", float("nan"), float("nan"), 0, None, "every difference is zero")
    ranks = _ranks(np.abs(diffs))
    w_plus = float(ranks[diffs > 0].sum())
    total = n * (n + 1) / 2
    statistic = min(w_plus, total - w_plus)
    ties = len(np.unique(np.abs(diffs))) != n
    if not ties and n <= EXACT_WILCOXON_MAX_N:
        counts = _signed_rank_null_counts(n)
        lower = counts[: int(statistic) + 1].sum() / 2 ** n
        return HypothesisTest("Wilcoxon signed-rank", statistic, float(min(1.0, 2 * lower)), n, None, "exact")
    _, tie_counts = np.unique(np.abs(diffs), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - float((tie_counts ** 3 - tie_counts).sum()) / 48
    z = (statistic - total / 2) / math.sqrt(var)
    return HypothesisTest("Wilcoxon signed-rank", statistic, float(min(1.0, 2 * ndtr(z))), n, None,
                      "normal approximation")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the k-th smallest of m becomes
    max over j <= k of min(1, (m - j + 1) p_(j)).  NaN p-values stay NaN and do not count in m."""
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    indexed.sort()
    m = len(indexed)
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class BootstrapResult:
    observed: float  # the statistic on the original trials
    low: float  # percentile interval of the resampled statistic
    high: float
    p_value: float  # two-sided: twice the smaller share of resamples on either side of zero
    resamples: int
    seed: int
    level: float = 0.95

    def p_text(self) -> str:
        """``p = 0`` from resamples means below what they can resolve: ``< 1/resamples``."""
        return f"< {1 / self.resamples:.2g}" if self.p_value == 0 else f"{self.p_value:.2g}"

    def as_dict(self) -> dict:
        return {"observed": self.observed, "low": self.low, "high": self.high, "p_value": self.p_value,
                "resamples": self.resamples, "seed": self.seed, "level": self.level}


def paired_bootstrap(statistic: Callable[[np.ndarray], float], strata: Sequence[int] | np.ndarray,
                     resamples: int = 1000, seed: int = 0, level: float = 0.95) -> BootstrapResult:
    """Resample trial indices with replacement within each stratum (e.g. bona fide and spoof, or
    target and nontarget, keeping both counts) and evaluate ``statistic(indices)``, a difference
    of the two systems' metric on the *same* resampled trials."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    strata = np.asarray(strata)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    rng = np.random.default_rng(seed)
    observed = float(statistic(np.arange(strata.size)))
    values = np.empty(resamples, dtype=np.float64)
    for r in range(resamples):
        picked = np.concatenate([g[rng.integers(0, g.size, g.size)] for g in groups])
        values[r] = statistic(picked)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    p = min(1.0, 2 * min(float(np.mean(values <= 0)), float(np.mean(values >= 0))))
    return BootstrapResult(observed, float(low), float(high), p, resamples, seed, level)
