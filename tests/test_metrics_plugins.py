"""The registered metric plugins: what they register, what they return, and
how they behave without ASV scores, with condition columns, and for SV and
classification."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchsuite.scoring import files as scorefiles
from benchsuite.api import ClassifyScores, ConfigError, MetricOptions, MetricOutput, SpoofScores, Task, VerifyScores
from benchsuite.plugins.registry import get_registry
from benchsuite.scoring import det
from benchsuite_metrics import classify, spoof, verify

from builders_metrics import (
    ASV_NONTARGET, ASV_SPOOF, ASV_TARGET, reference_asv, reference_eer, reference_min_dcf, reference_tdcf_legacy,
    spoof_set, sv_set, write_asv_scores, write_lines,
)


@pytest.fixture
def scored(tmp_path: Path) -> SpoofScores:
    data = spoof_set()
    path = write_lines(tmp_path / "scores.txt", data.four_column_lines())
    asv = write_asv_scores(tmp_path / "asv.txt", ASV_TARGET, ASV_NONTARGET, ASV_SPOOF)
    return scorefiles.spoof_scores_from_files(path, asv_scores=asv)


def test_registered_metrics_and_their_outputs():
    registry = get_registry()
    by_task = {task: {m.spec.name: m for m in registry.metrics_for(task)} for task in Task}
    assert set(by_task[Task.SPOOF]) >= {"eer", "tdcf", "asvspoof5"}
    assert set(by_task[Task.VERIFY]) >= {"sv-eer", "min-dcf"}
    assert set(by_task[Task.CLASSIFY]) >= {"accuracy"}
    assert by_task[Task.SPOOF]["eer"].plugin.name == "spoof-metrics"
    tdcf_info = {info.key: info for info in by_task[Task.SPOOF]["tdcf"].spec.outputs}
    assert tdcf_info["min_tdcf_legacy"].formulation == "legacy"
    assert tdcf_info["min_tdcf_revised"].formulation == "revised"
    assert not tdcf_info["min_tdcf_legacy"].percent
    eer_info = by_task[Task.SPOOF]["eer"].spec.outputs[0]
    assert eer_info.percent and eer_info.lower_is_better
    dcf_info = {info.key: info for info in by_task[Task.VERIFY]["min-dcf"].spec.outputs}
    assert dcf_info["min_dcf_p0.01"].formulation == "p_target=0.01, Cmiss=Cfa=1, normalised"
    assert dcf_info["min_dcf_p0.05"].formulation == "p_target=0.05, Cmiss=Cfa=1, normalised"
    assert "SpeechBrain" in by_task[Task.VERIFY]["min-dcf"].spec.description
    assert "ESPnet" in by_task[Task.VERIFY]["min-dcf"].spec.description
    accuracy_info = {info.key: info for info in by_task[Task.CLASSIFY]["accuracy"].spec.outputs}
    assert set(accuracy_info) == {"accuracy", "uar", "macro_f1"}
    assert not any(info.lower_is_better for info in accuracy_info.values())


def test_eer_metric(scored: SpoofScores):
    out = spoof.compute_eer(scored, resamples=200, seed=1)
    bona = scored.scores[scored.is_bonafide].tolist()
    assert out.values["eer"] == reference_eer(bona, scored.scores[~scored.is_bonafide].tolist())[0]
    low, high = out.extra["eer_ci95"]
    assert 0 <= low <= out.values["eer"] <= high <= 1
    assert out.extra["eer_bootstrap"]["resamples"] == 200
    assert spoof.compute_eer(scored, resamples=200, seed=1).extra["eer_ci95"] == [low, high]  # seeded
    for attack in ("A07", "A08", "A09"):
        negatives = scored.scores[scored.attacks == attack].tolist()
        assert out.breakdown["attack"][attack]["eer"] == reference_eer(bona, negatives)[0]
    assert out.extra["counts"] == {"bonafide": 12, "spoof": 30, "attack": {"A07": 10, "A08": 10, "A09": 10}}


def test_bootstrap_resamples_come_with_the_metric_options(scored: SpoofScores):
    from benchsuite.contract import MetricOptions

    eer = spoof.eer_metric()
    off = eer.compute(scored, MetricOptions(bootstrap_resamples=0))
    assert off.extra["eer_ci95"] is None and "turned off" in off.notes["eer_ci95"]
    on = eer.compute(scored, MetricOptions(bootstrap_resamples=200, bootstrap_seed=1))
    assert on.extra["eer_bootstrap"]["resamples"] == 200 and on.extra["eer_bootstrap"]["seed"] == 1
    assert on.extra["eer_ci95"] == spoof.compute_eer(scored, resamples=200, seed=1).extra["eer_ci95"]


def test_tdcf_metric_with_per_attack_asv_rates(scored: SpoofScores):
    out = spoof.compute_tdcf(scored)
    bona = scored.scores[scored.is_bonafide].tolist()
    pooled_asv = reference_asv(ASV_TARGET, ASV_NONTARGET, [v for vs in ASV_SPOOF.values() for v in vs])
    assert out.values["min_tdcf_legacy"] == pytest.approx(
        reference_tdcf_legacy(bona, scored.scores[~scored.is_bonafide].tolist(), pooled_asv), abs=1e-12)
    for attack, asv_spoof in ASV_SPOOF.items():
        attack_asv = reference_asv(ASV_TARGET, ASV_NONTARGET, asv_spoof)
        expected = reference_tdcf_legacy(bona, scored.scores[scored.attacks == attack].tolist(), attack_asv)
        assert out.breakdown["attack"][attack]["min_tdcf_legacy"] == pytest.approx(expected, abs=1e-12)
    assert out.values["min_tdcf_revised"] > out.values["min_tdcf_legacy"]
    assert out.extra["asv_operating_point"]["threshold"] == pooled_asv.threshold


def test_tdcf_not_applicable_without_asv_scores(scored: SpoofScores):
    scored.asv = None
    out = spoof.compute_tdcf(scored)
    assert out.values == {"min_tdcf_legacy": None, "min_tdcf_revised": None}
    assert "not applicable" in out.notes["min_tdcf_legacy"] and "ASV scores" in out.notes["min_tdcf_revised"]


def test_tdcf_with_asv_scores_that_do_not_name_attacks(scored: SpoofScores):
    from benchsuite.api import AsvScores

    plain = scored.asv
    scored.asv = AsvScores(plain.target, plain.nontarget, plain.spoof, source="plain asv")
    out = spoof.compute_tdcf(scored)
    assert "pooled ASV spoof rates" in out.notes["breakdown:attack"]
    sweep = spoof.ranked(scored).pooled
    assert out.values["min_tdcf_legacy"] == det.min_tdcf_legacy(sweep, spoof.ranked(scored).asv_point())


def test_condition_breakdowns(tmp_path: Path):
    data = spoof_set(n_bonafide=8, attacks=("A07", "A08"), per_attack=8)
    n = len(data.utt_ids)
    codec = np.array(["alaw" if i % 2 else "none" for i in range(n)])
    vocoder = np.array(["bonafide" if b else ("neural" if a == "A07" else "traditional")
                        for a, b in zip(data.attacks, data.is_bonafide)])
    scores = SpoofScores(np.array(data.utt_ids), np.array(data.scores), np.array(data.is_bonafide),
                         np.array(data.attacks), conditions={"codec": codec, "vocoder": vocoder})
    out = spoof.compute_eer(scores, resamples=0)
    values = np.array(data.scores)
    bona = np.array(data.is_bonafide)
    for name in ("alaw", "none"):
        mask = codec == name
        expected = reference_eer(values[mask & bona].tolist(), values[mask & ~bona].tolist())[0]
        assert out.breakdown["codec"][name]["eer"] == expected
    # vocoder values never overlap between classes: each is compared against all bona fide
    assert set(out.breakdown["vocoder"]) == {"neural", "traditional"}
    assert out.breakdown["vocoder"]["neural"]["eer"] == out.breakdown["attack"]["A07"]["eer"]


def test_condition_value_with_one_class_is_not_applicable():
    scores = SpoofScores(np.array(["a", "b", "c", "d", "e"]), np.array([2.0, 1.0, -1.0, 0.0, 0.5]),
                         np.array([True, True, False, False, False]), np.array(["-", "-", "A1", "A1", "A2"]),
                         conditions={"codec": np.array(["none", "gsm", "none", "gsm", "opus"])})
    out = spoof.compute_eer(scores, resamples=0)
    assert out.breakdown["codec"]["opus"]["eer"] is None
    assert "opus" in out.notes["breakdown:codec"]


def test_asvspoof5_metric(scored: SpoofScores):
    out = spoof.compute_asvspoof5(scored)
    bona = scored.scores[scored.is_bonafide].tolist()
    spoofs = scored.scores[~scored.is_bonafide].tolist()
    assert out.values["min_dcf"] == pytest.approx(reference_min_dcf(bona, spoofs, 0.95, 1, 10), abs=1e-12)
    assert out.extra["act_dcf_threshold"] == pytest.approx(-np.log(1.9))
    assert out.values["cllr"] > 0


def test_one_ranking_is_shared_by_all_spoof_metrics(scored: SpoofScores, monkeypatch):
    calls = []
    original = spoof._rank
    monkeypatch.setattr(spoof, "_rank", lambda s: calls.append(1) or original(s))
    spoof.compute_eer(scored, resamples=0)
    spoof.compute_tdcf(scored)
    spoof.compute_asvspoof5(scored)
    assert len(calls) == 1
    scored.scores = scored.scores + 0.0  # a new array: ranked again
    spoof.compute_eer(scored, resamples=0)
    assert len(calls) == 2


def test_spoof_metric_refuses_other_score_sets():
    with pytest.raises(ConfigError, match="spoof metrics need SpoofScores, got VerifyScores"):
        spoof.compute_eer(VerifyScores(np.array(["e"]), np.array(["t"]), np.array([1.0]), np.array([True])))


def test_verify_metrics():
    data = sv_set()
    scores = VerifyScores(np.array(data.enrol), np.array(data.test), np.array(data.scores), np.array(data.is_target),
                          source="sv")
    target = [s for s, t in zip(data.scores, data.is_target) if t]
    nontarget = [s for s, t in zip(data.scores, data.is_target) if not t]
    eer = verify.compute_sv_eer(scores)
    assert eer.values["eer"] == reference_eer(target, nontarget)[0]
    assert eer.extra["counts"] == {"target": 10, "nontarget": 14}
    dcf = verify.compute_min_dcf(scores).values
    assert set(dcf) == {"min_dcf_p0.01", "min_dcf_p0.05"}
    assert dcf["min_dcf_p0.01"] == pytest.approx(reference_min_dcf(target, nontarget, 0.01), abs=1e-12)
    assert dcf["min_dcf_p0.05"] == pytest.approx(reference_min_dcf(target, nontarget, 0.05), abs=1e-12)


def test_classification_metrics_on_a_hand_checked_example():
    # true:      a a a b b c
    # predicted: a a b b a a
    scores = ClassifyScores(np.array([f"u{i}" for i in range(6)]), np.array([0, 0, 0, 1, 1, 2]),
                            np.array([0, 0, 1, 1, 0, 0]), ("a", "b", "c"))
    out = classify.compute_accuracy(scores)
    assert out.values["accuracy"] == pytest.approx(3 / 6)
    assert out.values["uar"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    f1_a = 2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)
    f1_b = 2 * (1 / 2) * (1 / 2) / 1
    assert out.values["macro_f1"] == pytest.approx((f1_a + f1_b + 0) / 3)
    matrix = out.extra["confusion_matrix"]
    assert matrix["classes"] == ["a", "b", "c"]
    assert matrix["matrix"] == [[2, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert out.breakdown["class"]["c"]["recall"] == 0.0


def test_metric_outputs_are_metric_output_objects(scored: SpoofScores):
    for spec in spoof.SPOOF_METRICS:
        assert isinstance(spec.compute(scored, MetricOptions(bootstrap_resamples=10)), MetricOutput)


def _spoof_scores(bonafide: np.ndarray, spoof: np.ndarray) -> SpoofScores:
    scores = np.concatenate([bonafide, spoof])
    n = scores.size
    return SpoofScores(utt_ids=np.array([f"U{i:05d}" for i in range(n)]), scores=scores,
                       is_bonafide=np.arange(n) < bonafide.size,
                       attacks=np.array(["-"] * bonafide.size + ["A01"] * spoof.size))


def test_negation_is_advised_only_for_really_inverted_scores():
    # a system at chance: the same distribution for both classes, EER above 50 % by sampling alone
    for seed in range(50):
        rng = np.random.default_rng(seed)
        bonafide, spoofed = rng.standard_normal(40), rng.standard_normal(200)
        if det.DetSweep.from_scores(bonafide, spoofed).eer() > 0.52:
            break
    chance = _spoof_scores(bonafide, spoofed)
    with pytest.warns(UserWarning) as caught:
        out = spoof.compute_eer(chance, resamples=300)
    assert out.values["eer"] > 0.5 and out.extra["eer_ci95"][0] <= 0.5
    (message,) = [str(w.message) for w in caught]
    assert "at chance" in message and "includes 50 %" in message and "Negate" not in message
    # inverted: a good system's scores negated; the whole interval is far above 50 %
    inverted = _spoof_scores(-rng.normal(2.0, 1.0, 40), -rng.normal(-2.0, 1.0, 200))
    with pytest.warns(UserWarning) as caught:
        out = spoof.compute_eer(inverted, resamples=0)  # the verdict draws its own interval when none was asked for
    (message,) = [str(w.message) for w in caught]
    assert out.values["eer"] > 0.8 and "look inverted" in message and "Negate them" in message


def test_verification_polarity_verdict_uses_the_same_rule():
    rng = np.random.default_rng(0)
    inverted = VerifyScores(enrol=np.array([f"e{i}" for i in range(300)]), test=np.array([f"t{i}" for i in range(300)]),
                            scores=np.concatenate([-rng.normal(2, 1, 100), -rng.normal(-2, 1, 200)]),
                            is_target=np.arange(300) < 100)
    with pytest.warns(UserWarning, match="look inverted.*higher scores for target trials"):
        verify.compute_sv_eer(inverted)
