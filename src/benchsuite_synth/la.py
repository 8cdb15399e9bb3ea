"""``synth-la``: a synthetic anti-spoofing corpus in the exact ASVspoof 2019 LA layout.

Real corpora cannot be downloaded where this suite is developed and tested, so
the default benchmark runs on a corpus generated here:

* bona fide speech comes from the source-filter voice of :mod:`.voice`
  (glottal pulses with jitter and shimmer, moving formants, fricative noise,
  syllable energy, pauses), one stable voice per speaker;
* every "attack" system re-synthesises the same kind of content (a fresh
  utterance plan of a speaker of that split) with the artefacts of one family
  of synthesis or conversion systems: vocoder excitation and voicing decisions,
  over-smoothed trajectories, smoothed envelopes, Griffin-Lim or noisy phase,
  band limitation, codec quantisation, waveform concatenation;
* as in ASVspoof 2019, train and dev use A01-A06 and eval A07-A19: A16 and A19
  are A04 and A06 again, A07, A08, A11-A15 are variants or combinations of
  the training families, A09, A10, A17 and A18 are families never seen in
  training, and A17/A18 are the subtle ones;
* every utterance, bona fide or spoof, then passes the same kind of recording
  channel (a spectral slope and background noise drawn per utterance), so the
  channel is no cue;
* an ASV side as in the 2019 release: extra bona fide enrolment utterances of every
  dev and eval speaker, ASV trials (each bona fide utterance as a target trial of
  its speaker and a non-target trial of another speaker of the same sex, each spoof
  as a spoof trial of its target speaker) in ``ASVspoof2019_LA_asv_protocols/``, and
  the scores of a GMM-UBM verifier (:mod:`._asv`) trained and run on this audio in
  ``ASVspoof2019_LA_asv_scores/``, so that the t-DCF can be computed.

All draws come from generators seeded by ``(seed, split, index)``: the same
seed gives byte-identical protocols and audio, whatever the number of worker
processes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from benchsuite.api import ConfigError

from . import _voice as v

GENERATOR = "synth-la"
# Bump whenever the audio or protocols change for the same options: cached
# corpora are keyed by it, so a new generator never reuses a stale corpus.
GENERATOR_VERSION = 3  # 3: the ASV side (enrolment audio, ASV protocols and scores)
MANIFEST = "synth-la.json"

SPLITS = ("train", "dev", "eval")
SPLIT_INDEX = {"train": 0, "dev": 1, "eval": 2}
PREFIX = {"train": "LA_T", "dev": "LA_D", "eval": "LA_E"}
AUDIO_DIR = {split: f"ASVspoof2019_LA_{split}" for split in SPLITS}
PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
PROTOCOL = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
            "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}
ASV_SPLITS = ("dev", "eval")
ASV_PROTOCOL_DIR = "ASVspoof2019_LA_asv_protocols"
ASV_SCORE_DIR = "ASVspoof2019_LA_asv_scores"
ASV_TRIALS = {split: f"ASVspoof2019.LA.asv.{split}.gi.trl.txt" for split in ASV_SPLITS}
ASV_SCORES = {split: f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt" for split in ASV_SPLITS}
ASV_ENROLMENT = {(split, sex): f"ASVspoof2019.LA.asv.{split}.{sex}.trn.txt"
                 for split in ASV_SPLITS for sex in ("female", "male")}
TRAIN_ATTACKS = tuple(f"A{i:02d}" for i in range(1, 7))
EVAL_ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
# speaker ids of the real corpus, so that per-speaker breakdowns look familiar
SPEAKERS = {
    "train": tuple(f"LA_{i:04d}" for i in range(79, 99)),
    "dev": tuple(f"LA_{i:04d}" for i in (*range(69, 79), *range(99, 109))),
    "eval": tuple(f"LA_{i:04d}" for i in range(1, 69) if i != 62),
}
# streams of the seed that are not per-utterance
_STREAM_SPEAKERS = 101
_STREAM_LAYOUT = 102
_STREAM_ENROLMENT = 103
_STREAM_UBM = 104
# enrolment utterances draw their audio from item indices above every protocol item's
_ENROLMENT_INDEX = 1_000_000


@dataclass(frozen=True)
class SynthLaSizes:
    """How big the corpus is.  Defaults: ~3,300 utterances of 1-4 s, 15 % bona fide."""

    train: int = 1200
    dev: int = 600
    eval: int = 1500
    bonafide_fraction: float = 0.15
    speakers_train: int = 20
    speakers_dev: int = 20
    speakers_eval: int = 67
    min_seconds: float = 1.0
    max_seconds: float = 4.0
    enrolment_per_speaker: int = 5  # bona fide enrolment utterances of every dev and eval speaker (ASV side)

    def __post_init__(self) -> None:
        for split in SPLITS:
            attacks = TRAIN_ATTACKS if split != "eval" else EVAL_ATTACKS
            count = getattr(self, split)
            if not isinstance(count, int) or count < len(attacks) + 2:
                raise ConfigError(f"synth-la option {split}={count!r}: expected an integer of at least "
                                  f"{len(attacks) + 2} (one bona fide pair and every attack of the split)")
            speakers = getattr(self, f"speakers_{split}")
            if not isinstance(speakers, int) or not 1 <= speakers <= len(SPEAKERS[split]):
                raise ConfigError(f"synth-la option speakers_{split}={speakers!r}: expected 1 to "
                                  f"{len(SPEAKERS[split])}")
        if not 0.0 < self.bonafide_fraction < 1.0:
            raise ConfigError(f"synth-la option bonafide_fraction={self.bonafide_fraction!r}: expected a fraction "
                              f"between 0 and 1")
        if isinstance(self.enrolment_per_speaker, bool) or not isinstance(self.enrolment_per_speaker, int) or \
                not 1 <= self.enrolment_per_speaker <= 50:
            raise ConfigError(f"synth-la option enrolment_per_speaker={self.enrolment_per_speaker!r}: expected an "
                              f"integer from 1 to 50")
        if not 0.3 <= self.min_seconds <= self.max_seconds <= 30.0:
            raise ConfigError(f"synth-la options min_seconds={self.min_seconds!r}, max_seconds={self.max_seconds!r}: "
                              f"expected 0.3 <= min_seconds <= max_seconds <= 30")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "SynthLaSizes":
        return v.sizes_from_options(cls, options, GENERATOR)

    def speakers(self, split: str) -> tuple[str, ...]:
        return SPEAKERS[split][: getattr(self, f"speakers_{split}")]


SIZE_OPTIONS = tuple(f.name for f in fields(SynthLaSizes))

# Named sizes for ``benchsuite data synth-la --size NAME``.  ``asvspoof2019`` has the
# utterance counts of the ASVspoof 2019 LA CM protocols (25,380 / 24,844 / 71,237 and
# 20 / 20 / 67 speakers; shared/notes/FACTS.md section 2.1) and 1-8 s utterances
# (log-uniform: mean 3.37 s, median 2.83 s; an assumption of 2019-LA-like lengths, not
# measured on the real corpus).  One bona fide fraction serves every split: 10.2 % gives
# 2,589 / 2,534 / 7,266 bona fide against the real 2,580 / 2,548 / 7,355.  It is for
# full-scale throughput and memory tests, not for accuracy.
SIZE_PRESETS: dict[str, dict[str, Any]] = {
    "asvspoof2019": {"train": 25_380, "dev": 24_844, "eval": 71_237, "bonafide_fraction": 0.102,
                     "speakers_train": 20, "speakers_dev": 20, "speakers_eval": 67,
                     "min_seconds": 1.0, "max_seconds": 8.0},
}


def preset_sizes(size: str | None, sizes: Mapping[str, Any]) -> dict[str, Any]:
    """The size options of preset ``size`` (None: none) with the explicit ``sizes`` on top."""
    if size is None:
        return dict(sizes)
    if size not in SIZE_PRESETS:
        raise ConfigError(f"synth-la --size {size!r}: expected one of {', '.join(sorted(SIZE_PRESETS))}")
    return {**SIZE_PRESETS[size], **sizes}


# --------------------------------------------------------------------------- artefacts
# Each works on an STFT (complex64 [frames, bins]) unless it says otherwise.


def griffin_lim(magnitude: np.ndarray, n_samples: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Phase reconstruction from a magnitude spectrogram, from random phase."""
    spec = v.polar(magnitude, (2 * np.pi * rng.random(magnitude.shape)).astype(np.float32))
    for _ in range(iterations):
        rebuilt = v.stft(v.istft(spec, n_samples))
        spec = magnitude * v.unit_phasor(rebuilt)
    return spec


