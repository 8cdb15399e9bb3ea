"""The decoded-audio cache: same audio as decoding (to int16 precision),
built once and reopened, invalidated by a changed file, atomic, picklable
without its samples, and usable from DataLoader worker processes."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from benchsuite.api import DataError, Utterance
from benchsuite.common.audio import read_audio
from benchsuite.training.audio_cache import META_FILE, SAMPLES_FILE, DecodedAudioCache, corpus_hash, to_int16
from builders_speaker import write_audio


def flac_corpus(folder: Path, count: int = 5) -> list[Utterance]:
    utterances = []
    for i in range(count):
        path = folder / f"utt{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(i)
        wave = (0.2 * rng.standard_normal(800 + 137 * i)).clip(-1, 1)
        soundfile.write(str(path), wave, 16000, subtype="PCM_16")
        utterances.append(Utterance(f"utt{i}", path, "bonafide"))
    return utterances


class CountingReader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path) -> np.ndarray:
        self.calls += 1
        return read_audio(path, 16000)


def test_cache_returns_the_decoded_audio(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio")
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy-train", utterances, 16000, CountingReader())
    assert len(cache) == 5
    for index, utt in enumerate(utterances):
        decoded = read_audio(utt.path, 16000)
        cached = cache.waveform(index)
        assert cached.dtype == np.float32 and cached.shape == decoded.shape
        # 16-bit FLAC decodes to k/32768 exactly, so the round trip is lossless
        np.testing.assert_array_equal(cached, decoded)


def test_float_audio_matches_to_int16_precision(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 2)
    waves = {u.path: np.random.default_rng(7).uniform(-0.9, 0.9, 500 + 10 * i).astype(np.float32)
             for i, u in enumerate(utterances)}
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "float", utterances, 16000, lambda p: waves[p])
    for index, utt in enumerate(utterances):
        np.testing.assert_allclose(cache.waveform(index), waves[utt.path], atol=0.5 / 32768 + 1e-9)


def test_built_once_then_reopened(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio")
    reader = CountingReader()
    first = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, reader)
    assert reader.calls == 5
    second = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, reader)
    assert reader.calls == 5
    assert second.folder == first.folder
    np.testing.assert_array_equal(second.waveform(3), first.waveform(3))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.folder.name]  # no leftover temp folders


def test_modified_file_invalidates_the_cache(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio")
    reader = CountingReader()
    old = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, reader)
    before = old.waveform(2).copy()
    replacement = np.full(900, 0.25, dtype=np.float32)
    soundfile.write(str(utterances[2].path), replacement, 16000, subtype="PCM_16")
    stat = os.stat(utterances[2].path)
    os.utime(utterances[2].path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # coarse-mtime filesystems
    new = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, reader)
    assert reader.calls == 10
    assert new.folder != old.folder
    np.testing.assert_array_equal(new.waveform(2), replacement)
    assert not np.array_equal(new.waveform(2), before)
    assert not old.folder.exists()  # the stale cache of the same key is removed
    np.testing.assert_array_equal(old.waveform(2), before)  # ... while an open reader keeps its memory map


def test_hash_covers_ids_paths_sizes_and_rate(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 3)
    base = corpus_hash(utterances, 16000)
    assert corpus_hash(utterances, 8000) != base
    renamed = [Utterance("other", utterances[0].path, "bonafide")] + utterances[1:]
    assert corpus_hash(renamed, 16000) != base
    assert corpus_hash(utterances[:2], 16000) != base
    assert corpus_hash(list(utterances), 16000) == base


def test_other_keys_are_left_alone(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 2)
    train = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, CountingReader())
    longer = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy-dev", utterances[:1], 16000, CountingReader())
    assert train.folder.exists() and longer.folder.exists()


def test_another_subset_of_the_same_key_is_kept(tmp_path: Path) -> None:
    """Two recipes may subset one split differently and run at once: neither may delete the other's cache."""
    utterances = flac_corpus(tmp_path / "audio", 4)
    everything = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy-train", utterances, 16000, CountingReader())
    subset = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy-train", utterances[:2], 16000, CountingReader())
    assert everything.folder.exists() and subset.folder.exists() and everything.folder != subset.folder
    assert subset.utt_ids == ["utt0", "utt1"] and len(subset) == 2


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 3)

    def failing(path: Path) -> np.ndarray:
        if path.name == "utt2.flac":
            raise DataError(f"{path}: cannot read audio")
        return read_audio(path, 16000)

    with pytest.raises(DataError, match=r"utt2\.flac: cannot read audio"):
        DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, failing)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_file_is_named(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 2)
    utterances[1].path.unlink()
    with pytest.raises(DataError, match=r"utt1\.flac: cannot build the decoded-audio cache .* utterance utt1"):
        DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, CountingReader())


