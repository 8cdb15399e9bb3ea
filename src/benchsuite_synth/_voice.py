"""A small source-filter voice synthesiser for the embedded synthetic corpora.

The corpora need speech-*like* audio, not intelligible speech: a glottal pulse
train with jitter and shimmer, a per-speaker pitch range, moving formants,
noise for fricatives and plosive bursts, syllable-shaped energy and pauses.
Everything is vectorised around one short-time Fourier transform so that a few
thousand utterances generate in well under a minute on one core.

The synthesis is split in two steps so that "attack" systems can re-synthesise
the *same content* differently: :func:`plan_utterance` draws the content (a
:class:`UtterancePlan`: frame-level pitch, voicing, energy, formant and frication
tracks) and :func:`render` turns a plan into a waveform, with knobs that the
attacks turn (excitation kind, jitter, aspiration, spectral detail).

All randomness comes from the ``numpy.random.Generator`` passed in, so a caller
that seeds one generator per utterance gets byte-identical audio on every run;
nothing here calls BLAS, whose results may depend on the thread count.

The last section holds what every generated corpus shares: option parsing,
the cache location, and :func:`build_corpus`, which writes a corpus into a
temporary sibling under a file lock and renames it into place.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import soundfile

from benchsuite.api import ConfigError


def _fft():
    """scipy.fft, imported on first use: registering the corpora (every command does) must stay cheap."""
    import scipy.fft

    return scipy.fft

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 128  # 8 ms: plan tracks are defined on this frame grid
N_BINS = N_FFT // 2 + 1
BIN_HZ = np.arange(N_BINS) * (SAMPLE_RATE / N_FFT)
_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann: overlap-adds to a constant at hop N/4

# Neutral adult-male formants (Hz) of a few vowels; speakers scale them.
VOWEL_FORMANTS: dict[str, tuple[float, float, float]] = {
    "i": (270, 2290, 3010), "I": (390, 1990, 2550), "e": (530, 1840, 2480), "ae": (660, 1720, 2410),
    "a": (730, 1090, 2440), "o": (570, 840, 2410), "U": (440, 1020, 2240), "u": (300, 870, 2240),
    "V": (640, 1190, 2390), "@": (500, 1500, 2500),
}
_VOWELS = tuple(VOWEL_FORMANTS)
_F4, _F5 = 3500.0, 4500.0
_BASE_BANDWIDTHS = np.array([70.0, 100.0, 140.0, 250.0, 320.0])


@dataclass(frozen=True)
class VoiceProfile:
    """A stable synthetic voice.  Two utterances of one profile share pitch
    range, vocal-tract length, tilt and voice quality, which is what makes a
    speaker recognisable to an embedding model."""

    f0_median: float  # Hz
    f0_range: float  # semitones of intonation excursion
    formant_scale: float  # vocal-tract length factor on the neutral formants
    tilt_db_per_octave: float  # extra spectral slope of the voice source
    speaking_rate: float  # syllables per second
    jitter: float  # relative standard deviation of the glottal period
    shimmer: float  # relative standard deviation of the pulse amplitude
    breathiness: float  # aspiration noise relative to the pulses
    bandwidth_scale: float  # formant bandwidth factor (damping of the tract)
    nasal_prob: float = 0.15  # how often a consonant is a nasal
    # individual spectral detail beyond the formants (piriform fossae, nasal coupling, ...):
    # weights in dB of smooth cosine shapes over log-frequency; () = none
    timbre: tuple[float, ...] = ()


def random_voice(rng: np.random.Generator, *, sex: str | None = None, timbre_db: float = 0.0) -> VoiceProfile:
    """Draw a plausible voice; ``sex`` ("f" or "m") fixes the pitch and tract ranges;
    ``timbre_db`` > 0 adds an individual spectral shape of about that many dB
    (drawn after everything else, so voices without it are unchanged)."""
    if sex is None:
        sex = "f" if rng.random() < 0.5 else "m"
    if sex not in ("f", "m"):
        raise ValueError(f"sex must be 'f' or 'm', not {sex!r}")
    female = sex == "f"
    return VoiceProfile(
        f0_median=float(rng.uniform(170, 250) if female else rng.uniform(90, 150)),
        f0_range=float(rng.uniform(3.0, 8.0)),
        formant_scale=float(rng.uniform(1.08, 1.22) if female else rng.uniform(0.88, 1.02)),
        tilt_db_per_octave=float(rng.uniform(-2.0, 0.0)),
        speaking_rate=float(rng.uniform(3.5, 6.0)),
        jitter=float(rng.uniform(0.004, 0.015)),
        shimmer=float(rng.uniform(0.03, 0.09)),
        breathiness=float(rng.uniform(0.02, 0.12) + (0.04 if female else 0.0)),
        bandwidth_scale=float(rng.uniform(0.85, 1.3)),
        nasal_prob=float(rng.uniform(0.08, 0.25)),
        timbre=tuple(float(w) for w in rng.normal(0.0, timbre_db, _TIMBRE_SHAPES)) if timbre_db > 0 else (),
    )


_TIMBRE_SHAPES = 6


def timbre_log_gain(timbre: Sequence[float]) -> np.ndarray:
    """Natural-log gains per bin of a voice's individual spectral shape: cosines
    over log-frequency between 200 Hz and 8 kHz, weighted by ``timbre`` (dB)."""
    position = np.clip(np.log2(np.maximum(BIN_HZ, 200.0) / 200.0) / np.log2(8000.0 / 200.0), 0.0, 1.0)
    shapes = np.cos(np.pi * np.arange(1, len(timbre) + 1)[:, None] * position[None, :])
    gain_db = (np.asarray(timbre, dtype=np.float64)[:, None] * shapes).sum(axis=0)  # a plain sum, not BLAS
    return (gain_db * (np.log(10) / 20)).astype(np.float32)


@dataclass(frozen=True)
class Style:
    """A speaking style layered on a voice (used by the 4-class variant)."""

    name: str = "neutral"
    f0_shift: float = 0.0  # semitones
    f0_range_scale: float = 1.0
    rate_scale: float = 1.0
    energy_db: float = 0.0
    breathiness_add: float = 0.0
    tilt_add: float = 0.0  # dB/octave; positive = brighter, tenser voice
    jitter_scale: float = 1.0
    pause_scale: float = 1.0
    accent_scale: float = 1.0  # height of pitch accents relative to the range


NEUTRAL = Style()


@dataclass
class UtterancePlan:
    """What is said and how, on the :data:`HOP` frame grid (``n_frames`` rows)."""

    n_samples: int
    f0: np.ndarray  # Hz, defined everywhere (the glottal phase runs on through pauses)
    voicing: np.ndarray  # 0..1 weight of the periodic source
    energy: np.ndarray  # linear gain of the whole frame
    formants: np.ndarray  # [frames, 5] Hz
    bandwidths: np.ndarray  # [frames, 5] Hz
    frication: np.ndarray  # 0..1 weight of the fricative noise source
    frication_centre: np.ndarray  # Hz
    boundaries: np.ndarray  # frame indices where segments start (joins for concatenative attacks)
    voice: VoiceProfile
    style: Style = NEUTRAL

    @property
    def n_frames(self) -> int:
        return len(self.f0)

    def copy(self) -> "UtterancePlan":
        return dataclasses.replace(
            self, **{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)
                     if isinstance(getattr(self, f.name), np.ndarray)}
        )


# --------------------------------------------------------------------------- STFT


def frames_for(n_samples: int) -> int:
    return n_samples // HOP + 1


def stft(wave: np.ndarray) -> np.ndarray:
    """Centred STFT, ``[frames, bins]`` complex64, ``frames_for(len(wave))`` frames.
    Single precision throughout: it halves the generation time and 16-bit
    output cannot tell the difference."""
    padded = np.pad(np.asarray(wave, dtype=np.float32), (N_FFT // 2, N_FFT // 2))
    n_frames = frames_for(len(wave))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[: n_frames * HOP: HOP]
    return _fft().rfft(frames * _WINDOW, axis=1)


def istft(spec: np.ndarray, n_samples: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`stft` (float32)."""
    n_frames = spec.shape[0]
    frames = _fft().irfft(spec.astype(np.complex64, copy=False), n=N_FFT, axis=1) * _WINDOW
    total = (n_frames - 1) * HOP + N_FFT
    out = np.zeros(total, dtype=np.float32)
    # overlap-add in N_FFT/HOP interleaved passes, each a reshape instead of a Python loop over frames
    step = N_FFT // HOP
    for phase in range(step):
        chunk = frames[phase::step]
        if len(chunk):
            start = phase * HOP
            out[start:start + len(chunk) * N_FFT] += chunk.reshape(-1)
    return out[N_FFT // 2: N_FFT // 2 + n_samples] / _ola_norm(n_frames)[N_FFT // 2: N_FFT // 2 + n_samples]


_NORM_CACHE: dict[int, np.ndarray] = {}


def _ola_norm(n_frames: int) -> np.ndarray:
    """Sum of squared windows under every output sample (constant inside, tapered at the ends)."""
    if n_frames not in _NORM_CACHE:
        total = (n_frames - 1) * HOP + N_FFT
        norm = np.zeros(total, dtype=np.float32)
        squared = _WINDOW ** 2
        step = N_FFT // HOP
        for phase in range(step):
            count = len(range(phase, n_frames, step))
            norm[phase * HOP: phase * HOP + count * N_FFT] += np.tile(squared, count)
        if len(_NORM_CACHE) > 512:
            _NORM_CACHE.clear()
        _NORM_CACHE[n_frames] = np.maximum(norm, 1e-6)
    return _NORM_CACHE[n_frames]


def minimum_phase(log_magnitude: np.ndarray) -> np.ndarray:
    """Complex minimum-phase spectra from natural-log magnitudes ``[frames, bins]``
    (the real-cepstrum folding method), so filtered pulses ring like a vocal tract
    instead of being symmetric about the glottal instant."""
    cepstrum = _fft().irfft(log_magnitude.astype(np.float32, copy=False), n=N_FFT, axis=1)
    return complex_exp(_fft().rfft(cepstrum * _FOLD, axis=1))


def complex_exp(z: np.ndarray) -> np.ndarray:
    """``exp(z)`` for complex64 arrays via real exp/cos/sin (several times faster than numpy's complex exp)."""
    return polar(np.exp(z.real), z.imag)


def polar(magnitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``magnitude * exp(1j * phase)`` as complex64."""
    out = np.empty(np.broadcast_shapes(np.shape(magnitude), np.shape(phase)), dtype=np.complex64)
    out.real = magnitude * np.cos(phase)
    out.imag = magnitude * np.sin(phase)
    return out


def unit_phasor(spec: np.ndarray) -> np.ndarray:
    """``spec / |spec|`` (the phase as a unit complex number; 1 where ``spec`` is 0)."""
    magnitude = np.abs(spec)
    return np.where(magnitude > 0, spec / np.maximum(magnitude, 1e-30), np.complex64(1.0)).astype(np.complex64)


_FOLD = np.zeros(N_FFT, dtype=np.float32)
_FOLD[0] = 1.0
_FOLD[1: N_FFT // 2] = 2.0
_FOLD[N_FFT // 2] = 1.0


# --------------------------------------------------------------------------- planning


def _ramp(n: int, start: float, stop: float) -> np.ndarray:
    return np.linspace(start, stop, n) if n > 0 else np.zeros(0)


def _smooth(track: np.ndarray, width: int) -> np.ndarray:
    """Moving average along frames (edges padded with the edge value)."""
    if width <= 1:
        return track
    kernel = np.ones(width) / width
    pad = width // 2
    if track.ndim == 1:
        padded = np.pad(track, (pad, width - 1 - pad), mode="edge")
        return np.convolve(padded, kernel, mode="valid")
    padded = np.pad(track, ((pad, width - 1 - pad), (0, 0)), mode="edge")
    cums = np.cumsum(np.vstack([np.zeros((1, track.shape[1])), padded]), axis=0)
    return (cums[width:] - cums[:-width]) / width


def plan_utterance(voice: VoiceProfile, rng: np.random.Generator, duration: float,
                   style: Style = NEUTRAL) -> UtterancePlan:
    """Draw the content of one utterance of about ``duration`` seconds: leading
    silence, words of one to three syllables (consonant onsets and codas around
    a vowel), short pauses between words, longer ones between phrases, a
    declining pitch line with accents on stressed syllables, trailing silence."""
    if duration <= 0.2:
        raise ValueError(f"duration must exceed 0.2 s, not {duration}")
    frame_s = HOP / SAMPLE_RATE
    n_samples = int(round(duration * SAMPLE_RATE))
    n_frames = frames_for(n_samples)
    rate = voice.speaking_rate * style.rate_scale
    syllable_scale = 4.5 / rate  # durations below are for 4.5 syllables per second

    # per-frame targets, filled segment by segment; formant targets are set at
    # segment centres and interpolated so that they glide between sounds
    voicing = np.zeros(n_frames)
    energy = np.zeros(n_frames)
    frication = np.zeros(n_frames)
    fric_centre = np.full(n_frames, 4000.0)
    accent = np.zeros(n_frames)
    phrase_id = np.zeros(n_frames, dtype=int)
    anchor_frames: list[float] = []
    anchor_formants: list[tuple[float, float, float]] = []
    boundaries: list[int] = []

    def frames(seconds: float) -> int:
        return max(1, int(round(seconds / frame_s)))

    # leading and trailing silence, never more than a third of the utterance together
    lead = frames(min(rng.uniform(0.05, 0.3), 0.15 * duration))
    tail = frames(min(rng.uniform(0.05, 0.3), 0.15 * duration))
    cursor = lead
    end = n_frames - tail
    phrase = 0
    current_vowel = _VOWELS[int(rng.integers(len(_VOWELS)))]

    def consonant(at: int, limit: int, following: str) -> int:
        """Write one consonant starting at frame ``at``; return its length in frames."""
        kind = rng.choice(["fricative", "voiced_fricative", "plosive", "nasal", "approximant"],
                          p=_consonant_probs(voice.nasal_prob))
        f1, f2, f3 = VOWEL_FORMANTS[following]
        if kind == "fricative":
            n = min(frames(rng.uniform(0.07, 0.14) * syllable_scale), limit - at)
            frication[at:at + n] = _envelope(n, 0.3)
            fric_centre[at:at + n] = rng.choice([6500.0, 3600.0, 5000.0]) * rng.uniform(0.9, 1.1)
            anchor_formants.append((f1 * 0.6, f2, f3))
        elif kind == "voiced_fricative":
            n = min(frames(rng.uniform(0.05, 0.1) * syllable_scale), limit - at)
            voicing[at:at + n] = 0.6
            energy[at:at + n] = 0.25 * _envelope(n, 0.3)
            frication[at:at + n] = 0.5 * _envelope(n, 0.3)
            fric_centre[at:at + n] = rng.choice([5500.0, 3300.0]) * rng.uniform(0.9, 1.1)
            anchor_formants.append((f1 * 0.6, f2, f3))
        elif kind == "plosive":
            closure = frames(rng.uniform(0.03, 0.07) * syllable_scale)
            burst = frames(rng.uniform(0.01, 0.02))
            aspiration = frames(rng.uniform(0.015, 0.05))
            n = min(closure + burst + aspiration, limit - at)
            b0 = at + min(closure, n)
            frication[b0:b0 + burst] = 1.0
            fric_centre[b0:b0 + burst] = rng.uniform(1500.0, 4500.0)
            a0 = b0 + burst
            stop = at + n
            if a0 < stop:
                frication[a0:stop] = _ramp(stop - a0, 0.5, 0.1)
                fric_centre[a0:stop] = 2500.0
            anchor_formants.append((f1 * 0.5, f2 * 1.1, f3))
        elif kind == "nasal":
            n = min(frames(rng.uniform(0.05, 0.09) * syllable_scale), limit - at)
            voicing[at:at + n] = 1.0
            energy[at:at + n] = 0.35
            anchor_formants.append((260.0, 1100.0, 2300.0))
        else:  # approximant: a voiced glide into the vowel
            n = min(frames(rng.uniform(0.04, 0.08) * syllable_scale), limit - at)
            voicing[at:at + n] = 1.0
            energy[at:at + n] = _ramp(n, 0.3, 0.7)
            anchor_formants.append((350.0, rng.choice([700.0, 2100.0]), rng.choice([1700.0, 2700.0])))
        anchor_frames.append(at + n / 2)
        boundaries.append(at)
        return max(n, 0)

    while cursor < end - frames(0.12):
        n_syllables = int(rng.choice([1, 2, 2, 3]))
        stressed = int(rng.integers(n_syllables))
        for index in range(n_syllables):
            if cursor >= end - frames(0.08):
                break
            vowel = _VOWELS[int(rng.integers(len(_VOWELS)))]
            if rng.random() < 0.8:
                cursor += consonant(cursor, end, vowel)
            n_vowel = min(frames(rng.uniform(0.08, 0.2) * syllable_scale * (1.3 if index == stressed else 1.0)),
                          end - cursor)
            if n_vowel <= 0:
                break
            peak = (1.0 if index == stressed else rng.uniform(0.55, 0.85))
            voicing[cursor:cursor + n_vowel] = 1.0
            energy[cursor:cursor + n_vowel] = peak * _envelope(n_vowel, 0.25)
            if index == stressed:
                accent[cursor:cursor + n_vowel] = _envelope(n_vowel, 0.5)
            phrase_id[cursor:cursor + n_vowel] = phrase
            anchor_frames.append(cursor + n_vowel / 2)
            anchor_formants.append(VOWEL_FORMANTS[vowel])
            boundaries.append(cursor)
            cursor += n_vowel
            current_vowel = vowel
            if rng.random() < 0.35 and cursor < end - frames(0.05):
                cursor += consonant(cursor, end, current_vowel)
        # pauses: mostly short gaps between words, sometimes a phrase break
        if rng.random() < 0.2:
            cursor += frames(rng.uniform(0.15, 0.4) * style.pause_scale)
            phrase += 1
        else:
            cursor += frames(rng.uniform(0.0, 0.12) * style.pause_scale)
        phrase_id[min(cursor, n_frames):] = phrase

    if not np.any(energy * voicing > 0):  # no vowel fitted (very short utterance): one in the middle
        n_vowel = max(1, (end - lead) // 2)
        start = lead + (end - lead - n_vowel) // 2
        voicing[start:start + n_vowel] = 1.0
        energy[start:start + n_vowel] = _envelope(n_vowel, 0.25)
        anchor_frames.append(start + n_vowel / 2)
        anchor_formants.append(VOWEL_FORMANTS[current_vowel])
        boundaries.append(start)

    # formant tracks: glide between anchors, scale by the speaker's tract length
    if not anchor_frames:
        anchor_frames, anchor_formants = [n_frames / 2], [VOWEL_FORMANTS["@"]]
    anchors = np.asarray(anchor_frames)
    targets = np.asarray(anchor_formants, dtype=np.float64)
    grid = np.arange(n_frames)
    f123 = np.stack([np.interp(grid, anchors, targets[:, k]) for k in range(3)], axis=1)
    f123 = _smooth(f123, 5)
    formants = np.empty((n_frames, 5))
    formants[:, :3] = f123
    formants[:, 3] = _F4 + 0.15 * (f123[:, 2] - 2450.0)
    formants[:, 4] = _F5
    formants *= voice.formant_scale
    formants[:, 4] = np.minimum(formants[:, 4], 0.95 * SAMPLE_RATE / 2)
    bandwidths = np.tile(_BASE_BANDWIDTHS * voice.bandwidth_scale, (n_frames, 1))
    bandwidths[:, 0] *= 1.0 + 0.8 * (1.0 - voicing)  # an open glottis damps F1

    # pitch: per-phrase declination plus accents plus slow drift, in semitones
    half_range = voice.f0_range * style.f0_range_scale / 2
    semis = np.zeros(n_frames)
    for p in range(phrase + 1):
        where = np.flatnonzero(phrase_id == p)
        if len(where):
            semis[where[0]: where[-1] + 1] = _ramp(where[-1] + 1 - where[0], half_range * 0.4, -half_range * 0.8)
    semis += accent * half_range * 1.2 * style.accent_scale
    drift = np.cumsum(rng.normal(0.0, 0.08, n_frames))
    semis += _smooth(drift - drift.mean(), 15)
    semis = _smooth(semis, 7)
    f0 = voice.f0_median * 2.0 ** ((semis + style.f0_shift) / 12.0)
    f0 = np.clip(f0, 50.0, 600.0)

    energy = _smooth(energy, 3) * 10.0 ** (style.energy_db / 20.0)
    voicing = np.clip(_smooth(voicing, 3), 0.0, 1.0)
    return UtterancePlan(
        n_samples=n_samples, f0=f0, voicing=voicing, energy=energy, formants=formants,
        bandwidths=bandwidths, frication=np.clip(frication, 0.0, 1.0), frication_centre=fric_centre,
        boundaries=np.asarray(sorted(set(boundaries)), dtype=int), voice=voice, style=style,
    )


def _consonant_probs(nasal_prob: float) -> list[float]:
    rest = 1.0 - nasal_prob
    return [0.3 * rest, 0.15 * rest, 0.35 * rest, nasal_prob, 0.2 * rest]


def _envelope(n: int, attack_fraction: float) -> np.ndarray:
    """A syllable-like energy shape: raised-cosine rise and fall around a flat top."""
    if n <= 0:
        return np.zeros(0)
    rise = max(1, int(round(n * attack_fraction)))
    shape = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, rise + 1)[1:])
    shape[:rise] = ramp[: min(rise, n)]
    shape[n - rise:] = np.minimum(shape[n - rise:], ramp[::-1][-min(rise, n):])
    return shape


# --------------------------------------------------------------------------- rendering


_SINC_HALF = 8
_SINC_TAPS = np.arange(-_SINC_HALF + 1, _SINC_HALF + 1)
_SINC_WINDOW_LEN = 2 * _SINC_HALF


def pulse_train(f0_frames: np.ndarray, n_samples: int, rng: np.random.Generator, *,
                jitter: float, shimmer: float) -> np.ndarray:
    """Band-limited glottal impulses at fractional positions: the period follows
    the frame pitch track with relative jitter, each pulse gets a shimmer gain.
    With ``jitter = shimmer = 0`` this is a vocoder's perfectly regular buzz."""
    f0 = np.interp(np.arange(n_samples) / HOP, np.arange(len(f0_frames)), f0_frames)
    phase = np.cumsum(f0) / SAMPLE_RATE  # in periods
    n_pulses = int(phase[-1])
    if n_pulses <= 0:
        return np.zeros(n_samples, dtype=np.float32)
    positions = np.interp(np.arange(1, n_pulses + 1), phase, np.arange(n_samples, dtype=np.float64))
    periods = SAMPLE_RATE / np.interp(positions, np.arange(n_samples), f0)
    if jitter > 0:
        positions = positions + periods * jitter * rng.standard_normal(n_pulses)
    gains = 1.0 + shimmer * rng.standard_normal(n_pulses) if shimmer > 0 else np.ones(n_pulses)
    gains = np.maximum(gains, 0.1) * np.sqrt(periods / 100.0)  # the same power whatever the pitch
    base = np.floor(positions).astype(np.int64)
    frac = positions - base
    idx = base[:, None] + _SINC_TAPS[None, :]
    values = np.sinc(_SINC_TAPS[None, :] - frac[:, None]) * _SINC_WINDOW[None, :] * gains[:, None]
    keep = (idx >= 0) & (idx < n_samples)
    return np.bincount(idx[keep], weights=values[keep], minlength=n_samples).astype(np.float32)


_SINC_WINDOW = np.hanning(_SINC_WINDOW_LEN + 2)[1:-1]
_OMEGA = 2 * np.pi * BIN_HZ / SAMPLE_RATE
_COS1, _SIN1 = np.cos(_OMEGA).astype(np.float32), np.sin(_OMEGA).astype(np.float32)
_COS2, _SIN2 = np.cos(2 * _OMEGA).astype(np.float32), np.sin(2 * _OMEGA).astype(np.float32)


def tract_log_magnitude(formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Natural-log magnitude of a cascade of two-pole resonators, ``[frames, bins]``,
    each normalised to unit gain at 0 Hz (the classic cascade formant synthesiser).
    Evaluated on every other frame and interpolated: the tracks are smooth at that rate."""
    n_frames = formants.shape[0]
    coarse = np.arange(0, n_frames, 2)
    if coarse[-1] != n_frames - 1:
        coarse = np.append(coarse, n_frames - 1)
    radius = np.exp(-np.pi * bandwidths[coarse] / SAMPLE_RATE)
    a1 = (-2 * radius * np.cos(2 * np.pi * formants[coarse] / SAMPLE_RATE)).astype(np.float32)
    a2 = (radius ** 2).astype(np.float32)
    log_response = np.zeros((len(coarse), N_BINS), dtype=np.float32)
    for k in range(formants.shape[1]):
        # |1 + a1 e^{-jw} + a2 e^{-2jw}|^2 in real arithmetic
        real = 1 + a1[:, k, None] * _COS1 + a2[:, k, None] * _COS2
        imag = a1[:, k, None] * _SIN1 + a2[:, k, None] * _SIN2
        dc = (1 + a1[:, k] + a2[:, k]) ** 2
        log_response += 0.5 * (np.log(dc)[:, None] - np.log(real * real + imag * imag))
    if len(coarse) == n_frames:
        return log_response
    # linear interpolation back onto every frame
    position = np.arange(n_frames)
    upper = np.clip(np.searchsorted(coarse, position), 1, len(coarse) - 1)
    lower = upper - 1
    weight = ((position - coarse[lower]) / (coarse[upper] - coarse[lower])).astype(np.float32)[:, None]
    return log_response[lower] * (1 - weight) + log_response[upper] * weight


def log_tilt(db_per_octave: float) -> np.ndarray:
    """A straight spectral slope through 0 dB at 1 kHz, as natural-log gains per bin."""
    return (db_per_octave * np.log2(np.maximum(BIN_HZ, 60.0) / 1000.0) * (np.log(10) / 20)).astype(np.float32)


def source_log_tilt(tilt_db_per_octave: float, corner_hz: float = 250.0) -> np.ndarray:
    """Glottal roll-off with lip radiation (-6 dB/octave above ``corner_hz``) plus a speaker tilt."""
    glottal = -10 * np.log10(1 + (np.maximum(BIN_HZ, 60.0) / corner_hz) ** 2) * (np.log(10) / 20)
    return glottal.astype(np.float32) + log_tilt(tilt_db_per_octave)


def frication_shape(centres: np.ndarray) -> np.ndarray:
    """Broad noise resonances of fricatives and bursts (linear gains), ``[frames, bins]``."""
    width = 0.22 * centres[:, None] + 300.0
    return (0.003 + np.exp(-0.5 * ((BIN_HZ[None, :] - centres[:, None]) / width) ** 2)).astype(np.float32)


@dataclass(frozen=True)
class RenderOptions:
    """How a plan is turned into sound.  Natural speech uses the defaults;
    vocoder-like attacks change the excitation and the spectral detail."""

    excitation: str = "glottal"  # glottal (jitter, shimmer) | buzz (perfectly regular pulses)
    jitter_scale: float = 1.0
    shimmer_scale: float = 1.0
    aspiration_scale: float = 1.0
    voicing_threshold: float | None = None  # binary voicing decision, as vocoders make
    max_voiced_hz: float | None = None  # mixed excitation: noise instead of harmonics above this frequency
    envelope_lifter: int | None = None  # keep only this many cepstral coefficients of the envelope
    minimum_phase: bool = True  # False: zero-phase envelope (pulses symmetric in time)


def render_spectrum(plan: UtterancePlan, rng: np.random.Generator,
                    options: RenderOptions = RenderOptions()) -> np.ndarray:
    """The STFT ``[frames, bins]`` (complex64) of a plan, before any channel effect."""
    voice, style = plan.voice, plan.style
    n = plan.n_samples
    if options.excitation == "glottal":
        periodic = pulse_train(plan.f0, n, rng, jitter=voice.jitter * style.jitter_scale * options.jitter_scale,
                               shimmer=voice.shimmer * options.shimmer_scale)
    elif options.excitation == "buzz":
        periodic = pulse_train(plan.f0, n, rng, jitter=0.0, shimmer=0.0)
    else:
        raise ValueError(f"unknown excitation {options.excitation!r}; expected glottal or buzz")
    # white noise at about the per-sample power of the pulse train (~1 %), so that
    # the mixing weights below read as relative levels
    noise_spec = stft(0.1 * rng.standard_normal(n, dtype=np.float32))
    periodic_spec = stft(periodic)

    voicing = plan.voicing
    if options.voicing_threshold is not None:
        voicing = (voicing >= options.voicing_threshold).astype(np.float64)
    log_envelope = tract_log_magnitude(plan.formants, plan.bandwidths)
    log_envelope += source_log_tilt(voice.tilt_db_per_octave + style.tilt_add)[None, :]
    if voice.timbre:
        log_envelope += timbre_log_gain(voice.timbre)[None, :]
    if options.envelope_lifter is not None:
        log_envelope = lifter(log_envelope, options.envelope_lifter)
    envelope = minimum_phase(log_envelope) if options.minimum_phase else np.exp(log_envelope)

    aspiration = np.float32((voice.breathiness + style.breathiness_add) * options.aspiration_scale * 0.5)
    if options.max_voiced_hz is not None:
        band = (1.0 / (1.0 + np.exp((BIN_HZ - options.max_voiced_hz) / 150.0))).astype(np.float32)
        excitation = periodic_spec * band + noise_spec * (aspiration + 0.6 * (1 - band))
    else:
        excitation = periodic_spec + aspiration * noise_spec
    voiced_gain = (plan.energy * voicing).astype(np.float32)[:, None]
    spec = voiced_gain * excitation * envelope
    fricative = np.flatnonzero(plan.frication > 0)  # few frames: shape only those
    if len(fricative):
        gain = (0.15 * plan.frication[fricative]).astype(np.float32)[:, None]
        spec[fricative] += gain * noise_spec[fricative] * frication_shape(plan.frication_centre[fricative])
    return spec


def lifter(log_magnitude: np.ndarray, n_coefficients: int) -> np.ndarray:
    """Smooth log spectra by keeping the first ``n_coefficients`` real-cepstrum terms."""
    cepstrum = _fft().irfft(log_magnitude.astype(np.float32, copy=False), n=N_FFT, axis=1)
    cepstrum[:, n_coefficients: N_FFT - n_coefficients + 1] = 0.0
    return _fft().rfft(cepstrum, axis=1).real


def render(plan: UtterancePlan, rng: np.random.Generator, options: RenderOptions = RenderOptions()) -> np.ndarray:
    """A waveform (float32, unnormalised) for a plan."""
    return istft(render_spectrum(plan, rng, options), plan.n_samples)


# --------------------------------------------------------------------------- channel


def active_power(spec: np.ndarray) -> float:
    """Mean power per frame over the frames within 30 dB of the loudest one (speech, not pauses)."""
    frame_power = np.mean(np.abs(spec) ** 2, axis=1)
    peak = float(frame_power.max()) if len(frame_power) else 0.0
    if peak <= 0.0:
        return 0.0
    return float(frame_power[frame_power >= peak * 1e-3].mean())


def noise_spectrum(n_samples: int, rng: np.random.Generator, colour_db_per_octave: float = 0.0) -> np.ndarray:
    """STFT of stationary noise with a spectral slope (0 = white, negative = pinkish), unit mean frame power."""
    spec = stft(rng.standard_normal(n_samples, dtype=np.float32)) * np.exp(log_tilt(colour_db_per_octave))
    return spec / np.sqrt(max(active_power(spec), 1e-20))


def add_channel(spec: np.ndarray, n_samples: int, rng: np.random.Generator, *, tilt_db_per_octave: float,
                snr_db: float | None, noise_colour: float = 0.0) -> np.ndarray:
    """A microphone/recording channel in the STFT domain: a gentle spectral slope and
    stationary background noise at ``snr_db`` below the active speech power."""
    out = spec * np.exp(log_tilt(tilt_db_per_octave))[None, :]
    if snr_db is not None:
        noise = noise_spectrum(n_samples, rng, noise_colour)
        out = out + noise * np.float32(np.sqrt(active_power(out) / 10 ** (snr_db / 10)))
    return out


def add_noise(wave: np.ndarray, rng: np.random.Generator, snr_db: float, *, colour: float = 0.0) -> np.ndarray:
    """Time-domain version of the channel noise of :func:`add_channel` (for convolved signals)."""
    return istft(add_channel(stft(wave), len(wave), rng, tilt_db_per_octave=0.0, snr_db=snr_db,
                             noise_colour=colour), len(wave))


def normalise_level(wave: np.ndarray, rng: np.random.Generator, rms_dbfs: tuple[float, float] = (-28.0, -20.0),
                    peak_limit: float = 0.97) -> np.ndarray:
    """Scale to a random RMS level and keep the peak below ``peak_limit``."""
    wave = np.asarray(wave, dtype=np.float32)
    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
    target = 10 ** (rng.uniform(*rms_dbfs) / 20)
    if rms <= 0.0:
        return wave
    out = wave * np.float32(target / rms)
    peak = float(np.max(np.abs(out)))
    if peak > peak_limit:
        out *= np.float32(peak_limit / peak)
    return out


def durations(rng: np.random.Generator, count: int, low: float, high: float) -> np.ndarray:
    """Utterance lengths in seconds: log-uniform between ``low`` and ``high``
    (short utterances are more common, as in read-speech corpora)."""
    return np.exp(rng.uniform(np.log(low), np.log(high), count))


def item_rng(seed: int, *path: int) -> np.random.Generator:
    """An independent generator for one item (``path`` = split, index, ...) under
    ``seed``: an item's draws never depend on how many others came before it."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(int(p) for p in path)]))


# --------------------------------------------------------------------------- writing corpora


def cache_root() -> Path:
    """Where embedded corpora are generated on first use: ``$BENCHSUITE_CACHE_DIR``
    or ``~/.cache/benchsuite``."""
    from benchsuite.api import cache_dir_default  # the core's cache, shared with the decoded-audio cache

    return cache_dir_default().expanduser()


def options_tag(options: Mapping[str, Any]) -> str:
    """A short, stable hash of generator options, for cache directory names."""
    text = json.dumps(dict(options), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def check_seed(generator: str, seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{generator} option seed={seed!r}: expected a non-negative integer")


def ensure_generated(generator: str, manifest: str, target: Path, generate: Callable[..., Path], seed: int,
                     sizes: Mapping[str, Any]) -> Path:
    """A cached generated corpus, generated on first use with a one-line notice on stderr."""
    if read_manifest(target, manifest) is None:
        print(f"benchsuite: generating the synthetic corpus {generator} (seed {seed}) in {target}; this happens once",
              file=sys.stderr, flush=True)
    return generate(target, seed=seed, **sizes)


def sizes_from_options(cls: type, options: Mapping[str, Any], generator: str) -> Any:
    """Build a sizes dataclass from generator options (``--set dataset.NAME.KEY=VALUE``
    values may arrive as strings), naming the option and what was expected."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"{generator}: unknown option(s) {', '.join(unknown)}; known: seed, {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, value in options.items():
        default = getattr(cls, name)
        wanted = "an integer" if isinstance(default, int) else "a number"
        try:
            converted = type(default)(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{generator} option {name}={value!r}: expected {wanted}") from None
        if isinstance(value, bool) or (isinstance(default, int) and not isinstance(value, str) and converted != value):
            raise ConfigError(f"{generator} option {name}={value!r}: expected {wanted}")
        values[name] = converted
    return cls(**values)


def read_manifest(corpus_dir: Path, manifest_name: str) -> dict | None:
    path = Path(corpus_dir) / manifest_name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def generate_corpus(out_dir: Path, *, generator: str, version: int, manifest: str, sizes_class: type, seed: int,
                    sizes: Mapping[str, Any], write: Callable[[Path, Any], Mapping[str, Any]]) -> Path:
    """The common part of every generator: check the seed and sizes, then
    :func:`build_corpus` with ``write(tmp_dir, sizes)`` under the identity
    (generator, version, seed, sizes) that decides whether a corpus is reused."""
    check_seed(generator, seed)
    config = sizes_from_options(sizes_class, sizes, generator)
    identity = {"generator": generator, "version": version, "seed": seed, "sizes": dataclasses.asdict(config)}
    return build_corpus(Path(out_dir), manifest, identity, lambda root: write(root, config))


def build_corpus(out_dir: Path, manifest_name: str, identity: Mapping[str, Any],
                 write: Callable[[Path], Mapping[str, Any]]) -> Path:
    """Create a generated corpus at ``out_dir`` safely under concurrency.

    ``identity`` (generator name, version, seed, sizes) decides whether an
    existing directory is this corpus: if its manifest matches, it is reused
    untouched.  Otherwise ``write(tmp_dir)`` fills a temporary sibling, the
    manifest (identity plus what ``write`` returns) is written last, and the
    sibling is renamed onto ``out_dir``; a file lock next to ``out_dir`` makes
    concurrent callers wait for the first instead of generating twice, and a
    reader never sees a half-written corpus.
    """
    out_dir = Path(out_dir)
    identity = json.loads(json.dumps(dict(identity)))  # tuples -> lists, as they come back from JSON

    def matches() -> bool:
        manifest = read_manifest(out_dir, manifest_name)
        return manifest is not None and all(manifest.get(k) == v for k, v in identity.items())

    if matches():
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if matches():
            return out_dir
        if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
            found = read_manifest(out_dir, manifest_name)
            what = (f"a corpus generated with other settings ({_difference(found, identity)})" if found
                    else "other files")
            raise ConfigError(f"{out_dir} already holds {what}; choose a new or empty directory for the corpus")
        # left behind by a process killed while generating (we hold the lock, so nobody is writing them)
        for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
        scratch.mkdir()
        try:
            details = write(scratch)
            manifest = {**identity, **dict(details)}
            (scratch / manifest_name).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                                 encoding="utf-8")
            if out_dir.exists():
                out_dir.rmdir()  # empty (checked above); rename cannot replace a directory otherwise
            os.rename(scratch, out_dir)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return out_dir


def _difference(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    changed = [f"{k}: {found.get(k)!r} there, {v!r} requested" for k, v in wanted.items() if found.get(k) != v]
    return "; ".join(changed) or "unknown"


def write_flac(path: Path, wave: np.ndarray) -> None:
    """16-bit mono FLAC at :data:`SAMPLE_RATE` (libsndfile writes no timestamps, so bytes are reproducible)."""
    soundfile.write(str(path), np.asarray(wave, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16", format="FLAC")


def write_wav(path: Path, wave: np.ndarray) -> None:
    """16-bit mono WAV at :data:`SAMPLE_RATE`."""
    soundfile.write(str(path), np.asarray(wave, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16", format="WAV")


def run_jobs(function: Callable[[Any], None], jobs: Sequence[Any], workers: int) -> None:
    """Run ``function`` over ``jobs`` in ``workers`` processes (in this process when 1).
    Every item draws from its own seeded generator, so the output does not depend
    on the worker count."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            function(job)
        return
    # spawn, not fork: the parent may hold torch/OpenMP threads that a forked child would deadlock on
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for _ in pool.map(function, jobs):
            pass


def write_items(function: Callable[[tuple[int, str, list[Any]]], None], seed: int, root: Path,
                items: Sequence[Any], workers: int | None) -> None:
    """Write ``items`` with ``function((seed, root, chunk))`` in ``workers`` processes
    (default :func:`default_workers`); many small interleaved chunks keep the
    workers evenly loaded, as utterance lengths vary."""
    n_workers = workers or default_workers()
    n_chunks = 1 if n_workers == 1 else n_workers * 8
    run_jobs(function, [(seed, str(root), list(items[i::n_chunks])) for i in range(n_chunks)], n_workers)


def default_workers() -> int:
    """Generation processes when the caller does not say: up to two, never more than the CPUs we may use."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(2, available))
