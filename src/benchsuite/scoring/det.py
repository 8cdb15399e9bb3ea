"""The official ASVspoof DET sweep, kept in a compact form, and every metric built on it.

The official code (``asvspoof-challenge/2021:eval-package/eval_metrics.py``)
concatenates positives (bona fide / target) then negatives (spoof / nontarget),
sorts them with a stable mergesort and sweeps all n+1 cut points: after the
k lowest-ranked items are rejected, FRR_k = rejected positives / |P| and
FAR_k = accepted negatives / |N|.  Because the sort is stable and positives come
first, a positive tied with a negative is rejected before it.

The sweep is fully described by the sorted positives, the sorted negatives and,
for each positive, how many negatives are ranked before it (negatives strictly
below it, found by ``searchsorted(..., side="left")``).  Sorting values
(not an argsort, and never a stable one) is several times cheaper than the
official stable argsort, and every DET-based metric below reads the same
:class:`DetSweep`.  Each formula repeats the official floating-point operations
in the same order, so the results are the official ones bit for bit, not just
within a tolerance.

Two facts keep the sweep compact:

* FRR - FAR rises by 1/|P| or 1/|N| at every step, so |FRR - FAR| is smallest
  where the sign changes; the EER needs a bisection, not the whole curve.
* Costs of the form a + b*FRR + c*FAR with c >= 0 fall along every run of
  negatives, so their minimum over the n+1 points is reached at one of the
  |P|+1 points where a run of negatives ends ("corners").
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np

T = TypeVar("T")

THRESHOLD_OFFSET = 0.001  # the official first threshold is min(all scores) - 0.001


@dataclass(frozen=True)
class EerPoint:
    """The official EER point: EER = (FRR + FAR) / 2 at the first cut where
    |FRR - FAR| is smallest, and the score threshold of that cut."""

    eer: float
    threshold: float
    frr: float
    far: float
    rejected_positives: int
    rejected_negatives: int


@dataclass(frozen=True)
class DetSweep:
    """One positive/negative score set, ranked once."""

    positive: np.ndarray  # float64, ascending
    negative: np.ndarray  # float64, ascending
    negatives_below: np.ndarray  # int64 per positive: negatives ranked before it

    @classmethod
    def from_sorted(cls, positive_sorted: np.ndarray, negative_sorted: np.ndarray) -> "DetSweep":
        """Build from already ascending arrays (not checked: callers sort)."""
        positive_sorted = np.asarray(positive_sorted, dtype=np.float64)
        negative_sorted = np.asarray(negative_sorted, dtype=np.float64)
        if positive_sorted.size == 0 or negative_sorted.size == 0:
            raise ValueError("a DET sweep needs at least one positive and one negative score")
        below = np.searchsorted(negative_sorted, positive_sorted, side="left")
        return cls(positive_sorted, negative_sorted, below)

    @classmethod
    def from_scores(cls, positive: np.ndarray, negative: np.ndarray) -> "DetSweep":
        return cls.from_sorted(np.sort(np.asarray(positive, dtype=np.float64)),
                               np.sort(np.asarray(negative, dtype=np.float64)))

    @property
    def n_positive(self) -> int:
        return int(self.positive.size)

    @property
    def n_negative(self) -> int:
        return int(self.negative.size)

    def corner_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Rejected positives and negatives at the |P|+1 corners (ends of the
        runs of negatives), the only points a cost minimum can fall on."""
        rejected_positives = np.arange(self.n_positive + 1, dtype=np.int64)
        rejected_negatives = np.empty(self.n_positive + 1, dtype=np.int64)
        rejected_negatives[:-1] = self.negatives_below
        rejected_negatives[-1] = self.n_negative
        return rejected_positives, rejected_negatives

    @functools.cached_property
    def _corner_rates(self) -> tuple[np.ndarray, np.ndarray]:
        rejected_positives, rejected_negatives = self.corner_counts()
        frr = rejected_positives / self.n_positive
        far = (self.n_negative - rejected_negatives) / self.n_negative
        frr.flags.writeable = False
        far.flags.writeable = False
        return frr, far

    def corner_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """FRR and FAR at the corners, computed exactly as the official code does
        (once per sweep; every cost minimum reads them)."""
        return self._corner_rates

    def threshold_at(self, rejected_positives: int, rejected_negatives: int) -> float:
        """The official threshold of a cut: the score of the last rejected item,
        or min(all) - 0.001 before anything is rejected."""
        if rejected_positives == 0 and rejected_negatives == 0:
            return float(min(self.positive[0], self.negative[0]) - THRESHOLD_OFFSET)
        last = -np.inf
        if rejected_positives:
            last = self.positive[rejected_positives - 1]
        if rejected_negatives:
            last = max(last, self.negative[rejected_negatives - 1])
        return float(last)

    def eer_point(self) -> EerPoint:
        b, s = eer_cut(self.negatives_below, self.n_positive, self.n_negative)
        frr = b / self.n_positive
        far = (self.n_negative - s) / self.n_negative
        return EerPoint((frr + far) / 2, self.threshold_at(b, s), frr, far, b, s)

    def eer(self) -> float:
        return self.eer_point().eer

    def det_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The full official curve (FRR, FAR, thresholds; n+1 points each), for
        plots and tests; metrics use the compact form."""
        n_pos, n_neg = self.n_positive, self.n_negative
        n = n_pos + n_neg
        is_positive = np.zeros(n, dtype=bool)
        is_positive[np.arange(n_pos) + self.negatives_below] = True
        merged = np.empty(n, dtype=np.float64)
        merged[is_positive] = self.positive
        merged[~is_positive] = self.negative
        rejected_positives = np.concatenate(([0], np.cumsum(is_positive)))
        rejected_negatives = np.arange(n + 1) - rejected_positives
        frr = rejected_positives / n_pos
        far = (n_neg - rejected_negatives) / n_neg
        thresholds = np.concatenate(([merged[0] - THRESHOLD_OFFSET], merged))
        return frr, far, thresholds


def eer_cut(negatives_below: np.ndarray, n_positive: int, n_negative: int) -> tuple[int, int]:
    """(rejected positives, rejected negatives) at the official EER cut of the
    staircase given by ``negatives_below`` (ascending, one entry per positive).

    FRR - FAR strictly increases along the sweep (by at least 1/max(|P|, |N|),
    far above rounding), so the first minimum of |FRR - FAR| is the last cut
    with FRR - FAR < 0 or the first with FRR - FAR >= 0, whichever is closer;
    on a tie the earlier one, as ``np.argmin`` picks it.
    """
    corner_negatives = np.empty(n_positive + 1, dtype=np.int64)
    corner_negatives[:-1] = negatives_below
    corner_negatives[-1] = n_negative
    corner_gap = np.arange(n_positive + 1) / n_positive - (n_negative - corner_negatives) / n_negative
    # the last corner has FRR 1, FAR 0, so some corner is >= 0
    b = int(np.argmax(corner_gap >= 0))
    run_start = int(corner_negatives[b - 1]) if b > 0 else 0
    frr_b = b / n_positive

    def gap(s: int) -> float:
        return frr_b - (n_negative - s) / n_negative

    low, high = run_start, int(corner_negatives[b])
    while low < high:  # first s in the run with gap >= 0
        middle = (low + high) // 2
        if gap(middle) >= 0:
            high = middle
        else:
            low = middle + 1
    after = (b, low)
    # the cut before it: one negative earlier in the same run, or (when the
    # run starts here) the end of the previous run, before positive b-1 was rejected
    before = (b, low - 1) if low > run_start else (b - 1, run_start)
    gap_after = abs(gap(low))
    gap_before = abs(before[0] / n_positive - (n_negative - before[1]) / n_negative)
    return before if gap_before <= gap_after else after


def eer(positive: np.ndarray, negative: np.ndarray) -> float:
    """Official ASVspoof EER of unsorted score arrays."""
    return DetSweep.from_scores(positive, negative).eer()


# --------------------------------------------------------------------------- t-DCF


@dataclass(frozen=True)
class TdcfCostModel:
    """The t-DCF cost model of ASVspoof 2019, 2021 and ASVspoof 5 (config.py of
    the 2021 package).  The legacy names map as Cmiss_asv = Cmiss_cm = c_miss,
    Cfa_asv = c_fa, Cfa_cm = c_fa_spoof."""

    p_spoof: float = 0.05
    p_target: float = (1 - 0.05) * 0.99
    p_nontarget: float = (1 - 0.05) * 0.01
    c_miss: float = 1
    c_fa: float = 10
    c_fa_spoof: float = 10

    def check(self) -> None:
        from benchsuite.contract import ConfigError

        priors = (self.p_target, self.p_nontarget, self.p_spoof)
        if min(priors) < 0 or abs(sum(priors) - 1) > 1e-10:
            raise ConfigError(f"t-DCF priors must be non-negative and sum to 1, got {priors}")
        if min(self.c_miss, self.c_fa, self.c_fa_spoof) < 0:
            raise ConfigError("t-DCF costs must be non-negative")


DEFAULT_COST_MODEL = TdcfCostModel()


@dataclass(frozen=True)
class AsvOperatingPoint:
    """ASV error rates at the EER threshold of the organisers' ASV scores.
    Following ``obtain_asv_error_rates``: a score below the threshold is
    rejected, a score at or above it accepted."""

    threshold: float
    eer: float
    pfa: float  # nontargets accepted
    pmiss: float  # targets rejected
    pmiss_spoof: float  # spoofs rejected (legacy C2 uses 1 - this)
    pfa_spoof: float  # spoofs accepted (revised C2)


def asv_threshold(target: np.ndarray, nontarget: np.ndarray) -> tuple[float, float]:
    """(threshold, ASV EER) from target vs nontarget ASV scores."""
    point = DetSweep.from_scores(target, nontarget).eer_point()
    return point.threshold, point.eer


def asv_operating_point(target: np.ndarray, nontarget: np.ndarray, spoof: np.ndarray) -> AsvOperatingPoint:
    threshold, asv_eer = asv_threshold(target, nontarget)
    return asv_operating_point_at(threshold, asv_eer, target, nontarget, spoof)


def asv_operating_point_at(threshold: float, asv_eer: float, target: np.ndarray, nontarget: np.ndarray,
                           spoof: np.ndarray) -> AsvOperatingPoint:
    target = np.asarray(target, dtype=np.float64)
    nontarget = np.asarray(nontarget, dtype=np.float64)
    spoof = np.asarray(spoof, dtype=np.float64)
    if spoof.size == 0:
        raise ValueError("the t-DCF needs ASV scores of spoofed trials")
    spoof_rejected = int(np.count_nonzero(spoof < threshold))
    return AsvOperatingPoint(
        threshold=threshold,
        eer=asv_eer,
        pfa=int(np.count_nonzero(nontarget >= threshold)) / nontarget.size,
        pmiss=int(np.count_nonzero(target < threshold)) / target.size,
        pmiss_spoof=spoof_rejected / spoof.size,
        pfa_spoof=(spoof.size - spoof_rejected) / spoof.size,
    )


class TdcfUndefined(ValueError):
    """The ASV operating point gives t-DCF weights that are negative or zero."""


def legacy_weights(asv: AsvOperatingPoint, cost: TdcfCostModel = DEFAULT_COST_MODEL) -> tuple[float, float]:
    """C1, C2 of the 2019 (Odyssey 2018) t-DCF."""
    c1 = cost.p_target * (cost.c_miss - cost.c_miss * asv.pmiss) - cost.p_nontarget * cost.c_fa * asv.pfa
    c2 = cost.c_fa_spoof * cost.p_spoof * (1 - asv.pmiss_spoof)
    if c1 < 0 or c2 < 0 or min(c1, c2) == 0:
        raise TdcfUndefined(f"legacy t-DCF weights C1={c1!r}, C2={c2!r} must be positive; check the ASV scores")
    return c1, c2


def revised_weights(asv: AsvOperatingPoint,
                    cost: TdcfCostModel = DEFAULT_COST_MODEL) -> tuple[float, float, float]:
    """C0, C1, C2 of the revised (TASLP 2020) t-DCF."""
    c0 = cost.p_target * cost.c_miss * asv.pmiss + cost.p_nontarget * cost.c_fa * asv.pfa
    c1 = cost.p_target * cost.c_miss - (cost.p_target * cost.c_miss * asv.pmiss
                                        + cost.p_nontarget * cost.c_fa * asv.pfa)
    c2 = cost.p_spoof * cost.c_fa_spoof * asv.pfa_spoof
    if c0 < 0 or c1 < 0 or c2 < 0 or c0 + min(c1, c2) == 0:
        raise TdcfUndefined(f"revised t-DCF weights C0={c0!r}, C1={c1!r}, C2={c2!r} must be non-negative "
                            "with a positive default cost; check the ASV scores")
    return c0, c1, c2


def min_tdcf_legacy(sweep: DetSweep, asv: AsvOperatingPoint, cost: TdcfCostModel = DEFAULT_COST_MODEL) -> float:
    c1, c2 = legacy_weights(asv, cost)
    frr, far = sweep.corner_rates()
    curve = (c1 * frr + c2 * far) / np.minimum(c1, c2)
    return float(curve.min())


def min_tdcf_revised(sweep: DetSweep, asv: AsvOperatingPoint, cost: TdcfCostModel = DEFAULT_COST_MODEL) -> float:
    c0, c1, c2 = revised_weights(asv, cost)
    frr, far = sweep.corner_rates()
    curve = (c0 + c1 * frr + c2 * far) / (c0 + np.minimum(c1, c2))
    return float(curve.min())


# --------------------------------------------------------------------------- DCFs


def min_dcf_asvspoof5(sweep: DetSweep, p_spoof: float = 0.05, c_miss: float = 1, c_fa: float = 10) -> float:
    """ASVspoof 5 track-1 minDCF (``calculate_modules.py::compute_mindcf``):
    min over the sweep of Cmiss (1-Pspoof) FRR + Cfa Pspoof FAR, normalised by
    min(Cmiss (1-Pspoof), Cfa Pspoof).  Written with p_target = 1 - Pspoof as the
    official code is, so rounding matches."""
    p_target = 1 - p_spoof
    frr, far = sweep.corner_rates()
    cost = c_miss * frr * p_target + c_fa * far * (1 - p_target)
    return float(cost.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


def act_dcf_threshold(p_spoof: float = 0.05, c_miss: float = 1, c_fa: float = 10) -> float:
    """Bayes threshold -ln(beta), beta = Cmiss (1-Pspoof) / (Cfa Pspoof), for LLR scores."""
    return float(-np.log(c_miss * (1 - p_spoof) / (c_fa * p_spoof)))


def act_dcf_asvspoof5(sweep: DetSweep, p_spoof: float = 0.05, c_miss: float = 1, c_fa: float = 10) -> float:
    """ASVspoof 5 actDCF: the same cost at the fixed Bayes threshold; bona fide
    below it is missed, spoof at or above it falsely accepted."""
    threshold = act_dcf_threshold(p_spoof, c_miss, c_fa)
    missed = int(np.searchsorted(sweep.positive, threshold, side="left"))
    accepted = sweep.n_negative - int(np.searchsorted(sweep.negative, threshold, side="left"))
    rate_miss = missed / sweep.n_positive
    rate_fa = accepted / sweep.n_negative
    cost = c_miss * (1 - p_spoof) * rate_miss + c_fa * p_spoof * rate_fa
    return float(cost / min(c_fa * p_spoof, c_miss * (1 - p_spoof)))


def cllr(positive: np.ndarray, negative: np.ndarray) -> float:
    """Cllr in bits: (mean log2(1 + e^-s_pos) + mean log2(1 + e^s_neg)) / 2."""
    positive = np.asarray(positive, dtype=np.float64)
    negative = np.asarray(negative, dtype=np.float64)
    return float(0.5 * (np.mean(softplus(-positive)) + np.mean(softplus(negative))) / np.log(2))


def softplus(x: np.ndarray) -> np.ndarray:
    """ln(1 + e^x), equal to the official ``log1p(exp(x))`` to rounding but
    finite where exp overflows (x > ~709, where the official Cllr is inf)."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def min_dcf(sweep: DetSweep, p_target: float, c_miss: float = 1, c_fa: float = 1) -> float:
    """Normalised minimum detection cost (NIST SRE / Kaldi / WeSpeaker form):
    min over the sweep of Cmiss p FRR + Cfa (1-p) FAR, divided by
    min(Cmiss p, Cfa (1-p)), the cost of the better trivial system."""
    frr, far = sweep.corner_rates()
    cost = c_miss * frr * p_target + c_fa * far * (1 - p_target)
    return float(cost.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


# --------------------------------------------------------------------------- sharing one ranking


class IdentityCache:
    """Remembers a value computed from a score container, so the several
    metrics computed on the same object rank (and validate) it once.

    Keyed by the container's identity and the identities of the arrays it
    holds.  The cached value usually refers to its container, so entries are
    dropped oldest first beyond ``size`` (two: the metrics of one score set run
    one after another).  Arrays changed in place are not noticed (containers
    are treated as immutable once scored)."""

    def __init__(self, size: int = 2):
        self.size = size
        self._entries: dict[int, tuple[object, tuple[int, ...], object]] = {}

    def get(self, owner: object, parts: tuple[object, ...], build: "Callable[[], T]") -> "T":
        import weakref

        key = id(owner)
        signature = tuple(id(part) for part in parts)
        entry = self._entries.get(key)
        if entry is not None:
            ref, seen, value = entry
            if ref() is owner and seen == signature:
                return value  # type: ignore[return-value]
        value = build()
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (weakref.ref(owner, lambda _r, k=key: self._entries.pop(k, None)), signature, value)
        return value
