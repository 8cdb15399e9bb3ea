"""Speaker-verification metrics (task ``verify``; higher score = same speaker).

* ``sv-eer``: EER by the same DET sweep as the ASVspoof EER (every score a
  threshold, targets ranked before tied nontargets, no interpolation).
* ``min-dcf``: normalised minimum detection cost at p_target 0.01 and 0.05,
  Cmiss = Cfa = 1.

Both read one ranking of the trial scores, shared through a cache.
"""
from __future__ import annotations

import numpy as np

from benchsuite.api import (
    ConfigError, MetricOutput, MetricSpec, MetricValueInfo, ScoreSet, Task, VerifyScores, hookimpl, validate_verify_scores,
)

from benchsuite.api import det
from .polarity import warn_about_polarity

P_TARGETS = (0.01, 0.05)

_sweep_cache = det.IdentityCache()


def _rank(scores: VerifyScores) -> det.DetSweep:
    validate_verify_scores(scores)
    values = np.asarray(scores.scores, dtype=np.float64)
    is_target = np.asarray(scores.is_target, dtype=bool)
    return det.DetSweep.from_scores(values[is_target], values[~is_target])


def sweep_of(scores: ScoreSet) -> det.DetSweep:
    """Validate and rank ``scores`` once for all the metrics computed on it."""
    if not isinstance(scores, VerifyScores):
        raise ConfigError(f"verification metrics need VerifyScores, got {type(scores).__name__}")
    parts = (scores.enrol, scores.test, scores.scores, scores.is_target)
    return _sweep_cache.get(scores, parts, lambda: _rank(scores))


def compute_sv_eer(scores: ScoreSet) -> MetricOutput:
    sweep = sweep_of(scores)
    point = sweep.eer_point()
    warn_about_polarity(point.eer, sweep, getattr(scores, "source", "") or "verification scores",
                        positive="target trials")
    return MetricOutput(values={"eer": point.eer},
                        extra={"eer_threshold": point.threshold,
                               "counts": {"target": sweep.n_positive, "nontarget": sweep.n_negative}})


def min_dcf_key(p_target: float) -> str:
    return f"min_dcf_p{p_target:g}"


def compute_min_dcf(scores: ScoreSet) -> MetricOutput:
    sweep = sweep_of(scores)
    return MetricOutput(values={min_dcf_key(p): det.min_dcf(sweep, p) for p in P_TARGETS})


MIN_DCF_CONVENTIONS = (
    "Normalised by min(Cmiss p, Cfa (1-p)) as in NIST SRE, Kaldi, WeSpeaker and the VoxSRC/FFSVC challenges, so 1.0 is "
    "the cost of always accepting or always rejecting. SpeechBrain reports the un-normalised minimum (its recipe "
    "logs x100, which equals this value only at p=0.01); ESPnet-SPK defaults to p_target=0.05; WeSpeaker and "
    "Kaldi to 0.01. Thresholds here are the official ASVspoof DET sweep (every score, targets ranked before tied "
    "nontargets); WeSpeaker's non-stable sort can differ from it only on tied scores."
)

SV_METRICS = (
    MetricSpec(
        name="sv-eer", task=Task.VERIFY, compute=lambda scores, options: compute_sv_eer(scores),
        outputs=(MetricValueInfo(
            key="eer", label="EER", percent=True,
            description="Equal error rate on the official ASVspoof DET sweep (no interpolation; WeSpeaker and "
                        "3D-Speaker interpolate between the two bracketing points, ESPnet takes max(FAR, FRR)).",
        ),),
        description="Speaker-verification EER by the same DET sweep as the ASVspoof EER.",
    ),
    MetricSpec(
        name="min-dcf", task=Task.VERIFY, compute=lambda scores, options: compute_min_dcf(scores),
        outputs=tuple(
            MetricValueInfo(key=min_dcf_key(p), label=f"minDCF (p={p:g})",
                            formulation=f"p_target={p:g}, Cmiss=Cfa=1, normalised", description=MIN_DCF_CONVENTIONS)
            for p in P_TARGETS
        ),
        description="Normalised minimum detection cost at p_target 0.01 and 0.05 with Cmiss = Cfa = 1. "
                    + MIN_DCF_CONVENTIONS,
    ),
)


@hookimpl
def benchsuite_register_metrics(register):
    for spec in SV_METRICS:
        register(spec)
