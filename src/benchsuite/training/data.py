"""From a split's utterances to reproducible batches.

Randomness (crop start, augmentation) is drawn from a generator seeded by
``(seed, epoch, index)``, and the shuffled order from ``(seed, epoch)``, so a
batch does not depend on worker count, worker scheduling or on whether the run
was resumed mid-way.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from benchsuite.common.files import cache_dir_default
from benchsuite.contract.streams import SUBSET_SEED, RandomStreams
from benchsuite.contract import BONAFIDE, Recipe, Task, Utterance
from benchsuite.common.audio import crop, read_audio

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def labels_for(task: Task, utterances: Sequence[Utterance], class_names: Sequence[str]) -> np.ndarray:
    """spoof: 1 = bona fide, 0 = spoof; verify/classify: index into ``class_names``."""
    if task == Task.SPOOF:
        return np.array([1 if u.label == BONAFIDE else 0 for u in utterances], dtype=np.int64)
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index[u.label] for u in utterances], dtype=np.int64)


def subset(utterances: Sequence[Utterance], limit: int | None, stratify: bool = True) -> list[Utterance]:
    """A fixed, label-stratified subset for quick runs.  Seeded independently
    of the run seed so every seed of a model sees the same data."""
    if limit is None or limit >= len(utterances):
        return list(utterances)
    rng = np.random.default_rng(SUBSET_SEED)
    if not stratify:
        keep = np.sort(rng.choice(len(utterances), size=limit, replace=False))
        return [utterances[i] for i in keep]
    by_label: dict[str, list[int]] = {}
    for i, u in enumerate(utterances):
        by_label.setdefault(u.label, []).append(i)
    chosen: list[int] = []
    total = len(utterances)
    for label in sorted(by_label):
        indices = by_label[label]
        share = max(1, round(limit * len(indices) / total))
        chosen.extend(rng.choice(indices, size=min(share, len(indices)), replace=False).tolist())
    return [utterances[i] for i in sorted(chosen)]


def every_nth_of_class(utterances: Sequence[Utterance], factors: dict[str, int]) -> list[Utterance]:
    """The utterances of each label in ``factors`` thinned to every N-th one in protocol order, starting with
    the first (MATLAB ``idx(1:N:end)``, as the ASVspoof 2021 CQCC-GMM baseline thins its spoof files);
    other labels are kept whole.  The order of the kept utterances is unchanged."""
    if not factors:
        return list(utterances)
    seen: dict[str, int] = {}
    kept = []
    for utt in utterances:
        position = seen.get(utt.label, 0)
        seen[utt.label] = position + 1
        if position % factors.get(utt.label, 1) == 0:
            kept.append(utt)
    return kept


class WaveformDataset(torch.utils.data.Dataset):
    """Items are ``(waveform float32 tensor, label, index)``; indexed by
    ``(index, epoch)`` pairs from :class:`EpochSampler`."""

    def __init__(self, utterances: Sequence[Utterance], labels: np.ndarray, *, sample_rate: int,
                 crop_samples: int, crop_policy: str, seed: int, augment: Sequence[Augment] = (),
                 audio: Callable[[int], np.ndarray] | None = None, notice_key: str | None = None,
                 channel: int | None = None):
        self.paths = [str(u.path) for u in utterances]
        self.labels = labels
        self.sample_rate = sample_rate
        self.crop_samples = crop_samples
        self.crop_policy = crop_policy
        self.seed = seed
        self.augment = list(augment)
        self.audio = audio
        self.notice_key = notice_key
        self.channel = channel

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> np.ndarray:
        if self.audio is not None:
            return self.audio(index)
        return read_audio(self.paths[index], self.sample_rate, channel=self.channel, notice_key=self.notice_key)

    def __getitem__(self, item: tuple[int, int] | int) -> tuple[torch.Tensor, int, int]:
        index, epoch = item if isinstance(item, tuple) else (item, 0)
        rng = RandomStreams(self.seed).item(epoch, index)
        wave = crop(self.load(index), self.crop_samples, self.crop_policy, rng)
        for augment in self.augment:
            wave = augment(wave, rng)
        return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), int(self.labels[index]), index


class EpochSampler(Sampler):
    """Yields ``(index, epoch)``; shuffled by ``(seed, epoch)`` when asked."""

    def __init__(self, size: int, seed: int, shuffle: bool):
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            order = RandomStreams(self.seed).order(self.epoch, self.size)
        else:
            order = np.arange(self.size)
        return iter([(int(i), self.epoch) for i in order])

    def __len__(self) -> int:
        return self.size


def collate_stack(batch: list[tuple[torch.Tensor, int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    waves, labels, indices = zip(*batch)
    return torch.stack(waves), torch.tensor(labels), torch.tensor(indices)


def collate_pad(batch: list[tuple[torch.Tensor, int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Whole files zero-padded at the end to the longest in the batch (the ASVspoof
    2021 LCNN baseline trains on whole, padded utterances)."""
    waves, labels, indices = zip(*batch)
    longest = max(len(w) for w in waves)
    padded = torch.zeros(len(waves), longest, dtype=waves[0].dtype)
    for row, wave in enumerate(waves):
        padded[row, : len(wave)] = wave
    return padded, torch.tensor(labels), torch.tensor(indices)


