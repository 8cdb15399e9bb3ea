"""The released RawGAT-ST (mul) scores on ASVspoof 2019 LA eval, with the
organisers' ASV scores: the published numbers, and agreement with an
independent plain implementation of the official algorithm to 1e-9.

When the official 2021 eval package is available (``BENCHSUITE_OFFICIAL_EVAL_PACKAGE``
or /tmp/scratch-metrics/eval-package, never part of this repository), the
same numbers are also compared with its own functions."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from benchsuite.scoring import files as scorefiles
from benchsuite.scoring import det
from benchsuite_metrics import spoof

from builders_metrics import (
    reference_asv, reference_eer, reference_tdcf_legacy, reference_tdcf_revised,
)

LA = "asvspoof2019_la"
CM_SCORES = "RawGAT-ST-mul.eval.cm.scores.txt"
PROTOCOL = "ASVspoof2019.LA.cm.eval.trl.txt"
ASV_SCORES = "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"


@pytest.fixture(scope="module")
def rawgat(reference_dir: Path):
    folder = reference_dir / LA
    scores = scorefiles.spoof_scores_from_files(folder / CM_SCORES, folder / PROTOCOL, folder / ASV_SCORES)
    return scores


@pytest.fixture(scope="module")
def rawgat_reference(rawgat):
    """Everything recomputed by the plain reference implementation."""
    bona = rawgat.scores[rawgat.is_bonafide].tolist()
    asv = rawgat.asv
    out = {"eer": reference_eer(bona, rawgat.scores[~rawgat.is_bonafide].tolist())[0]}
    operating_point = reference_asv(asv.target.tolist(), asv.nontarget.tolist(), asv.spoof.tolist())
    spoof_scores = rawgat.scores[~rawgat.is_bonafide].tolist()
    out["legacy"] = reference_tdcf_legacy(bona, spoof_scores, operating_point)
    out["revised"] = reference_tdcf_revised(bona, spoof_scores, operating_point)
    out["asv"] = operating_point
    out["attack"] = {}
    for attack in sorted(set(rawgat.attacks[~rawgat.is_bonafide])):
        negatives = rawgat.scores[rawgat.attacks == attack].tolist()
        attack_asv = reference_asv(asv.target.tolist(), asv.nontarget.tolist(),
                                   asv.spoof[asv.spoof_attacks == attack].tolist())
        out["attack"][attack] = {
            "eer": reference_eer(bona, negatives)[0],
            "min_tdcf_legacy": reference_tdcf_legacy(bona, negatives, attack_asv),
            "min_tdcf_revised": reference_tdcf_revised(bona, negatives, attack_asv),
        }
    return out


def test_counts_of_the_joined_files(rawgat):
    assert len(rawgat.scores) == 71237
    assert int(rawgat.is_bonafide.sum()) == 7355
    assert len(rawgat.asv.target) == 5370 and len(rawgat.asv.nontarget) == 33327 and len(rawgat.asv.spoof) == 63882


def test_published_numbers(rawgat):
    eer = spoof.compute_eer(rawgat, resamples=0).values["eer"]
    tdcf = spoof.compute_tdcf(rawgat).values
    assert round(eer * 100, 4) == 1.0601
    assert round(tdcf["min_tdcf_legacy"], 5) == 0.03354
    assert round(tdcf["min_tdcf_revised"], 5) == 0.09417


def test_asv_operating_point_matches_facts(rawgat, rawgat_reference):
    op = spoof.ranked(rawgat).asv_point()
    assert op.threshold == pytest.approx(-5.68005, abs=1e-5)
    assert round(op.eer * 100, 5) == 2.45778
    assert round(op.pfa, 6) == 0.024605 and round(op.pmiss, 6) == 0.024581 and round(op.pfa_spoof, 6) == 0.760652
    ref = rawgat_reference["asv"]
    assert (op.threshold, op.pfa, op.pmiss, op.pfa_spoof) == (ref.threshold, ref.pfa, ref.pmiss, ref.pfa_spoof)


def test_pooled_metrics_match_the_plain_reference(rawgat, rawgat_reference):
    assert spoof.compute_eer(rawgat, resamples=0).values["eer"] == pytest.approx(rawgat_reference["eer"], abs=1e-9)
    tdcf = spoof.compute_tdcf(rawgat).values
    assert tdcf["min_tdcf_legacy"] == pytest.approx(rawgat_reference["legacy"], abs=1e-9)
    assert tdcf["min_tdcf_revised"] == pytest.approx(rawgat_reference["revised"], abs=1e-9)


def test_per_attack_metrics_match_the_plain_reference(rawgat, rawgat_reference):
    eer_breakdown = spoof.compute_eer(rawgat, resamples=0).breakdown["attack"]
    tdcf_breakdown = spoof.compute_tdcf(rawgat).breakdown["attack"]
    assert sorted(eer_breakdown) == [f"A{i:02d}" for i in range(7, 20)]
    for attack, expected in rawgat_reference["attack"].items():
        assert eer_breakdown[attack]["eer"] == pytest.approx(expected["eer"], abs=1e-9), attack
        for key in ("min_tdcf_legacy", "min_tdcf_revised"):
            assert tdcf_breakdown[attack][key] == pytest.approx(expected[key], abs=1e-9), (attack, key)
    # FACTS §5: A17 and A18 dominate the pooled EER of this system
    assert round(eer_breakdown["A17"]["eer"] * 100, 2) == 1.75
    assert round(eer_breakdown["A18"]["eer"] * 100, 2) == 3.09


def test_revised_follows_from_legacy_with_pooled_weights(rawgat):
    """FACTS §1.5: with these costs C1, C2 are the same in both formulations, so
    revised = (C0 + m legacy) / (C0 + m), m = min(C1, C2)."""
    op = spoof.ranked(rawgat).asv_point()
    c0, c1, c2 = det.revised_weights(op)
    legacy = spoof.compute_tdcf(rawgat).values["min_tdcf_legacy"]
    m = min(c1, c2)
    assert spoof.compute_tdcf(rawgat).values["min_tdcf_revised"] == pytest.approx((c0 + m * legacy) / (c0 + m), abs=1e-12)
    assert round(c0 / (c0 + m), 5) == 0.06273


def test_bootstrap_interval_brackets_the_eer(rawgat):
    out = spoof.compute_eer(rawgat, resamples=50, seed=3)
    low, high = out.extra["eer_ci95"]
    assert low < out.values["eer"] < high
    assert 0.005 < low and high < 0.02


# --------------------------------------------------------------------------- the official package, when present


def _official_eval_metrics():
    """The organisers' ``eval_metrics.py``, from a copy of asvspoof-challenge/2021 kept outside this
    repository (it is not ours to ship).  To run this comparison, extract its ``eval-package/`` folder
    (checked at commit 9b33f5e) from a clone, e.g.
    ``git -C 2021 archive HEAD eval-package | tar -x -C /tmp/scratch-metrics``, or point
    BENCHSUITE_OFFICIAL_EVAL_PACKAGE at the folder.  Without it the test skips with that reason."""
    folder = Path(os.environ.get("BENCHSUITE_OFFICIAL_EVAL_PACKAGE", "/tmp/scratch-metrics/eval-package"))
    path = folder / "eval_metrics.py"
    if not path.is_file():
        pytest.skip(f"official ASVspoof 2021 eval package not found at {folder} (set BENCHSUITE_OFFICIAL_EVAL_PACKAGE "
                    f"to the eval-package/ folder of asvspoof-challenge/2021)")
    spec = importlib.util.spec_from_file_location("official_eval_metrics", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a copy we do not control: its import problems are not our failure
        pytest.skip(f"official eval package at {folder} does not import here: {type(exc).__name__}: {exc}")
    return module


def test_official_package_gives_identical_numbers(rawgat):
    official = _official_eval_metrics()
    bona = rawgat.scores[rawgat.is_bonafide]
    spoofs = rawgat.scores[~rawgat.is_bonafide]
    asv = rawgat.asv
    official_eer, official_threshold = official.compute_eer(bona, spoofs)
    point = spoof.ranked(rawgat).pooled.eer_point()
    assert (point.eer, point.threshold) == (official_eer, official_threshold)
    _, asv_threshold = official.compute_eer(asv.target, asv.nontarget)
    pfa, pmiss, pmiss_spoof, pfa_spoof = official.obtain_asv_error_rates(asv.target, asv.nontarget, asv.spoof,
                                                                          asv_threshold)
    priors = {"Pspoof": 0.05, "Ptar": (1 - 0.05) * 0.99, "Pnon": (1 - 0.05) * 0.01}  # as config.py writes them
    legacy_cost = {**priors, "Cmiss_asv": 1, "Cfa_asv": 10, "Cmiss_cm": 1, "Cfa_cm": 10}
    revised_cost = {**priors, "Cmiss": 1, "Cfa": 10, "Cfa_spoof": 10}
    legacy = official.compute_tDCF_legacy(bona, spoofs, pfa, pmiss, pmiss_spoof, legacy_cost, False)[0].min()
    revised = official.compute_tDCF(bona, spoofs, pfa, pmiss, pfa_spoof, revised_cost, False)[0].min()
    ours = spoof.compute_tdcf(rawgat).values
    assert ours["min_tdcf_legacy"] == legacy
    assert ours["min_tdcf_revised"] == revised
