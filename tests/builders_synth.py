"""A deliberately simple countermeasure for checking how hard the synthetic
corpora are: LFCCs with deltas, a small diagonal GMM per class (bona fide,
spoof), the mean log-likelihood ratio as score, and a plain EER.

It is the yardstick the synthetic corpus is tuned against: much better than
chance (the attacks leave traces) yet far from perfect (they are not trivial).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.fft import dct
from scipy.special import logsumexp

from benchsuite_synth import _voice as voice


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


def lfcc_frames(wave: np.ndarray, n_coefficients: int = 20) -> np.ndarray:
    """LFCCs and their deltas per 8 ms frame, ``[frames, 2 * n_coefficients]``."""
    power = np.abs(voice.stft(np.asarray(wave, dtype=np.float32))).astype(np.float64) ** 2
    # einsum rather than @: single-threaded, so idle BLAS threads do not spin on a shared machine
    log_energies = np.log(np.einsum("tb,fb->tf", power, _BANK) + 1e-10)
    cepstra = dct(log_energies, type=2, norm="ortho", axis=1)[:, :n_coefficients]
    return np.hstack([cepstra, np.gradient(cepstra, axis=0)])


class DiagonalGmm:
    """A diagonal-covariance Gaussian mixture fitted by EM (the classic LFCC-GMM
    countermeasure back end, minus the 512 components)."""

    def __init__(self, n_components: int = 16, iterations: int = 12, seed: int = 0):
        self.n_components, self.iterations, self.seed = n_components, iterations, seed

    def fit(self, frames: np.ndarray) -> "DiagonalGmm":
        rng = np.random.default_rng(self.seed)
        self.means = frames[rng.choice(len(frames), self.n_components, replace=False)].copy()
        self.variances = np.tile(frames.var(axis=0) + 1e-3, (self.n_components, 1))
        self.log_weights = np.full(self.n_components, -np.log(self.n_components))
        floor = 1e-3 * frames.var(axis=0) + 1e-6
        for _ in range(self.iterations):
            log_joint = self._log_joint(frames)
            log_total = logsumexp(log_joint, axis=1, keepdims=True)
            resp = np.exp(log_joint - log_total)
            counts = resp.sum(axis=0) + 1e-9
            self.means = np.einsum("nk,nd->kd", resp, frames) / counts[:, None]
            self.variances = np.maximum(np.einsum("nk,nd->kd", resp, frames ** 2) / counts[:, None] - self.means ** 2,
                                        floor)
            self.log_weights = np.log(counts / counts.sum())
        return self

    def _log_joint(self, frames: np.ndarray) -> np.ndarray:
        precision = 1.0 / self.variances
        quadratic = (np.einsum("nd,kd->nk", frames ** 2, precision) - 2 * np.einsum("nd,kd->nk", frames, self.means * precision)
                     + np.sum(self.means ** 2 * precision, axis=1))
        return self.log_weights - 0.5 * (quadratic + np.sum(np.log(2 * np.pi * self.variances), axis=1))

    def mean_log_likelihood(self, frames: np.ndarray) -> float:
        return float(np.mean(logsumexp(self._log_joint(frames), axis=1)))


class GmmBaseline:
    """Two GMMs over LFCC frames; the score is the mean log-likelihood ratio (bona fide minus spoof)."""

    def __init__(self, n_components: int = 16, max_frames: int = 40000, seed: int = 0):
        self.n_components, self.max_frames, self.seed = n_components, max_frames, seed

    def fit(self, utterance_frames: Sequence[np.ndarray], is_bonafide: np.ndarray) -> "GmmBaseline":
        rng = np.random.default_rng(self.seed)

        def pooled(select: np.ndarray) -> np.ndarray:
            frames = np.vstack([f for f, keep in zip(utterance_frames, select) if keep])
            if len(frames) > self.max_frames:
                frames = frames[rng.choice(len(frames), self.max_frames, replace=False)]
            return frames

        self.bonafide = DiagonalGmm(self.n_components, seed=self.seed).fit(pooled(is_bonafide))
        self.spoof = DiagonalGmm(self.n_components, seed=self.seed + 1).fit(pooled(~is_bonafide))
        return self

    def score(self, utterance_frames: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([self.bonafide.mean_log_likelihood(f) - self.spoof.mean_log_likelihood(f)
                         for f in utterance_frames])


def equal_error_rate(bonafide_scores: Sequence[float], spoof_scores: Sequence[float]) -> float:
    """EER by sweeping every score as a threshold (higher = bona fide)."""
    bonafide = np.sort(np.asarray(bonafide_scores, dtype=np.float64))
    spoof = np.sort(np.asarray(spoof_scores, dtype=np.float64))
    thresholds = np.concatenate([bonafide, spoof])
    miss = np.searchsorted(bonafide, thresholds, side="left") / len(bonafide)  # bona fide below threshold
    false_alarm = 1.0 - np.searchsorted(spoof, thresholds, side="left") / len(spoof)  # spoof at or above
    index = int(np.argmin(np.abs(miss - false_alarm)))
    return float((miss[index] + false_alarm[index]) / 2)


def digest(root: Path) -> str:
    """Hash of every file's relative path and bytes under ``root`` (manifest included)."""
    sha = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(root)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()
