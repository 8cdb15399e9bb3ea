"""kaldi-dir, himia and ffsvc2022: layouts, trial formats, the HI-MIA ``{}``
expansion and every validation error's message."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchsuite.api import ConfigError, DataError, Task, Trial
from benchsuite.plugins.registry import get_registry
from benchsuite_datasets._speakers import PathMaker, canonical_name, generate_trials, hold_out_speakers, read_trial_lines
from benchsuite_datasets.kaldi import Ffsvc2022, HiMia, KaldiDataset
from builders_speaker import (
    all_pairs_trials, make_ffsvc2022, make_himia, make_kaldi_corpus, speaker_utts, write_audio, write_kaldi_dir,
    write_lines,
)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return make_kaldi_corpus(tmp_path / "kaldi", dev=True)


# --------------------------------------------------------------------------- kaldi-dir verify


def test_verify_corpus_loads_with_speaker_labels_and_trials(corpus: Path) -> None:
    data = KaldiDataset(corpus)
    assert data.split_names() == ["train", "dev", "eval"]
    train = data.load_split("train")
    assert len(train.utterances) == 9
    assert {u.label for u in train.utterances} == {"spk0", "spk1", "spk2"}
    assert all(u.label == u.speaker for u in train.utterances)
    assert train.utterances[0].path == corpus / "audio" / "spk0-000.wav"
    evaluation = data.load_split("eval")
    assert len(evaluation.trials) == 15  # 6 utterances, all pairs
    assert sum(t.is_target for t in evaluation.trials) == 6
    assert evaluation.trials[0] == Trial("tst0-000", "tst0-001", True)
    assert {u.utt_id for u in evaluation.utterances} == {f"tst{s}-{i:03d}" for s in range(2) for i in range(3)}
    assert "15 trials" in evaluation.source
    data.validate(check_audio=True)


def test_statistics_count_speakers_and_trials(corpus: Path) -> None:
    stats = KaldiDataset(corpus).statistics(check_audio=True)
    assert stats["task"] == "verify"
    assert stats["splits"]["train"]["utterances"] == 9
    assert stats["splits"]["train"]["speakers"] == 3
    assert stats["splits"]["train"]["utterances_per_speaker"] == {"min": 3, "mean": 3.0, "max": 3}
    assert stats["splits"]["eval"]["target"] == 6
    assert stats["splits"]["eval"]["nontarget"] == 9
    assert stats["splits"]["train"]["duration_seconds"] == pytest.approx(0.9, abs=1e-3)
    assert len(stats["fingerprint"]) == 16


def test_trials_in_binary_and_label_first_orders(tmp_path: Path) -> None:
    utts = speaker_utts(["a", "b"], 2)
    write_lines(tmp_path / "binary", all_pairs_trials(utts, style="binary"))
    write_lines(tmp_path / "vox", all_pairs_trials(utts, style="vox"))
    write_lines(tmp_path / "kaldi", all_pairs_trials(utts))
    expected = [(e, t, flag) for _n, e, t, flag in read_trial_lines(tmp_path / "kaldi")]
    for name in ("binary", "vox"):
        assert [(e, t, flag) for _n, e, t, flag in read_trial_lines(tmp_path / name)] == expected


def test_test_dir_is_found_when_there_is_no_eval_dir(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k", eval_name="test")
    data = KaldiDataset(root)
    assert data.split_names() == ["train", "eval"]
    assert data.dirs["eval"] == root / "test"


def test_absolute_wav_scp_paths_are_accepted(tmp_path: Path) -> None:
    root = tmp_path / "k"
    write_kaldi_dir(root / "train", root, speaker_utts(["a", "b"], 2), absolute=True)
    write_kaldi_dir(root / "eval", root, speaker_utts(["c", "d"], 2), absolute=True,
                    trials=all_pairs_trials(speaker_utts(["c", "d"], 2)))
    data = KaldiDataset(root)
    assert data.load_split("train").utterances[0].path == root / "audio" / "a-000.wav"


def test_enrolment_models_from_model2utt(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k")
    write_lines(root / "eval" / "model2utt", ["tst0-model tst0-000 tst0-001"])
    write_lines(root / "eval" / "trials", ["tst0-model tst0-002 target", "tst0-model tst1-000 nontarget"])
    evaluation = KaldiDataset(root).load_split("eval")
    assert evaluation.enrolments == {"tst0-model": ["tst0-000", "tst0-001"]}
    assert [t.enrol for t in evaluation.trials] == ["tst0-model", "tst0-model"]
    assert {u.utt_id for u in evaluation.utterances} == {"tst0-000", "tst0-001", "tst0-002", "tst1-000"}


def test_held_out_dev_speakers_are_seeded_and_disjoint(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k", train_speakers=5)
    data = KaldiDataset(root, {"dev_speakers": 2, "dev_trials": 10, "seed": 3})
    assert data.split_names() == ["train", "dev", "eval"]
    train, dev = data.load_split("train"), data.load_split("dev")
    assert len({u.label for u in train.utterances}) == 3
    assert not {u.label for u in train.utterances} & {u.label for u in dev.utterances}
    assert 0 < len(dev.trials) <= 10 and any(t.is_target for t in dev.trials) and not all(
        t.is_target for t in dev.trials)
    again = KaldiDataset(root, {"dev_speakers": 2, "dev_trials": 10, "seed": 3}).load_split("dev")
    assert again.trials == dev.trials


def test_generate_trials_pairs_are_unique_and_labelled_by_speaker(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k", train_speakers=4, per_speaker=4)
    utts = KaldiDataset(root).load_split("train").utterances
    speaker = {u.utt_id: u.label for u in utts}
    trials = generate_trials(utts, 40, seed=1)
    assert len(trials) == 40
    assert len({(t.enrol, t.test) for t in trials}) == 40
    assert all((speaker[t.enrol] == speaker[t.test]) == t.is_target for t in trials)
    assert all(t.enrol != t.test for t in trials)
    kept, held = hold_out_speakers(utts, 1, seed=1)
    assert len(kept) == 12 and len(held) == 4


# --------------------------------------------------------------------------- kaldi-dir classify


def test_classify_corpus_reads_utt2label(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k", task="classify", dev=True)
    data = KaldiDataset(root, {"task": "classify"})
    assert data.task == Task.CLASSIFY
    assert data.class_names() == ("happy", "sad")
    evaluation = data.load_split("eval")
    assert evaluation.trials is None
    assert {u.label for u in evaluation.utterances} == {"happy", "sad"}
    assert evaluation.utterances[0].speaker == "tst0"
    stats = data.statistics()
    assert stats["splits"]["train"]["labels"] == {"happy": 3, "sad": 6}


def test_classify_refuses_a_label_never_seen_in_training(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k", task="classify")
    lines = (root / "eval" / "utt2label").read_text().splitlines()
    lines[0] = lines[0].rsplit(" ", 1)[0] + " angry"
    write_lines(root / "eval" / "utt2label", lines)
    with pytest.raises(DataError, match=r"unknown label\(s\) angry never seen in the training split"):
        KaldiDataset(root, {"task": "classify"}).load_split("eval")


def test_classify_needs_utt2label(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k")
    with pytest.raises(DataError, match=r"utt2label not found; a classify corpus needs"):
        KaldiDataset(root, {"task": "classify"}).load_split("train")


# --------------------------------------------------------------------------- validation errors


def test_pipe_entries_are_refused_with_file_and_line(corpus: Path) -> None:
    lines = (corpus / "train" / "wav.scp").read_text().splitlines()
    lines[1] = "spk0-001 sox audio/x.flac -t wav - |"
    write_lines(corpus / "train" / "wav.scp", lines)
    with pytest.raises(DataError, match=r"train/wav\.scp:2: .* is a command pipe .* runs no commands"):
        KaldiDataset(corpus).load_split("train")


def test_relative_path_escaping_the_root_is_refused(corpus: Path) -> None:
    lines = (corpus / "train" / "wav.scp").read_text().splitlines()
    lines[0] = "spk0-000 ../outside.wav"
    write_lines(corpus / "train" / "wav.scp", lines)
    with pytest.raises(DataError, match=r"wav\.scp:1: path '\.\./outside\.wav' escapes the data root"):
        KaldiDataset(corpus).load_split("train")


@pytest.mark.parametrize(("table", "line", "split", "message"), [
    ("train/utt2spk", "spk9-000 spk9 extra", "train", r"utt2spk:10: expected 2 fields, found 3: 'spk9-000 spk9 extra'"),
    ("eval/trials", "tst0-000 nobody-001 nontarget", "eval",
     r"1 trial entries name no utterance .*: nobody-001 \(line 16\)"),
    ("eval/trials", "tst0-000 tst1-000 maybe", "eval",
     r"trials:16: key 'maybe' in the last column .* expected target/nontarget"),
])
def test_bad_appended_line_names_file_and_line(corpus: Path, table: str, line: str, split: str, message: str) -> None:
    with open(corpus / table, "a") as handle:
        handle.write(line + "\n")
    with pytest.raises(DataError, match=message):
        KaldiDataset(corpus).load_split(split)


def test_duplicate_utterance_ids_are_refused(corpus: Path) -> None:
    lines = (corpus / "train" / "wav.scp").read_text().splitlines()
    write_lines(corpus / "train" / "wav.scp", lines + [lines[0]])
    with pytest.raises(DataError, match=r"1 duplicate utterance id\(s\): spk0-000 \(lines 1 and 10\)"):
        KaldiDataset(corpus).load_split("train")


def test_utterance_without_speaker_is_listed(corpus: Path) -> None:
    lines = (corpus / "train" / "utt2spk").read_text().splitlines()
    write_lines(corpus / "train" / "utt2spk", lines[:-1])
    (corpus / "train" / "spk2utt").unlink()
    with pytest.raises(DataError, match=r"utt2spk: 1 utterance\(s\) of .*wav\.scp have no entry: spk2-002"):
        KaldiDataset(corpus).load_split("train")


def test_spk2utt_disagreeing_with_utt2spk_is_refused(corpus: Path) -> None:
    write_lines(corpus / "train" / "spk2utt", ["spk0 spk0-000 spk0-001 spk1-000"])
    with pytest.raises(DataError, match=r"spk2utt:1: utterance 'spk1-000' listed under speaker 'spk0', but"):
        KaldiDataset(corpus).load_split("train")


def test_missing_audio_lists_first_ten_and_count(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k", train_speakers=4, per_speaker=3)
    for wav in sorted((root / "audio").glob("spk*.wav")):
        wav.unlink()
    with pytest.raises(DataError, match=r"12 of 12 audio files are missing:(\n  .*){10}\n  \.\.\. and 2 more"):
        KaldiDataset(root).validate(check_audio=True)


def test_trial_without_key_is_refused(corpus: Path) -> None:
    write_lines(corpus / "eval" / "trials", ["tst0-000 tst1-000"])
    with pytest.raises(DataError, match=r"trials:1: trial without a key"):
        KaldiDataset(corpus).load_split("eval")


def test_missing_trials_file_is_explained(corpus: Path) -> None:
    (corpus / "eval" / "trials").unlink()
    with pytest.raises(DataError, match=r"eval/trials not found; the eval split of a verify corpus needs a trial"):
        KaldiDataset(corpus).load_split("eval")


def test_missing_layout_is_explained(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no Kaldi data dir for the train split .* expected .* to hold train/"):
        KaldiDataset(tmp_path / "empty")


def test_training_speaker_in_eval_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "k"
    write_kaldi_dir(root / "train", root, speaker_utts(["a", "b"], 2))
    utts = speaker_utts(["a", "c"], 2, prefix="e")
    write_kaldi_dir(root / "eval", root, utts, trials=all_pairs_trials(utts))
    with pytest.raises(DataError, match=r"1 speaker\(s\) of the eval split are also training speakers.*: a"):
        KaldiDataset(root).validate(check_audio=False)


def test_unknown_option_and_bad_task_are_config_errors(corpus: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown option\(s\) trails"):
        KaldiDataset(corpus, {"trails": "x"})
    with pytest.raises(ConfigError, match=r"option task='spoof'; expected one of verify, classify"):
        KaldiDataset(corpus, {"task": "spoof"})
    with pytest.raises(ConfigError, match=r"dev_speakers .* already is one"):
        KaldiDataset(corpus, {"dev_speakers": 1})


def test_multichannel_audio_needs_the_channel_option(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k")
    write_audio(root / "audio" / "spk0-000.wav", channels=2)
    utt = KaldiDataset(root).load_split("train").utterances[0]
    with pytest.raises(DataError, match=r"2 channels; expected mono audio \(select a channel"):
        KaldiDataset(root).read(utt)
    wave = KaldiDataset(root, {"channel": 1}).read(utt)
    assert wave.dtype == np.float32 and wave.ndim == 1


def test_other_sample_rates_are_resampled_to_16k(tmp_path: Path) -> None:
    root = make_kaldi_corpus(tmp_path / "k")
    write_audio(root / "audio" / "spk0-000.wav", rate=8000, seconds=0.1)
    data = KaldiDataset(root)
    wave = data.read(data.load_split("train").utterances[0])
    assert len(wave) == 1600


# --------------------------------------------------------------------------- HI-MIA


def test_himia_1m_trials_substitute_the_channel_on_both_sides(tmp_path: Path) -> None:
    data = HiMia(make_himia(tmp_path / "himia"))
    assert data.split_names() == ["train", "eval"]
    evaluation = data.load_split("eval")
    assert len(evaluation.trials) == 6  # 2 lines x 3 channels
    assert Trial("SV0299-7-02-S0096", "SV0333-7-02-N0124", False) in evaluation.trials
    assert Trial("SV0299-7-03-S0096", "SV0299-7-03-N0125", True) in evaluation.trials
    assert all(t.enrol.split("-")[2] == t.test.split("-")[2] for t in evaluation.trials)
    assert "mode sc" in evaluation.source
    data.validate(check_audio=True)


def test_himia_mic_trials_keep_the_enrolment_name(tmp_path: Path) -> None:
    evaluation = HiMia(make_himia(tmp_path / "himia"), {"trials": "mic"}).load_split("eval")
    assert len(evaluation.trials) == 6
    assert {t.enrol for t in evaluation.trials} == {"SV0299-7-01-S0097"}
    assert {t.test.split("-")[2] for t in evaluation.trials} == {"01", "02", "03"}


def test_himia_expands_only_channels_present(tmp_path: Path) -> None:
    root = make_himia(tmp_path / "himia", channels=("01", "02", "03"))
    lines = [line for line in (root / "test" / "wav.scp").read_text().splitlines() if "-03-N0125" not in line]
    write_lines(root / "test" / "wav.scp", lines)
    write_lines(root / "test" / "utt2spk", [f"{line.split()[0]} {line.split()[0][:6]}" for line in lines])
    (root / "test" / "spk2utt").unlink()
    evaluation = HiMia(root).load_split("eval")
    assert len(evaluation.trials) == 5


def test_himia_line_matching_no_channel_is_refused(tmp_path: Path) -> None:
    root = make_himia(tmp_path / "himia")
    with open(root / "test" / "trials_1m", "a") as handle:
        handle.write("SV0299_7_{}_S0096.wav SV0400_7_{}_N0001.wav 0\n")
    with pytest.raises(DataError, match=r"trials_1m:3: no channel of .* is present in the split's wav\.scp"):
        HiMia(root).load_split("eval")


def test_himia_bad_mode_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trials_mode='both'; expected sc"):
        HiMia(make_himia(tmp_path / "himia"), {"trials_mode": "both"})


def test_canonical_names_match_toolkit_spellings() -> None:
    assert canonical_name("id10270/x6uYqmx31kE/00001.wav") == canonical_name("id10270-x6uYqmx31kE-00001")
    assert canonical_name("SV0299_7_01_S0096.wav") == "SV0299-7-01-S0096"


# --------------------------------------------------------------------------- FFSVC 2022


def test_ffsvc2022_baseline_layout(tmp_path: Path) -> None:
    root = make_ffsvc2022(tmp_path / "data")
    data = Ffsvc2022(root, {"eval_on": "dev"})
    assert data.split_names() == ["train", "eval"]
    assert data.dirs["train"] == root / "FFSVC2022" / "Vox2dev_FFSVC22"
    assert len({u.label for u in data.load_split("train").utterances}) == 4
    evaluation = data.load_split("eval")
    assert [t.is_target for t in evaluation.trials] == [True, False, True, False]
    assert evaluation.trials[0] == Trial("ffsvc22_dev_000000.wav", "ffsvc22_dev_000001.wav", True)
    assert all(u.label == "-" and u.speaker is None for u in evaluation.utterances)
    pretrain = Ffsvc2022(root, {"eval_on": "dev", "stage": "pretrain"})
    assert len({u.label for u in pretrain.load_split("train").utterances}) == 2


def test_ffsvc2022_eval_without_keys_is_explained(tmp_path: Path) -> None:
    data = Ffsvc2022(make_ffsvc2022(tmp_path / "data"))
    assert data.split_names() == ["train", "dev", "eval"]
    assert len(data.load_split("dev").trials) == 4
    with pytest.raises(DataError, match=r"eval/trials:1: trials without keys .* option eval_on: dev"):
        data.load_split("eval")


def test_ffsvc2022_trials_written_without_suffix_still_resolve(tmp_path: Path) -> None:
    root = make_ffsvc2022(tmp_path / "data")
    write_lines(root / "FFSVC2022" / "dev" / "trials", ["1 ffsvc22_dev_000000 ffsvc22_dev_000001"])
    evaluation = Ffsvc2022(root, {"eval_on": "dev"}).load_split("eval")
    assert evaluation.trials == [Trial("ffsvc22_dev_000000.wav", "ffsvc22_dev_000001.wav", True)]


# --------------------------------------------------------------------------- registry


def test_registered_with_baselines() -> None:
    registry = get_registry()
    for name in ("kaldi-dir", "himia", "ffsvc2022"):
        assert registry.datasets.get(name).spec.task == Task.VERIFY
    ffsvc = {(b.spec.split, b.spec.metric, b.spec.conditions.get("task")): b.spec.value
             for b in registry.baselines_for("ffsvc2022")}
    assert ffsvc[("eval", "eer", "1")] == pytest.approx(0.07021)
    assert ffsvc[("eval", "min_dcf_p0.01", "2")] == pytest.approx(0.739)
    himia = {(b.spec.metric, b.spec.conditions["trials"]): b.spec.value for b in registry.baselines_for("himia")}
    assert himia[("eer", "1m")] == pytest.approx(0.08086)
    assert himia[("min_dcf_p0.01", "mic")] == pytest.approx(0.7512)
    assert all(b.spec.source for b in registry.baselines_for("himia"))


@pytest.mark.parametrize("location", ["a.wav", "wav/a.wav", "wav/x/y/b.flac", "/abs/c.wav", "/d.wav", "./e.wav",
                                      "f//g.wav", "wav/x/y/b.flac"])
def test_path_maker_equals_the_slash_operator(tmp_path: Path, location: str) -> None:
    maker = PathMaker(tmp_path)
    made, expected = maker(location), tmp_path / location
    assert made == expected and made.name == expected.name and made.parent == expected.parent
    assert str(made) == str(expected)