def phase_noise(spec: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Frame-wise phase perturbation, like a vocoder with poor phase modelling."""
    return spec * v.polar(np.float32(1.0), (spread * rng.standard_normal(spec.shape)).astype(np.float32))


def band_limit(spec: np.ndarray, cutoff_hz: float, floor: float = 0.01) -> np.ndarray:
    """A system running at a lower rate: nothing left above its Nyquist frequency."""
    gain = np.where(v.BIN_HZ > cutoff_hz, floor, 1.0).astype(np.float32)
    return spec * gain


_MEL_CACHE: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _mel_positions(n_mels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every bin: its lower mel band, the weight toward the next band, and
    where each run of bins sharing a lower band starts (for ``reduceat``)."""
    if n_mels not in _MEL_CACHE:
        mel = 2595.0 * np.log10(1 + v.BIN_HZ / 700.0)
        position = (n_mels - 1) * mel / mel[-1]
        lower = np.minimum(np.floor(position).astype(np.int64), n_mels - 2)
        upper_weight = (position - lower).astype(np.float32)
        starts = np.flatnonzero(np.r_[True, np.diff(lower) > 0])
        _MEL_CACHE[n_mels] = (lower, upper_weight, starts, lower[starts])
    return _MEL_CACHE[n_mels]


def mel_smear(magnitude: np.ndarray, n_mels: int) -> np.ndarray:
    """Magnitudes through ``n_mels`` triangular mel bands and back (a mel-spectrogram
    vocoder's input): fine harmonic detail is lost where bands are wide.

    Sums run in a fixed order (``reduceat``, no BLAS), so the result does not
    depend on the number of BLAS threads: the corpus must be byte-identical
    wherever it is generated."""
    lower, upper_weight, starts, bands = _mel_positions(n_mels)
    power = magnitude.astype(np.float32) ** 2
    band_power = np.zeros((power.shape[0], n_mels), dtype=np.float32)
    band_weight = np.zeros(n_mels, dtype=np.float32)
    # each bin feeds its lower band with weight 1 - w and the next band with weight w
    band_power[:, bands] += np.add.reduceat(power * (1 - upper_weight), starts, axis=1)
    band_power[:, bands + 1] += np.add.reduceat(power * upper_weight, starts, axis=1)
    band_weight[bands] += np.add.reduceat(1 - upper_weight, starts)
    band_weight[bands + 1] += np.add.reduceat(upper_weight, starts)
    band_power /= np.maximum(band_weight, 1e-6)
    smeared = band_power[:, lower] * (1 - upper_weight) + band_power[:, lower + 1] * upper_weight
    return np.sqrt(smeared)


def codec(spec: np.ndarray, step_db: float, floor_db: float) -> np.ndarray:
    """A transform codec at a low bit rate: log magnitudes quantised in ``step_db``
    steps and bins more than ``floor_db`` under the frame peak dropped (spectral holes)."""
    magnitude = np.abs(spec) + 1e-9
    level = 20 * np.log10(magnitude)
    peak = level.max(axis=1, keepdims=True)
    quantised = np.round(level / step_db) * step_db
    kept = np.where(level > peak - floor_db, 10 ** (quantised / 20), 0.0).astype(np.float32)
    return spec / magnitude * kept


def frame_modulation(spec: np.ndarray, depth: float, period_frames: float, rng: np.random.Generator) -> np.ndarray:
    """A periodic frame-rate ripple of the magnitude (autoregressive vocoders' hop artefact)."""
    phase = rng.uniform(0, 2 * np.pi)
    ripple = 1.0 + depth * np.cos(2 * np.pi * np.arange(spec.shape[0]) / period_frames + phase)
    return spec * ripple.astype(np.float32)[:, None]


def temporal_smear(spec: np.ndarray, width: int) -> np.ndarray:
    """Over-smoothed magnitude trajectories (an acoustic model averaging over frames), phase kept."""
    magnitude = np.abs(spec)
    cums = np.cumsum(np.pad(magnitude, ((width // 2, width - 1 - width // 2), (0, 0)), mode="edge"), axis=0)
    cums = np.vstack([np.zeros((1, magnitude.shape[1]), dtype=cums.dtype), cums])
    smoothed = (cums[width:] - cums[:-width]) / width
    return spec / (magnitude + 1e-9) * smoothed.astype(np.float32)


def frequency_warp(spec: np.ndarray, factor: float) -> np.ndarray:
    """Spectral-filtering voice conversion: magnitudes stretched along frequency by
    ``factor`` while the source phase is kept, so harmonics and phase disagree."""
    source_bins = np.arange(v.N_BINS) / factor
    magnitude = np.abs(spec)
    lower = np.clip(np.floor(source_bins).astype(int), 0, v.N_BINS - 1)
    upper = np.clip(lower + 1, 0, v.N_BINS - 1)
    weight = (source_bins - np.floor(source_bins)).astype(np.float32)
    warped = magnitude[:, lower] * (1 - weight) + magnitude[:, upper] * weight
    warped[:, source_bins > v.N_BINS - 1] *= 0.05
    return spec / (magnitude + 1e-9) * warped


def mu_law(wave: np.ndarray, bits: int) -> np.ndarray:
    """mu-law companding and quantisation at a low bit depth (a narrow-band speech codec), time domain."""
    peak = max(float(np.max(np.abs(wave))), 1e-9)
    x = wave / peak
    mu = 255.0
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    levels = 2 ** (bits - 1)
    companded = np.round(companded * levels) / levels
    return (peak * np.sign(companded) * ((1 + mu) ** np.abs(companded) - 1) / mu).astype(np.float32)


def oversmooth(plan: v.UtterancePlan, width: int, f0_depth: float) -> v.UtterancePlan:
    """Statistical-parametric synthesis: averaged trajectories and a compressed
    pitch range (the global-variance problem)."""
    smooth = plan.copy()
    smooth.formants = v._smooth(plan.formants, width)
    smooth.energy = v._smooth(plan.energy, max(1, width // 2))
    log_f0 = np.log(plan.f0)
    centre = float(np.median(log_f0))
    smooth.f0 = np.exp(centre + f0_depth * (v._smooth(log_f0, width) - centre))
    return smooth


def broaden(plan: v.UtterancePlan, factor: float) -> v.UtterancePlan:
    """Wider formant bandwidths: a flatter, muffled envelope."""
    wide = plan.copy()
    wide.bandwidths = plan.bandwidths * factor
    return wide


def signature(spec: np.ndarray, n_samples: int, rng: np.random.Generator, *, tilt: float = 0.0,
              floor_db: float | None = None, floor_colour: float = 0.0, dynamics: float = 1.0) -> np.ndarray:
    """The systematic colouring a synthesis system leaves on the magnitudes, each
    drawn around its nominal value per utterance: a spectral slope (dB/octave),
    a noise floor ``floor_db`` below the speech (vocoder noise that does not stop
    in pauses) and a dynamic range factor on frame energies (< 1 compresses,
    as averaging acoustic models do; > 1 expands)."""
    out = spec
    if tilt:
        out = out * np.exp(v.log_tilt(tilt * float(rng.uniform(0.7, 1.3))))[None, :]
    if dynamics != 1.0:
        frame_power = np.mean(np.abs(out) ** 2, axis=1) + 1e-12
        relative = frame_power / max(v.active_power(out), 1e-20)
        exponent = (dynamics * float(rng.uniform(0.9, 1.1)) - 1.0) / 2
        out = out * np.clip(relative ** exponent, 0.05, 20.0).astype(np.float32)[:, None]
    if floor_db is not None:
        level = np.sqrt(v.active_power(out) / 10 ** ((floor_db + float(rng.uniform(-4, 4))) / 10))
        out = out + v.noise_spectrum(n_samples, rng, floor_colour) * np.float32(level)
    return out


def concatenate(plan: v.UtterancePlan, rng: np.random.Generator, options: v.RenderOptions,
                level_spread_db: float) -> np.ndarray:
    """Unit selection: segments of two renders of the same plan (different
    recordings of one voice) joined at segment boundaries without smoothing, so
    that pitch phase and level jump at the joins.  Returns an STFT."""
    first = v.render(plan, rng, options)
    other = plan.copy()
    other.f0 = plan.f0 * float(rng.uniform(0.96, 1.04))
    second = v.render(other, rng, options)
    out = first.copy()
    edges = [int(b) * v.HOP for b in plan.boundaries] + [len(first)]
    for index, (start, stop) in enumerate(zip(edges[:-1], edges[1:])):
        if index % 2:
            out[start:stop] = second[start:stop] * np.float32(10 ** (rng.uniform(-1, 1) * level_spread_db / 20))
    return v.stft(out)


# --------------------------------------------------------------------------- attack systems

Attack = Callable[[v.UtterancePlan, np.random.Generator], np.ndarray]  # -> STFT before the channel

MIXED = v.RenderOptions(excitation="buzz", voicing_threshold=0.5, aspiration_scale=0.0, max_voiced_hz=4500.0)


def _a01(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    magnitude = mel_smear(np.abs(v.render_spectrum(plan, rng)), 80)
    spec = griffin_lim(magnitude, plan.n_samples, 4, rng)
    return signature(spec, plan.n_samples, rng, tilt=-1.5, floor_db=34.0)


def _a02(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = v.render_spectrum(broaden(oversmooth(plan, 9, 0.7), 1.6), rng, MIXED)
    return signature(spec, plan.n_samples, rng, tilt=-2.0, dynamics=0.7, floor_db=36.0, floor_colour=-3.0)


def _a03(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    options = v.RenderOptions(excitation="buzz", voicing_threshold=0.5, aspiration_scale=0.2, envelope_lifter=24)
    return signature(v.render_spectrum(plan, rng, options), plan.n_samples, rng, tilt=1.0, floor_db=40.0,
                     floor_colour=3.0)


def _a04(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = band_limit(concatenate(plan, rng, v.RenderOptions(), level_spread_db=3.0), 7000.0, floor=0.003)
    return signature(spec, plan.n_samples, rng, dynamics=1.3)


def _a05(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    converted = broaden(oversmooth(plan, 7, 0.8), 1.8)
    spec = v.render_spectrum(converted, rng, v.RenderOptions(excitation="buzz", voicing_threshold=0.4))
    spec = signature(spec, plan.n_samples, rng, tilt=-1.0)
    return v.stft(mu_law(v.istft(spec, plan.n_samples), 8))


def _a06(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = frequency_warp(v.render_spectrum(plan, rng), float(rng.uniform(0.85, 1.15)))
    return signature(phase_noise(spec, rng, 0.6), plan.n_samples, rng, tilt=1.5, dynamics=0.75)


def _a07(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    magnitude = band_limit(mel_smear(np.abs(v.render_spectrum(plan, rng)), 64), 7000.0)
    spec = griffin_lim(magnitude, plan.n_samples, 3, rng)
    return signature(spec, plan.n_samples, rng, tilt=-1.0, floor_db=38.0)


def _a08(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    options = v.RenderOptions(excitation="buzz", voicing_threshold=0.5, aspiration_scale=0.0, max_voiced_hz=3000.0)
    spec = v.render_spectrum(broaden(oversmooth(plan, 11, 0.6), 1.4), rng, options)
    return signature(spec, plan.n_samples, rng, tilt=-1.5, dynamics=0.7, floor_db=40.0)


def _a09(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    return codec(v.render_spectrum(plan, rng), step_db=6.0, floor_db=32.0)


def _a10(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = frame_modulation(v.render_spectrum(plan, rng), 0.5, float(rng.uniform(2.5, 4.0)), rng)
    return signature(phase_noise(spec, rng, 0.3), plan.n_samples, rng, floor_db=44.0, floor_colour=-1.5)


def _a11(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = griffin_lim(np.abs(v.render_spectrum(plan, rng)), plan.n_samples, 8, rng)
    return signature(spec, plan.n_samples, rng, floor_db=40.0)


def _a12(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    options = v.RenderOptions(excitation="buzz", voicing_threshold=0.3, aspiration_scale=0.5, envelope_lifter=40)
    spec = v.render_spectrum(oversmooth(plan, 5, 0.9), rng, options)
    return signature(spec, plan.n_samples, rng, tilt=1.2, floor_db=42.0, floor_colour=2.0)


def _a13(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = temporal_smear(concatenate(plan, rng, v.RenderOptions(envelope_lifter=30), level_spread_db=1.5), 3)
    return signature(band_limit(spec, 7000.0), plan.n_samples, rng, dynamics=1.2)


def _a14(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = v.render_spectrum(oversmooth(plan, 9, 0.7), rng, MIXED)
    spec = signature(spec, plan.n_samples, rng, tilt=-1.5, dynamics=0.8)
    return v.stft(mu_law(v.istft(spec, plan.n_samples), 9))


def _a15(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    converted = broaden(plan, 1.6)
    spec = v.render_spectrum(converted, rng, v.RenderOptions(excitation="buzz", envelope_lifter=30))
    return signature(frequency_warp(spec, float(rng.uniform(0.88, 1.12))), plan.n_samples, rng, tilt=0.7)


def _a17(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    spec = v.render_spectrum(plan, rng, v.RenderOptions(jitter_scale=0.5, shimmer_scale=0.5, minimum_phase=False))
    return phase_noise(spec, rng, 0.15)


def _a18(plan: v.UtterancePlan, rng: np.random.Generator) -> np.ndarray:
    options = v.RenderOptions(jitter_scale=0.3, shimmer_scale=0.3, aspiration_scale=2.0, envelope_lifter=60)
    return temporal_smear(v.render_spectrum(plan, rng, options), 2)


ATTACKS: dict[str, tuple[str, Attack]] = {
    # training attacks (train and dev)
    "A01": ("mel-spectrogram inversion, Griffin-Lim phase (neural-vocoder-like)", _a01),
    "A02": ("parametric synthesis: over-smoothed tracks, mixed buzz/noise excitation", _a02),
    "A03": ("LPC-like vocoder: buzz excitation, binary voicing, smoothed envelope", _a03),
    "A04": ("waveform concatenation of two renders, joins at segment boundaries", _a04),
    "A05": ("voice conversion with a vocoder: broad formants, buzz, 10-bit mu-law", _a05),
    "A06": ("spectral-filtering voice conversion: frequency warp, phase noise", _a06),
    # evaluation attacks
    "A07": ("variant of A01: coarser mels, 7 kHz band limit, fewer Griffin-Lim iterations", _a07),
    "A08": ("variant of A02: noise above 3 kHz, stronger smoothing", _a08),
    "A09": ("unseen: transform codec with quantised magnitudes and spectral holes", _a09),
    "A10": ("unseen: frame-rate magnitude ripple with phase noise", _a10),
    "A11": ("variant of A01: Griffin-Lim phase on the exact magnitude", _a11),
    "A12": ("variant of A03: buzz with aspiration, lighter envelope smoothing", _a12),
    "A13": ("combination of A04 and A03: concatenation of smoothed-envelope renders", _a13),
    "A14": ("combination of A02 and A05: parametric synthesis through 9-bit mu-law", _a14),
    "A15": ("combination of A05 and A06: buzz vocoder with frequency warp", _a15),
    "A16": ("A04 again (as in ASVspoof 2019)", _a04),
    "A17": ("unseen, subtle: zero-phase envelope, halved jitter, light phase noise", _a17),
    "A18": ("unseen, subtle: breathy regular source, fine envelope smoothing", _a18),
    "A19": ("A06 again (as in ASVspoof 2019)", _a06),
}


# --------------------------------------------------------------------------- corpus layout


@dataclass(frozen=True)
class Item:
    split: str
    index: int
    utt_id: str
    speaker: str
    speaker_index: int
    system: str  # "-" for bona fide
    seconds: float

    @property
    def key(self) -> str:
        return "bonafide" if self.system == "-" else "spoof"

    def protocol_line(self) -> str:
        return f"{self.speaker} {self.utt_id} - {self.system} {self.key}"


def corpus_items(seed: int, sizes: SynthLaSizes) -> list[Item]:
    """Every utterance of every split with its speaker, system and length, in protocol order."""
    items: list[Item] = []
    used_ids: set[int] = set()
    for split in SPLITS:
        rng = v.item_rng(seed, _STREAM_LAYOUT, SPLIT_INDEX[split])
        count = getattr(sizes, split)
        n_bonafide = max(2, int(round(count * sizes.bonafide_fraction)))
        attacks = TRAIN_ATTACKS if split != "eval" else EVAL_ATTACKS
        systems = ["-"] * n_bonafide + [attacks[i % len(attacks)] for i in range(count - n_bonafide)]
        speakers = sizes.speakers(split)
        # bona fide and spoof spread over every speaker in turn, as target speakers of the attacks
        speaker_of = [i % len(speakers) for i in range(count)]
        seconds = v.durations(rng, count, sizes.min_seconds, sizes.max_seconds)
        ids = _unique_ids(rng, count, used_ids)
        split_items = [Item(split, i, f"{PREFIX[split]}_{ids[i]}", speakers[speaker_of[i]], speaker_of[i],
                            systems[i], float(seconds[i])) for i in range(count)]
        # the real protocols list each speaker's bona fide first, then the attacks
        split_items.sort(key=lambda it: (it.speaker, it.system != "-", it.system, it.utt_id))
        items.extend(split_items)
    return items


def _unique_ids(rng: np.random.Generator, count: int, used: set[int]) -> list[int]:
    """Seven-digit numbers as in LA_T_1138215, unique over the whole corpus."""
    ids: list[int] = []
    while len(ids) < count:
        for number in rng.integers(1_000_000, 10_000_000, size=2 * (count - len(ids))):
            number = int(number)
            if number not in used:
                used.add(number)
                ids.append(number)
                if len(ids) == count:
                    break
    return ids


def speaker_voice(seed: int, split: str, speaker_index: int) -> v.VoiceProfile:
    return v.random_voice(v.item_rng(seed, _STREAM_SPEAKERS, SPLIT_INDEX[split], speaker_index))


def synthesise(seed: int, item: Item) -> np.ndarray:
    """The audio of one item: content, system, then the shared recording channel."""
    rng = v.item_rng(seed, SPLIT_INDEX[item.split], item.index)
    plan = v.plan_utterance(speaker_voice(seed, item.split, item.speaker_index), rng, item.seconds)
    spec = v.render_spectrum(plan, rng) if item.system == "-" else ATTACKS[item.system][1](plan, rng)
    spec = v.add_channel(spec, plan.n_samples, rng, tilt_db_per_octave=float(rng.uniform(-0.5, 0.5)),
                         snr_db=float(rng.uniform(45.0, 65.0)), noise_colour=float(rng.uniform(-3.0, 0.0)))
    return v.normalise_level(v.istft(spec, plan.n_samples), rng)


def enrolment_items(seed: int, sizes: SynthLaSizes, protocol_items: Sequence[Item]) -> list[Item]:
    """The ASV enrolment utterances of every dev and eval speaker: bona fide, not in the CM protocols."""
    used = {int(it.utt_id.rsplit("_", 1)[1]) for it in protocol_items}
    items: list[Item] = []
    for split in ASV_SPLITS:
        rng = v.item_rng(seed, _STREAM_ENROLMENT, SPLIT_INDEX[split])
        speakers = sizes.speakers(split)
        count = len(speakers) * sizes.enrolment_per_speaker
        seconds = v.durations(rng, count, sizes.min_seconds, sizes.max_seconds)
        ids = _unique_ids(rng, count, used)
        for k in range(count):
            speaker_index = k // sizes.enrolment_per_speaker
            items.append(Item(split, _ENROLMENT_INDEX + k, f"{PREFIX[split]}_{ids[k]}", speakers[speaker_index],
                              speaker_index, "-", float(seconds[k])))
    return items


def speaker_sex(seed: int, split: str, speaker_index: int) -> str:
    """"female" or "male", as the voice was drawn (the two pitch ranges do not overlap)."""
    return "female" if speaker_voice(seed, split, speaker_index).f0_median >= 160.0 else "male"


@dataclass(frozen=True)
class AsvTrial:
    claimed_speaker: str
    utt_id: str
    source: str  # "bonafide" or the attack
    key: str  # target | nontarget | spoof

    def protocol_line(self) -> str:
        return f"{self.claimed_speaker} {self.utt_id} {self.source} {self.key}"


def asv_trials(seed: int, sizes: SynthLaSizes, items: Sequence[Item], split: str) -> list[AsvTrial]:
    """Every CM utterance of ``split`` as ASV trials, in protocol order: a bona fide one is a target
    trial of its speaker and a non-target trial of the next speaker of the same sex (of any other
    speaker when it has none); a spoof is a spoof trial of the speaker it imitates."""
    speakers = sizes.speakers(split)
    sex = [speaker_sex(seed, split, i) for i in range(len(speakers))]
    trials: list[AsvTrial] = []
    for item in (it for it in items if it.split == split):
        if item.system != "-":
            trials.append(AsvTrial(item.speaker, item.utt_id, item.system, "spoof"))
            continue
        trials.append(AsvTrial(item.speaker, item.utt_id, "bonafide", "target"))
        n = len(speakers)
        others = [(item.speaker_index + step) % n for step in range(1, n)]
        same_sex = [j for j in others if sex[j] == sex[item.speaker_index]]
        if others:
            trials.append(AsvTrial(speakers[(same_sex or others)[0]], item.utt_id, "bonafide", "nontarget"))
    return trials


def write_asv_side(root: Path, seed: int, sizes: SynthLaSizes, items: Sequence[Item],
                   enrolment: Sequence[Item]) -> dict[str, Any]:
    """Train the GMM-UBM verifier of :mod:`._asv` on the bona fide training audio, enrol every dev/eval
    speaker and score every trial; write the ASV protocols and score files of the 2019 LA release."""
    import soundfile

    from . import _asv

    def feats(item: Item) -> np.ndarray:
        wave, _ = soundfile.read(str(root / AUDIO_DIR[item.split] / "flac" / f"{item.utt_id}.flac"), dtype="float32")
        return _asv.features(wave)

    ubm = _asv.train_ubm_on([feats(it) for it in items if it.split == "train" and it.system == "-"],
                            seed=int(v.item_rng(seed, _STREAM_UBM).integers(2 ** 31)))
    (root / ASV_PROTOCOL_DIR).mkdir()
    (root / ASV_SCORE_DIR).mkdir()
    summary: dict[str, Any] = {}
    for split in ASV_SPLITS:
        enrolled: dict[str, list[Item]] = {}
        for item in (it for it in enrolment if it.split == split):
            enrolled.setdefault(item.speaker, []).append(item)
        models = {spk: _asv.adapt_speaker(ubm, np.vstack([feats(it) for it in utts]))
                  for spk, utts in enrolled.items()}
        for sex in ("female", "male"):
            lines = [f"{spk} {','.join(it.utt_id for it in utts)}" for spk, utts in enrolled.items()
                     if speaker_sex(seed, split, utts[0].speaker_index) == sex]
            (root / ASV_PROTOCOL_DIR / ASV_ENROLMENT[(split, sex)]).write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8")
        trials = asv_trials(seed, sizes, items, split)
        by_id = {it.utt_id: it for it in items if it.split == split}
        cache: dict[str, np.ndarray] = {}
        scores = []
        for trial in trials:
            if trial.utt_id not in cache:
                cache[trial.utt_id] = feats(by_id[trial.utt_id])
            scores.append(_asv.llr_score(models[trial.claimed_speaker], ubm, cache[trial.utt_id]))
        (root / ASV_PROTOCOL_DIR / ASV_TRIALS[split]).write_text(
            "".join(t.protocol_line() + "\n" for t in trials), encoding="utf-8")
        (root / ASV_SCORE_DIR / ASV_SCORES[split]).write_text(
            "".join(f"{t.source} {t.key} {score:.6f}\n" for t, score in zip(trials, scores)), encoding="utf-8")
        summary[split] = {key: sum(1 for t in trials if t.key == key) for key in ("target", "nontarget", "spoof")}
    return {"asv_system": "GMM-UBM, 64 diagonal components, MFCC+delta, MAP means (r=16); see benchsuite_synth._asv",
            "asv_trials": summary}


def _write_chunk(job: tuple[int, str, list[Item]]) -> None:
    seed, root, items = job
    for item in items:
        v.write_flac(Path(root) / AUDIO_DIR[item.split] / "flac" / f"{item.utt_id}.flac", synthesise(seed, item))


def generate_synth_la(out_dir: Path, *, seed: int = 0, workers: int | None = None, size: str | None = None,
                      **sizes: Any) -> Path:
    """Write synth-la to ``out_dir`` in the ASVspoof 2019 LA layout and return ``out_dir``.

    ``sizes`` are :class:`SynthLaSizes` fields (``train``, ``dev``, ``eval``,
    ``bonafide_fraction``, ``speakers_*``, ``min_seconds``, ``max_seconds``);
    ``size`` names a preset of :data:`SIZE_PRESETS` that explicit ``sizes`` amend.
    The same seed and sizes give byte-identical files whatever ``workers`` is.
    An existing ``out_dir`` holding the same corpus is reused; concurrent callers
    wait for one generation (see :func:`.voice.build_corpus`)."""
    def write(root: Path, config: SynthLaSizes) -> dict[str, Any]:
        items = corpus_items(seed, config)
        (root / PROTOCOL_DIR).mkdir()
        for split in SPLITS:
            (root / AUDIO_DIR[split] / "flac").mkdir(parents=True)
            lines = [it.protocol_line() for it in items if it.split == split]
            (root / PROTOCOL_DIR / PROTOCOL[split]).write_text("\n".join(lines) + "\n", encoding="utf-8")
        enrolment = enrolment_items(seed, config, items)
        v.write_items(_write_chunk, seed, root, [*items, *enrolment], workers)
        counts = {split: {"bonafide": sum(1 for it in items if it.split == split and it.system == "-"),
                          "spoof": sum(1 for it in items if it.split == split and it.system != "-")}
                  for split in SPLITS}
        asv = write_asv_side(root, seed, config, items, enrolment)
        return {"counts": counts, "attacks": {name: description for name, (description, _) in ATTACKS.items()},
                **asv}

    return v.generate_corpus(out_dir, generator=GENERATOR, version=GENERATOR_VERSION, manifest=MANIFEST,
                             sizes_class=SynthLaSizes, seed=seed, sizes=preset_sizes(size, sizes), write=write)


def cache_dir(seed: int = 0, **sizes: Any) -> Path:
    """Where :func:`ensure_synth_la` keeps the corpus for these options: the name
    carries the generator version, the seed and the sizes."""
    config = SynthLaSizes.from_options(sizes)
    name = (f"{GENERATOR}-v{GENERATOR_VERSION}-seed{seed}-{config.train}-{config.dev}-{config.eval}"
            f"-{v.options_tag(asdict(config))}")
    return v.cache_root() / name


def ensure_synth_la(seed: int = 0, **sizes: Any) -> Path:
    """The cached corpus for these options, generated on first use (with a notice on stderr)."""
    return v.ensure_generated(GENERATOR, MANIFEST, cache_dir(seed, **sizes), generate_synth_la, seed, sizes)
