"""A deliberately simple countermeasure for checking how hard the synthetic
corpora are: mean and standard deviation of LFCCs (with deltas) per utterance
and an L2-regularised logistic regression, scored by a plain EER.

It is the yardstick the synthetic corpus is tuned against: much better than
chance (the attacks leave traces) yet far from perfect (they are not trivial).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.fft import dct
from scipy.optimize import minimize

from benchsuite_datasets import voice


def _linear_filterbank(n_filters: int) -> np.ndarray:
    """Triangular filters equally spaced on a linear frequency axis."""
    edges = np.linspace(0.0, voice.SAMPLE_RATE / 2, n_filters + 2)
    bank = np.zeros((n_filters, voice.N_BINS))
    for i in range(n_filters):
        low, centre, high = edges[i], edges[i + 1], edges[i + 2]
        rising = (voice.BIN_HZ - low) / (centre - low)
        falling = (high - voice.BIN_HZ) / (high - centre)
        bank[i] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


_BANK = _linear_filterbank(20)


def lfcc_statistics(wave: np.ndarray, n_coefficients: int = 20) -> np.ndarray:
    """Per-utterance mean and std of LFCCs and their deltas (80 numbers)."""
    power = np.abs(voice.stft(np.asarray(wave, dtype=np.float64))) ** 2
    log_energies = np.log(power @ _BANK.T + 1e-10)
    cepstra = dct(log_energies, type=2, norm="ortho", axis=1)[:, :n_coefficients]
    deltas = np.gradient(cepstra, axis=0)
    frames = np.hstack([cepstra, deltas])
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])


class LogisticBaseline:
    """Standardised features -> logistic regression (bona fide = 1)."""

    def __init__(self, l2: float = 1e-2):
        self.l2 = l2

    def fit(self, features: np.ndarray, is_bonafide: np.ndarray) -> "LogisticBaseline":
        self.mean = features.mean(axis=0)
        self.scale = features.std(axis=0) + 1e-9
        x = (features - self.mean) / self.scale
        y = is_bonafide.astype(np.float64)
        # balance the classes: bona fide is the minority, as in ASVspoof
        weights = np.where(y == 1.0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
        n, d = x.shape

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = params[:d], params[d]
            z = x @ w + b
            p = 1.0 / (1.0 + np.exp(-z))
            nll = np.sum(weights * (np.logaddexp(0.0, z) - y * z)) / n + self.l2 * w @ w
            grad_z = weights * (p - y) / n
            return nll, np.concatenate([x.T @ grad_z + 2 * self.l2 * w, [grad_z.sum()]])

        result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B")
        self.weights, self.bias = result.x[:d], result.x[d]
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.weights + self.bias


def equal_error_rate(bonafide_scores: Sequence[float], spoof_scores: Sequence[float]) -> float:
    """EER by sweeping every score as a threshold (higher = bona fide)."""
    bonafide = np.sort(np.asarray(bonafide_scores, dtype=np.float64))
    spoof = np.sort(np.asarray(spoof_scores, dtype=np.float64))
    thresholds = np.concatenate([bonafide, spoof])
    miss = np.searchsorted(bonafide, thresholds, side="left") / len(bonafide)  # bona fide below threshold
    false_alarm = 1.0 - np.searchsorted(spoof, thresholds, side="left") / len(spoof)  # spoof at or above
    index = int(np.argmin(np.abs(miss - false_alarm)))
    return float((miss[index] + false_alarm[index]) / 2)
