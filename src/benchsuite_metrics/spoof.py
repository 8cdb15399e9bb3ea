"""Anti-spoofing metrics (task ``spoof``; higher score = bona fide).

* ``eer``: the official ASVspoof EER, a bootstrap interval over trials, and
  the EER per attack (pooled bona fide vs that attack's spoofs) and per
  condition column (e.g. the 2021 LA codec).
* ``tdcf``: min t-DCF in both formulations, ``legacy`` (ASVspoof 2019,
  Kinnunen et al., Odyssey 2018; what 2019 LA papers report) and ``revised``
  (Kinnunen et al., IEEE/ACM TASLP 2020; ASVspoof 2021 and ASVspoof 5), pooled
  and per attack.  Not applicable (None, with a note) without the organisers'
  ASV scores.
* ``asvspoof5``: ASVspoof 5 track-1 minDCF, actDCF and Cllr.

All three rank a score set once (:class:`RankedSpoofScores`, shared through a
cache keyed by the score container) and validate it before computing anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchsuite.api import (
    ConfigError, MetricOutput, MetricSpec, MetricValueInfo, ScoreSet, SpoofScores, Task, hookimpl, string_keys, validate_spoof_scores,
)

from benchsuite.api import det
from .bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_eer_interval
from .polarity import warn_about_polarity



def factorize(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(sorted distinct values, code of each value).  Fixed-width string arrays
    are keyed as integers (:func:`benchsuite.api.string_keys`) and the
    keys put in hash buckets, O(n) instead of sorting the strings; anything
    else, or a bucket collision, falls back to ``np.unique``."""
    values = np.asarray(values)
    keyed = string_keys(values) if values.size else None
    if keyed is not None:
        keys, exact = keyed
        for bits in (12, 18):  # few distinct values is the common case
            buckets = 1 << bits
            # Fibonacci hashing: the top bits of key * 2^64/phi spread any keys evenly
            bucket = ((keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)).astype(np.intp)
            example = np.empty(buckets, dtype=np.intp)
            example[bucket] = np.arange(values.size)  # some row holding each bucket's value
            representative = example[bucket]
            if not np.array_equal(keys[representative], keys):
                continue  # two distinct keys share a bucket
            if not exact and not np.array_equal(values[representative], values):
                break  # a hash collision between distinct strings
            occupied = np.flatnonzero(np.bincount(bucket, minlength=buckets))
            names = values[example[occupied]]
            order = np.argsort(names)
            code_of_bucket = np.zeros(buckets, dtype=np.int64)
            code_of_bucket[occupied[order]] = np.arange(order.size)
            return [str(name) for name in names[order]], code_of_bucket[bucket]
    names, codes = np.unique(values.astype(str), return_inverse=True)
    return [str(name) for name in names], codes.reshape(-1)


def sorted_groups(values: np.ndarray, codes: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """``values`` split by code, each group sorted: a counting sort on the
    (small integer) codes, then one value sort per group."""
    order = np.argsort(codes.astype(np.int32 if n_groups > 32767 else np.int16), kind="stable")
    grouped = values[order]
    bounds = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=n_groups), out=bounds[1:])
    return [np.sort(grouped[bounds[i]:bounds[i + 1]]) for i in range(n_groups)]


@dataclass
class Group:
    """One breakdown cell: its sweep (None when a class is missing) and counts."""

    sweep: det.DetSweep | None
    n_bonafide: int
    n_spoof: int


