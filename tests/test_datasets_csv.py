"""csv-manifest: a 4-class emotion set, seeded speaker-disjoint splits,
verify and spoof manifests, and the validation messages."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchsuite.api import ConfigError, DataError, Task
from benchsuite.plugins.registry import get_registry
from benchsuite_datasets.csv_manifest import CsvManifest, assign_by_group, parse_ratio
from builders_speaker import make_emotion_csv, write_audio, write_lines

CLASSES = ("ang", "hap", "neu", "sad")


@pytest.fixture()
def emotion(tmp_path: Path) -> Path:
    return make_emotion_csv(tmp_path / "emo")


def test_four_class_manifest_with_split_column(emotion: Path) -> None:
    data = CsvManifest(emotion)
    assert data.task == Task.CLASSIFY
    assert data.split_names() == ["train", "dev", "eval"]
    assert data.class_names() == CLASSES
    train = data.load_split("train")
    assert len(train.utterances) == 16
    first = train.utterances[0]
    assert first.utt_id == "clips/spk0/utt0.wav" and first.path == emotion / "clips" / "spk0" / "utt0.wav"
    assert first.label == "ang" and first.speaker == "spk0" and first.conditions == {"session": "Ses01"}
    assert data.condition_columns() == ("session",)
    assert {u.speaker for u in data.load_split("eval").utterances} == {"spk5"}
    stats = data.statistics(check_audio=True)
    assert stats["splits"]["train"]["labels"] == {"ang": 4, "hap": 4, "neu": 4, "sad": 4}
    assert stats["splits"]["dev"]["utterances"] == 4
    data.validate(check_audio=True)


def test_csv_file_as_root_and_spelled_splits(tmp_path: Path) -> None:
    root = tmp_path / "m"
    write_audio(root / "a.wav")
    write_audio(root / "b.wav")
    write_lines(root / "list.csv", ["utt_id,path,label,split", "u1,a.wav,yes,train", "u2,b.wav,yes,test"])
    data = CsvManifest(root / "list.csv")
    assert data.split_names() == ["train", "eval"]
    assert data.load_split("eval").utterances[0].utt_id == "u2"


def test_seeded_speaker_disjoint_split(tmp_path: Path) -> None:
    root = make_emotion_csv(tmp_path / "emo", speakers=10, split_column=False)
    data = CsvManifest(root, {"split_ratio": "60/20/20", "seed": 7})
    splits = {s: {u.speaker for u in data.load_split(s).utterances} for s in data.split_names()}
    assert data.split_names() == ["train", "dev", "eval"]
    assert not splits["train"] & splits["dev"] and not splits["train"] & splits["eval"]
    assert not splits["dev"] & splits["eval"]
    assert [len(splits[s]) for s in ("train", "dev", "eval")] == [6, 2, 2]
    again = CsvManifest(root, {"split_ratio": [0.6, 0.2, 0.2], "seed": 7})
    assert {u.utt_id for u in again.load_split("eval").utterances} == {
        u.utt_id for u in data.load_split("eval").utterances}
    other = CsvManifest(root, {"split_ratio": "60/20/20", "seed": 8})
    assert {u.speaker for u in other.load_split("eval").utterances} != splits["eval"]
    assert "speaker-disjoint split_ratio 60/20/20, seed 7" in data.load_split("train").source


def test_assign_by_group_and_ratio_parsing() -> None:
    groups = [f"g{i // 3}" for i in range(30)]
    assigned = assign_by_group(groups, (0.8, 0.1, 0.1), seed=0)
    counts = {s: sum(1 for g in groups if assigned[g] == s) for s in ("train", "dev", "eval")}
    assert counts == {"train": 24, "dev": 3, "eval": 3}
    assert parse_ratio("8:1:1", "x") == pytest.approx((0.8, 0.1, 0.1))
    with pytest.raises(ConfigError, match=r"split_ratio='80/20'; expected three"):
        parse_ratio("80/20", "x")


def test_utterance_level_split_keeps_the_label_mix(tmp_path: Path) -> None:
    root = tmp_path / "u"
    rows = ["path,label"]
    for i in range(40):
        write_audio(root / f"{i}.wav", seconds=0.02)
        rows.append(f"{i}.wav,{CLASSES[i % 4]}")
    write_lines(root / "manifest.csv", rows)
    with pytest.raises(ConfigError, match=r"no 'split' column; add one .* or set option split_ratio"):
        CsvManifest(root).split_names()
    with pytest.raises(ConfigError, match=r"splits by speaker, but .* has no 'speaker' column"):
        CsvManifest(root, {"split_ratio": "80/10/10"}).split_names()
    data = CsvManifest(root, {"split_ratio": "80/10/10", "split_by": "utterance"})
    for split, per_class in (("train", 8), ("dev", 1), ("eval", 1)):
        labels = [u.label for u in data.load_split(split).utterances]
        assert sorted(labels) == sorted(CLASSES * per_class), split


def test_verify_manifest_generates_trials(tmp_path: Path) -> None:
    root = tmp_path / "v"
    rows = ["path,label,split"]
    for s in range(6):
        for i in range(3):
            write_audio(root / f"s{s}_{i}.wav", seconds=0.02)
            rows.append(f"s{s}_{i}.wav,spk{s},{'train' if s < 3 else 'eval'}")
    write_lines(root / "manifest.csv", rows)
    data = CsvManifest(root, {"task": "verify", "trials_per_split": 12})
    evaluation = data.load_split("eval")
    assert len(evaluation.trials) == 12 and sum(t.is_target for t in evaluation.trials) == 6
    speaker = {u.utt_id: u.speaker for u in evaluation.utterances}
    assert all((speaker[t.enrol] == speaker[t.test]) == t.is_target for t in evaluation.trials)
    write_lines(root / "eval_trials", ["s3_0.wav s3_1.wav target", "s3_0.wav s4_0.wav nontarget"])
    listed = CsvManifest(root, {"task": "verify", "trials_eval": "eval_trials"}).load_split("eval")
    assert [t.is_target for t in listed.trials] == [True, False]
    assert {u.utt_id for u in listed.utterances} == {"s3_0.wav", "s3_1.wav", "s4_0.wav"}


def test_spoof_manifest_normalises_bona_fide(tmp_path: Path) -> None:
    root = tmp_path / "s"
    for name in ("a", "b", "c", "d"):
        write_audio(root / f"{name}.wav", seconds=0.02)
    write_lines(root / "manifest.csv", ["path,label,speaker,split,attack", "a.wav,bona-fide,x,train,",
                                        "b.wav,spoof,x,train,tts1", "c.wav,bonafide,y,eval,", "d.wav,spoof,y,eval,"])
    data = CsvManifest(root, {"task": "spoof"})
    train = data.load_split("train").utterances
    assert [(u.label, u.attack) for u in train] == [("bonafide", "-"), ("spoof", "tts1")]
    stats = data.statistics()
    assert stats["splits"]["train"]["attacks"] == {"tts1": 1}
    assert stats["splits"]["eval"]["bonafide"] == 1
    write_lines(root / "manifest.csv", ["path,label,split", "a.wav,fake,train"])
    with pytest.raises(DataError, match=r"manifest\.csv:2: unknown label 'fake'; a spoof manifest expects"):
        CsvManifest(root, {"task": "spoof"}).split_names()


# --------------------------------------------------------------------------- validation errors


def test_unknown_label_against_declared_classes(emotion: Path) -> None:
    with pytest.raises(DataError, match=r"manifest\.csv:2: unknown label 'ang'; option classes allows hap, neu, sad"):
        CsvManifest(emotion, {"classes": "neu,hap,sad"}).split_names()


def test_eval_label_missing_from_training_is_refused(emotion: Path) -> None:
    lines = (emotion / "manifest.csv").read_text().splitlines()
    lines[-1] = lines[-1].replace(",spk5,", ",spk5,").replace(lines[-1].split(",")[1], "fear")
    write_lines(emotion / "manifest.csv", lines)
    with pytest.raises(DataError, match=r"unknown label\(s\) fear never seen in the training split"):
        CsvManifest(emotion).load_split("eval")


def test_malformed_row_names_file_line_and_row(emotion: Path) -> None:
    with open(emotion / "manifest.csv", "a") as handle:
        handle.write("clips/x.wav,neu\n")
    with pytest.raises(DataError, match=r"manifest\.csv:26: expected 5 fields as in the header, found 2: "
                                        r"'clips/x\.wav,neu'"):
        CsvManifest(emotion).split_names()


def test_missing_required_column(tmp_path: Path) -> None:
    write_lines(tmp_path / "manifest.csv", ["file,emotion", "a.wav,neu"])
    with pytest.raises(DataError, match=r"manifest\.csv:1: no 'path' column in the header 'file,emotion'"):
        CsvManifest(tmp_path).split_names()
    write_audio(tmp_path / "a.wav")
    write_lines(tmp_path / "manifest.csv", ["file,emotion,split", "a.wav,neu,train", "a2.wav,neu,eval"])
    data = CsvManifest(tmp_path, {"path_column": "file", "label_column": "emotion"})
    assert data.load_split("train").utterances[0].label == "neu"


def test_duplicate_ids_and_escaping_paths(emotion: Path) -> None:
    lines = (emotion / "manifest.csv").read_text().splitlines()
    write_lines(emotion / "manifest.csv", lines + [lines[1]])
    with pytest.raises(DataError, match=r"1 duplicate utterance id\(s\): clips/spk0/utt0\.wav \(lines 2 and 26\)"):
        CsvManifest(emotion).split_names()
    write_lines(emotion / "manifest.csv", lines[:1] + ["../../etc/passwd,neu,spk0,train,Ses01"])
    with pytest.raises(DataError, match=r"manifest\.csv:2: path '\.\./\.\./etc/passwd' escapes the data root"):
        CsvManifest(emotion).split_names()


def test_bad_split_value_and_missing_eval(emotion: Path) -> None:
    lines = (emotion / "manifest.csv").read_text().splitlines()
    write_lines(emotion / "manifest.csv", lines[:2] + [lines[2].replace(",train,", ",holdout,")])
    with pytest.raises(DataError, match=r"manifest\.csv:3: split 'holdout'; expected train, dev or eval"):
        CsvManifest(emotion).split_names()
    write_lines(emotion / "manifest.csv", lines[:3])
    with pytest.raises(DataError, match=r"no utterance falls in the eval split"):
        CsvManifest(emotion).split_names()


def test_missing_audio_and_class_without_training_data(emotion: Path) -> None:
    (emotion / "clips" / "spk5" / "utt3.wav").unlink()
    with pytest.raises(DataError, match=r"1 of 4 audio files are missing:\n  clips/spk5/utt3\.wav"):
        CsvManifest(emotion).validate(check_audio=True)
    with pytest.raises(DataError, match=r"class\(es\) joy have no training utterance"):
        CsvManifest(emotion, {"classes": list(CLASSES) + ["joy"]}).validate(check_audio=False)


def test_options_are_checked(emotion: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown option\(s\) split_ration"):
        CsvManifest(emotion, {"split_ration": "80/10/10"})
    with pytest.raises(ConfigError, match=r"split_by='session'"):
        CsvManifest(emotion, {"split_by": "session"})


def test_registered() -> None:
    spec = get_registry().datasets.get("csv-manifest").spec
    assert spec.task == Task.CLASSIFY and "split_ratio" in spec.description
