"""The automatic speaker verification (ASV) system behind synth-la's ASV scores.

A t-DCF needs the scores of an ASV system on target, non-target and spoof trials.
The organisers of ASVspoof 2019 ran their own system over the corpus; synth-la runs
this one over the synthetic audio when the corpus is generated, so the t-DCF of the
default benchmark rests on a real verifier rather than on drawn numbers:

* features: 30 MFCCs (c0 dropped) and their deltas from 25 ms Hamming frames every
  10 ms, 60 mel bands up to 8 kHz, frames within 30 dB of the utterance's loudest kept,
  per-utterance cepstral mean normalisation (measured on a small synth-la: variance
  normalisation or 20 MFCCs from 40 bands doubled the ASV EER);
* a universal background model (UBM): a 64-component diagonal-covariance GMM, trained by
  10 EM iterations from randomly chosen frames on the bona fide training utterances
  (training speakers never appear in dev or eval);
* each dev/eval speaker model: the UBM's means MAP-adapted to the speaker's enrolment
  utterances (relevance factor 16; Reynolds, Quatieri and Dunn, "Speaker verification
  using adapted Gaussian mixture models", DSP 10, 2000);
* a trial's score: the mean per-frame log-likelihood ratio of speaker model over UBM.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 60
N_MFCC = 30
ENERGY_RANGE_DB = 30.0
UBM_COMPONENTS = 64
EM_ITERATIONS = 10
RELEVANCE = 16.0
_VARIANCE_FLOOR = 1e-3


def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges_mel = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2)
    edges_hz = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    bank = np.zeros((N_MELS, len(bins)))
    for m in range(N_MELS):
        low, centre, high = edges_hz[m:m + 3]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        bank[m] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def _dct_matrix() -> np.ndarray:
    n = np.arange(N_MELS)
    k = np.arange(1, N_MFCC + 1)[:, None]  # c1..c30: c0 (level) says nothing about the speaker
    return np.sqrt(2.0 / N_MELS) * np.cos(np.pi * k * (n + 0.5) / N_MELS)


_MEL = _mel_filterbank()
_DCT = _dct_matrix()
_WINDOW = np.hamming(FRAME)


def features(wave: np.ndarray) -> np.ndarray:
    """MFCC + delta frames ``[frames, 60]`` of one 16 kHz utterance, mean-normalised per utterance."""
    wave = np.asarray(wave, dtype=np.float64)
    if len(wave) < FRAME:
        wave = np.pad(wave, (0, FRAME - len(wave)))
    wave = np.append(wave[0], wave[1:] - 0.97 * wave[:-1])  # pre-emphasis
    frames = np.lib.stride_tricks.sliding_window_view(wave, FRAME)[::HOP] * _WINDOW
    power = np.abs(np.fft.rfft(frames, N_FFT, axis=1)) ** 2
    log_mel = np.log(power @ _MEL.T + 1e-10)
    energy_db = 10.0 * np.log10(power.sum(axis=1) + 1e-10)
    keep = energy_db > energy_db.max() - ENERGY_RANGE_DB
    cepstra = (log_mel @ _DCT.T)[keep]
    padded = np.pad(cepstra, ((2, 2), (0, 0)), mode="edge")
    deltas = (padded[3:-1] - padded[1:-3] + 2.0 * (padded[4:] - padded[:-4])) / 10.0
    stacked = np.hstack([cepstra, deltas])
    return stacked - stacked.mean(axis=0)


@dataclass
class DiagonalGmm:
    weights: np.ndarray  # [C]
    means: np.ndarray  # [C, D]
    variances: np.ndarray  # [C, D]

    def component_log_likelihoods(self, frames: np.ndarray) -> np.ndarray:
        """log w_c + log N(x | mu_c, sigma_c) for every frame and component, ``[frames, C]``."""
        precision = 1.0 / self.variances
        constant = -0.5 * (np.log(2 * np.pi * self.variances).sum(axis=1))
        quadratic = ((frames ** 2) @ precision.T - 2.0 * frames @ (self.means * precision).T
                     + (self.means ** 2 * precision).sum(axis=1))
        return np.log(self.weights) + constant - 0.5 * quadratic

    def frame_log_likelihoods(self, frames: np.ndarray) -> np.ndarray:
        return _logsumexp(self.component_log_likelihoods(frames))


def _logsumexp(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(values - top).sum(axis=1, keepdims=True)))[:, 0]


def _posteriors(gmm: DiagonalGmm, frames: np.ndarray) -> np.ndarray:
    joint = gmm.component_log_likelihoods(frames)
    return np.exp(joint - _logsumexp(joint)[:, None])


def train_ubm(frames: np.ndarray, rng: np.random.Generator) -> DiagonalGmm:
    """EM from randomly chosen frames as initial means (the global variance to start)."""
    chosen = rng.choice(len(frames), size=UBM_COMPONENTS, replace=False)
    gmm = DiagonalGmm(np.full(UBM_COMPONENTS, 1.0 / UBM_COMPONENTS), frames[chosen].copy(),
                      np.tile(frames.var(axis=0), (UBM_COMPONENTS, 1)))
    for _ in range(EM_ITERATIONS):
        post = _posteriors(gmm, frames)
        counts = post.sum(axis=0) + 1e-10
        means = (post.T @ frames) / counts[:, None]
        variances = np.maximum((post.T @ frames ** 2) / counts[:, None] - means ** 2, _VARIANCE_FLOOR)
        gmm = DiagonalGmm(counts / counts.sum(), means, variances)
    return gmm


def adapt_speaker(ubm: DiagonalGmm, frames: np.ndarray) -> DiagonalGmm:
    """Mean-only MAP adaptation of the UBM to one speaker's enrolment frames."""
    post = _posteriors(ubm, frames)
    counts = post.sum(axis=0)
    first = post.T @ frames / np.maximum(counts, 1e-10)[:, None]
    alpha = (counts / (counts + RELEVANCE))[:, None]
    return DiagonalGmm(ubm.weights, alpha * first + (1.0 - alpha) * ubm.means, ubm.variances)


def llr_score(speaker: DiagonalGmm, ubm: DiagonalGmm, frames: np.ndarray) -> float:
    return float(np.mean(speaker.frame_log_likelihoods(frames) - ubm.frame_log_likelihoods(frames)))


def train_ubm_on(utterances: Sequence[np.ndarray], seed: int, max_frames: int = 60000) -> DiagonalGmm:
    """The UBM of a set of utterance feature matrices (at most ``max_frames`` frames, drawn evenly)."""
    rng = np.random.default_rng(seed)
    frames = np.vstack(list(utterances))
    if len(frames) > max_frames:
        frames = frames[np.sort(rng.choice(len(frames), size=max_frames, replace=False))]
    return train_ubm(frames, rng)
