"""ASVspoof dataset plugins: fixtures in the official layouts, every
validation error's message, and the real 2019 LA protocols."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchsuite.api import ConfigError, DataError, Task
from benchsuite.plugins.registry import get_registry
from benchsuite_datasets.asvspoof import (
    ASVspoof5, ASVspoof2019LA, ASVspoof2021, official_baselines, parse_cm_protocol,
)
from builders_asvspoof import (
    ASV5_CHALLENGE_ROWS, ASV5_EVAL_KEY, ASV5_RELEASE_ROWS, CLIP_SECONDS, DF2021_KEY_ROWS, LA2019_ASV,
    LA2019_ATTACKS, LA2019_BONAFIDE_PER_SPLIT, LA2021_ASV_ROWS, LA2021_KEY_ROWS, build_asvspoof5, build_la2019,
    build_la2021, la2019_rows, reference_la2019_layout, write_lines,
)

PROTOCOLS = "ASVspoof2019_LA_cm_protocols"
TRAIN_PROTOCOL = f"{PROTOCOLS}/ASVspoof2019.LA.cm.train.trn.txt"
EVAL_PROTOCOL = f"{PROTOCOLS}/ASVspoof2019.LA.cm.eval.trl.txt"


@pytest.fixture(scope="module")
def la2019_parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only 2019 LA fixture: ``<parent>/LA/...`` with audio and ASV scores."""
    parent = tmp_path_factory.mktemp("la2019")
    build_la2019(parent)
    return parent


