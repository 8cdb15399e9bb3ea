"""The seed-level statistics agree with scipy.stats on fixed inputs; Holm checked by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from benchsuite.reporting.stats import holm, paired_bootstrap, paired_t, welch_t, wilcoxon_signed_rank

A = [0.512, 0.478, 0.530, 0.495, 0.521, 0.467, 0.503]
B = [0.488, 0.470, 0.497, 0.501, 0.480, 0.452, 0.466]


@pytest.mark.parametrize("n", [3, 5, 7])
def test_paired_t_matches_scipy(n):
    ours = paired_t(A[:n], B[:n])
    ref = scipy_stats.ttest_rel(A[:n], B[:n])
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert ours.df == n - 1


@pytest.mark.parametrize("a, b", [(A[:3], B[:5]), (A, B[:4]), ([1.0, 2.0, 4.0, 8.0], [3.0, 3.5, 3.1])])
def test_welch_matches_scipy(a, b):
    ours = welch_t(a, b)
    ref = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("a, b", [
    (A, B),                                              # 7 pairs, no ties: exact
    (A[:3], B[:3]),                                      # smallest p is 0.25
    ([1, 2, 3, 4, 5, 6, 7, 8], [1.5, 1, 2, 5, 4, 3, 9, 6]),  # tied |differences|: normal approximation
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.25, 0.2, 0.1, 0.45, 0.3]),  # one zero difference is dropped
])
def test_wilcoxon_matches_scipy(a, b):
    ours = wilcoxon_signed_rank(a, b)
    diffs = np.asarray(a, float) - np.asarray(b, float)
    nonzero = diffs[diffs != 0]
    method = "exact" if len(np.unique(np.abs(nonzero))) == nonzero.size else "approx"
    ref = scipy_stats.wilcoxon(nonzero, method=method, correction=False)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_wilcoxon_with_three_seeds_cannot_go_below_a_quarter():
    assert wilcoxon_signed_rank([1, 2, 3], [0, 0, 0]).p_value == pytest.approx(0.25)


def test_holm_by_hand():
    # p sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> kept at 0.06,
    # Holm never lets a larger p get a smaller adjusted value)
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # a capped one: 0.4 x 3 = 1.2 -> 1
    assert holm([0.4, 0.001, 0.3]) == pytest.approx([0.6, 0.003, 0.6])
    adjusted = holm([0.2, float("nan")])
    assert adjusted[0] == pytest.approx(0.2) and math.isnan(adjusted[1])


def test_paired_bootstrap_of_a_mean_difference():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, 400)
    y = x + rng.normal(0.3, 0.2, 400)  # y is 0.3 larger, paired with x trial by trial
    strata = np.arange(400) % 2
    result = paired_bootstrap(lambda idx: float(np.mean(y[idx] - x[idx])), strata, resamples=500, seed=3)
    assert result.observed == pytest.approx(float(np.mean(y - x)))
    assert result.low < 0.3 < result.high and result.high - result.low < 0.1
    assert result.p_value < 0.01 and result.p_text().startswith(("< ", "0.00"))
    same = paired_bootstrap(lambda idx: float(np.mean(x[idx] - x[idx])), strata, resamples=50)
    assert same.p_value == 1.0
