"""Data knobs any dataset gets, set as recipe fields (so ``--set`` and ``--sweep`` check them like
every other recipe field, and they enter the cell identity only when set):

- ``utterances_per_speaker``: the training utterances of each speaker, a cap ``N`` (the first N)
  or a range ``[first, last]`` (1-based, inclusive), in utterance-id order; dev and eval stay whole,
  so systems trained on less data are still scored on the same trials;
- ``noise_scale`` / ``noise_snr_db``: white Gaussian noise added to every training crop, with a
  fixed standard deviation (in waveform units, full scale = 1) or at a signal-to-noise ratio to
  that crop's power; drawn from the item's random stream like every other augmentation;
- ``waveform_norm``: ``utterance`` scales each waveform the model sees (the crop, or the whole
  file for whole-file policies) to zero mean and unit std; ``train`` uses one mean and std
  measured on the cell's training utterances (never dev or eval), stored in ``result.json``.

The transforms are classes, not closures, so DataLoader workers started with ``spawn`` can receive them.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from benchsuite.common.audio import read_audio
from benchsuite.contract import ConfigError, Recipe, Utterance

EPSILON = 1e-8  # keeps silent waveforms finite under normalisation


def per_speaker(utterances: Sequence[Utterance], limit: int | tuple[int, int] | None,
                dataset: str = "") -> list[Utterance]:
    """The training utterances kept by ``utterances_per_speaker`` (all of them when None).

    Utterances are ordered by id within each speaker; the speaker is ``Utterance.speaker``,
    or the label when a corpus names no speakers but labels by speaker (verification)."""
    if limit is None:
        return list(utterances)
    first, last = (1, limit) if isinstance(limit, int) else limit
    if not any(u.speaker for u in utterances):
        raise ConfigError(f"utterances_per_speaker {limit!r}: the training split of {dataset or 'this dataset'} "
                          "names no speakers")
    by_speaker: dict[str, list[Utterance]] = {}
    for utt in utterances:
        by_speaker.setdefault(utt.speaker or "", []).append(utt)
    kept = {id(u) for group in by_speaker.values()
            for u in sorted(group, key=lambda u: u.utt_id)[first - 1:last]}
    chosen = [u for u in utterances if id(u) in kept]
    if not chosen:
        raise ConfigError(f"utterances_per_speaker {list(limit) if isinstance(limit, tuple) else limit!r}: no "
                          f"speaker of {dataset or 'the training split'} has {first} utterances")
    return chosen


class WhiteNoise:
    """Additive white Gaussian noise at a fixed std (``scale``) or at ``snr_db`` to the crop."""

    def __init__(self, scale: float | None = None, snr_db: float | None = None):
        if (scale is None) == (snr_db is None):
            raise ValueError("WhiteNoise needs exactly one of scale and snr_db")
        self.scale = scale
        self.snr_db = snr_db

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.scale is not None:
            std = self.scale
        else:
            power = float(np.mean(np.square(wave, dtype=np.float64))) if wave.size else 0.0
            std = float(np.sqrt(power / 10 ** (self.snr_db / 10)))
        noise = rng.standard_normal(wave.shape).astype(np.float32)
        return (wave + std * noise).astype(np.float32)


class Standardise:
    """``(x - mean) / std`` with the train split's numbers, or with each waveform's own (mean None)."""

    def __init__(self, mean: float | None = None, std: float | None = None):
        self.mean = mean
        self.std = std

    def __call__(self, wave: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.mean is None:
            mean, std = float(np.mean(wave)) if wave.size else 0.0, float(np.std(wave)) if wave.size else 0.0
        else:
            mean, std = self.mean, float(self.std or 0.0)
        return ((wave - mean) / (std + EPSILON)).astype(np.float32)


def train_statistics(utterances: Sequence[Utterance], sample_rate: int, channel: int | None = None,
                     notice_key: str | None = None) -> dict[str, Any]:
    """Mean and std of every sample of the training utterances (whole files, float64 sums)."""
    total, total_sq, count = 0.0, 0.0, 0
    for utt in utterances:
        wave = read_audio(utt.path, sample_rate, channel=channel, notice_key=notice_key).astype(np.float64)
        total += float(wave.sum())
        total_sq += float(np.square(wave).sum())
        count += wave.size
    if count == 0:
        raise ConfigError("waveform_norm 'train': the training split has no audio samples")
    mean = total / count
    std = float(np.sqrt(max(total_sq / count - mean * mean, 0.0)))
    return {"method": "train", "mean": mean, "std": std, "samples": count, "utterances": len(utterances)}


class DataKnobs:
    """The waveform transforms a cell's recipe asks for: noise on training crops, then normalisation."""

    def __init__(self, recipe: Recipe, statistics: dict[str, Any] | None = None):
        self.noise = (WhiteNoise(recipe.noise_scale, recipe.noise_snr_db)
                      if recipe.noise_scale is not None or recipe.noise_snr_db is not None else None)
        if recipe.waveform_norm == "utterance":
            self.normalise: Standardise | None = Standardise()
        elif recipe.waveform_norm == "train":
            if statistics is None:
                raise ValueError("waveform_norm 'train' needs the train split's statistics")
            self.normalise = Standardise(statistics["mean"], statistics["std"])
        else:
            self.normalise = None
        self.statistics = statistics if recipe.waveform_norm == "train" else (
            {"method": "utterance"} if recipe.waveform_norm == "utterance" else None)

    @classmethod
    def for_cell(cls, recipe: Recipe, train: Sequence[Utterance], sample_rate: int, channel: int | None = None,
                 notice_key: str | None = None) -> "DataKnobs":
        statistics = (train_statistics(train, sample_rate, channel, notice_key)
                      if recipe.waveform_norm == "train" else None)
        return cls(recipe, statistics)

    def transforms(self, train: bool) -> list[Callable[[np.ndarray, np.random.Generator], np.ndarray]]:
        """Applied after the crop and the recipe's augmentations: noise (training only), then normalisation."""
        out: list[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = []
        if train and self.noise is not None:
            out.append(self.noise)
        if self.normalise is not None:
            out.append(self.normalise)
        return out
