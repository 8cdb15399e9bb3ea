"""``benchsuite score`` through click's CliRunner, invoking the command object."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchsuite.cli.score import score

from builders_asvspoof import build_la2019, la2019_rows, reference_la2019_layout
from builders_metrics import (
    ASV_NONTARGET, ASV_SPOOF, ASV_TARGET, reference_eer, spoof_set, sv_set, write_asv_scores, write_lines,
)


def _run(*args: str):
    return CliRunner().invoke(score, [str(a) for a in args], catch_exceptions=False)


def _json(*args: str) -> dict:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def files(tmp_path: Path):
    data = spoof_set()
    return {
        "data": data,
        "protocol": write_lines(tmp_path / "protocol.txt", data.protocol_lines()),
        "two": write_lines(tmp_path / "two.txt", reversed(data.two_column_lines())),
        "four": write_lines(tmp_path / "four.txt", data.four_column_lines()),
        "asv": write_asv_scores(tmp_path / "asv.txt", ASV_TARGET, ASV_NONTARGET, ASV_SPOOF),
    }


def test_two_column_file_with_protocol_and_asv_scores(files):
    data = files["data"]
    report = _json("--scores", files["two"], "--protocol", files["protocol"], "--asv-scores", files["asv"],
                   "--bootstrap", "100")
    bona = [s for s, b in zip(data.scores, data.is_bonafide) if b]
    spoofs = [s for s, b in zip(data.scores, data.is_bonafide) if not b]
    assert report["eer"] == reference_eer(bona, spoofs)[0]
    assert report["min_tdcf_legacy"] is not None and report["min_tdcf_revised"] > report["min_tdcf_legacy"]
    assert set(report["per_attack"]) == {"A07", "A08", "A09"}
    assert {"eer", "min_tdcf_legacy", "min_tdcf_revised"} <= set(report["per_attack"]["A07"])
    assert report["per_attack"]["A07"]["spoof"] == 10
    assert report["counts"] == {"total": 42, "bonafide": 12, "spoof": 30, "attacks": 3}
    assert len(report["eer_ci95"]) == 2
    assert report["metrics"]["min_tdcf_legacy"]["formulation"] == "legacy"
    assert report["asv_scores"].endswith("asv.txt")


def test_four_column_file_on_its_own_labels(files):
    report = _json("--scores", files["four"], "--bootstrap", "0")
    with_protocol = _json("--scores", files["two"], "--protocol", files["protocol"], "--bootstrap", "0")
    assert report["eer"] == with_protocol["eer"]
    assert report["min_tdcf_legacy"] is None and "not applicable" in report["notes"]["min_tdcf_legacy"]
    assert report["eer_ci95"] is None
    assert report["per_attack"]["A09"]["eer"] == with_protocol["per_attack"]["A09"]["eer"]


def test_human_readable_output_shows_percent(files):
    result = _run("--scores", files["two"], "--protocol", files["protocol"], "--asv-scores", files["asv"],
                  "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    report = _json("--scores", files["two"], "--protocol", files["protocol"], "--asv-scores", files["asv"],
                   "--bootstrap", "20")
    assert f"{report['eer'] * 100:.4f} %" in result.output
    assert "min t-DCF (legacy)" in result.output and "min t-DCF (revised)" in result.output
    assert f"{report['min_tdcf_legacy']:.5f}" in result.output
    assert "A08" in result.output and "95 % CI" in result.output


@pytest.mark.parametrize("layout", ["label-first", "label-last"])
def test_sv_trials(tmp_path: Path, layout):
    data = sv_set()
    rows = [(f"{'1' if t else '0'} {e} {s}" if layout == "label-first" else f"{e} {s} {'target' if t else 'nontarget'}")
            for e, s, t in zip(data.enrol, data.test, data.is_target)]
    trials = write_lines(tmp_path / "trials.txt", rows)
    scores = write_lines(tmp_path / "scores.txt", [f"{e} {t} {v!r}" for e, t, v in
                                                    zip(data.enrol, data.test, data.scores)])
    report = _json("--trials", trials, "--scores", scores)
    target = [v for v, t in zip(data.scores, data.is_target) if t]
    nontarget = [v for v, t in zip(data.scores, data.is_target) if not t]
    assert report["task"] == "verify"
    assert report["eer"] == reference_eer(target, nontarget)[0]
    assert 0 <= report["min_dcf_p0.01"] <= 1 and 0 <= report["min_dcf_p0.05"] <= 1
    assert report["counts"] == {"total": 24, "target": 10, "nontarget": 14}
    text = _run("--trials", trials, "--scores", scores).output
    assert "minDCF (p=0.01)" in text and f"{report['eer'] * 100:.4f} %" in text


def test_errors_are_one_clear_message(files, tmp_path: Path):
    data = files["data"]
    few = write_lines(tmp_path / "few.txt", data.two_column_lines()[:-2])
    result = _run("--scores", few, "--protocol", files["protocol"])
    assert result.exit_code == 2
    assert "error:" in result.output and "2 of 42 utterances of the protocol" in result.output
    assert "Traceback" not in result.output
    both = _run("--scores", files["two"], "--protocol", files["protocol"], "--dataset", "asvspoof2019-la")
    assert both.exit_code == 2 and "either --dataset (with --data-root) or --protocol" in both.output
    mixed = _run("--scores", files["two"], "--trials", files["protocol"], "--protocol", files["protocol"])
    assert mixed.exit_code == 2 and "--trials scores speaker verification" in mixed.output
    unlabelled = _run("--scores", files["two"])
    assert unlabelled.exit_code == 2 and "has no labels" in unlabelled.output


def test_flipped_scores_warn_on_stderr(files, tmp_path: Path):
    data = files["data"]
    flipped = write_lines(tmp_path / "neg.txt", [f"{u} {-s!r}" for u, s in zip(data.utt_ids, data.scores)])
    result = _run("--scores", flipped, "--protocol", files["protocol"], "--bootstrap", "0", "--json")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "look inverted" in result.stderr and "Negate them" in result.stderr
    assert any("look inverted" in w for w in json.loads(result.stdout)["warnings"])


def test_dataset_split_provides_labels_and_asv_scores(tmp_path: Path):
    build_la2019(tmp_path, audio=False)
    rows = la2019_rows("eval")
    scores = write_lines(tmp_path / "eval_scores.txt",
                         [f"{utt} {3.0 - 0.37 * i!r}" for i, (_spk, utt, _system, _key) in enumerate(rows)])
    report = _json("--scores", scores, "--dataset", "asvspoof2019-la", "--data-root", tmp_path, "--split", "eval",
                   "--bootstrap", "0")
    assert report["counts"]["bonafide"] == 2 and report["counts"]["attacks"] == 13
    assert report["eer"] == 0.0  # the bona fide lines come first and score highest
    assert report["min_tdcf_legacy"] is not None and report["asv_scores"].endswith("eval.gi.trl.scores.txt")


def test_released_rawgat_scores_through_the_dataset(reference_dir: Path, tmp_path: Path):
    reference_la2019_layout(reference_dir, tmp_path)
    report = _json("--scores", reference_dir / "asvspoof2019_la" / "RawGAT-ST-mul.eval.cm.scores.txt",
                   "--dataset", "asvspoof2019-la", "--data-root", tmp_path, "--bootstrap", "0")
    assert round(report["eer"] * 100, 4) == 1.0601
    assert round(report["min_tdcf_legacy"], 5) == 0.03354
    assert round(report["min_tdcf_revised"], 5) == 0.09417
    assert len(report["per_attack"]) == 13