@dataclass
class RankedSpoofScores:
    """A validated :class:`SpoofScores` with each class sorted once (values
    only: within a class tied scores are interchangeable, and the
    bona-fide-first rule for ties across classes lives in
    :class:`~benchsuite_metrics.det.DetSweep`).  Attack and condition subsets
    are sorted once per group when first asked for and kept."""

    scores: SpoofScores
    is_bonafide: np.ndarray
    pooled: det.DetSweep
    attack_names: list[str]
    spoof_attack_codes: np.ndarray  # per spoof row, in score-file order
    _attack_groups: dict[str, Group] | None = None
    _condition_groups: dict[str, dict[str, Group]] = field(default_factory=dict)
    _asv_points: dict[str | None, det.AsvOperatingPoint] = field(default_factory=dict)
    _asv_attacks: set[str] | None = None

    def _class_values(self, bonafide: bool) -> np.ndarray:
        values = np.asarray(self.scores.scores, dtype=np.float64)
        return values[self.is_bonafide] if bonafide else values[~self.is_bonafide]

    def attack_groups(self) -> dict[str, Group]:
        if self._attack_groups is None:
            negatives = sorted_groups(self._class_values(False), self.spoof_attack_codes, len(self.attack_names))
            self._attack_groups = {
                name: Group(det.DetSweep.from_sorted(self.pooled.positive, group), self.pooled.n_positive, group.size)
                for name, group in zip(self.attack_names, negatives)
            }
        return self._attack_groups

    def condition_groups(self, column: str) -> dict[str, Group]:
        """Per value of a condition column: bona fide and spoof of that value.  A
        column whose values never overlap between the classes describes spoofs
        only (a vocoder type, say): its values are compared against all bona fide."""
        if column not in self._condition_groups:
            values = np.asarray(self.scores.conditions[column])
            bona_names, bona_codes = factorize(values[self.is_bonafide])
            spoof_names, spoof_codes = factorize(values[~self.is_bonafide])
            spoof_by_value = dict(zip(spoof_names, sorted_groups(self._class_values(False), spoof_codes,
                                                                 len(spoof_names))))
            groups: dict[str, Group] = {}
            if not set(bona_names) & set(spoof_names):
                positive = self.pooled.positive
                for name, negatives in spoof_by_value.items():
                    groups[name] = Group(det.DetSweep.from_sorted(positive, negatives), positive.size, negatives.size)
            else:
                bona_by_value = dict(zip(bona_names, sorted_groups(self._class_values(True), bona_codes,
                                                                   len(bona_names))))
                empty = self.pooled.positive[:0]
                for name in sorted(set(bona_names) | set(spoof_names)):
                    positives, negatives = bona_by_value.get(name, empty), spoof_by_value.get(name, empty)
                    sweep = det.DetSweep.from_sorted(positives, negatives) if positives.size and negatives.size else None
                    groups[name] = Group(sweep, int(positives.size), int(negatives.size))
            self._condition_groups[column] = groups
        return self._condition_groups[column]

    def asv_point(self, attack: str | None = None) -> det.AsvOperatingPoint | None:
        """The ASV operating point (None without ASV scores).  For an attack, the
        spoof rates use that attack's ASV spoof scores when the ASV scores name
        their attacks (as the 2021 package computes its per-attack C0/C1/C2),
        else the pooled ones."""
        asv = self.scores.asv
        if asv is None:
            return None
        if None not in self._asv_points:
            self._asv_points[None] = det.asv_operating_point(asv.target, asv.nontarget, asv.spoof)
        pooled = self._asv_points[None]
        if attack is None or not self.asv_knows_attack(attack):
            return pooled
        if attack not in self._asv_points:
            spoof = np.asarray(asv.spoof)[np.asarray(asv.spoof_attacks) == attack]
            self._asv_points[attack] = det.asv_operating_point_at(pooled.threshold, pooled.eer, asv.target,
                                                                  asv.nontarget, spoof)
        return self._asv_points[attack]

    def asv_knows_attack(self, attack: str) -> bool:
        if self._asv_attacks is None:
            attacks = self.scores.asv.spoof_attacks
            usable = attacks is not None and len(attacks) == len(self.scores.asv.spoof)
            self._asv_attacks = set(factorize(np.asarray(attacks))[0]) if usable else set()
        return attack in self._asv_attacks

    def counts(self) -> dict[str, Any]:
        return {"bonafide": self.pooled.n_positive, "spoof": self.pooled.n_negative,
                "attack": {name: group.n_spoof for name, group in self.attack_groups().items()}}


def _rank(scores: SpoofScores) -> RankedSpoofScores:
    validate_spoof_scores(scores)
    values = np.asarray(scores.scores, dtype=np.float64)
    is_bonafide = np.asarray(scores.is_bonafide, dtype=bool)
    pooled = det.DetSweep.from_sorted(np.sort(values[is_bonafide]), np.sort(values[~is_bonafide]))
    attack_names, attack_codes = factorize(np.asarray(scores.attacks)[~is_bonafide])
    return RankedSpoofScores(scores, is_bonafide, pooled, attack_names, attack_codes)


_ranked_cache = det.IdentityCache()


def ranked(scores: ScoreSet) -> RankedSpoofScores:
    """Validate and rank ``scores`` once for all the metrics computed on it."""
    if not isinstance(scores, SpoofScores):
        raise ConfigError(f"spoof metrics need SpoofScores, got {type(scores).__name__}")
    parts = (scores.utt_ids, scores.scores, scores.is_bonafide, scores.attacks, scores.asv,
             *scores.conditions.values())
    return _ranked_cache.get(scores, parts, lambda: _rank(scores))


def _maybe(value: float | None) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- eer


