"""Tiny synthetic two-class audio for the feature-model tests: "bona fide" is
noise shaped by a random low-order resonance, "spoof" is a sum of a few
pure tones plus a little noise, so both a GMM and an LCNN can tell them apart."""
from __future__ import annotations

import numpy as np
import torch
from scipy.signal import lfilter


def bonafide_wave(rng: np.random.Generator, samples: int) -> np.ndarray:
    noise = rng.standard_normal(samples)
    pole = rng.uniform(0.3, 0.9)
    return (0.1 * lfilter([1.0], [1.0, -pole], noise) / (1 + pole)).astype(np.float32)


def spoof_wave(rng: np.random.Generator, samples: int, sample_rate: int = 16000) -> np.ndarray:
    t = np.arange(samples) / sample_rate
    wave = sum(rng.uniform(0.02, 0.1) * np.sin(2 * np.pi * rng.uniform(200, 3800) * t + rng.uniform(0, 6.3))
               for _ in range(3))
    return (wave + 0.005 * rng.standard_normal(samples)).astype(np.float32)


def two_class_batch(count: int, samples: int | tuple[int, int], seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``count`` waveforms alternating bona fide (label 1) and spoof (label 0).
    ``samples`` is a length or an inclusive (min, max) range of lengths."""
    rng = np.random.default_rng(seed)
    waves, labels = [], []
    for i in range(count):
        length = samples if isinstance(samples, int) else int(rng.integers(samples[0], samples[1] + 1))
        is_bonafide = i % 2 == 0
        waves.append(torch.from_numpy(bonafide_wave(rng, length) if is_bonafide else spoof_wave(rng, length)))
        labels.append(1 if is_bonafide else 0)
    return waves, torch.tensor(labels)
