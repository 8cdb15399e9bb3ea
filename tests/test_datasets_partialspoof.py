"""PartialSpoof reader: the v1.2 release layout, utterance and segment labels, and errors that
name the file and line.  The corpus is generated in tmp by :mod:`builders_partialspoof`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchsuite.api import ConfigError, DataError, Task
from benchsuite.plugins.registry import get_registry
from benchsuite_datasets.partialspoof import PartialSpoof
from builders_partialspoof import SAMPLE_RATE, write_tiny_partialspoof

SIZES = {"train": 6, "dev": 4, "eval": 4}
PROTOCOLS = Path("protocols") / "PartialSpoof_LA_cm_protocols"


@pytest.fixture()
def database(tmp_path: Path) -> Path:
    return write_tiny_partialspoof(tmp_path, SIZES)


def protocol(database: Path, split: str) -> Path:
    return database / PROTOCOLS / f"PartialSpoof.LA.cm.{split}.trl.txt"


def test_registered_as_a_spoof_dataset() -> None:
    item = get_registry().datasets.get("partialspoof")
    assert item.plugin.name == "partialspoof" and item.spec.task is Task.SPOOF


@pytest.mark.parametrize("open_parent", [True, False])
def test_database_folder_or_its_parent_loads_with_protocol_labels(database: Path, open_parent: bool) -> None:
    spec = get_registry().datasets.get("partialspoof").spec
    dataset = spec.open(database.parent if open_parent else database, {})
    dataset.validate(check_audio=True)
    assert dataset.split_names() == ["train", "dev", "eval"]
    for split, size in SIZES.items():
        data = dataset.load_split(split)
        lines = [line.split() for line in protocol(database, split).read_text().splitlines()]
        assert [u.utt_id for u in data.utterances] == [fields[1] for fields in lines]
        assert [u.label for u in data.utterances] == [fields[4] for fields in lines]
        assert [u.speaker for u in data.utterances] == [fields[0] for fields in lines]
        assert len(data.utterances) == size and data.asv_scores is None
        for u in data.utterances:
            assert u.path == database / split / "con_wav" / f"{u.utt_id}.wav" and u.path.is_file()
            # bona fide = the 2019 LA utterances, spoof = the concatenated CON_ ones, attack "CON"
            assert (u.label, u.attack) == (("bonafide", "-") if u.utt_id.startswith("LA_") else ("spoof", "CON"))


def test_statistics_report_labels_and_segment_label_agreement(database: Path) -> None:
    stats = PartialSpoof(database).statistics()
    json.dumps(stats)  # what `benchsuite data check --json` prints
    train = stats["splits"]["train"]
    assert (train["utterances"], train["bonafide"], train["spoof"], train["attacks"]) == (6, 3, 3, {"CON": 3})
    assert set(train["segment_labels"]) == {"0.02", "0.16"}
    assert train["segment_labels"]["0.02"]["label_disagreements"] == 0
    assert train["segment_labels"]["0.02"]["utterances"] == 6
    assert len(stats["fingerprint"]) == 16


def test_segment_labels_mark_the_spoofed_stretch(database: Path) -> None:
    dataset = PartialSpoof(database)
    train = dataset.load_split("train").utterances
    fine, coarse = dataset.segment_labels("train", "0.02"), dataset.segment_labels("train", 0.16)
    import soundfile

    for u in train:
        samples = soundfile.info(str(u.path)).frames
        # ceil(samples / shift) segments, 1 = bona fide, 0 = holds a spoofed sample
        assert len(fine[u.utt_id]) == -(-samples // (SAMPLE_RATE // 50))
        assert len(coarse[u.utt_id]) == -(-samples // int(0.16 * SAMPLE_RATE))
        assert fine[u.utt_id].dtype == np.int8 and set(np.unique(fine[u.utt_id])) <= {0, 1}
        if u.label == "bonafide":
            assert fine[u.utt_id].all() and coarse[u.utt_id].all()
        else:
            # a stretch in the middle: bona fide first and last segments, spoofed ones between
            assert fine[u.utt_id][0] == 1 and fine[u.utt_id][-1] == 1 and not fine[u.utt_id].all()
            assert (fine[u.utt_id] == 0).sum() * 0.02 <= (coarse[u.utt_id] == 0).sum() * 0.16
    with pytest.raises(DataError, match=r"no segment labels at 0\.64 s .*present: 0\.02, 0\.16"):
        dataset.segment_labels("train", "0.64")
    with pytest.raises(DataError, match="segment resolution 0.05"):
        dataset.segment_labels("train", 0.05)


def test_integer_segment_labels_are_accepted(database: Path) -> None:
    path = database / "segment_labels" / "dev_seglab_0.02.npy"
    labels = np.load(path, allow_pickle=True).item()
    np.save(path, {utt: value.astype(int) for utt, value in labels.items()})
    read = PartialSpoof(database).segment_labels("dev", "0.02")
    assert {utt: value.tolist() for utt, value in read.items()} == {
        utt: [int(v) for v in value] for utt, value in labels.items()}


def test_malformed_protocol_line_is_refused_with_file_and_line(database: Path) -> None:
    path = protocol(database, "dev")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit(" ", 1)[0]  # key column lost
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{path}:3: expected 5 columns, found 4"):
        PartialSpoof(database).load_split("dev")


def test_spoof_line_without_system_and_unknown_key_are_refused(database: Path) -> None:
    path = protocol(database, "eval")
    lines = path.read_text().splitlines()
    spoof_line = next(i for i, line in enumerate(lines) if line.endswith(" spoof"))
    lines[spoof_line] = lines[spoof_line].replace(" CON spoof", " - spoof")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{path}:{spoof_line + 1}: key 'spoof' with system '-'"):
        PartialSpoof(database).load_split("eval")
    lines[spoof_line] = lines[spoof_line].replace(" - spoof", " CON fake")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{path}:{spoof_line + 1}: unknown label 'fake'"):
        PartialSpoof(database).load_split("eval")


def test_list_naming_an_utterance_outside_the_protocol_is_refused(database: Path) -> None:
    listing = database / "train" / "train.lst"
    names = listing.read_text().splitlines()
    listing.write_text("\n".join(names[:2] + ["CON_T_9999999"] + names[2:]) + "\n")
    with pytest.raises(DataError, match=rf"{listing}:3: utterance 'CON_T_9999999' is not in .*train\.trl\.txt"):
        PartialSpoof(database).load_split("train")
    listing.write_text("\n".join(names[1:]) + "\n")
    with pytest.raises(DataError, match=rf"{listing}: lacks 1 utterance\(s\) of .*: {names[0]}"):
        PartialSpoof(database).load_split("train")


def test_missing_audio_and_missing_segment_labels_fail_validation(database: Path) -> None:
    dataset = PartialSpoof(database)
    first = dataset.load_split("eval").utterances[0]
    path = database / "segment_labels" / "eval_seglab_0.16.npy"
    labels = np.load(path, allow_pickle=True).item()
    del labels[first.utt_id]
    np.save(path, labels)
    with pytest.raises(DataError, match=rf"{path}: no segment labels for 1 of the 4 utterances .*{first.utt_id}"):
        dataset.validate(check_audio=False)
    first.path.unlink()
    with pytest.raises(DataError, match=rf"partialspoof eval .*1 of 4 audio files are missing"):
        PartialSpoof(database).validate(check_audio=True)


def test_malformed_segment_label_files_are_refused(database: Path) -> None:
    path = database / "segment_labels" / "train_seglab_0.02.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(DataError, match=rf"{path}: holds ndarray .*expected a saved dict"):
        PartialSpoof(database).segment_labels("train", "0.02")
    np.save(path, {"LA_T_1000000": np.array(["1", "x", "0"])})
    with pytest.raises(DataError, match=rf"{path}: utterance 'LA_T_1000000' has 'x'"):
        PartialSpoof(database).segment_labels("train", "0.02")
    path.write_bytes(b"not numpy")
    with pytest.raises(DataError, match=rf"{path}: cannot read segment labels"):
        PartialSpoof(database).segment_labels("train", "0.02")


def test_layout_errors_name_what_was_expected(tmp_path: Path, database: Path) -> None:
    with pytest.raises(DataError, match="PartialSpoof not found under .*protocols/PartialSpoof_LA_cm_protocols"):
        PartialSpoof(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="unknown option"):
        PartialSpoof(database, {"asv_scores": True})
    with pytest.raises(DataError, match="needs --data-root"):
        get_registry().datasets.get("partialspoof").spec.open(None, {})
