"""In-the-Wild plugin: the release layout loads as an eval-only corpus, and
every validation error names the file and line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchsuite.api import ConfigError, DataError, Task
from benchsuite.plugins.registry import get_registry
from benchsuite_datasets.in_the_wild import InTheWild
from builders_asvspoof import CLIP_SECONDS, ITW_ROWS, build_in_the_wild, write_lines


def test_registered_as_eval_only_and_trained_on_2019_la() -> None:
    item = get_registry().datasets.get("in-the-wild")
    assert item.plugin.name == "in-the-wild"
    assert item.spec.task is Task.SPOOF
    assert item.spec.eval_only and item.spec.train_on == "asvspoof2019-la"
    assert item.spec.splits == ("eval",)


@pytest.mark.parametrize("open_parent", [True, False])
def test_release_folder_or_its_parent_loads(tmp_path: Path, open_parent: bool) -> None:
    release = build_in_the_wild(tmp_path)
    spec = get_registry().datasets.get("in-the-wild").spec
    dataset = spec.open(tmp_path if open_parent else release, {})
    assert dataset.split_names() == ["eval"]
    dataset.validate(check_audio=True)
    data = dataset.load_split("eval")
    assert [u.utt_id for u in data.utterances] == [name.removesuffix(".wav") for name, _s, _l in ITW_ROWS]
    assert [u.label for u in data.utterances] == ["bonafide" if label == "bona-fide" else "spoof"
                                                  for _n, _s, label in ITW_ROWS]
    assert [u.speaker for u in data.utterances] == [speaker for _n, speaker, _l in ITW_ROWS]
    assert [u.attack for u in data.utterances] == ["-" if label == "bona-fide" else "unknown"
                                                   for _n, _s, label in ITW_ROWS]
    assert all(u.path == release / f"{u.utt_id}.wav" and u.path.is_file() for u in data.utterances)
    assert data.asv_scores is None


def test_statistics(tmp_path: Path) -> None:
    build_in_the_wild(tmp_path)
    stats = InTheWild(tmp_path, {}).statistics(check_audio=True)
    json.dumps(stats)
    entry = stats["splits"]["eval"]
    bonafide = sum(1 for _n, _s, label in ITW_ROWS if label == "bona-fide")
    assert (entry["utterances"], entry["bonafide"]) == (len(ITW_ROWS), bonafide)
    assert entry["spoof"] == len(ITW_ROWS) - bonafide
    assert entry["speakers"] == len({speaker for _n, speaker, _l in ITW_ROWS})
    assert entry["attacks"] == {"unknown": len(ITW_ROWS) - bonafide}
    assert entry["duration_seconds"] == pytest.approx(len(ITW_ROWS) * CLIP_SECONDS, abs=1e-3)
    assert len(stats["fingerprint"]) == 16


def test_columns_found_by_header_name_and_quoted_speakers(tmp_path: Path) -> None:
    release = tmp_path / "release_in_the_wild"
    write_lines(release / "meta.csv", ["label,file,speaker", 'spoof,0.wav,"Doe, John"', "bona-fide,1.wav,Ayn Rand"])
    data = InTheWild(release, {}).load_split("eval")
    assert [(u.utt_id, u.speaker, u.label) for u in data.utterances] == [
        ("0", "Doe, John", "spoof"), ("1", "Ayn Rand", "bonafide")]


def test_missing_corpus(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"In-the-Wild not found under .*: expected .*meta\.csv or "
                                        r".*release_in_the_wild/meta\.csv"):
        InTheWild(tmp_path, {})
    with pytest.raises(DataError, match="needs --data-root"):
        get_registry().datasets.get("in-the-wild").spec.open(None, {})


def test_unknown_label(tmp_path: Path) -> None:
    release = build_in_the_wild(tmp_path, rows=ITW_ROWS + (("6.wav", "Ayn Rand", "fake"),), audio=False)
    with pytest.raises(DataError) as err:
        InTheWild(release, {}).load_split("eval")
    assert str(err.value) == (f"{release / 'meta.csv'}:{len(ITW_ROWS) + 2}: unknown label 'fake'; expected "
                              "bona-fide or spoof (line: '6.wav,Ayn Rand,fake')")


def test_header_without_required_column(tmp_path: Path) -> None:
    release = tmp_path / "release_in_the_wild"
    write_lines(release / "meta.csv", ["file,label", "0.wav,spoof"])
    with pytest.raises(DataError, match=r"meta\.csv:1: header 'file,label' lacks column\(s\) speaker; expected "
                                        "file,speaker,label"):
        InTheWild(release, {}).load_split("eval")


def test_row_with_wrong_column_count(tmp_path: Path) -> None:
    release = tmp_path / "release_in_the_wild"
    write_lines(release / "meta.csv", ["file,speaker,label", "0.wav,Ayn Rand,spoof", "1.wav,spoof"])
    with pytest.raises(DataError, match=r"meta\.csv:3: expected 3 columns, found 2: '1\.wav,spoof'"):
        InTheWild(release, {}).load_split("eval")


def test_duplicate_clips(tmp_path: Path) -> None:
    release = build_in_the_wild(tmp_path, rows=ITW_ROWS + (("0.wav", "Alec Guinness", "spoof"),), audio=False)
    with pytest.raises(DataError, match=rf"1 duplicate utterance id\(s\): 0 \(lines 2 and {len(ITW_ROWS) + 2}\)"):
        InTheWild(release, {}).load_split("eval")


@pytest.mark.parametrize("escaping", ["../secret.wav", "/etc/passwd"])
def test_path_escaping_the_data_root(tmp_path: Path, escaping: str) -> None:
    release = build_in_the_wild(tmp_path, rows=ITW_ROWS + ((escaping, "Ayn Rand", "spoof"),), audio=False)
    with pytest.raises(DataError, match=rf"meta\.csv:{len(ITW_ROWS) + 2}: path '{escaping}' escapes the data root"):
        InTheWild(release, {}).load_split("eval")


def test_missing_audio_listed(tmp_path: Path) -> None:
    release = build_in_the_wild(tmp_path)
    (release / "2.wav").unlink()
    (release / "5.wav").unlink()
    dataset = InTheWild(release, {})
    dataset.validate(check_audio=False)
    with pytest.raises(DataError) as err:
        dataset.validate(check_audio=True)
    message = str(err.value)
    assert f"2 of {len(ITW_ROWS)} audio files are missing" in message
    assert f"2: {release / '2.wav'}" in message and f"5: {release / '5.wav'}" in message


def test_empty_meta_and_unknown_option(tmp_path: Path) -> None:
    release = tmp_path / "release_in_the_wild"
    write_lines(release / "meta.csv", ["file,speaker,label"])
    with pytest.raises(DataError, match=r"meta\.csv: no clips listed"):
        InTheWild(release, {}).load_split("eval")
    with pytest.raises(ConfigError, match="unknown option\\(s\\) subset; known options: none"):
        InTheWild(release, {"subset": "eval"})
