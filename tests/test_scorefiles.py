"""Score, key and trial files: every layout read, writers round-trip exactly,
and every kind of bad input refused with a message naming file, line and problem."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from benchsuite.scoring import files as scorefiles
from benchsuite.api import ScoreFileError, SplitData, SpoofScores, Utterance, VerifyScores, ClassifyScores
from benchsuite_metrics import spoof

from builders_metrics import (
    ASV_NONTARGET, ASV_SPOOF, ASV_TARGET, spoof_set, sv_set, write_asv_scores, write_lines,
)


@pytest.fixture
def cm(tmp_path: Path):
    data = spoof_set()
    protocol = write_lines(tmp_path / "protocol.txt", data.protocol_lines())
    four = write_lines(tmp_path / "scores4.txt", data.four_column_lines())
    two = write_lines(tmp_path / "scores2.txt", reversed(data.two_column_lines()))  # order must not matter
    asv = write_asv_scores(tmp_path / "asv.txt", ASV_TARGET, ASV_NONTARGET, ASV_SPOOF)
    return data, protocol, four, two, asv


def _raises(match: str):
    return pytest.raises(ScoreFileError, match=match)


# --------------------------------------------------------------------------- reading


def test_two_and_four_column_files_join_on_utterance_id(cm):
    data, protocol, four, two, asv = cm
    from_two = scorefiles.spoof_scores_from_files(two, protocol, asv)
    from_four = scorefiles.spoof_scores_from_files(four)  # its own labels
    assert from_two.utt_ids.tolist() == data.utt_ids  # protocol order
    assert from_two.scores.tolist() == data.scores
    assert from_four.scores.tolist() == data.scores
    assert from_two.is_bonafide.tolist() == data.is_bonafide
    assert from_two.attacks.tolist() == data.attacks
    assert from_two.asv is not None and from_two.asv.spoof_attacks.tolist()[:4] == ["A07"] * 4


def test_asvspoof5_tab_separated_scores_and_key(tmp_path: Path):
    data = spoof_set(n_bonafide=3, attacks=("A01",), per_attack=4)
    key = write_lines(tmp_path / "key.tsv", ["filename\tcm-label"] + [
        f"{u}\t{'bonafide' if b else 'spoof'}" for u, b in zip(data.utt_ids, data.is_bonafide)])
    scores = write_lines(tmp_path / "scores.tsv", ["filename\tcm-score"] + [
        f"{u}\t{s}" for u, s in zip(data.utt_ids, data.scores)])
    joined = scorefiles.spoof_scores_from_files(scores, key)
    assert joined.scores.tolist() == data.scores
    assert scorefiles.read_cm_scores(scores).layout == "asvspoof5"
    assert scorefiles.read_spoof_key(key).layout == "asvspoof5"


def test_2021_la_and_df_trial_metadata(tmp_path: Path):
    la = write_lines(tmp_path / "la.txt", [
        "LA_0009 LA_E_1 alaw ita_tx A07 spoof notrim eval",
        "LA_0009 LA_E_2 none loc_tx bonafide bonafide notrim progress",
    ])
    df = write_lines(tmp_path / "df.txt", [
        "LA_0023 DF_E_1 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -",
        "LA_0023 DF_E_2 low_mp3 asvspoof bonafide bonafide notrim eval bonafide - - - -",
    ])
    la_key = scorefiles.read_spoof_key(la)
    assert la_key.layout == "asvspoof2021-la" and la_key.attacks == ["A07", "-"]
    assert la_key.conditions["codec"] == ["alaw", "none"] and la_key.conditions["subset"] == ["eval", "progress"]
    df_key = scorefiles.read_spoof_key(df)
    assert df_key.layout == "asvspoof2021-df" and df_key.conditions["vocoder"] == ["traditional_vocoder", "bonafide"]
    assert df_key.is_bonafide.tolist() == [False, True]


def test_read_asv_scores(cm):
    asv = scorefiles.read_asv_scores(cm[4])
    assert asv.target.tolist() == list(ASV_TARGET) and asv.nontarget.tolist() == list(ASV_NONTARGET)
    assert len(asv.spoof) == sum(len(v) for v in ASV_SPOOF.values())


@pytest.mark.parametrize("layout", ["label-first", "label-last"])
@pytest.mark.parametrize("labels", [("target", "nontarget"), ("1", "0")])
def test_sv_trials_in_both_layouts(tmp_path: Path, layout, labels):
    data = sv_set()
    rows = []
    for e, t, target in zip(data.enrol, data.test, data.is_target):
        label = labels[0] if target else labels[1]
        rows.append(f"{label} {e} {t}" if layout == "label-first" else f"{e} {t} {label}")
    trials = write_lines(tmp_path / "trials.txt", rows)
    scores = write_lines(tmp_path / "scores.txt", reversed([f"{e} {t} {s!r}" for e, t, s in
                                                           zip(data.enrol, data.test, data.scores)]))
    joined = scorefiles.verify_scores_from_files(scores, trials)
    assert scorefiles.read_sv_trials(trials).layout == layout
    assert joined.scores.tolist() == data.scores and joined.is_target.tolist() == data.is_target


def test_writers_round_trip_exactly(tmp_path: Path):
    scores = [0.1 + 0.2, -1e-300, 123456.78901234567, 2.0 ** -40]
    scorefiles.write_spoof_scores(tmp_path / "s.txt", ["u1", "u2", "u3", "u4"], ["-", "A07", "A08", "-"],
                                  [True, False, False, True], np.array(scores))
    read = scorefiles.read_cm_scores(tmp_path / "s.txt")
    assert read.scores.tolist() == scores and read.layout == "4-column"
    assert (tmp_path / "s.txt").read_text().splitlines()[1] == f"u2 A07 spoof {-1e-300!r}"
    scorefiles.write_verify_scores(tmp_path / "v.txt", ["e1", "e2", "e3"], ["t1", "t2", "t3"], scores[:3],
                                   [True, False, True])
    verify = scorefiles.verify_scores_from_files(tmp_path / "v.txt")
    assert verify.scores.tolist() == scores[:3] and verify.is_target.tolist() == [True, False, True]
    scorefiles.write_classify_scores(tmp_path / "c.txt", ["u1", "u2", "u3"], ["cat", "dog", "dog"],
                                     ["cat", "cat", "dog"])
    classify = scorefiles.read_classify_scores(tmp_path / "c.txt")
    assert classify.class_names == ("cat", "dog")
    assert classify.true.tolist() == [0, 1, 1] and classify.predicted.tolist() == [0, 0, 1]


def test_writers_refuse_what_cannot_be_read_back(tmp_path: Path):
    with _raises(r"s\.txt \(utterance u 1\): utterance id 'u 1' is empty or contains whitespace"):
        scorefiles.write_spoof_scores(tmp_path / "s.txt", ["u 1"], ["-"], [True], [1.0])
    with _raises(r"s\.txt \(utterance u2\): cannot write a non-finite score \(nan\)"):
        scorefiles.write_spoof_scores(tmp_path / "s.txt", ["u2"], ["A07"], [False], [float("nan")])
    with _raises(r"columns differ in length"):
        scorefiles.write_verify_scores(tmp_path / "v.txt", ["e"], ["t", "u"], [1.0], [True])
    assert not (tmp_path / "s.txt").exists()


# --------------------------------------------------------------------------- validation messages


def _scores_file(tmp_path: Path, lines: list[str], name: str = "scores.txt") -> Path:
    return write_lines(tmp_path / name, lines)


# (file name, its lines, reader, expected message): one bad line each
BAD_LINES = {
    "nan score": ("scores.txt", ["u1 - bonafide 1.0", "u2 A07 spoof nan"], scorefiles.read_cm_scores,
                  r"scores\.txt:2: score 'nan' is not finite \(NaN/inf scores cannot be evaluated\)"),
    "inf score": ("scores.txt", ["u1 0.5", "u2 -inf"], scorefiles.read_cm_scores,
                  r"scores\.txt:2: score '-inf' is not finite"),
    "unparsable score": ("scores.txt", ["u1 0.5", "u2 0,7"], scorefiles.read_cm_scores,
                         r"scores\.txt:2: score '0,7' is not a number"),
    "column missing": ("scores.txt", ["u1 - bonafide 1.0", "u2 spoof 0.5"], scorefiles.read_cm_scores,
                       r"scores\.txt:2: expected 4 \(UTT SRC KEY SCORE\) columns, found 3: 'u2 spoof 0.5'"),
    "three-column CM file": ("three.txt", ["u1 A07 0.5"], scorefiles.read_cm_scores,
                             r"three\.txt:1: expected 2 \(UTT SCORE\) or 4 \(UTT SRC KEY SCORE\) columns, found 3"),
    "short protocol": ("protocol.txt", ["LA_0001 u1 - bonafide"], scorefiles.read_spoof_key,
                       r"protocol\.txt:1: expected 5 \(ASVspoof 2019 protocol.*found 4"),
    "short ASV line": ("asv.txt", ["bonafide target"], scorefiles.read_asv_scores,
                       r"asv\.txt:1: expected 3 \(SOURCE KEY SCORE\) columns, found 2"),
    "SV scores without score": ("sv.txt", ["e1 t1 0.5", "e1 t2"], scorefiles.read_sv_scores,
                                r"sv\.txt:2: expected 3 \(ENROL TEST SCORE\) columns, found 2"),
    "unknown CM key": ("scores.txt", ["u1 - genuine 1.0"], scorefiles.read_cm_scores,
                       r"scores\.txt:1: key 'genuine' is not 'bonafide' or 'spoof'"),
    "no trial label": ("trials.txt", ["yes e1 t1"], scorefiles.read_sv_trials,
                       r"trials\.txt:1: no trial label \(target/nontarget or 1/0\) in the first or last column"),
    "unknown ASV key": ("asv.txt", ["bonafide impostor 1.0"], scorefiles.read_asv_scores,
                        r"asv\.txt:1: key 'impostor' is not one of target, nontarget, spoof"),
    "unknown class": ("c.txt", ["u1 cat dog"], lambda path: scorefiles.read_classify_scores(path, ("cat", "bird")),
                      r"c\.txt:1: predicted class 'dog' is not one of cat, bird"),
    "ASVspoof 5 header": ("s.tsv", ["filename\tscore", "E_1\t0.5"], scorefiles.read_cm_scores,
                          r"s\.tsv:1: tab-separated header \['filename', 'score'\] lacks column\(s\) cm-score"),
}


@pytest.mark.parametrize("case", list(BAD_LINES), ids=list(BAD_LINES))
def test_a_bad_line_is_refused_with_file_and_line(tmp_path: Path, case: str):
    name, lines, reader, message = BAD_LINES[case]
    path = _scores_file(tmp_path, lines, name)
    with _raises(message):
        reader(path)


def test_duplicate_ids_name_both_lines(tmp_path: Path):
    path = _scores_file(tmp_path, ["u1 0.5", "u2 0.1", "u1 0.7"])
    with _raises(r"scores\.txt: 1 duplicate utterance id\(s\): u1 \(lines 1 and 3\)"):
        scorefiles.read_cm_scores(path)
    trials = _scores_file(tmp_path, ["target e1 t1", "nontarget e1 t1"], "trials.txt")
    with _raises(r"trials\.txt: 1 duplicate trial\(s\): e1 t1 \(lines 1 and 2\)"):
        scorefiles.read_sv_trials(trials)


def test_missing_and_extra_ids_list_the_first_few_and_the_count(cm, tmp_path: Path):
    data, protocol, *_ = cm
    few = _scores_file(tmp_path, data.two_column_lines()[:-8], "few.txt")
    with _raises(rf"few\.txt: 8 of {len(data.utt_ids)} utterances of the protocol .*protocol\.txt have no score: "
                 r"LA_E_2000202, .*, \.\.\. and 3 more"):
        scorefiles.spoof_scores_from_files(few, protocol)
    extra = _scores_file(tmp_path, data.two_column_lines() + ["LA_E_9 0.5", "LA_E_8 0.25"], "extra.txt")
    n = len(data.utt_ids)
    with _raises(rf"extra\.txt: 2 scored utterance\(s\) are not in the protocol .*: LA_E_9 \(line {n + 1}\), "
                 rf"LA_E_8 \(line {n + 2}\)"):
        scorefiles.spoof_scores_from_files(extra, protocol)


def test_missing_trials(tmp_path: Path):
    trials = _scores_file(tmp_path, ["1 e1 t1", "0 e1 t2", "0 e2 t1"], "trials.txt")
    scores = _scores_file(tmp_path, ["e1 t1 0.5", "e1 t2 0.1"], "sv.txt")
    with _raises(r"sv\.txt: 1 of 3 trials of .*trials\.txt have no score: e2 t1 \(trial line 3\)"):
        scorefiles.verify_scores_from_files(scores, trials)


def test_hard_decisions_are_refused(tmp_path: Path):
    path = _scores_file(tmp_path, ["u1 - bonafide 1", "u2 A07 spoof 0", "u3 A07 spoof 0", "u4 - bonafide 1"])
    with _raises(r"scores\.txt: only 2 distinct score value\(s\) among 4; these look like hard decisions"):
        scorefiles.spoof_scores_from_files(path)


def test_an_empty_class_is_refused(tmp_path: Path):
    path = _scores_file(tmp_path, ["u1 A07 spoof 1.5", "u2 A07 spoof 0.5", "u3 A08 spoof 0.1"])
    with _raises(r"scores\.txt: no bonafide scores \(0 bonafide, 3 spoof\)"):
        scorefiles.spoof_scores_from_files(path)
    sv = _scores_file(tmp_path, ["e1 t1 0.5 target", "e1 t2 0.1 target", "e2 t1 0.3 1"], "sv.txt")
    with _raises(r"sv\.txt: no nontarget scores \(3 target, 0 nontarget\)"):
        scorefiles.verify_scores_from_files(sv)
    asv = _scores_file(tmp_path, ["bonafide target 1.0", "A07 spoof 0.5"], "asv.txt")
    with _raises(r"asv\.txt: ASV score file has no nontarget scores"):
        scorefiles.read_asv_scores(asv)


def test_labels_that_disagree_with_the_protocol(cm, tmp_path: Path):
    data, protocol, *_ = cm
    lines = data.four_column_lines()
    lines[0] = lines[0].replace("bonafide", "spoof").replace(" - ", " A07 ")
    path = _scores_file(tmp_path, lines, "flipped_key.txt")
    with _raises(r"flipped_key\.txt: 1 utterance\(s\) are labelled differently from the protocol .*: "
                 r"LA_E_1000000 \(line 1: spoof, protocol: bonafide\)"):
        scorefiles.spoof_scores_from_files(path, protocol)


def test_two_column_file_without_labels(cm):
    with _raises(r"scores2\.txt: a 2-column score file has no labels; give the protocol/key"):
        scorefiles.spoof_scores_from_files(cm[3])


def test_missing_files_and_empty_files(tmp_path: Path):
    with _raises(r"score file not found: .*nothing\.txt"):
        scorefiles.read_cm_scores(tmp_path / "nothing.txt")
    empty = _scores_file(tmp_path, [], "empty.txt")
    with _raises(r"empty\.txt: score file holds no lines"):
        scorefiles.read_cm_scores(empty)


def test_flipped_polarity_warns(cm, tmp_path: Path):
    data = cm[0]
    flipped = _scores_file(tmp_path, [f"{u} {a} {'bonafide' if b else 'spoof'} {-s!r}" for u, a, b, s in
                                      zip(data.utt_ids, data.attacks, data.is_bonafide, data.scores)], "neg.txt")
    scores = scorefiles.spoof_scores_from_files(flipped)
    with pytest.warns(UserWarning, match=r"neg\.txt: EER is \d+\.\d\d % \(95 % bootstrap interval \d+\.\d\d-\d+\.\d\d %, "
                                         r"all above 50 %\): the scores look inverted"):
        spoof.compute_eer(scores, resamples=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spoof.compute_eer(scorefiles.spoof_scores_from_files(cm[2]), resamples=0)  # no warning on the right way round


# --------------------------------------------------------------------------- in-memory validation


def _memory(**changes) -> SpoofScores:
    base = dict(utt_ids=np.array(["a", "b", "c", "d"]), scores=np.array([1.0, 2.0, -1.0, 0.5]),
                is_bonafide=np.array([True, True, False, False]), attacks=np.array(["-", "-", "A07", "A08"]),
                source="model output")
    base.update(changes)
    return SpoofScores(**base)


def test_in_memory_spoof_scores_are_validated_before_any_metric():
    with _raises(r"model output: 1 score\(s\) are NaN or inf: c \(nan\)"):
        spoof.compute_eer(_memory(scores=np.array([1.0, 2.0, np.nan, 0.5])))
    with _raises(r"model output: 1 duplicate utterance id\(s\): a"):
        spoof.compute_tdcf(_memory(utt_ids=np.array(["a", "b", "a", "d"])))
    with _raises(r"model output: columns differ in length"):
        spoof.compute_asvspoof5(_memory(attacks=np.array(["-", "-", "A07"])))
    with _raises(r"model output: no spoof scores"):
        spoof.compute_eer(_memory(is_bonafide=np.array([True] * 4)))
    with _raises(r"model output: only 2 distinct score value\(s\)"):
        spoof.compute_eer(_memory(scores=np.array([1.0, 1.0, 0.0, 0.0])))


def test_in_memory_verify_and_classify_validation():
    verify = VerifyScores(np.array(["e", "e", "f"]), np.array(["t", "t", "u"]), np.array([0.1, 0.2, 0.3]),
                          np.array([True, False, False]), source="trials")
    with _raises(r"trials: 1 duplicate trial\(s\): e t"):
        scorefiles.validate_verify_scores(verify)
    classify = ClassifyScores(np.array(["a", "b"]), np.array([0, 3]), np.array([0, 1]), ("x", "y"), source="cls")
    with _raises(r"cls: true class index 3 of utterance b is outside 0\.\.1"):
        scorefiles.validate_classify_scores(classify)


def test_duplicate_values_on_large_string_arrays():
    ids = np.array([f"LA_E_{i:07d}" for i in range(20000)])
    assert scorefiles.duplicate_values(ids) == ([], 0)
    ids[7] = ids[19999]
    assert scorefiles.duplicate_values(ids) == (["LA_E_0019999"], 1)


def test_join_to_a_dataset_split(cm):
    data, *_ = cm
    utterances = [Utterance(u, Path(f"{u}.flac"), "bonafide" if b else "spoof", attack=a,
                            conditions={"codec": "alaw" if i % 2 else "none"})
                  for i, (u, a, b) in enumerate(zip(data.utt_ids, data.attacks, data.is_bonafide))]
    split = SplitData("eval", utterances, source="dataset eval protocol")
    joined = scorefiles.spoof_scores_from_split(cm[3], split)
    assert joined.scores.tolist() == data.scores
    assert set(joined.conditions["codec"].tolist()) == {"alaw", "none"}