def append_line(path: Path, line: str) -> int:
    """Append a protocol line; returns its 1-based line number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append(line)
    write_lines(path, lines)
    return len(lines)


# --------------------------------------------------------------------------- registration


def test_plugin_registers_the_four_asvspoof_datasets_and_their_baselines() -> None:
    registry = get_registry()
    for name in ("asvspoof2019-la", "asvspoof2021-la", "asvspoof2021-df", "asvspoof5"):
        item = registry.datasets.get(name)
        assert item.spec.task is Task.SPOOF
        assert item.plugin.name == "asvspoof"
        assert item.spec.splits == ("train", "dev", "eval")
    la21 = {(b.spec.system, b.spec.metric): b.spec for b in registry.baselines_for("asvspoof2021-la")}
    assert la21[("B02 LFCC-GMM", "eer")].value == pytest.approx(0.1930)
    assert la21[("B02 LFCC-GMM", "min_tdcf_revised")].value == pytest.approx(0.5758)
    assert la21[("B02 LFCC-GMM", "min_tdcf_revised")].formulation == "revised"
    assert la21[("B04 RawNet2", "eer")].value == pytest.approx(0.0950)
    assert la21[("B04 RawNet2", "eer")].model == "rawnet2"
    assert la21[("B01 CQCC-GMM", "eer")].value == pytest.approx(0.1562)
    assert la21[("B03 LFCC-LCNN", "min_tdcf_revised")].value == pytest.approx(0.3445)
    # the dataset plugin's own rows (model plugins add theirs, e.g. the SSL systems' released weights)
    df21 = {b.spec.system: b.spec.value for b in registry.baselines_for("asvspoof2021-df") if b.plugin.name == "asvspoof"}
    assert df21 == pytest.approx({"B01 CQCC-GMM": 0.2556, "B02 LFCC-GMM": 0.2525, "B03 LFCC-LCNN": 0.2348,
                                  "B04 RawNet2": 0.2238})
    la19 = {(b.spec.system, b.spec.metric): b.spec for b in registry.baselines_for("asvspoof2019-la")
            if b.plugin.name == "asvspoof"}
    assert la19[("B01 CQCC-GMM", "eer")].value == pytest.approx(0.0957)
    assert la19[("B02 LFCC-GMM", "min_tdcf_legacy")].value == pytest.approx(0.2116)
    assert la19[("B02 LFCC-GMM", "min_tdcf_legacy")].formulation == "legacy"


def test_baselines_are_fractions_and_say_which_figures_are_unconfirmed() -> None:
    baselines = official_baselines()
    assert all(0 < b.value < 1 and b.kind == "official" for b in baselines)
    by_cell = {(b.dataset, b.system, b.metric): b for b in baselines}
    # B02 on 2021 and B04's LA EER come from primary sources; the rest are secondary
    assert "unconfirmed" not in by_cell[("asvspoof2021-la", "B02 LFCC-GMM", "eer")].source
    assert "unconfirmed" not in by_cell[("asvspoof2021-la", "B04 RawNet2", "eer")].source
    assert "unconfirmed" in by_cell[("asvspoof2021-la", "B04 RawNet2", "min_tdcf_revised")].source
    assert "unconfirmed" in by_cell[("asvspoof2021-df", "B03 LFCC-LCNN", "eer")].source
    assert "unconfirmed" in by_cell[("asvspoof2019-la", "B01 CQCC-GMM", "eer")].source
    assert all(b.conditions.get("subset") == "eval" for b in baselines if b.dataset.startswith("asvspoof2021"))


# --------------------------------------------------------------------------- 2019 LA fixture


@pytest.mark.parametrize("use_la_folder", [False, True])
def test_la2019_fixture_loads_from_the_la_folder_or_its_parent(la2019_parent: Path, use_la_folder: bool) -> None:
    root = la2019_parent / "LA" if use_la_folder else la2019_parent
    spec = get_registry().datasets.get("asvspoof2019-la").spec
    dataset = spec.open(root, {})
    assert isinstance(dataset, ASVspoof2019LA)
    assert dataset.split_names() == ["train", "dev", "eval"]
    dataset.validate(check_audio=True)
    for split in ("train", "dev", "eval"):
        data = dataset.load_split(split)
        rows = la2019_rows(split)
        assert [u.utt_id for u in data.utterances] == [r[1] for r in rows]
        assert [(u.speaker, u.attack, u.label) for u in data.utterances] == [(r[0], r[2], r[3]) for r in rows]
        assert all(u.path == la2019_parent / "LA" / f"ASVspoof2019_LA_{split}" / "flac" / f"{u.utt_id}.flac"
                   for u in data.utterances)
        assert data.source.endswith(dict(train="train.trn.txt", dev="dev.trl.txt", eval="eval.trl.txt")[split])


def test_la2019_each_split_uses_its_own_asv_scores(la2019_parent: Path) -> None:
    dataset = ASVspoof2019LA(la2019_parent, {})
    assert dataset.load_split("train").asv_scores is None
    for split in ("dev", "eval"):
        asv = dataset.load_split(split).asv_scores
        assert asv is not None
        assert asv.source.endswith(f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt")
        np.testing.assert_allclose(asv.target, LA2019_ASV[split]["target"])
        np.testing.assert_allclose(asv.nontarget, LA2019_ASV[split]["nontarget"])
        np.testing.assert_allclose(asv.spoof, LA2019_ASV[split]["spoof"])
        assert list(asv.spoof_attacks) == [LA2019_ATTACKS[split][i % len(LA2019_ATTACKS[split])]
                                           for i in range(len(LA2019_ASV[split]["spoof"]))]


def test_la2019_without_asv_score_files_has_no_asv_scores(tmp_path: Path) -> None:
    """A copy without the ASV score files (e.g. only the CM part unpacked) still loads."""
    la = build_la2019(tmp_path, asv_scores=False, audio=False)
    dataset = ASVspoof2019LA(la, {}, name="copy")
    assert dataset.name == "copy"
    assert all(dataset.load_split(s).asv_scores is None for s in ("train", "dev", "eval"))
    assert "asv_scores" not in dataset.statistics()["splits"]["eval"]


def test_la2019_option_asv_scores_false_ignores_the_files(la2019_parent: Path) -> None:
    dataset = ASVspoof2019LA(la2019_parent, {"asv_scores": "false"})
    assert dataset.load_split("eval").asv_scores is None
    with pytest.raises(ConfigError, match="option asv_scores='maybe'; expected true or false"):
        ASVspoof2019LA(la2019_parent, {"asv_scores": "maybe"})


def test_la2019_statistics_count_labels_speakers_attacks_and_durations(la2019_parent: Path) -> None:
    stats = ASVspoof2019LA(la2019_parent, {}).statistics(check_audio=True)
    json.dumps(stats)  # what `benchsuite data check --json` prints
    for split in ("train", "dev", "eval"):
        entry = stats["splits"][split]
        n = LA2019_BONAFIDE_PER_SPLIT + len(LA2019_ATTACKS[split])
        assert entry["utterances"] == n
        assert entry["bonafide"] == LA2019_BONAFIDE_PER_SPLIT
        assert entry["spoof"] == len(LA2019_ATTACKS[split])
        assert entry["speakers"] == 2
        assert entry["attacks"] == {a: 1 for a in LA2019_ATTACKS[split]}
        assert entry["duration_seconds"] == pytest.approx(n * CLIP_SECONDS, abs=1e-3)
    assert stats["splits"]["eval"]["asv_scores"]["target"] == len(LA2019_ASV["eval"]["target"])
    assert "duration_seconds" not in ASVspoof2019LA(la2019_parent, {}).statistics()["splits"]["train"]


def test_la2019_fingerprint_follows_the_protocol_bytes(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    before = ASVspoof2019LA(la, {}).fingerprint()
    assert len(before) == 16 and before == ASVspoof2019LA(la, {}).fingerprint()
    append_line(la / EVAL_PROTOCOL, "LA_0039 LA_E_9999999 - A07 spoof")
    assert ASVspoof2019LA(la, {}).fingerprint() != before


# --------------------------------------------------------------------------- 2019 LA validation errors


def test_missing_corpus_names_both_accepted_layouts(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        ASVspoof2019LA(tmp_path, {})
    message = str(err.value)
    assert str(tmp_path / PROTOCOLS) in message and str(tmp_path / "LA" / PROTOCOLS) in message


def test_missing_protocol_file_is_named(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    (la / TRAIN_PROTOCOL).unlink()
    with pytest.raises(DataError, match=r"CM protocol not found: .*ASVspoof2019\.LA\.cm\.train\.trn\.txt"):
        ASVspoof2019LA(la, {}).load_split("train")


def test_malformed_line_reports_file_line_and_text(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    number = append_line(la / TRAIN_PROTOCOL, "LA_0079 LA_T_9999999 - bonafide")
    with pytest.raises(DataError) as err:
        ASVspoof2019LA(la, {}).load_split("train")
    assert str(err.value) == (f"{la / TRAIN_PROTOCOL}:{number}: expected 5 columns, found 4: "
                              "'LA_0079 LA_T_9999999 - bonafide'")


@pytest.mark.parametrize("protocol, line, expected", [
    pytest.param(EVAL_PROTOCOL, "LA_0039 LA_E_9999999 - A07 fake",
                 r"cm\.eval\.trl\.txt:{number}: unknown label 'fake'; expected bonafide or spoof "
                 r"\(line: 'LA_0039 LA_E_9999999 - A07 fake'\)", id="unknown label"),
    pytest.param(EVAL_PROTOCOL, "LA_0039 LA_E_9999999 - A07 bonafide",
                 r"cm\.eval\.trl\.txt:{number}: key 'bonafide' with system 'A07'; expected system '-' exactly for "
                 r"bonafide lines", id="label and system disagree"),
    pytest.param(TRAIN_PROTOCOL, f"LA_0079 {la2019_rows('train')[0][1]} - - bonafide",
                 rf"1 duplicate utterance id\(s\): {la2019_rows('train')[0][1]} \(lines 1 and {{number}}\)",
                 id="duplicate id names both lines"),
    pytest.param(TRAIN_PROTOCOL, "LA_0079 ../../etc/passwd - - bonafide",
                 r"train\.trn\.txt:{number}: utterance id '\.\./\.\./etc/passwd' would escape the data root",
                 id="id escaping the data root"),
])
def test_bad_protocol_line_is_refused_naming_file_and_line(tmp_path: Path, protocol: str, line: str,
                                                            expected: str) -> None:
    la = build_la2019(tmp_path, audio=False)
    number = append_line(la / protocol, line)
    split = "eval" if protocol == EVAL_PROTOCOL else "train"
    with pytest.raises(DataError, match=expected.replace("{number}", str(number))):
        ASVspoof2019LA(la, {}).load_split(split)


def test_missing_audio_lists_the_first_ten_and_the_count(tmp_path: Path) -> None:
    la = build_la2019(tmp_path)
    eval_rows = la2019_rows("eval")
    for _spk, utt, _system, _key in eval_rows[:12]:
        (la / "ASVspoof2019_LA_eval" / "flac" / f"{utt}.flac").unlink()
    dataset = ASVspoof2019LA(la, {})
    dataset.validate(check_audio=False)  # protocols alone are fine
    with pytest.raises(DataError) as err:
        dataset.validate(check_audio=True)
    message = str(err.value)
    assert f"12 of {len(eval_rows)} audio files are missing" in message
    assert "... and 2 more" in message
    listed = [utt for _s, utt, _a, _k in eval_rows if f"{utt}: " in message]
    assert listed == [r[1] for r in eval_rows[:10]]


def test_missing_audio_folder_is_named(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    with pytest.raises(DataError, match=r"asvspoof2019-la train audio folder not found: .*ASVspoof2019_LA_train/flac"):
        ASVspoof2019LA(la, {}).validate(check_audio=True)


def test_protocol_that_is_not_text_is_refused(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    (la / TRAIN_PROTOCOL).write_bytes(b"fLaC\x00\x00\x00\x22\xff\xfe binary")
    with pytest.raises(DataError, match=r"train\.trn\.txt:1: not UTF-8 text"):
        ASVspoof2019LA(la, {}).load_split("train")


def test_empty_protocol_is_refused(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    (la / TRAIN_PROTOCOL).write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.trn\.txt: the protocol holds no utterances"):
        ASVspoof2019LA(la, {}).load_split("train")


def test_malformed_asv_score_file_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    la = build_la2019(tmp_path, audio=False)
    path = la / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt"
    number = append_line(path, "bonafide target")
    with pytest.raises(DataError, match=rf"asv\.dev\.gi\.trl\.scores\.txt:{number}: expected 3"):
        ASVspoof2019LA(la, {}).load_split("dev")


def test_unknown_option_and_unknown_split_are_refused(la2019_parent: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option\\(s\\) subset; known options: asv_scores"):
        ASVspoof2019LA(la2019_parent, {"subset": "eval"})
    with pytest.raises(DataError, match="has no split 'test'"):
        ASVspoof2019LA(la2019_parent, {}).load_split("test")


def test_open_without_data_root_asks_for_one() -> None:
    spec = get_registry().datasets.get("asvspoof2019-la").spec
    with pytest.raises(DataError, match="needs --data-root"):
        spec.open(None, {})


# --------------------------------------------------------------------------- real 2019 LA protocols


def test_real_2019_la_protocols_parse_to_the_published_counts(reference_dir: Path, tmp_path: Path) -> None:
    reference_la2019_layout(reference_dir, tmp_path)
    dataset = ASVspoof2019LA(tmp_path, {})
    dataset.validate(check_audio=False)
    stats = dataset.statistics()
    expected = {
        "train": (25380, 2580, {f"A{i:02d}": 3800 for i in range(1, 7)}, 20),
        "dev": (24844, 2548, {f"A{i:02d}": 3716 for i in range(1, 7)}, 20),
        "eval": (71237, 7355, {f"A{i:02d}": 4914 for i in range(7, 20)}, 67),
    }
    for split, (utterances, bonafide, attacks, speakers) in expected.items():
        entry = stats["splits"][split]
        assert entry["utterances"] == utterances
        assert entry["bonafide"] == bonafide
        assert entry["spoof"] == utterances - bonafide
        assert entry["attacks"] == attacks
        assert entry["speakers"] == speakers
    # the organisers' ASV scores: dev for dev, eval for eval (FACTS 2.1 counts)
    assert stats["splits"]["dev"]["asv_scores"] == {
        "target": 1484, "nontarget": 5768, "spoof": 6 * 3716,
        "source": str(tmp_path / "LA" / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt")}
    eval_asv = dataset.load_split("eval").asv_scores
    assert (len(eval_asv.target), len(eval_asv.nontarget), len(eval_asv.spoof)) == (5370, 33327, 13 * 4914)
    assert Counter(eval_asv.spoof_attacks.tolist()) == {f"A{i:02d}": 4914 for i in range(7, 20)}
    first = dataset.load_split("eval").utterances[0]
    assert (first.speaker, first.utt_id, first.attack, first.label) == ("LA_0039", "LA_E_2834763", "A11", "spoof")
    json.dumps(stats)


def test_real_eval_protocol_parses_without_touching_audio(reference_dir: Path, tmp_path: Path) -> None:
    """Paths are computed, not checked: no audio exists here and parsing succeeds."""
    la = reference_la2019_layout(reference_dir, tmp_path)
    utterances = parse_cm_protocol(la / EVAL_PROTOCOL, la / "ASVspoof2019_LA_eval" / "flac", la)
    assert len(utterances) == 71237
    assert not utterances[0].path.exists()
    assert utterances[0].path.name == "LA_E_2834763.flac"


# --------------------------------------------------------------------------- 2021 LA / DF


@pytest.fixture(scope="module")
def la2021_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_la2021(tmp_path_factory.mktemp("la2021"), "LA")


def _asv_counts(subsets: tuple[str, ...]) -> tuple[list[float], list[float], list[float]]:
    rows = [r for r in LA2021_ASV_ROWS if r[7] in subsets]
    return tuple([r[8] for r in rows if r[5] == key] for key in ("target", "nontarget", "spoof"))  # type: ignore


@pytest.mark.parametrize("subset", ["eval", "progress", "hidden", "all"])
def test_la2021_eval_is_the_chosen_subset_of_the_keys(la2021_root: Path, subset: str) -> None:
    spec = get_registry().datasets.get("asvspoof2021-la").spec
    dataset = spec.open(la2021_root, {"subset": subset})
    dataset.validate(check_audio=True)
    subsets = ("eval", "progress", "hidden") if subset == "all" else (subset,)
    rows = [r for r in LA2021_KEY_ROWS if r[7] in subsets]
    data = dataset.load_split("eval")
    assert [u.utt_id for u in data.utterances] == [r[1] for r in rows]
    assert [u.label for u in data.utterances] == [r[5] for r in rows]
    assert [u.attack for u in data.utterances] == ["-" if r[5] == "bonafide" else r[4] for r in rows]
    assert [(u.conditions["codec"], u.conditions["transmission"]) for u in data.utterances] == \
        [(r[2], r[3]) for r in rows]
    if subset == "all":
        assert dataset.condition_columns() == ("codec", "transmission", "subset")
        assert [u.conditions["subset"] for u in data.utterances] == [r[7] for r in rows]
    else:
        assert dataset.condition_columns() == ("codec", "transmission")
    target, nontarget, spoof = _asv_counts(subsets)
    np.testing.assert_allclose(data.asv_scores.target, target, atol=1e-6)
    np.testing.assert_allclose(data.asv_scores.nontarget, nontarget, atol=1e-6)
    np.testing.assert_allclose(data.asv_scores.spoof, spoof, atol=1e-6)
    assert list(data.asv_scores.spoof_attacks) == [r[4] for r in LA2021_ASV_ROWS if r[7] in subsets and r[5] == "spoof"]
    assert data.utterances[0].path == la2021_root / "ASVspoof2021_LA_eval" / "flac" / f"{rows[0][1]}.flac"


def test_la2021_train_and_dev_are_the_2019_la_splits(la2021_root: Path) -> None:
    dataset = ASVspoof2021(la2021_root, {}, "LA", "asvspoof2021-la")
    for split in ("train", "dev"):
        assert [u.utt_id for u in dataset.load_split(split).utterances] == [r[1] for r in la2019_rows(split)]
    dev_asv = dataset.load_split("dev").asv_scores
    assert dev_asv.source.endswith("ASVspoof2019.LA.asv.dev.gi.trl.scores.txt")
    stats = dataset.statistics()
    assert stats["splits"]["eval"]["conditions"]["codec"] == {"alaw": 1, "gsm": 1, "none": 1, "opus": 1}
    assert stats["splits"]["eval"]["asv_scores"]["source"].endswith("score.txt (subset eval)")


def test_la2021_2019_copy_elsewhere_via_option(tmp_path: Path, la2021_root: Path) -> None:
    build_la2021(tmp_path, "LA", la2019=False, audio=False)
    dataset = ASVspoof2021(tmp_path, {"la2019_root": str(la2021_root / "LA")}, "LA", "asvspoof2021-la")
    assert len(dataset.load_split("train").utterances) == len(la2019_rows("train"))
    bare = ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la")
    assert len(bare.load_split("eval").utterances) == 4  # eval works without 2019 LA
    with pytest.raises(DataError, match="asvspoof2021-la trains and validates on ASVspoof 2019 LA train/dev: .*"
                                        "Point option la2019_root at your 2019 LA copy"):
        bare.load_split("train")


def test_la2021_asv_folder_spelled_as_in_the_package_readme(tmp_path: Path) -> None:
    build_la2021(tmp_path, "LA", la2019=False, audio=False, asv_folder="ASVtorch_kaldi")
    data = ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")
    assert data.asv_scores is not None and len(data.asv_scores.target) == 2


def test_la2021_without_asv_files_has_no_asv_scores(tmp_path: Path) -> None:
    build_la2021(tmp_path, "LA", asv=False, la2019=False, audio=False)
    assert ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval").asv_scores is None


def test_la2021_misaligned_asv_score_file_is_refused(tmp_path: Path) -> None:
    build_la2021(tmp_path, "LA", la2019=False, audio=False)
    score = tmp_path / "keys" / "LA" / "ASV" / "ASVTorch_Kaldi" / "score.txt"
    lines = score.read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    write_lines(score, lines)
    with pytest.raises(DataError, match=r"score\.txt:1: trial 'LA_E_5013671' where .*trial_metadata\.txt:1 has "
                                        r"'LA_E_5013670'; expected the score file in the key file's order"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")
    lines[0], lines[1] = lines[1], lines[0]
    write_lines(score, lines[:-2])
    with pytest.raises(DataError, match="score.txt has 8 lines but .*trial_metadata.txt has more"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")


def test_la2021_key_errors_name_file_and_line(tmp_path: Path) -> None:
    build_la2021(tmp_path, "LA", la2019=False, audio=False)
    key = tmp_path / "keys" / "LA" / "CM" / "trial_metadata.txt"
    original = key.read_text()
    number = append_line(key, "LA_0009 LA_E_1 alaw ita_tx A07 spoof notrim")
    with pytest.raises(DataError, match=rf"trial_metadata\.txt:{number}: expected 8 columns, found 7"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")
    key.write_text(original)
    number = append_line(key, "LA_0009 LA_E_1 alaw ita_tx A07 spoof notrim dev")
    with pytest.raises(DataError, match=rf":{number}: unknown subset 'dev' in column 8; expected one of eval, "
                                        "progress, hidden"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")
    key.write_text(original)
    number = append_line(key, "LA_0009 LA_E_1 alaw ita_tx A07 genuine notrim eval")
    with pytest.raises(DataError, match=rf":{number}: unknown label 'genuine' in column 6 \(key\)"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")
    key.write_text(original)
    number = append_line(key, "LA_0009 LA_E_1 alaw ita_tx bonafide spoof notrim eval")
    with pytest.raises(DataError, match=rf":{number}: spoof trial without an attack id"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")
    key.write_text(original)
    number = append_line(key, f"LA_0009 {LA2021_KEY_ROWS[0][1]} alaw ita_tx A07 spoof notrim eval")
    with pytest.raises(DataError, match=rf"duplicate utterance id\(s\): {LA2021_KEY_ROWS[0][1]} \(lines 1 and "
                                        rf"{number}\)"):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").load_split("eval")


def test_la2021_missing_keys_and_bad_subset(tmp_path: Path) -> None:
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(DataError, match=r"ASVspoof 2021 LA keys not found: expected .*keys/LA/CM/trial_metadata\.txt "
                                        r".*LA-keys-full\.tar\.gz"):
        ASVspoof2021(tmp_path / "empty", {}, "LA", "asvspoof2021-la").load_split("eval")
    with pytest.raises(ConfigError, match="option subset='hidden_track'; expected eval, progress, hidden or all"):
        ASVspoof2021(tmp_path / "empty", {"subset": "hidden_track"}, "LA", "asvspoof2021-la")
    with pytest.raises(DataError, match="asvspoof2021-la data root not found"):
        ASVspoof2021(tmp_path / "absent", {}, "LA", "asvspoof2021-la")


def test_la2021_missing_eval_audio_is_listed(tmp_path: Path) -> None:
    build_la2021(tmp_path, "LA")
    (tmp_path / "ASVspoof2021_LA_eval" / "flac" / f"{LA2021_KEY_ROWS[2][1]}.flac").unlink()
    with pytest.raises(DataError, match=rf"1 of 4 audio files are missing:\n  {LA2021_KEY_ROWS[2][1]}: "):
        ASVspoof2021(tmp_path, {}, "LA", "asvspoof2021-la").validate(check_audio=True)


def test_df2021_conditions_and_no_asv_scores(tmp_path: Path, la2021_root: Path) -> None:
    build_la2021(tmp_path, "DF", la2019=False)
    spec = get_registry().datasets.get("asvspoof2021-df").spec
    dataset = spec.open(tmp_path, {"la2019_root": str(la2021_root)})
    dataset.validate(check_audio=True)
    assert dataset.condition_columns() == ("codec", "vocoder", "source")
    data = dataset.load_split("eval")
    rows = [r for r in DF2021_KEY_ROWS if r[7] == "eval"]
    assert data.asv_scores is None  # 2021 DF has no t-DCF
    assert [u.utt_id for u in data.utterances] == [r[1] for r in rows]
    assert [dict(u.conditions) for u in data.utterances] == [
        {"codec": r[2], "vocoder": r[8], "source": r[3]} for r in rows]
    assert [u.attack for u in data.utterances] == ["-" if r[5] == "bonafide" else r[4] for r in rows]
    assert len(ASVspoof2021(tmp_path, {"subset": "all"}, "DF", "asvspoof2021-df").load_split("eval").utterances) \
        == len(DF2021_KEY_ROWS)


def test_df2021_key_needs_thirteen_columns(tmp_path: Path) -> None:
    build_la2021(tmp_path, "DF", la2019=False, audio=False)
    key = tmp_path / "keys" / "DF" / "CM" / "trial_metadata.txt"
    number = append_line(key, "LA_0023 DF_E_1 nocodec asvspoof A14 spoof notrim eval")
    with pytest.raises(DataError, match=rf"DF/CM/trial_metadata\.txt:{number}: expected 13 columns, found 8"):
        ASVspoof2021(tmp_path, {}, "DF", "asvspoof2021-df").load_split("eval")


# --------------------------------------------------------------------------- ASVspoof 5


def test_asvspoof5_challenge_lists_with_a_tab_separated_eval_key(tmp_path: Path) -> None:
    build_asvspoof5(tmp_path, "challenge")
    spec = get_registry().datasets.get("asvspoof5").spec
    dataset = spec.open(tmp_path, {"eval_key": "eval_key.tsv"})
    dataset.validate(check_audio=True)
    for split in ("train", "dev"):
        rows = ASV5_CHALLENGE_ROWS[split]
        data = dataset.load_split(split)
        assert [(u.speaker, u.utt_id, u.label) for u in data.utterances] == [(r[0], r[1], r[5]) for r in rows]
        assert [u.attack for u in data.utterances] == ["-" if r[5] == "bonafide" else r[4] for r in rows]
        folder = {"train": "flac_T", "dev": "flac_D"}[split]
        assert data.utterances[0].path == tmp_path / folder / f"{rows[0][1]}.flac"
    data = dataset.load_split("eval")
    assert [(u.utt_id, u.label) for u in data.utterances] == list(ASV5_EVAL_KEY[1:])
    assert dataset.condition_columns() == ()  # a bare key carries no codec column
    assert data.asv_scores is None


def test_asvspoof5_release_lists_with_eval_audio_over_several_folders(tmp_path: Path) -> None:
    build_asvspoof5(tmp_path, "release", eval_folders=("flac_E_aa", "flac_E_ab"))
    dataset = ASVspoof5(tmp_path, {})
    dataset.validate(check_audio=True)
    data = dataset.load_split("eval")
    rows = ASV5_RELEASE_ROWS["eval"]
    assert [u.utt_id for u in data.utterances] == [r[1] for r in rows]
    assert [u.path.parent.name for u in data.utterances] == ["flac_E_aa", "flac_E_ab", "flac_E_aa", "flac_E_ab"]
    assert all(u.path.is_file() for u in data.utterances)
    assert [u.conditions["codec"] for u in data.utterances] == ["C08", "none", "none", "C11"]
    assert [u.attack for u in data.utterances] == ["A23", "-", "-", "A32"]
    assert dataset.condition_columns() == ("codec",)
    assert dataset.statistics()["splits"]["eval"]["attacks"] == {"A23": 1, "A32": 1}


def test_asvspoof5_errors(tmp_path: Path) -> None:
    build_asvspoof5(tmp_path, "challenge", audio=False)
    with pytest.raises(DataError, match=r"asvspoof5 eval list not found: expected one of .*ASVspoof5\.eval\.track_1"
                                        r"\.tsv.*\(or set option eval_key to the CM key file\)"):
        ASVspoof5(tmp_path, {}).load_split("eval")
    with pytest.raises(DataError, match="option eval_key: path '../key.tsv' escapes the data root"):
        ASVspoof5(tmp_path, {"eval_key": "../key.tsv"}).load_split("eval")
    with pytest.raises(ConfigError, match="unknown option\\(s\\) subset"):
        ASVspoof5(tmp_path, {"subset": "eval"})
    train = tmp_path / "ASVspoof5.train.metainfor.txt"
    number = append_line(train, "T_4850 T_0000000009 F - A01 fake")
    with pytest.raises(DataError, match=rf"train\.metainfor\.txt:{number}: unknown label 'fake' in column 6"):
        ASVspoof5(tmp_path, {}).load_split("train")
    number = append_line(tmp_path / "ASVspoof5.dev.metainfor.txt", "D_0062 D_0000000009 M bonafide")
    with pytest.raises(DataError, match=rf"dev\.metainfor\.txt:{number}: expected 6 or 10 columns, found 4"):
        ASVspoof5(tmp_path, {}).load_split("dev")
    write_lines(tmp_path / "bad_key.tsv", ["file\tlabel", "E_000001\tbonafide"])
    with pytest.raises(DataError, match=r"bad_key\.tsv.*expected 6 or 10 columns"):
        ASVspoof5(tmp_path, {"eval_key": "bad_key.tsv"}).load_split("eval")
    write_lines(tmp_path / "short_key.tsv", ["filename\tcm-label", "E_000001\tbonafide", "E_000002"])
    with pytest.raises(DataError, match=r"short_key\.tsv:3: expected 2 columns, found 1"):
        ASVspoof5(tmp_path, {"eval_key": "short_key.tsv"}).load_split("eval")
    write_lines(tmp_path / "dup_key.tsv", ["filename\tcm-label", "E_000001\tbonafide", "E_000001\tspoof"])
    with pytest.raises(DataError, match=r"duplicate utterance id\(s\): E_000001 \(lines 2 and 3\)"):
        ASVspoof5(tmp_path, {"eval_key": "dup_key.tsv"}).load_split("eval")


def test_asvspoof5_missing_eval_audio_folder(tmp_path: Path) -> None:
    build_asvspoof5(tmp_path, "release", audio=False)
    with pytest.raises(DataError, match=r"asvspoof5 train audio folder not found: .*flac_T"):
        ASVspoof5(tmp_path, {}).validate(check_audio=True)
    ASVspoof5(tmp_path, {}).validate(check_audio=False)
    assert os.path.basename(ASVspoof5(tmp_path, {}).eval_audio_dirs()[0]) == "flac_E_eval"
