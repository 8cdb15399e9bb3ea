"""voxceleb1: the distributor's layout, O/E/H lists, VoxCeleb1-dev and
VoxCeleb2-dev training, and the refusals (E/H on Vox1 dev, m4a, overlap)."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchsuite.api import ConfigError, DataError, Task, Trial
from benchsuite.plugins.registry import get_registry
from benchsuite_datasets.voxceleb import VoxCeleb1
from builders_speaker import make_voxceleb1, make_voxceleb2_dev, write_audio, write_lines

TEST_SPEAKERS = {"id10270", "id10271", "id10272"}
DEV_SPEAKERS = {"id10001", "id10002", "id10003"}


@pytest.fixture()
def vox1(tmp_path: Path) -> Path:
    return make_voxceleb1(tmp_path / "voxceleb1")


def test_o_list_eval_split(vox1: Path) -> None:
    data = VoxCeleb1(vox1)
    assert data.split_names() == ["train", "eval"]
    evaluation = data.load_split("eval")
    assert len(evaluation.trials) == 24  # 3 speakers x 4 utterances x (1 target + 1 nontarget)
    assert sum(t.is_target for t in evaluation.trials) == 12
    first = evaluation.trials[0]
    assert first.enrol.count("/") == 2 and first.enrol.endswith(".wav")
    assert {u.speaker for u in evaluation.utterances} == TEST_SPEAKERS
    utt = next(u for u in evaluation.utterances if u.utt_id == first.enrol)
    assert utt.path == vox1 / "wav" / first.enrol and utt.label == utt.speaker == first.enrol.split("/")[0]
    assert evaluation.source.startswith("veri_test2.txt (24 lines")
    data.validate(check_audio=True)


def test_vox1_dev_training_excludes_the_test_speakers(vox1: Path) -> None:
    train = VoxCeleb1(vox1).load_split("train")
    assert {u.label for u in train.utterances} == DEV_SPEAKERS
    assert len(train.utterances) == 12
    assert train.utterances[0].utt_id == "id10001/vid001x-Y_/00001.wav"


def test_e_list_on_vox1_dev_is_refused(vox1: Path) -> None:
    with pytest.raises(ConfigError, match=r"the E trial list \(list_test_all2\.txt\) draws on the VoxCeleb1 dev "
                                          r"speakers.*set option train_root to a VoxCeleb2 dev copy"):
        VoxCeleb1(vox1, {"trials": "E"})


def test_e_list_with_voxceleb2_training(vox1: Path, tmp_path: Path) -> None:
    vox2 = make_voxceleb2_dev(tmp_path / "voxceleb2")
    data = VoxCeleb1(vox1, {"trials": "E", "train_root": str(vox2)})
    train = data.load_split("train")
    assert {u.label for u in train.utterances} == {"id00012", "id00015", "id00017"}
    assert train.utterances[0].path == vox2 / "dev" / "aac" / "id00012" / "21Uxsk56VDQ" / "00001.wav"
    assert "VoxCeleb2 dev" in train.source
    evaluation = data.load_split("eval")
    assert {u.speaker for u in evaluation.utterances} == TEST_SPEAKERS | DEV_SPEAKERS
    data.validate(check_audio=True)


def test_m4a_training_files_are_refused_with_the_conversion_hint(vox1: Path, tmp_path: Path) -> None:
    vox2 = make_voxceleb2_dev(tmp_path / "voxceleb2", suffix=".m4a")
    data = VoxCeleb1(vox1, {"train_root": str(vox2)})
    with pytest.raises(DataError, match=r"6 AAC \(\.m4a\) files, which soundfile cannot decode; convert them to "
                                        r"16 kHz mono WAV or FLAC .*ffmpeg -i NNNNN\.m4a -ac 1 -ar 16000"):
        data.load_split("train")


def test_m4a_next_to_its_converted_wav_is_fine(vox1: Path, tmp_path: Path) -> None:
    vox2 = make_voxceleb2_dev(tmp_path / "voxceleb2", suffix=".m4a")
    make_voxceleb2_dev(tmp_path / "voxceleb2", suffix=".wav")
    train = VoxCeleb1(vox1, {"train_root": str(vox2)}).load_split("train")
    assert len(train.utterances) == 6 and all(u.path.suffix == ".wav" for u in train.utterances)


def test_training_speaker_overlapping_the_trials_is_refused(vox1: Path, tmp_path: Path) -> None:
    vox2 = make_voxceleb2_dev(tmp_path / "voxceleb2", speakers=("id00012", "id10270"))
    with pytest.raises(DataError, match=r"1 training speaker\(s\) also appear in veri_test2\.txt: id10270"):
        VoxCeleb1(vox1, {"train_root": str(vox2)}).load_split("train")


def test_held_out_dev_split_for_selection(vox1: Path) -> None:
    data = VoxCeleb1(vox1, {"dev_speakers": 2, "dev_trials": 8, "seed": 0})
    assert data.split_names() == ["train", "dev", "eval"]
    train, dev = data.load_split("train"), data.load_split("dev")
    train_speakers, dev_speakers = {u.label for u in train.utterances}, {u.label for u in dev.utterances}
    assert len(train_speakers) == 1 and len(dev_speakers) == 2 and not train_speakers & dev_speakers
    assert train_speakers | dev_speakers == DEV_SPEAKERS
    assert len(dev.trials) == 8 and sum(t.is_target for t in dev.trials) == 4
    assert "speakers held out" in dev.source


def test_trial_list_size_is_named_in_the_source(vox1: Path) -> None:
    lines = (vox1 / "veri_test2.txt").read_text().splitlines()
    write_lines(vox1 / "veri_test2.txt", (lines * 1600)[:37720])
    source = VoxCeleb1(vox1).load_split("eval").source
    assert "37,720 lines, VoxCeleb1-O original (uncleaned)" in source
    assert "not a published list size" not in source and "note: that is the line count of the original" in source


def test_custom_trial_file_and_meta_folder(vox1: Path) -> None:
    (vox1 / "meta").mkdir()
    (vox1 / "veri_test2.txt").rename(vox1 / "meta" / "veri_test2.txt")
    assert len(VoxCeleb1(vox1).load_split("eval").trials) == 24
    write_lines(vox1 / "mine.txt", ["1 id10270/vid070x-Y_/00001.wav id10270/vid170x-Y_/00002.wav"])
    assert VoxCeleb1(vox1, {"trials": "mine.txt"}).load_split("eval").trials == [
        Trial("id10270/vid070x-Y_/00001.wav", "id10270/vid170x-Y_/00002.wav", True)]


def test_bad_label_and_bad_name_name_file_and_line(vox1: Path) -> None:
    with open(vox1 / "veri_test2.txt", "a") as handle:
        handle.write("target id10270/vid070x-Y_/00001.wav id10271/vid071x-Y_/00001.wav\n")
    with pytest.raises(DataError, match=r"veri_test2\.txt:25: label 'target'; expected 1 .* or 0"):
        VoxCeleb1(vox1).load_split("eval")
    write_lines(vox1 / "veri_test2.txt", ["1 id10270/00001.wav id10270/vid070x-Y_/00002.wav"])
    with pytest.raises(DataError, match=r"veri_test2\.txt:1: 'id10270/00001\.wav' is not a VoxCeleb utterance name"):
        VoxCeleb1(vox1).load_split("eval")
    write_lines(vox1 / "veri_test2.txt", ["1 ../id10270/x/00001.wav id10270/vid070x-Y_/00002.wav"])
    with pytest.raises(DataError, match=r"veri_test2\.txt:1: path .* escapes the data root"):
        VoxCeleb1(vox1).load_split("eval")


def test_missing_trial_audio_is_listed(vox1: Path) -> None:
    (vox1 / "wav" / "id10270" / "vid070x-Y_" / "00001.wav").unlink()
    with pytest.raises(DataError, match=r"1 of 12 audio files are missing:\n  id10270/vid070x-Y_/00001\.wav"):
        VoxCeleb1(vox1).validate(check_audio=True)


def test_missing_layout_and_list_are_explained(tmp_path: Path) -> None:
    write_lines(tmp_path / "v" / "veri_test2.txt", ["1 a/b/1.wav a/b/2.wav"])
    with pytest.raises(DataError, match=r"VoxCeleb1 audio not found under .*: expected .*wav"):
        VoxCeleb1(tmp_path / "v")
    write_audio(tmp_path / "w" / "wav" / "id10270" / "v" / "00001.wav")
    with pytest.raises(DataError, match=r"trial list list_test_hard2\.txt not found"):
        VoxCeleb1(tmp_path / "w", {"trials": "H"})


def test_statistics_and_registration(vox1: Path) -> None:
    stats = VoxCeleb1(vox1).statistics()
    assert stats["splits"]["train"]["speakers"] == 3
    assert stats["splits"]["eval"]["target"] == 12 and stats["splits"]["eval"]["nontarget"] == 12
    spec = get_registry().datasets.get("voxceleb1").spec
    assert spec.task == Task.VERIFY
    assert isinstance(spec.open(vox1, {}), VoxCeleb1)