def compute_eer(scores: ScoreSet, resamples: int | None = None, seed: int = DEFAULT_SEED,
                level: float = DEFAULT_LEVEL) -> MetricOutput:
    ranking = ranked(scores)
    point = ranking.pooled.eer_point()
    if resamples is None:
        resamples = DEFAULT_RESAMPLES
    notes: dict[str, str] = {}
    extra: dict[str, Any] = {"eer_threshold": point.threshold, "counts": ranking.counts()}
    interval = None
    if resamples > 0:
        interval = bootstrap_eer_interval(ranking.pooled, resamples, seed, level)
        extra["eer_ci95" if level == 0.95 else f"eer_ci{level * 100:g}"] = [interval.low, interval.high]
        extra["eer_bootstrap"] = interval.as_dict()
    else:
        extra["eer_ci95"] = None
        notes["eer_ci95"] = "bootstrap interval turned off (0 resamples)"
    warn_about_polarity(point.eer, ranking.pooled, ranking.scores.source or "spoof scores", interval=interval)
    breakdown: dict[str, dict[str, dict[str, float | None]]] = {
        "attack": {name: {"eer": group.sweep.eer()} for name, group in ranking.attack_groups().items()
                   if group.sweep is not None},
    }
    for column in sorted(ranking.scores.conditions):
        groups = ranking.condition_groups(column)
        breakdown[column] = {value: {"eer": _maybe(g.sweep.eer() if g.sweep is not None else None)}
                             for value, g in groups.items()}
        lacking = [value for value, g in groups.items() if g.sweep is None]
        if lacking:
            notes[f"breakdown:{column}"] = (f"EER not applicable for {column} value(s) {', '.join(lacking)}: "
                                            "they hold only one class")
    return MetricOutput(values={"eer": point.eer}, breakdown=breakdown, notes=notes, extra=extra)


EER_OUTPUTS = (
    MetricValueInfo(
        key="eer", label="EER", percent=True,
        description="Equal error rate as the official ASVspoof scripts compute it (asvspoof-challenge/2021 "
                    "eval_metrics.py): every sorted score is a threshold, bona fide ranked before tied spoofs, no "
                    "interpolation, EER = mean of miss and false-alarm rates where they are closest. "
                    "extra['eer_ci95'] is a stratified bootstrap 95 % percentile interval over trials.",
    ),
)


def eer_metric() -> MetricSpec:
    """The ``eer`` metric; its bootstrap interval follows the :class:`MetricOptions` it is given."""
    return MetricSpec(
        name="eer", task=Task.SPOOF, outputs=EER_OUTPUTS,
        compute=lambda scores, options: compute_eer(scores, options.bootstrap_resamples, options.bootstrap_seed,
                                                    options.confidence),
        headline=lambda scores: {"eer": ranked(scores).pooled.eer_point().eer},
        description="Official ASVspoof EER with a seeded bootstrap interval over trials; per attack and per "
                    "condition breakdowns.",
    )


# --------------------------------------------------------------------------- t-DCF

NO_ASV_NOTE = ("not applicable: the t-DCF needs the organisers' ASV scores (target, nontarget, spoof) for the ASV "
               "operating point, and this dataset/score file provides none")


def compute_tdcf(scores: ScoreSet, cost: det.TdcfCostModel = det.DEFAULT_COST_MODEL) -> MetricOutput:
    ranking = ranked(scores)
    if ranking.scores.asv is None:
        return MetricOutput(values={"min_tdcf_legacy": None, "min_tdcf_revised": None},
                            notes={"min_tdcf_legacy": NO_ASV_NOTE, "min_tdcf_revised": NO_ASV_NOTE})
    cost.check()
    pooled_asv = ranking.asv_point()
    assert pooled_asv is not None
    values = _tdcfs(ranking.pooled, pooled_asv, cost, ranking.scores.asv.source)
    breakdown: dict[str, dict[str, float | None]] = {}
    pooled_rate_attacks = []
    for name, group in ranking.attack_groups().items():
        if not ranking.asv_knows_attack(name):
            pooled_rate_attacks.append(name)
        breakdown[name] = _tdcfs(group.sweep, ranking.asv_point(name), cost, ranking.scores.asv.source)
    notes = {}
    if pooled_rate_attacks:
        notes["breakdown:attack"] = (
            f"t-DCF of attack(s) {', '.join(pooled_rate_attacks)} uses the pooled ASV spoof rates: the ASV scores "
            "hold no spoof scores of those attacks")
    if ranking.scores.conditions:
        notes["breakdown:conditions"] = ("no per-condition t-DCF: it needs ASV scores split by condition (the 2021 "
                                         "package recomputes C0/C1/C2 per codec), which the ASV scores do not carry")
    op = pooled_asv
    extra = {"asv_operating_point": {"threshold": op.threshold, "asv_eer": op.eer, "pfa": op.pfa, "pmiss": op.pmiss,
                                     "pfa_spoof": op.pfa_spoof, "source": ranking.scores.asv.source}}
    return MetricOutput(values=values, breakdown={"attack": breakdown}, notes=notes, extra=extra)


