"""Online training-time augmentations: ``musan`` (additive noise, music and
babble at a random SNR), ``rir`` (reverberation with a random room impulse
response), ``rawboost`` (RawBoost signal degradation for raw-waveform
countermeasures), ``specaugment`` (time/frequency masking of features),
``speed`` (speed perturbation, as WeSpeaker's) and ``gain`` (a random amplitude
factor, as SincNet's training batches).

Each ``build(options)`` returns ``augment(x, rng) -> x`` that draws all of its
randomness from ``rng`` and applies with the option ``probability`` (default
1.0; 0 returns the input unchanged).  Noise and RIR files come from plain file
lists, one path per line (relative paths from the list's folder), as the FFSVC
2022 baseline keeps them (``noise_wav_list``, ``music_wav_list``, ``rir_list``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from benchsuite.api import AugmentationSpec, ConfigError, DataError, hookimpl

MAX_LISTED = 10  # problems listed in one error before "and N more"


Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


# --------------------------------------------------------------------------- options


def check_options(options: Mapping[str, Any], allowed: Sequence[str], name: str) -> dict[str, Any]:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"augmentation {name!r}: unknown option(s) {', '.join(unknown)}; known options: "
                          f"{', '.join(sorted(allowed))}")
    return dict(options)


def number_option(options: Mapping[str, Any], key: str, default: float, name: str, *, low: float | None = None,
                  high: float | None = None) -> float:
    value = options.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"augmentation {name!r}: option {key}={value!r}; expected a number") from None
    if not math.isfinite(number) or (low is not None and number < low) or (high is not None and number > high):
        bounds = f" in [{low}, {high}]" if low is not None and high is not None else (
            f" >= {low}" if low is not None else "")
        raise ConfigError(f"augmentation {name!r}: option {key}={value!r}; expected a number{bounds}")
    return number


def range_option(options: Mapping[str, Any], key: str, default: tuple[float, float], name: str, *,
                 integer: bool = False, low: float | None = None) -> tuple[float, float]:
    value = options.get(key, default)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"augmentation {name!r}: option {key}={value!r}; expected [low, high]") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi or (low is not None and lo < low) or (
            integer and (lo != int(lo) or hi != int(hi))):
        kind = "integers" if integer else "numbers"
        raise ConfigError(f"augmentation {name!r}: option {key}={value!r}; expected [low, high] {kind} with "
                          f"low <= high" + (f" and low >= {low}" if low is not None else ""))
    return lo, hi


class ProbabilityGate:
    """Apply ``augment`` with ``probability``; the gate always draws one number
    so a sample's later draws do not depend on whether it was augmented.
    A class, not a closure, so DataLoader workers started with ``spawn`` can
    receive it."""

    def __init__(self, probability: float, augment: Augment):
        self.probability = probability
        self.augment = augment

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.probability:
            return wave
        return self.augment(wave, rng)


# --------------------------------------------------------------------------- file lists and audio


def read_file_list(path: Any, what: str) -> list[Path]:
    """Audio files named in a list file (blank lines and ``#`` comments skipped);
    every missing file is listed (first ten and the count)."""
    list_path = Path(str(path)).expanduser()
    if not list_path.is_file():
        raise DataError(f"{what} list not found: {list_path}")
    files: list[Path] = []
    with open(list_path, encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            entry = Path(text.split()[0])
            files.append(entry if entry.is_absolute() else list_path.parent / entry)
    if not files:
        raise DataError(f"{list_path}: the {what} list names no files")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        shown = "\n  ".join(missing[:MAX_LISTED])
        more = f"\n  ... and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        raise DataError(f"{list_path}: {len(missing)} of {len(files)} {what} files are missing:\n  {shown}{more}")
    return files


class AudioBank:
    """Random excerpts of listed audio files, read with soundfile without
    decoding whole files (MUSAN music tracks run for minutes); the first
    channel of multi-channel files, resampled to ``sample_rate`` when needed."""

    def __init__(self, files: Sequence[Path], sample_rate: int, *, keep_whole: bool = False):
        self.files = list(files)
        self.sample_rate = sample_rate
        self.keep_whole = keep_whole
        self._info: dict[int, tuple[int, int]] = {}
        self._whole: dict[int, np.ndarray] = {}

    def _frames_and_rate(self, index: int) -> tuple[int, int]:
        if index not in self._info:
            import soundfile

            try:
                info = soundfile.info(str(self.files[index]))
            except Exception as exc:  # LibsndfileError / RuntimeError depending on the version
                raise DataError(f"{self.files[index]}: cannot read audio ({exc})") from exc
            if info.frames == 0:
                raise DataError(f"{self.files[index]}: the file holds no samples")
            self._info[index] = (int(info.frames), int(info.samplerate))
        return self._info[index]

    def _read(self, index: int, start: int, stop: int) -> np.ndarray:
        import soundfile

        try:
            data, rate = soundfile.read(str(self.files[index]), start=start, stop=stop, dtype="float32",
                                        always_2d=True)
        except Exception as exc:
            raise DataError(f"{self.files[index]}: cannot read audio ({exc})") from exc
        wave = np.ascontiguousarray(data[:, 0])
        if rate != self.sample_rate:
            from benchsuite.api import resample

            wave = resample(wave, rate, self.sample_rate)
        return wave

    def whole(self, rng: np.random.Generator) -> np.ndarray:
        index = int(rng.integers(len(self.files)))
        if index in self._whole:
            return self._whole[index]
        frames, _rate = self._frames_and_rate(index)
        wave = self._read(index, 0, frames)
        if self.keep_whole:
            self._whole[index] = wave
        return wave

    def excerpt(self, length: int, rng: np.random.Generator) -> np.ndarray:
        """``length`` samples from a random file at a random start; short files are tiled."""
        index = int(rng.integers(len(self.files)))
        frames, rate = self._frames_and_rate(index)
        needed = int(math.ceil(length * rate / self.sample_rate))
        if frames <= needed:
            wave = self._read(index, 0, frames)
        else:
            start = int(rng.integers(0, frames - needed + 1))
            wave = self._read(index, start, start + needed)
        if len(wave) < length:
            wave = np.tile(wave, -(-length // len(wave)))
        return wave[:length]


def power(wave: np.ndarray) -> float:
    return float(np.mean(np.square(wave, dtype=np.float64))) if len(wave) else 0.0


def scale_to_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that 10·log10(P_clean / P_noise) = ``snr_db`` (mean powers)."""
    noise_power = power(noise)
    if noise_power == 0.0:
        return np.zeros_like(noise)
    return noise * np.sqrt(power(clean) / (noise_power * 10.0 ** (snr_db / 10.0)))


# --------------------------------------------------------------------------- musan

MUSAN_OPTIONS = ("noise_wav_list", "music_wav_list", "speech_wav_list", "snr_noise", "snr_music", "snr_speech",
                 "babble_speakers", "babble_scaling", "probability", "sample_rate")


def build_musan(options: Mapping[str, Any]) -> Augment:
    """Additive MUSAN noise, music or babble at a uniform random SNR.

    One kind is drawn uniformly among the lists given.  Defaults follow the
    ranges that clovaai/voxceleb_trainer (``DatasetLoader.py``) made common:
    noise 0-15 dB, music 5-15 dB, babble of 3-7 talkers at 13-20 dB each
    (WeSpeaker's ``processor.py`` uses 10-30 dB for speech; set ``snr_speech``).
    ``babble_scaling: per_talker`` (default) sets every talker to its own SNR
    as those recipes do; ``mixture`` scales the summed babble to one SNR."""
    name = "musan"
    opts = check_options(options, MUSAN_OPTIONS, name)
    rate = int(number_option(opts, "sample_rate", 16000, name, low=1))
    probability = number_option(opts, "probability", 1.0, name, low=0.0, high=1.0)
    snr = {
        "noise": range_option(opts, "snr_noise", (0.0, 15.0), name),
        "music": range_option(opts, "snr_music", (5.0, 15.0), name),
        "speech": range_option(opts, "snr_speech", (13.0, 20.0), name),
    }
    talkers = range_option(opts, "babble_speakers", (3, 7), name, integer=True, low=1)
    scaling = str(opts.get("babble_scaling", "per_talker"))
    if scaling not in ("per_talker", "mixture"):
        raise ConfigError(f"augmentation {name!r}: option babble_scaling={scaling!r}; expected per_talker or mixture")
    banks = {kind: AudioBank(read_file_list(opts[f"{kind}_wav_list"], f"MUSAN {kind}"), rate)
             for kind in ("noise", "music", "speech") if opts.get(f"{kind}_wav_list")}
    if not banks:
        raise ConfigError(f"augmentation {name!r} needs at least one of noise_wav_list, music_wav_list, "
                          f"speech_wav_list (files listing MUSAN wavs, one path per line)")
    return ProbabilityGate(probability, MusanNoise(banks, snr, (int(talkers[0]), int(talkers[1])), scaling))


class MusanNoise:
    """The musan augmentation once its options are checked (see :func:`build_musan`)."""

    def __init__(self, banks: Mapping[str, AudioBank], snr: Mapping[str, tuple[float, float]],
                 talkers: tuple[int, int], scaling: str):
        self.banks = dict(banks)
        self.kinds = sorted(banks)
        self.snr = dict(snr)
        self.talkers = talkers
        self.scaling = scaling

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        low, high = self.snr[kind]
        if kind != "speech":
            noise = scale_to_snr(wave, self.banks[kind].excerpt(len(wave), rng), rng.uniform(low, high))
        else:
            count = int(rng.integers(self.talkers[0], self.talkers[1] + 1))
            voices = [self.banks["speech"].excerpt(len(wave), rng) for _ in range(count)]
            if self.scaling == "per_talker":
                noise = sum(scale_to_snr(wave, v, rng.uniform(low, high)) for v in voices)
            else:
                noise = scale_to_snr(wave, np.sum(voices, axis=0), rng.uniform(low, high))
        return (wave + noise).astype(np.float32)


# --------------------------------------------------------------------------- rir

RIR_OPTIONS = ("rir_list", "probability", "sample_rate")


def reverberate(wave: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolution with ``rir``, shifted so the direct path (the largest tap)
    lands on sample 0 and rescaled to the input's energy: the output lines up
    with the input and keeps its level and length."""
    from scipy.signal import fftconvolve

    if len(rir) == 0 or not np.any(rir):
        return wave
    peak = int(np.argmax(np.abs(rir)))
    wet = fftconvolve(wave.astype(np.float64), rir.astype(np.float64))[peak:peak + len(wave)]
    energy_in, energy_out = float(np.sum(np.square(wave, dtype=np.float64))), float(np.sum(np.square(wet)))
    if energy_out > 0.0:
        wet *= math.sqrt(energy_in / energy_out)
    return wet.astype(np.float32)


def build_rir(options: Mapping[str, Any]) -> Augment:
    """Reverberation with an impulse response drawn from ``rir_list``
    (e.g. the simulated RIRs of OpenSLR 28), energy-preserving and aligned."""
    name = "rir"
    opts = check_options(options, RIR_OPTIONS, name)
    if not opts.get("rir_list"):
        raise ConfigError(f"augmentation {name!r} needs option rir_list (a file listing impulse-response wavs)")
    rate = int(number_option(opts, "sample_rate", 16000, name, low=1))
    probability = number_option(opts, "probability", 1.0, name, low=0.0, high=1.0)
    # impulse responses are short, so each is decoded once per worker and kept
    bank = AudioBank(read_file_list(opts["rir_list"], "RIR"), rate, keep_whole=True)
    return ProbabilityGate(probability, Reverb(bank))


class Reverb:
    def __init__(self, bank: AudioBank):
        self.bank = bank

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return reverberate(wave, self.bank.whole(rng))


# --------------------------------------------------------------------------- rawboost


@dataclass(frozen=True)
class RawBoostParams:
    """RawBoost parameters with the defaults of TakHemlata/RawBoost-antispoofing ``main.py``."""

    algo: int = 5
    n_bands: int = 5  # notch filters per filter
    min_f: float = 20.0  # centre frequency range [Hz]
    max_f: float = 8000.0
    min_bw: float = 100.0  # notch width range [Hz]
    max_bw: float = 1000.0
    min_coeff: int = 10  # FIR length range
    max_coeff: int = 100
    min_g: float = 0.0  # linear-component gain range [dB]
    max_g: float = 0.0
    min_bias_lin_nonlin: float = 5.0  # how much quieter the non-linear components are [dB]
    max_bias_lin_nonlin: float = 20.0
    n_f: int = 5  # order of the non-linearity (1 = linear only)
    p: float = 10.0  # impulsive noise: at most this % of the samples
    g_sd: float = 2.0  # impulsive noise gain
    snr_min: float = 10.0  # stationary noise SNR range [dB]
    snr_max: float = 40.0
    sample_rate: int = 16000


RAWBOOST_ALGOS = {
    1: ("lnl",), 2: ("isd",), 3: ("ssi",), 4: ("lnl", "isd", "ssi"), 5: ("lnl", "isd"), 6: ("lnl", "ssi"),
    7: ("isd", "ssi"), 8: ("parallel",),
}


def peak_normalise(wave: np.ndarray, always: bool = False) -> np.ndarray:
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    if peak > 0.0 and (always or peak > 1.0):
        return wave / peak
    return wave


def notch_filter(rng: np.random.Generator, params: RawBoostParams, min_g: float, max_g: float) -> np.ndarray:
    """A cascade of ``n_bands`` random band-stop FIR filters, then a random gain
    relative to the cascade's largest magnitude response."""
    from scipy.signal import firwin, freqz

    nyquist = params.sample_rate / 2
    taps = np.array([1.0])
    for _ in range(params.n_bands):
        centre = rng.uniform(params.min_f, params.max_f)
        width = rng.uniform(params.min_bw, params.max_bw)
        length = int(rng.uniform(params.min_coeff, params.max_coeff))
        length += 1 - length % 2  # a band-stop FIR needs an odd length
        low = max(centre - width / 2, 1e-3)
        high = min(centre + width / 2, nyquist - 1e-3)
        if low >= high:
            continue
        taps = np.convolve(firwin(length, [low, high], window="hamming", fs=params.sample_rate), taps)
    # RawBoost's non-linear range (min_g - 5, max_g - 20) runs downwards; drawn
    # as low + (high - low)·U it is the same uniform law either way round
    gain_db = min_g + (max_g - min_g) * rng.random()
    _freqs, response = freqz(taps, 1, fs=params.sample_rate)
    return 10.0 ** (gain_db / 20.0) * taps / np.max(np.abs(response))


def fir_zero_phase(wave: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Linear-phase FIR filtering with its group delay removed, same length as ``wave``."""
    from scipy.signal import fftconvolve

    delay = (len(taps) - 1) // 2
    return fftconvolve(wave, taps)[delay:delay + len(wave)]


def lnl_convolutive(wave: np.ndarray, rng: np.random.Generator, params: RawBoostParams) -> np.ndarray:
    """Linear and non-linear convolutive noise: sum over k of a random notch
    filter applied to wave**k, the non-linear terms quieter by a random bias."""
    out = np.zeros(len(wave), dtype=np.float64)
    min_g, max_g = params.min_g, params.max_g
    for order in range(1, params.n_f + 1):
        if order == 2:
            min_g, max_g = params.min_g - params.min_bias_lin_nonlin, params.max_g - params.max_bias_lin_nonlin
        out += fir_zero_phase(np.power(wave, order), notch_filter(rng, params, min_g, max_g))
    out -= np.mean(out)
    return peak_normalise(out)


def isd_impulsive(wave: np.ndarray, rng: np.random.Generator, params: RawBoostParams) -> np.ndarray:
    """Impulsive signal-dependent noise on a random ``beta`` % of the samples."""
    beta = rng.uniform(0.0, params.p)
    count = int(len(wave) * beta / 100.0)
    out = np.array(wave, dtype=np.float64)
    if count:
        positions = rng.choice(len(wave), size=count, replace=False)
        factors = (2 * rng.random(count) - 1) * (2 * rng.random(count) - 1)
        out[positions] += params.g_sd * out[positions] * factors
    return peak_normalise(out)


def ssi_stationary(wave: np.ndarray, rng: np.random.Generator, params: RawBoostParams) -> np.ndarray:
    """Stationary signal-independent noise: white noise through a random notch
    filter, added at a random SNR (ratio of L2 norms, as RawBoost defines it)."""
    noise = fir_zero_phase(rng.standard_normal(len(wave)), notch_filter(rng, params, params.min_g, params.max_g))
    noise = peak_normalise(noise, always=True)
    snr_db = rng.uniform(params.snr_min, params.snr_max)
    noise_norm = float(np.linalg.norm(noise))
    if noise_norm == 0.0:
        return np.asarray(wave, dtype=np.float64)
    noise *= float(np.linalg.norm(wave)) / noise_norm / 10.0 ** (0.05 * snr_db)
    return wave + noise


_RAWBOOST_STEPS = {"lnl": lnl_convolutive, "isd": isd_impulsive, "ssi": ssi_stationary}


def rawboost(wave: np.ndarray, rng: np.random.Generator, params: RawBoostParams) -> np.ndarray:
    """RawBoost algorithm ``params.algo`` (1 LnL, 2 ISD, 3 SSI, 4 = 1+2+3,
    5 = 1+2, 6 = 1+3, 7 = 2+3 in series, 8 = 1 and 2 in parallel)."""
    x = np.asarray(wave, dtype=np.float64)
    steps = RAWBOOST_ALGOS[params.algo]
    if steps == ("parallel",):
        x = peak_normalise(lnl_convolutive(x, rng, params) + isd_impulsive(x, rng, params))
    else:
        for step in steps:
            x = _RAWBOOST_STEPS[step](x, rng, params)
    return x.astype(np.float32)


def build_rawboost(options: Mapping[str, Any]) -> Augment:
    """RawBoost (Tak et al., ICASSP 2022): convolutive linear/non-linear
    noise, impulsive signal-dependent noise, stationary signal-independent
    noise, alone or combined (option ``algo`` 1-8, default 5 = LnL then ISD)."""
    name = "rawboost"
    names = [f.name for f in fields(RawBoostParams)]
    opts = check_options(options, names + ["probability"], name)
    probability = number_option(opts, "probability", 1.0, name, low=0.0, high=1.0)
    defaults = RawBoostParams()
    values: dict[str, Any] = {}
    for field_name in names:
        default = getattr(defaults, field_name)
        number = number_option(opts, field_name, default, name, low=None if "_g" in field_name else 0.0)
        if isinstance(default, int) and number != int(number):
            raise ConfigError(f"augmentation {name!r}: option {field_name}={opts[field_name]!r}; expected an integer")
        values[field_name] = int(number) if isinstance(default, int) else number
    params = RawBoostParams(**values)
    if params.algo not in RAWBOOST_ALGOS:
        raise ConfigError(f"augmentation {name!r}: option algo={params.algo}; expected 1-8 (1 LnL, 2 ISD, 3 SSI, "
                          f"4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3, 8 = 1 || 2)")
    for low, high in (("min_f", "max_f"), ("min_bw", "max_bw"), ("min_coeff", "max_coeff"), ("min_g", "max_g"),
                      ("snr_min", "snr_max")):
        if getattr(params, low) > getattr(params, high):
            raise ConfigError(f"augmentation {name!r}: option {low}={getattr(params, low)} exceeds "
                              f"{high}={getattr(params, high)}")
    if params.n_f < 1 or params.n_bands < 1 or params.min_coeff < 1:
        raise ConfigError(f"augmentation {name!r}: n_f, n_bands and min_coeff must be at least 1")

    return ProbabilityGate(probability, RawBoost(params))


class RawBoost:
    def __init__(self, params: RawBoostParams):
        self.params = params

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rawboost(wave, rng, self.params)


# --------------------------------------------------------------------------- specaugment

SPECAUGMENT_OPTIONS = ("freq_masks", "max_freq_width", "time_masks", "max_time_width", "mask_value", "probability")


def build_specaugment(options: Mapping[str, Any]) -> Augment:
    """SpecAugment masking (Park et al., Interspeech 2019) of a ``[frames,
    bins]`` feature array: ``freq_masks`` bands of width uniform in [0,
    ``max_freq_width``] and ``time_masks`` spans of width uniform in [0,
    ``max_time_width``] set to ``mask_value`` (zero, or the array's mean).
    Default widths are the upper ends of the FFSVC 2022 baseline's ranges."""
    name = "specaugment"
    opts = check_options(options, SPECAUGMENT_OPTIONS, name)
    probability = number_option(opts, "probability", 1.0, name, low=0.0, high=1.0)
    counts = {}
    for key, default in (("freq_masks", 1), ("max_freq_width", 10), ("time_masks", 1), ("max_time_width", 20)):
        number = number_option(opts, key, default, name, low=0.0)
        if number != int(number):
            raise ConfigError(f"augmentation {name!r}: option {key}={opts[key]!r}; expected an integer")
        counts[key] = int(number)
    mask_value = str(opts.get("mask_value", "zero"))
    if mask_value not in ("zero", "mean"):
        raise ConfigError(f"augmentation {name!r}: option mask_value={mask_value!r}; expected zero or mean")

    return ProbabilityGate(probability, SpecMask(counts, mask_value))


class SpecMask:
    """The specaugment masking once its options are checked (see :func:`build_specaugment`)."""

    def __init__(self, counts: Mapping[str, int], mask_value: str):
        self.counts = dict(counts)
        self.mask_value = mask_value

    def __call__(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if features.ndim != 2:
            raise ConfigError(f"augmentation 'specaugment' expects a [frames, bins] feature array, got shape "
                              f"{tuple(features.shape)}")
        out = np.array(features, dtype=np.float32, copy=True)
        fill = np.float32(out.mean()) if self.mask_value == "mean" else np.float32(0.0)
        frames, bins = out.shape
        for _ in range(self.counts["freq_masks"]):
            width = int(rng.integers(0, min(self.counts["max_freq_width"], bins) + 1))
            start = int(rng.integers(0, bins - width + 1))
            out[:, start:start + width] = fill
        for _ in range(self.counts["time_masks"]):
            width = int(rng.integers(0, min(self.counts["max_time_width"], frames) + 1))
            start = int(rng.integers(0, frames - width + 1))
            out[start:start + width, :] = fill
        return out


# --------------------------------------------------------------------------- reverb or noise (WeSpeaker)

REVERB_OR_NOISE_OPTIONS = ("rir_list", "noise_wav_list", "music_wav_list", "speech_wav_list", "snr_noise",
                           "snr_music", "snr_speech", "probability", "sample_rate")


def build_reverb_or_noise(options: Mapping[str, Any]) -> Augment:
    """With ``probability`` (default 0.6), either reverberation or additive MUSAN noise, each half the time:
    wenet-e2e/wespeaker ``wespeaker/dataset/processor.py`` ``add_reverb_noise`` (``aug_prob > random()``, then
    ``randint(1, 2)``), with its SNRs (noise 0-15 dB, music 5-15 dB, one speech file 10-30 dB).  The
    reverberation is :func:`reverberate`'s (aligned on the direct path, energy-preserving)."""
    name = "reverb_or_noise"
    opts = check_options(options, REVERB_OR_NOISE_OPTIONS, name)
    probability = number_option(opts, "probability", 0.6, name, low=0.0, high=1.0)
    if not opts.get("rir_list"):
        raise ConfigError(f"augmentation {name!r} needs option rir_list (a file listing impulse-response wavs)")
    rate = {"sample_rate": opts["sample_rate"]} if "sample_rate" in opts else {}
    reverb = build_rir({"rir_list": opts["rir_list"], **rate})
    noise = build_musan({**{k: v for k, v in opts.items() if k not in ("rir_list", "probability")},
                         "snr_speech": opts.get("snr_speech", (10.0, 30.0)), "babble_speakers": (1, 1)})
    return ProbabilityGate(probability, OneOf((reverb, noise)))


class OneOf:
    """One of ``choices``, drawn uniformly for every sample."""

    def __init__(self, choices: Sequence[Augment]):
        self.choices = tuple(choices)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.choices[int(rng.integers(len(self.choices)))](wave, rng)


# --------------------------------------------------------------------------- speed and gain

SPEED_OPTIONS = ("speeds", "probability")


def change_speed(wave: np.ndarray, speed: float) -> np.ndarray:
    """``wave`` played ``speed`` times faster (tempo and pitch together, as sox's ``speed`` effect followed by
    ``rate`` back to the original sample rate): resampled by the rational factor nearest 1 / ``speed``, then
    cut, or tiled from its start, to the input's length so the training crop keeps its size."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    if speed == 1.0 or len(wave) == 0:
        return wave
    ratio = Fraction(1.0 / speed).limit_denominator(100)
    changed = resample_poly(wave.astype(np.float64), ratio.numerator, ratio.denominator)
    if len(changed) < len(wave):
        changed = np.tile(changed, -(-len(wave) // len(changed)))
    return changed[:len(wave)].astype(np.float32)


def build_speed(options: Mapping[str, Any]) -> Augment:
    """Speed perturbation: one factor drawn uniformly from ``speeds`` (default 0.9, 1.0, 1.1, as
    wenet-e2e/wespeaker ``wespeaker/dataset/processor.py`` ``speed_perturb``: speeds [1.0, 0.9, 1.1],
    ``random.randint(0, 2)``).  WeSpeaker also makes each speed of a speaker a class of its own; the
    augmentation changes the audio only."""
    name = "speed"
    opts = check_options(options, SPEED_OPTIONS, name)
    speeds = opts.get("speeds", (0.9, 1.0, 1.1))
    try:
        factors = tuple(float(v) for v in speeds)
    except (TypeError, ValueError):
        raise ConfigError(f"augmentation {name!r}: option speeds={speeds!r}; expected a list of numbers") from None
    if not factors or any(not math.isfinite(f) or not 0.5 <= f <= 2.0 for f in factors):
        raise ConfigError(f"augmentation {name!r}: option speeds={speeds!r}; expected numbers in [0.5, 2]")
    probability = number_option(opts, "probability", 1.0, name, low=0.0, high=1.0)
    return ProbabilityGate(probability, SpeedPerturbation(factors))


class SpeedPerturbation:
    def __init__(self, speeds: Sequence[float]):
        self.speeds = tuple(speeds)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return change_speed(wave, self.speeds[int(rng.integers(len(self.speeds)))])


GAIN_OPTIONS = ("range", "probability")


def build_gain(options: Mapping[str, Any]) -> Augment:
    """The waveform times a factor drawn uniformly from ``range`` (default [0.8, 1.2]: mravanelli/SincNet
    ``speaker_id.py``:37 ``rand_amp_arr = uniform(1 - fact_amp, 1 + fact_amp)`` with ``fact_amp`` 0.2)."""
    name = "gain"
    opts = check_options(options, GAIN_OPTIONS, name)
    low, high = range_option(opts, "range", (0.8, 1.2), name, low=0.0)
    probability = number_option(opts, "probability", 1.0, name, low=0.0, high=1.0)
    return ProbabilityGate(probability, RandomGain(low, high))


class RandomGain:
    def __init__(self, low: float, high: float):
        self.low, self.high = low, high

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (wave * rng.uniform(self.low, self.high)).astype(np.float32)


# --------------------------------------------------------------------------- registration


AUGMENTATIONS = (
    ("musan", build_musan, "waveform",
     "MUSAN noise (0-15 dB), music (5-15 dB) or babble of 3-7 talkers (13-20 dB) at a uniform random SNR. Options: "
     "noise_wav_list, music_wav_list, speech_wav_list (file lists), snr_noise, snr_music, snr_speech, "
     "babble_speakers, babble_scaling per_talker|mixture, probability, sample_rate."),
    ("rir", build_rir, "waveform",
     "Reverberation with a random room impulse response from rir_list; aligned on the direct path and "
     "energy-preserving. Options: rir_list, probability, sample_rate."),
    ("rawboost", build_rawboost, "waveform",
     "RawBoost degradation (Tak et al. 2022): algo 1 LnL convolutive, 2 ISD impulsive, 3 SSI stationary noise, "
     "4-8 combinations (default 5 = 1+2); RawBoost's parameters as options (n_bands, min_f, max_f, ..., snr_min, "
     "snr_max), probability."),
    ("specaugment", build_specaugment, "features",
     "SpecAugment time/frequency masking of a [frames, bins] feature array. Options: freq_masks, max_freq_width, "
     "time_masks, max_time_width, mask_value zero|mean, probability."),
    ("reverb_or_noise", build_reverb_or_noise, "waveform",
     "With probability 0.6, reverberation (rir_list) or MUSAN noise (noise/music/speech lists), one of the two, as "
     "WeSpeaker's add_reverb_noise. Options: rir_list, noise_wav_list, music_wav_list, speech_wav_list, snr_noise, "
     "snr_music, snr_speech, probability, sample_rate."),
    ("speed", build_speed, "waveform",
     "Speed perturbation (tempo and pitch) by a factor drawn from speeds (default 0.9, 1.0, 1.1, as WeSpeaker); "
     "the crop keeps its length. Options: speeds, probability."),
    ("gain", build_gain, "waveform",
     "A random amplitude factor from range (default [0.8, 1.2], SincNet's fact_amp 0.2). Options: range, "
     "probability."),
)


@hookimpl
def benchsuite_register_augmentations(register: Any) -> None:
    for name, build, stage, description in AUGMENTATIONS:
        register(AugmentationSpec(name=name, build=build, stage=stage, description=description))