def collate_list(batch: list[tuple[torch.Tensor, int, int]]) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    waves, labels, indices = zip(*batch)
    return list(waves), torch.tensor(labels), torch.tensor(indices)


def _worker_init(worker_id: int) -> None:
    # Our per-item generators make results independent of this; it only keeps
    # libraries that use the global RNGs inside workers reproducible.
    info = torch.utils.data.get_worker_info()
    if info is not None:
        np.random.seed(info.seed % (1 << 32))


def make_loader(dataset: WaveformDataset, *, batch_size: int, shuffle: bool, seed: int, as_list: bool,
                drop_last: bool, num_workers: int, pin_memory: bool, persistent_workers: bool,
                prefetch_factor: int | None = None) -> DataLoader:
    sampler = EpochSampler(len(dataset), seed, shuffle)
    if as_list:
        collate = collate_list
    elif dataset.crop_policy in ("full", "chunked") and batch_size > 1:
        collate = collate_pad
    else:
        collate = collate_stack
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last and len(dataset) > batch_size,
        collate_fn=collate, num_workers=num_workers, pin_memory=pin_memory,
        persistent_workers=persistent_workers and num_workers > 0, worker_init_fn=_worker_init,
        prefetch_factor=prefetch_factor if num_workers > 0 else None,
    )


def eval_batch_size(recipe: Recipe, policy: str, as_list: bool) -> int:
    """Whole-file policies cannot be stacked, so neural models score them one at a time."""
    if policy in ("full", "chunked") and not as_list:
        return 1
    return recipe.eval_batch_size or recipe.batch_size


def decoded_cache_dir() -> Path:
    return cache_dir_default() / "decoded"


def audio_cache_key(key: str, channel: int | None) -> str:
    return key if channel is None else f"{key}-channel{channel}"


def audio_source(utterances: Sequence[Utterance], *, enabled: bool, key: str, sample_rate: int,
                 notice_key: str | None, channel: int | None = None,
                 workers: int = 0) -> Callable[[int], np.ndarray] | None:
    """The decoded-audio cache when enabled (built once per split, by ``workers`` decoding
    processes when there are many files, and reused by every model and seed)."""
    if not enabled:
        return None
    from benchsuite.training.audio_cache import DecodedAudioCache

    cache = DecodedAudioCache.build_or_open(
        decoded_cache_dir(), audio_cache_key(key, channel), utterances,
        sample_rate, functools.partial(read_audio, sample_rate=sample_rate, channel=channel, notice_key=notice_key),
        workers=workers,
    )
    return cache.waveform
