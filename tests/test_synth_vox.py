"""The embedded corpora synth-vox (verify) and synth-emo (classify): Kaldi data
dir layout and line formats, close-talk/far-field trials, determinism, the
kaldi-dir reader and the registry, synthetic rooms, and that the audio carries
speaker and style information a simple classifier can find."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

from benchsuite.api import ConfigError, Task
from benchsuite_synth import _voice as voice, vox as synth_vox
from benchsuite_datasets.kaldi import KaldiDataset
from benchsuite_synth.corpora import open_synth_emo, open_synth_vox
from benchsuite_synth.vox import STYLE_NAMES, generate_synth_emo, generate_synth_vox
from builders_synth import digest, lfcc_frames

VOX = dict(n_train_speakers=4, n_dev_speakers=2, n_test_speakers=3, utts_per_speaker=3, min_seconds=0.8,
           max_seconds=1.5)
EMO = dict(n_train_speakers=3, n_dev_speakers=2, n_test_speakers=2, utts_per_style=1, min_seconds=0.8,
           max_seconds=1.5)
TRIAL = re.compile(r"^(spk\d{4})-\d{3}-close (spk\d{4})-\d{3}-far (target|nontarget)$")


@pytest.fixture(scope="module")
def vox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synth_vox(tmp_path_factory.mktemp("synth-vox") / "vox", seed=1, workers=1, **VOX)


@pytest.fixture(scope="module")
def emo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synth_emo(tmp_path_factory.mktemp("synth-emo") / "emo", seed=1, workers=1, **EMO)


def table(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines()]


def check_kaldi_dir(root: Path, split: str) -> dict[str, str]:
    """wav.scp/utt2spk/spk2utt agree, are C-sorted, speaker-prefixed, and point at 16 kHz mono FLAC; -> utt2spk."""
    folder = root / split
    wav = table(folder / "wav.scp")
    utt2spk = dict(table(folder / "utt2spk"))
    ids = [u for u, _ in wav]
    assert ids == sorted(ids) == sorted(utt2spk) and len(set(ids)) == len(ids)
    spk2utt = {line[0]: line[1:] for line in table(folder / "spk2utt")}
    assert list(spk2utt) == sorted(spk2utt)
    assert {u: s for s, us in spk2utt.items() for u in us} == utt2spk
    for utt, location in wav:
        assert utt.startswith(utt2spk[utt] + "-") and not location.startswith("/")
        info = soundfile.info(str(root / location))
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert 0.8 - 0.001 <= info.duration <= 1.5 + 0.001
    return utt2spk


def test_vox_layout_versions_and_trials(vox: Path) -> None:
    speakers = {}
    for split in ("train", "dev", "eval"):
        utt2spk = check_kaldi_dir(vox, split)
        speakers[split] = set(utt2spk.values())
        expected = VOX[{"train": "n_train_speakers", "dev": "n_dev_speakers", "eval": "n_test_speakers"}[split]]
        assert len(speakers[split]) == expected
        # every utterance exists close-talk and far-field
        versions = Counter(u.rsplit("-", 1)[1] for u in utt2spk)
        assert versions == {"close": expected * VOX["utts_per_speaker"], "far": expected * VOX["utts_per_speaker"]}
        if split == "train":
            assert not (vox / split / "trials").exists()
            continue
        lines = (vox / split / "trials").read_text(encoding="utf-8").splitlines()
        matches = [TRIAL.match(line) for line in lines]
        assert all(matches), [line for line, m in zip(lines, matches) if not m][:3]
        assert lines == sorted(set(lines))
        for m in matches:
            assert (m.group(1) == m.group(2)) == (m.group(3) == "target")
            assert m.group(1) in speakers[split] and m.group(2) in speakers[split]
        kinds = Counter(m.group(3) for m in matches)
        n = expected * VOX["utts_per_speaker"] * (VOX["utts_per_speaker"] - 1)
        assert kinds["target"] == n and 0 < kinds["nontarget"] <= 2 * n
    assert not speakers["train"] & speakers["dev"] and not speakers["train"] & speakers["eval"]
    assert not speakers["dev"] & speakers["eval"]


def test_vox_is_deterministic_and_reads_through_kaldi_dir(vox: Path, tmp_path: Path) -> None:
    assert digest(generate_synth_vox(tmp_path / "again", seed=1, workers=2, **VOX)) == digest(vox)
    other = generate_synth_vox(tmp_path / "other", seed=2, workers=1, **VOX)
    assert (other / "eval" / "trials").read_bytes() != (vox / "eval" / "trials").read_bytes()
    dataset = KaldiDataset(vox, {}, name="synth-vox")
    assert dataset.task is Task.VERIFY and dataset.split_names() == ["train", "dev", "eval"]
    dataset.validate(check_audio=True)
    train = dataset.load_split("train")
    assert len(train.utterances) == 2 * VOX["n_train_speakers"] * VOX["utts_per_speaker"]
    assert all(u.label == u.speaker for u in train.utterances)
    evaluation = dataset.load_split("eval")
    assert {t.is_target for t in evaluation.trials} == {True, False}
    assert all(t.enrol.endswith("-close") and t.test.endswith("-far") for t in evaluation.trials)


def test_emo_layout_labels_and_reader(emo: Path, tmp_path: Path) -> None:
    speakers = {}
    for split in ("train", "dev", "eval"):
        utt2spk = check_kaldi_dir(emo, split)
        labels = dict(table(emo / split / "utt2label"))
        assert sorted(labels) == sorted(utt2spk)
        per_speaker = Counter((utt2spk[u], label) for u, label in labels.items())
        assert set(per_speaker.values()) == {EMO["utts_per_style"]}  # every speaker speaks every style equally
        assert {label for _s, label in per_speaker} == set(STYLE_NAMES)
        assert all(u.endswith("-" + labels[u]) for u in labels)
        speakers[split] = set(utt2spk.values())
    assert len(speakers["train"] | speakers["dev"] | speakers["eval"]) == sum(
        EMO[k] for k in ("n_train_speakers", "n_dev_speakers", "n_test_speakers"))
    dataset = KaldiDataset(emo, {"task": "classify"}, name="synth-emo")
    dataset.validate(check_audio=True)
    assert dataset.class_names() == tuple(sorted(STYLE_NAMES))
    assert digest(generate_synth_emo(tmp_path / "again", seed=1, workers=1, **EMO)) == digest(emo)


def test_registered_embedded_corpora_generate_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from benchsuite.plugins.registry import get_registry

    monkeypatch.setenv("BENCHSUITE_CACHE_DIR", str(tmp_path))
    registry = get_registry()
    vox_spec = registry.datasets.get("synth-vox").spec
    emo_spec = registry.datasets.get("synth-emo").spec
    assert (vox_spec.task, emo_spec.task) == (Task.VERIFY, Task.CLASSIFY)
    assert vox_spec.embedded and emo_spec.embedded
    dataset = vox_spec.open(None, {"seed": 4, **VOX})
    assert "generating the synthetic corpus synth-vox (seed 4)" in capsys.readouterr().err
    assert dataset.name == "synth-vox" and dataset.root.parent == tmp_path
    assert vox_spec.open(None, {"seed": 4, **VOX}).root == dataset.root and capsys.readouterr().err == ""
    styles = emo_spec.open(None, {"seed": 4, **EMO})
    assert styles.task is Task.CLASSIFY and styles.name == "synth-emo"
    assert {u.label for u in styles.load_split("eval").utterances} == set(STYLE_NAMES)
    with pytest.raises(ConfigError, match=r"generated with other settings: seed=5 \(it has 4\)"):
        open_synth_vox(dataset.root, {"seed": 5})
    with pytest.raises(ConfigError, match="synth-emo option utts_per_style=0: expected at least 1"):
        open_synth_emo(None, {"utts_per_style": 0})
    with pytest.raises(ConfigError, match="synth-vox option n_test_speakers=1: expected at least 2"):
        open_synth_vox(None, {"n_test_speakers": 1})


def test_room_impulse_response_decays_at_its_reverberation_time() -> None:
    rng = np.random.default_rng(0)
    rir = synth_vox.room_impulse_response(rng, rt60=0.5, drr_db=3.0)
    direct = int(np.argmax(np.abs(rir)))
    tail = rir[direct + 1:]
    assert 0.003 * 16000 <= direct <= 0.012 * 16000
    assert 10 * np.log10(rir[direct] ** 2 / np.sum(tail ** 2)) == pytest.approx(3.0, abs=0.01)
    # energy 100 ms into the tail versus 300 ms later: 60 dB per 0.5 s -> about 36 dB down
    window = 800
    early = np.sum(tail[1600:1600 + window] ** 2)
    late = np.sum(tail[1600 + 4800:1600 + 4800 + window] ** 2)
    assert 10 * np.log10(early / late) == pytest.approx(36.0, abs=6.0)


def test_far_field_is_reverberant_and_noisier_than_close_talk() -> None:
    rng = np.random.default_rng(3)
    plan = voice.plan_utterance(voice.random_voice(rng), rng, 2.0)
    clean = voice.render(plan, rng)

    def pause_to_speech_db(wave: np.ndarray) -> float:
        frame_db = 10 * np.log10(np.mean(np.abs(voice.stft(wave)) ** 2, axis=1) + 1e-12)
        return float(np.percentile(frame_db, 10) - np.percentile(frame_db, 95))

    close = synth_vox.close_talk(clean, rng)
    far = synth_vox.far_field(clean, rng)
    assert pause_to_speech_db(far) > pause_to_speech_db(close) + 10


def _lfcc_statistics(wave: np.ndarray) -> np.ndarray:
    frames = lfcc_frames(wave)
    frames = frames[frames[:, 0] > np.percentile(frames[:, 0], 30)]  # speech frames
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])


def _nearest_centroid_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                               test_labels: np.ndarray) -> float:
    mean, scale = train.mean(axis=0), train.std(axis=0) + 1e-9
    train, test = (train - mean) / scale, (test - mean) / scale
    classes = sorted(set(train_labels))
    centroids = np.array([train[train_labels == c].mean(axis=0) for c in classes])
    guess = np.array(classes)[np.argmin(((test[:, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)]
    return float(np.mean(guess == test_labels))


def test_voices_and_styles_are_recognisable_by_a_simple_classifier() -> None:
    """Nearest centroid on LFCC statistics: close-talk speaker identification
    (odd utterances enrol, even ones test; chance 1/6) and style classification
    on unseen speakers (chance 1/4) are well above chance and not perfect."""
    seed = 0
    sizes = synth_vox.SynthVoxSizes(n_train_speakers=6, n_dev_speakers=2, n_test_speakers=2, utts_per_speaker=4,
                                    min_seconds=1.0, max_seconds=2.0)
    items = [it for it in synth_vox.vox_items(seed, sizes) if it.split == "train"]
    features = np.array([_lfcc_statistics(synth_vox.synthesise_vox(seed, it)["close"]) for it in items])
    speakers = np.array([it.speaker for it in items])
    odd = np.array([it.index % 2 == 1 for it in items])
    speaker_accuracy = _nearest_centroid_accuracy(features[odd], speakers[odd], features[~odd], speakers[~odd])
    assert 0.4 < speaker_accuracy, speaker_accuracy

    emo_sizes = synth_vox.SynthEmoSizes(n_train_speakers=8, n_dev_speakers=2, n_test_speakers=6, utts_per_style=2,
                                        min_seconds=1.0, max_seconds=2.0)
    emo_items = [it for it in synth_vox.emo_items(seed, emo_sizes) if it.split != "dev"]
    emo_features = np.array([_lfcc_statistics(synth_vox.synthesise_emo(seed, it)) for it in emo_items])
    labels = np.array([it.style for it in emo_items])
    train = np.array([it.split == "train" for it in emo_items])
    style_accuracy = _nearest_centroid_accuracy(emo_features[train], labels[train], emo_features[~train],
                                                labels[~train])
    assert 0.35 < style_accuracy < 0.95, style_accuracy
