"""The loader settings a cell runs with, resolved in the process that runs it.

``auto`` values depend on where the cell runs (its device and the cores it was
given), so they are resolved here, in the cell's own process, and recorded in its
provenance; none of them is part of the cell identity, since none changes a
number: batches are drawn per ``(seed, epoch, index)`` whatever the worker count
(:mod:`benchsuite.training.data`), and the audio cache is only chosen by default
where it is lossless.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from benchsuite.contract import Utterance

# More workers than this rarely help one GPU (see docs/gpu.md for the measured decode
# rates) and each costs memory and start-up time.
MAX_AUTO_WORKERS = 16
CUDA_PREFETCH = 4
# Subtypes the int16 cache holds without changing a sample.
LOSSLESS_SUBTYPES = {"PCM_16", "PCM_S8", "PCM_U8"}
DISK_SHARE = 0.5  # never fill more than this share of the free disk with one cache by default


@dataclass(frozen=True)
class LoaderSettings:
    num_workers: int
    pin_memory: bool
    persistent_workers: bool
    prefetch_factor: int | None  # None: torch's default (2) or no workers

    def record(self) -> dict[str, Any]:
        return asdict(self)


def cell_cores(runtime: Mapping[str, Any]) -> int:
    """The cores a cell may use: the pool's share (``threads``) or every core of this process."""
    if runtime.get("threads"):
        return int(runtime["threads"])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_num_workers(device: torch.device, cores: int) -> int:
    """No workers on CPU (they would take cores from the model's own threads); on
    CUDA every core of the cell but one, which feeds the GPU, up to :data:`MAX_AUTO_WORKERS`."""
    if device.type != "cuda":
        return 0
    return max(1, min(MAX_AUTO_WORKERS, cores - 1))


def resolve_loader_settings(runtime: Mapping[str, Any], device: torch.device) -> LoaderSettings:
    requested = runtime.get("num_workers", 0)  # configs stored before "auto" hold a number
    workers = auto_num_workers(device, cell_cores(runtime)) if requested == "auto" else int(requested or 0)
    pin = runtime.get("pin_memory")
    pin = device.type == "cuda" if pin is None else bool(pin)
    prefetch = runtime.get("prefetch_factor")
    if workers == 0:
        prefetch = None  # torch refuses a prefetch factor without workers
    elif prefetch is None and device.type == "cuda":
        prefetch = CUDA_PREFETCH
    return LoaderSettings(workers, pin, bool(runtime.get("persistent_workers", True)) and workers > 0,
                          None if prefetch is None else int(prefetch))


# --------------------------------------------------------------------------- the audio cache by default


def decoded_cache_bytes(utterances: Sequence[Utterance], sample_rate: int) -> tuple[int | None, str]:
    """(bytes of the int16 cache of these files, "") when caching loses nothing, else (None, why not).

    Lossless means every file is 16-bit (or narrower) PCM at ``sample_rate``, so
    the cache holds exactly the samples a FLAC/WAV read returns.  Reads file headers only."""
    import soundfile

    total = 0
    for utt in utterances:
        try:
            info = soundfile.info(str(utt.path))
        except Exception as exc:  # soundfile raises several types; an unreadable file fails later, clearly
            return None, f"{utt.path}: header unreadable ({exc})"
        if info.subtype not in LOSSLESS_SUBTYPES:
            return None, f"{utt.path} is {info.subtype}, which the int16 cache would round"
        if info.samplerate != sample_rate:
            return None, f"{utt.path} is {info.samplerate} Hz, not {sample_rate} Hz (resampled audio would be rounded)"
        total += 2 * int(info.frames)
    return total, ""


def choose_audio_cache(requested: bool | None, utterances: Sequence[Utterance], sample_rate: int,
                       budget_gb: float, cache_dir: Path, built: bool = False) -> tuple[bool, str]:
    """Whether to use the decoded-audio cache for one split, and why (for provenance).
    ``built``: the cache of these files exists already (an earlier cell chose it)."""
    if requested is not None:
        return bool(requested), "asked for" if requested else "turned off"
    if built:
        return True, "auto: built by an earlier cell"
    size, why_not = decoded_cache_bytes(utterances, sample_rate)
    if size is None:
        return False, f"auto: not lossless ({why_not})"
    budget = budget_gb * 1e9
    probe = Path(cache_dir)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    limit = min(budget, DISK_SHARE * free)
    gb = size / 1e9
    if size > limit:
        return False, (f"auto: {gb:.2f} GB exceeds the budget ({budget_gb:g} GB, "
                       f"{DISK_SHARE:.0%} of {free / 1e9:.0f} GB free)")
    return True, f"auto: {gb:.2f} GB within the budget ({budget_gb:g} GB)"