def _tdcfs(sweep: det.DetSweep, asv: det.AsvOperatingPoint, cost: det.TdcfCostModel,
           source: str) -> dict[str, float | None]:
    from benchsuite.api import ScoreFileError

    try:
        return {"min_tdcf_legacy": det.min_tdcf_legacy(sweep, asv, cost),
                "min_tdcf_revised": det.min_tdcf_revised(sweep, asv, cost)}
    except det.TdcfUndefined as err:
        raise ScoreFileError(f"{source or 'ASV scores'}: {err}") from None


TDCF_OUTPUTS = (
    MetricValueInfo(
        key="min_tdcf_legacy", label="min t-DCF (legacy)", formulation="legacy",
        description="ASVspoof 2019 t-DCF (Kinnunen et al., Odyssey 2018), the number 2019 LA papers report: "
                    "min over CM thresholds of (C1 Pmiss_cm + C2 Pfa_cm) / min(C1, C2). Cost model Pspoof 0.05, "
                    "Ptar 0.95x0.99, Pnon 0.95x0.01, Cmiss 1, Cfa 10, Cfa_spoof 10; ASV at the EER threshold of the "
                    "organisers' ASV scores.",
    ),
    MetricValueInfo(
        key="min_tdcf_revised", label="min t-DCF (revised)", formulation="revised",
        description="Revised t-DCF (Kinnunen et al., IEEE/ACM TASLP 2020) of the ASVspoof 2021 package and "
                    "ASVspoof 5: min over CM thresholds of (C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2)); "
                    "same cost model and ASV operating point as the legacy one, higher for the same scores.",
    ),
)


# --------------------------------------------------------------------------- ASVspoof 5


def compute_asvspoof5(scores: ScoreSet) -> MetricOutput:
    ranking = ranked(scores)
    sweep = ranking.pooled
    return MetricOutput(
        values={"min_dcf": det.min_dcf_asvspoof5(sweep), "act_dcf": det.act_dcf_asvspoof5(sweep),
                "cllr": det.cllr(sweep.positive, sweep.negative)},
        notes={"act_dcf": "actDCF and Cllr treat the scores as calibrated log-likelihood ratios; for other "
                          "scores only minDCF is meaningful"},
        extra={"act_dcf_threshold": det.act_dcf_threshold()},
    )


ASVSPOOF5_OUTPUTS = (
    MetricValueInfo(
        key="min_dcf", label="minDCF (ASVspoof 5)", formulation="Pspoof=0.05, Cmiss=1, Cfa=10, normalised",
        description="ASVspoof 5 track-1 primary metric: min over thresholds of Cmiss(1-Pspoof)Pmiss + Cfa Pspoof Pfa, "
                    "divided by min(Cmiss(1-Pspoof), Cfa Pspoof).",
    ),
    MetricValueInfo(
        key="act_dcf", label="actDCF (ASVspoof 5)", formulation="Pspoof=0.05, Cmiss=1, Cfa=10, normalised",
        description="The same cost at the Bayes threshold -ln(Cmiss(1-Pspoof)/(Cfa Pspoof)) for LLR scores.",
    ),
    MetricValueInfo(
        key="cllr", label="Cllr", formulation="bits",
        description="Log-likelihood-ratio cost in bits: (mean log2(1+e^-s) over bona fide + mean log2(1+e^s) over "
                    "spoof) / 2.",
    ),
)


SPOOF_METRICS = (
    eer_metric(),
    MetricSpec(name="tdcf", task=Task.SPOOF, compute=lambda scores, options: compute_tdcf(scores), outputs=TDCF_OUTPUTS,
               description="min t-DCF, legacy (ASVspoof 2019) and revised (ASVspoof 2021 / 5), pooled and per "
                           "attack; needs the organisers' ASV scores."),
    MetricSpec(name="asvspoof5", task=Task.SPOOF, compute=lambda scores, options: compute_asvspoof5(scores), outputs=ASVSPOOF5_OUTPUTS,
               description="ASVspoof 5 track-1 minDCF, actDCF and Cllr."),
)


@hookimpl
def benchsuite_register_metrics(register):
    for spec in SPOOF_METRICS:
        register(spec)
