"""Reading audio (soundfile) and the crop policies of the recipes."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile

from benchsuite.contract import DataError

_resample_notices: set[str] = set()


def read_audio(path: str | Path, sample_rate: int = 16000, *, channel: int | None = None,
               notice_key: str | None = None) -> np.ndarray:
    """Mono float32 waveform at ``sample_rate``.

    Multi-channel files are refused unless ``channel`` selects one.  Other
    rates are resampled with torchaudio and a notice is printed once per
    ``notice_key`` (e.g. the dataset name)."""
    path = Path(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, OSError ...
        raise DataError(f"{path}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        raise DataError(f"{path}: the file holds no samples")
    if data.shape[1] > 1:
        if channel is None:
            raise DataError(
                f"{path}: {data.shape[1]} channels; expected mono audio (select a channel with the dataset's "
                f"'channel' option)"
            )
        if not 0 <= channel < data.shape[1]:
            raise DataError(f"{path}: channel {channel} requested but the file has {data.shape[1]} channels")
        wave = np.ascontiguousarray(data[:, channel])
    else:
        wave = data[:, 0]
    if rate != sample_rate:
        key = notice_key or str(path)
        if key not in _resample_notices:
            _resample_notices.add(key)
            print(f"notice: {path} is {rate} Hz; resampling to {sample_rate} Hz"
                  + (f" (further {notice_key} files are resampled silently)" if notice_key else ""), file=sys.stderr)
        wave = resample(wave, rate, sample_rate)
    return wave


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), rate, target).numpy().astype(np.float32)


def repeat_to(wave: np.ndarray, length: int) -> np.ndarray:
    """Tile a short waveform to ``length`` samples (the ASVspoof reference policy)."""
    if len(wave) >= length:
        return wave[:length]
    reps = -(-length // len(wave))
    return np.tile(wave, reps)[:length]


def crop(wave: np.ndarray, length: int, policy: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply a recipe's crop policy.

    ``first``: the first ``length`` samples; ``random``: a window whose start is
    uniform over every valid start, ``[0, len - length]`` inclusive; both repeat
    short files.  ``full``/``chunked`` return the whole file."""
    if policy in ("full", "chunked"):
        return wave
    if len(wave) <= length:
        return repeat_to(wave, length)
    if policy == "first":
        return wave[:length]
    if policy == "random":
        if rng is None:
            raise ValueError("random crop needs a generator")
        start = int(rng.integers(0, len(wave) - length + 1))
        return wave[start:start + length]
    raise DataError(f"unknown crop policy {policy!r}; expected random, first, full or chunked")
