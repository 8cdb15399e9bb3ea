"""Tiny synthetic "speakers" for the speaker-model tests and benchmarks: each speaker
is a harmonic source with its own pitch and spectral envelope (formant bumps), so
utterances of one speaker resemble each other more than those of another."""
from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16000


def speaker_voice(speaker: int) -> tuple[float, tuple[float, ...]]:
    """(fundamental in Hz, formant centres in Hz) of synthetic speaker ``speaker``."""
    rng = np.random.default_rng(1000 + speaker)
    f0 = float(rng.uniform(90.0, 260.0))
    formants = tuple(float(f) for f in np.sort(rng.uniform([300, 900, 2000], [900, 2200, 3800])))
    return f0, formants


def utterance(speaker: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One float32 utterance of ``speaker`` with random pitch drift, phases and noise."""
    f0, formants = speaker_voice(speaker)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    drift = f0 * (1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(drift) / SAMPLE_RATE
    wave = np.zeros(n)
    for harmonic in range(1, int(4000 // f0)):
        freq = harmonic * f0
        envelope = sum(np.exp(-0.5 * ((freq - centre) / 150.0) ** 2) for centre in formants) + 0.05
        wave += envelope / harmonic ** 0.5 * np.sin(harmonic * phase + rng.uniform(0, 2 * np.pi))
    wave += 0.02 * rng.standard_normal(n)
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


def speaker_batch(num_speakers: int, per_speaker: int, seconds: float, seed: int = 0,
                  first_speaker: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``([num_speakers * per_speaker, samples] audio, labels 0..num_speakers-1)``."""
    rng = np.random.default_rng(seed)
    waves, labels = [], []
    for index in range(num_speakers):
        for _ in range(per_speaker):
            waves.append(utterance(first_speaker + index, seconds, rng))
            labels.append(index)
    return torch.from_numpy(np.stack(waves)), torch.tensor(labels)
