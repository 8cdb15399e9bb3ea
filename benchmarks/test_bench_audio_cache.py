"""Per-epoch data-loading time with and without the decoded-audio cache, and
a DataLoader sweep over num_workers 0/1/2 x pin_memory off/on.

Run with
``.venv/bin/python -m pytest benchmarks/test_bench_audio_cache.py --benchmark-only --benchmark-enable``.
The corpus is generated: a few hundred 16 kHz 16-bit FLAC files of 2-5 s
(ASVspoof 2019 LA utterances average about 3.4 s); every item is cropped to
64,600 samples as the raw-waveform countermeasures' recipes do.

On a busy CPU machine the num_workers=0 rows depend on OpenMP's wait
policy: after each collate, torch's idle intra-op threads spin and take CPU
from the decoding in the same process (on 2 shared cores an epoch of FLAC
decoding took ~2.7 s instead of ~0.4 s); compare with
``OMP_WAIT_POLICY=PASSIVE`` set in the environment."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile
import torch

from benchsuite.api import Utterance
from benchsuite.common.audio import crop, read_audio
from benchsuite.training.audio_cache import DecodedAudioCache

FILES = int(os.environ.get("BENCH_AUDIO_FILES", "300"))
CROP = 64600
BATCH = 32


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Utterance]:
    folder = tmp_path_factory.mktemp("bench-flac")
    rng = np.random.default_rng(0)
    utterances = []
    for i in range(FILES):
        length = int(rng.uniform(2.0, 5.0) * 16000)
        # band-limited noise under a syllable-rate envelope: compresses about as poorly as speech
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * np.arange(length) / 16000)
        wave = np.convolve(rng.standard_normal(length), np.ones(4) / 4, mode="same") * 0.2 * envelope
        path = folder / f"LA_T_{i:07d}.flac"
        soundfile.write(str(path), wave.clip(-1, 1), 16000, subtype="PCM_16")
        utterances.append(Utterance(path.stem, path, "bonafide"))
    return utterances


@pytest.fixture(scope="module")
def cache(corpus: list[Utterance], tmp_path_factory: pytest.TempPathFactory) -> DecodedAudioCache:
    return DecodedAudioCache.build_or_open(tmp_path_factory.mktemp("bench-cache"), "bench-train", corpus, 16000,
                                           lambda path: read_audio(path, 16000))


class CroppedItems(torch.utils.data.Dataset):
    """What a training epoch loads: one waveform per utterance, first 64,600 samples."""

    def __init__(self, count: int, load: Callable[[int], np.ndarray]):
        self.count = count
        self.load = load

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(crop(self.load(index), CROP, "first"), dtype=np.float32))


class FlacReader:
    """Picklable ``index -> waveform`` decoding with soundfile (what runs without the cache)."""

    def __init__(self, utterances: list[Utterance]):
        self.paths = [u.path for u in utterances]

    def __call__(self, index: int) -> np.ndarray:
        return read_audio(self.paths[index], 16000)


def run_epoch(loader: torch.utils.data.DataLoader) -> int:
    seen = 0
    for batch in loader:
        seen += batch.shape[0]
    return seen


def source(name: str, corpus: list[Utterance], cache: DecodedAudioCache) -> Callable[[int], np.ndarray]:
    return cache.waveform if name == "cache" else FlacReader(corpus)


def test_build_cache(benchmark, corpus: list[Utterance], tmp_path: Path) -> None:
    """One-off cost: decode every file and write the int16 memory map."""
    counter = iter(range(100))

    def build() -> DecodedAudioCache:
        return DecodedAudioCache.build_or_open(tmp_path / f"c{next(counter)}", "bench", corpus, 16000,
                                               lambda path: read_audio(path, 16000))

    built = benchmark.pedantic(build, rounds=2, iterations=1)
    benchmark.extra_info.update(files=FILES, samples=int(built.offsets[-1]))
    assert len(built) == FILES


@pytest.mark.parametrize("name", ["flac", "cache"])
def test_items_without_dataloader(benchmark, name: str, corpus: list[Utterance], cache: DecodedAudioCache) -> None:
    """The loading itself (read or cache lookup + crop), no batching or worker machinery."""
    items = CroppedItems(FILES, source(name, corpus, cache))
    seen = benchmark.pedantic(lambda: sum(1 for i in range(len(items)) if items[i] is not None), rounds=3,
                              warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(source=name, files=FILES, crop=CROP)
    assert seen == FILES


@pytest.mark.parametrize("name", ["flac", "cache"])
def test_epoch_single_process(benchmark, name: str, corpus: list[Utterance], cache: DecodedAudioCache) -> None:
    """An epoch's data loading in the main process (num_workers 0)."""
    loader = torch.utils.data.DataLoader(CroppedItems(FILES, source(name, corpus, cache)), batch_size=BATCH)
    seen = benchmark.pedantic(run_epoch, args=(loader,), rounds=3, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(source=name, files=FILES, crop=CROP)
    assert seen == FILES


@pytest.mark.parametrize("pin_memory", [False, True], ids=["pin-off", "pin-on"])
@pytest.mark.parametrize("num_workers", [0, 1, 2])
@pytest.mark.parametrize("name", ["flac", "cache"])
def test_dataloader_sweep(benchmark, name: str, num_workers: int, pin_memory: bool, corpus: list[Utterance],
                          cache: DecodedAudioCache) -> None:
    """Epoch time per loader setting; workers persist across epochs as in training.
    (Without a GPU, pin_memory is accepted but pins nothing.)"""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "pin_memory ... no accelerator" on CPU-only machines
        loader = torch.utils.data.DataLoader(
            CroppedItems(FILES, source(name, corpus, cache)), batch_size=BATCH, num_workers=num_workers,
            pin_memory=pin_memory, persistent_workers=num_workers > 0)
        seen = benchmark.pedantic(run_epoch, args=(loader,), rounds=3, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(source=name, num_workers=num_workers, pin_memory=pin_memory,
                                cuda=torch.cuda.is_available(), files=FILES)
    assert seen == FILES