def test_clipping_is_counted(tmp_path: Path) -> None:
    samples, clipped = to_int16(np.array([0.5, 1.2, -1.5, -1.0], dtype=np.float32))
    assert samples.tolist() == [16384, 32767, -32768, -32768] and clipped == 2
    utterances = flac_corpus(tmp_path / "audio", 1)
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "hot", utterances, 16000,
                                            lambda p: np.array([0.0, 1.5, 0.1], dtype=np.float32))
    assert cache.meta["clipped_samples"] == 1


def test_npy_file_is_a_plain_int16_array(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 3)
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, CountingReader())
    samples = np.load(cache.folder / SAMPLES_FILE)
    assert samples.dtype == np.int16 and samples.shape == (int(cache.offsets[-1]),)
    assert (cache.folder / META_FILE).is_file()


def test_pickles_without_samples_and_reopens(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 4)
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, CountingReader())
    expected = cache.waveform(1)
    blob = pickle.dumps(cache.waveform)
    assert len(blob) < 4000  # offsets and ids only, no audio
    np.testing.assert_array_equal(pickle.loads(blob)(1), expected)


class _CachedItems(torch.utils.data.Dataset):
    def __init__(self, audio) -> None:
        self.audio = audio

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.audio(index)[:500].copy())


def test_works_in_dataloader_workers(tmp_path: Path) -> None:
    utterances = flac_corpus(tmp_path / "audio", 4)
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "toy", utterances, 16000, CountingReader())
    loader = torch.utils.data.DataLoader(_CachedItems(cache.waveform), batch_size=2, num_workers=1)
    batches = torch.cat(list(loader))
    expected = torch.stack([torch.from_numpy(read_audio(u.path, 16000)[:500]) for u in utterances])
    torch.testing.assert_close(batches, expected, rtol=0, atol=0)


def test_resampled_corpus_uses_the_reader(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "audio" / "slow.wav", rate=8000, seconds=0.05)
    utterances = [Utterance("slow", path, "x")]
    cache = DecodedAudioCache.build_or_open(tmp_path / "cache", "rs", utterances, 16000,
                                            lambda p: read_audio(p, 16000))
    assert len(cache.waveform(0)) == 800 and cache.sample_rate == 16000


def test_parallel_build_writes_the_same_cache(tmp_path: Path, monkeypatch) -> None:
    import functools

    from benchsuite.training import audio_cache

    utterances = flac_corpus(tmp_path / "audio", count=12)
    read = functools.partial(read_audio, sample_rate=16000)
    serial = DecodedAudioCache.build_or_open(tmp_path / "serial", "k", utterances, 16000, read)
    monkeypatch.setattr(audio_cache, "PARALLEL_MIN_FILES", 4)
    parallel = DecodedAudioCache.build_or_open(tmp_path / "parallel", "k", utterances, 16000, read, workers=2)
    assert (serial.folder / SAMPLES_FILE).read_bytes() == (parallel.folder / SAMPLES_FILE).read_bytes()
    assert np.array_equal(serial.offsets, parallel.offsets)
