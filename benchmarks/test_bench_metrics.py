"""Spoof metrics on 1,000,000 synthetic scores (13 attacks, with an ASV score
set): EER, both min t-DCFs, the ASVspoof 5 metrics and the per-attack
breakdown, all from one ranking of the score set.  When the official ASVspoof
2021 eval package can be imported (``BENCHSUITE_OFFICIAL_EVAL_PACKAGE`` or
/tmp/scratch-metrics/eval-package, a scratch copy outside the repository), its
``compute_eer`` runs on the same scores for comparison.

    .venv/bin/python -m pytest benchmarks/test_bench_metrics.py --benchmark-only
"""
from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest

from benchsuite.api import AsvScores, SpoofScores
from benchsuite.scorefiles import AsvScoresWithAttacks
from benchsuite_metrics import det, spoof

N_SCORES = 1_000_000
N_BONAFIDE = 100_000
ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))


@pytest.fixture(scope="module")
def million() -> dict:
    rng = np.random.default_rng(2024)
    attack_of = np.array(["-"] + list(ATTACKS))[
        np.concatenate([np.zeros(N_BONAFIDE, dtype=np.int64), rng.integers(1, len(ATTACKS) + 1, N_SCORES - N_BONAFIDE)])]
    is_bonafide = attack_of == "-"
    difficulty = np.where(is_bonafide, 2.0, -3.0 + 0.3 * np.char.str_len(attack_of))
    # float32 outputs widened to float64, as a model's logits are: plenty of exact ties
    scores = (difficulty + rng.normal(0, 1.2, N_SCORES)).astype(np.float32).astype(np.float64)
    order = rng.permutation(N_SCORES)
    asv_attacks = np.repeat(np.array(ATTACKS), 4914)
    asv = AsvScoresWithAttacks(
        target=rng.normal(8, 3, 5370), nontarget=rng.normal(-6, 3, 33327),
        spoof=rng.normal(1, 4, asv_attacks.size), source="synthetic ASV", spoof_attacks=asv_attacks,
    )
    return {
        "utt_ids": np.array([f"LA_E_{i:07d}" for i in range(N_SCORES)])[order],
        "scores": scores[order], "is_bonafide": is_bonafide[order], "attacks": attack_of[order], "asv": asv,
    }


def _fresh(data: dict) -> SpoofScores:
    """A new container each round, so nothing is served from the ranking cache."""
    return SpoofScores(data["utt_ids"], data["scores"], data["is_bonafide"], data["attacks"], asv=data["asv"],
                       source="synthetic")


def all_spoof_metrics(data: dict) -> dict:
    scores = _fresh(data)
    out = {}
    for output in (spoof.compute_eer(scores, resamples=0), spoof.compute_tdcf(scores),
                   spoof.compute_asvspoof5(scores)):
        out.update(output.values)
        for group, values in output.breakdown.get("attack", {}).items():
            out.setdefault("per_attack", {}).setdefault(group, {}).update(values)
    return out


def numeric_core(data: dict) -> dict:
    """The same numbers without validation: class sorts, attack grouping, sweeps, costs."""
    values, bona = data["scores"], data["is_bonafide"]
    positive = np.sort(values[bona])
    negatives = values[~bona]
    pooled = det.DetSweep.from_sorted(positive, np.sort(negatives))
    names, codes = spoof.factorize(data["attacks"][~bona])
    asv = data["asv"]
    op = det.asv_operating_point(asv.target, asv.nontarget, asv.spoof)
    out = {"eer": pooled.eer(), "legacy": det.min_tdcf_legacy(pooled, op), "revised": det.min_tdcf_revised(pooled, op)}
    for name, group in zip(names, spoof.sorted_groups(negatives, codes, len(names))):
        sweep = det.DetSweep.from_sorted(positive, group)
        out[name] = (sweep.eer(), det.min_tdcf_legacy(sweep, op), det.min_tdcf_revised(sweep, op))
    return out


def _official():
    folder = Path(os.environ.get("BENCHSUITE_OFFICIAL_EVAL_PACKAGE", "/tmp/scratch-metrics/eval-package"))
    if not (folder / "eval_metrics.py").is_file():
        pytest.skip(f"official ASVspoof 2021 eval package not found at {folder}")
    spec = importlib.util.spec_from_file_location("official_eval_metrics", folder / "eval_metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.benchmark(group="spoof-metrics-1M")
def test_all_spoof_metrics_from_one_ranking(benchmark, million):
    result = benchmark.pedantic(all_spoof_metrics, args=(million,), rounds=5, warmup_rounds=1)
    assert set(result["per_attack"]) == set(ATTACKS)
    assert 0 < result["eer"] < 0.5 and result["min_tdcf_legacy"] < result["min_tdcf_revised"]


@pytest.mark.benchmark(group="spoof-metrics-1M")
def test_numeric_core_only(benchmark, million):
    result = benchmark.pedantic(numeric_core, args=(million,), rounds=5, warmup_rounds=1)
    assert result["eer"] == all_spoof_metrics(million)["eer"]


@pytest.mark.benchmark(group="spoof-metrics-1M")
def test_official_compute_eer_alone(benchmark, million):
    official = _official()
    bona = million["scores"][million["is_bonafide"]]
    spoofs = million["scores"][~million["is_bonafide"]]
    eer, _ = benchmark.pedantic(official.compute_eer, args=(bona, spoofs), rounds=5, warmup_rounds=1)
    assert eer == all_spoof_metrics(million)["eer"]


@pytest.mark.benchmark(group="spoof-metrics-1M-ratio")
def test_ratio_to_official_eer(benchmark, million):
    """Interleaved best-of-5 timings of both, so machine load hits them alike;
    the ratio lands in the benchmark JSON (``extra_info``), nothing is asserted on time."""
    official = _official()
    bona = million["scores"][million["is_bonafide"]]
    spoofs = million["scores"][~million["is_bonafide"]]
    ours, theirs = [], []
    for _ in range(5):
        start = time.perf_counter()
        all_spoof_metrics(million)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        official.compute_eer(bona, spoofs)
        theirs.append(time.perf_counter() - start)
    benchmark.extra_info.update({"ours_best_s": min(ours), "official_eer_best_s": min(theirs),
                                 "official_over_ours": min(theirs) / min(ours)})
    print(f"\nall spoof metrics + per-attack: {min(ours) * 1000:.1f} ms; official compute_eer alone: "
          f"{min(theirs) * 1000:.1f} ms; ratio {min(theirs) / min(ours):.2f}x")
    benchmark.pedantic(lambda: None, rounds=1)
