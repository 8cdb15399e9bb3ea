"""``synth-vox`` and ``synth-emo``: synthetic speaker-verification and 4-class
speaking-style corpora written as Kaldi data directories.

``synth-vox`` (task verify): every speaker is a stable voice of :mod:`.voice`
(pitch range, vocal-tract length, spectral tilt, speaking rate, voice quality)
with small per-utterance variation.  Each utterance exists twice: close-talk
(a mild microphone colouring and little noise) and far-field (convolved with a
synthetic room impulse response, then noise at a low SNR).  ``train/`` holds
both versions of every training utterance; ``dev/`` and ``eval/`` hold
disjoint speakers and a ``trials`` list where enrolment is close-talk and test
is far-field, as in FFSVC, with target and nontarget trials.

``synth-emo`` (task classify): four speaking styles -- ``neutral``,
``excited`` (higher, wider, faster, louder, brighter), ``subdued`` (lower,
flatter, slower, softer, darker, longer pauses) and ``breathy`` (aspiration
noise, irregular periods, dark tilt) -- spoken by many voices, each with a
random intensity, so that style and speaker overlap as they do in real data.
``train/``, ``dev/`` and ``eval/`` have disjoint speakers and an ``utt2label``.

Both are read by the ``kaldi-dir`` reader (:class:`.kaldi.KaldiDataset`).
Paths in ``wav.scp`` are relative to the corpus root; tables are sorted in C
locale order with speaker-prefixed utterance ids, as Kaldi expects.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from benchsuite.api import ConfigError

from . import _voice as v


def _signal():
    """scipy.signal, imported on first use: registering the corpora (every command does) must stay cheap."""
    import scipy.signal

    return scipy.signal

VOX = "synth-vox"
EMO = "synth-emo"
# Bump whenever the audio or the lists change for the same options (cached copies are keyed by it).
VOX_VERSION = 2
EMO_VERSION = 2
VOX_MANIFEST = "synth-vox.json"
EMO_MANIFEST = "synth-emo.json"
SPLITS = ("train", "dev", "eval")
SPLIT_INDEX = {"train": 0, "dev": 1, "eval": 2}
_STREAM_VOX_SPEAKERS = 201
_STREAM_VOX_UTTS = 202
_STREAM_VOX_TRIALS = 203
_STREAM_EMO_SPEAKERS = 301
_STREAM_EMO_UTTS = 302

TIMBRE_DB = 3.0  # individual spectral detail of each voice (see voice.random_voice)

STYLES: dict[str, v.Style] = {
    "neutral": v.Style("neutral"),
    "excited": v.Style("excited", f0_shift=4.5, f0_range_scale=1.7, rate_scale=1.25, energy_db=5.0, tilt_add=2.0,
                       accent_scale=1.5, pause_scale=0.6),
    "subdued": v.Style("subdued", f0_shift=-3.5, f0_range_scale=0.45, rate_scale=0.75, energy_db=-5.0, tilt_add=-2.0,
                       accent_scale=0.5, pause_scale=2.0),
    "breathy": v.Style("breathy", breathiness_add=0.4, jitter_scale=3.0, tilt_add=-3.0, rate_scale=0.95),
}
STYLE_NAMES = tuple(STYLES)


@dataclass(frozen=True)
class SynthVoxSizes:
    n_train_speakers: int = 40
    n_dev_speakers: int = 6
    n_test_speakers: int = 10
    utts_per_speaker: int = 8
    nontarget_per_target: int = 2  # nontarget trials drawn per target trial
    min_seconds: float = 1.5
    max_seconds: float = 4.0

    def __post_init__(self) -> None:
        _check_speakers(VOX, self.n_train_speakers, self.n_dev_speakers, self.n_test_speakers)
        if self.utts_per_speaker < 2:
            raise ConfigError(f"{VOX} option utts_per_speaker={self.utts_per_speaker!r}: expected at least 2 "
                              f"(target trials pair two utterances of a speaker)")
        if self.nontarget_per_target < 1:
            raise ConfigError(f"{VOX} option nontarget_per_target={self.nontarget_per_target!r}: expected at least 1")
        _check_seconds(VOX, self.min_seconds, self.max_seconds)

    def speakers(self, split: str) -> int:
        return {"train": self.n_train_speakers, "dev": self.n_dev_speakers, "eval": self.n_test_speakers}[split]


@dataclass(frozen=True)
class SynthEmoSizes:
    n_train_speakers: int = 24
    n_dev_speakers: int = 6
    n_test_speakers: int = 10
    utts_per_style: int = 4  # per speaker and style
    min_seconds: float = 1.5
    max_seconds: float = 3.5

    def __post_init__(self) -> None:
        _check_speakers(EMO, self.n_train_speakers, self.n_dev_speakers, self.n_test_speakers)
        if self.utts_per_style < 1:
            raise ConfigError(f"{EMO} option utts_per_style={self.utts_per_style!r}: expected at least 1")
        _check_seconds(EMO, self.min_seconds, self.max_seconds)

    def speakers(self, split: str) -> int:
        return {"train": self.n_train_speakers, "dev": self.n_dev_speakers, "eval": self.n_test_speakers}[split]


def _check_speakers(generator: str, train: int, dev: int, test: int) -> None:
    for name, count, minimum in (("n_train_speakers", train, 2), ("n_dev_speakers", dev, 2),
                                 ("n_test_speakers", test, 2)):
        if count < minimum:
            raise ConfigError(f"{generator} option {name}={count!r}: expected at least {minimum} "
                              f"(nontarget trials and class balance need two speakers)")


def _check_seconds(generator: str, low: float, high: float) -> None:
    if not 0.5 <= low <= high <= 30.0:
        raise ConfigError(f"{generator} options min_seconds={low!r}, max_seconds={high!r}: expected "
                          f"0.5 <= min_seconds <= max_seconds <= 30")


VOX_OPTIONS = tuple(f.name for f in dataclasses.fields(SynthVoxSizes))
EMO_OPTIONS = tuple(f.name for f in dataclasses.fields(SynthEmoSizes))


# --------------------------------------------------------------------------- rooms and microphones


def room_impulse_response(rng: np.random.Generator, *, rt60: float, drr_db: float) -> np.ndarray:
    """A synthetic room: a direct path after 3-12 ms of travel, a handful of
    early reflections within 25 ms, then exponentially decaying noise (60 dB
    down after ``rt60`` seconds) whose high frequencies die faster (air and
    wall absorption); ``drr_db`` sets the direct-to-reverberant energy ratio."""
    length = int(min(1.2 * rt60, 1.0) * v.SAMPLE_RATE)
    direct = int(rng.uniform(0.003, 0.012) * v.SAMPLE_RATE)
    t = np.arange(length - direct) / v.SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.908 * t / rt60)  # ln(1000) = 6.908: 60 dB in energy
    tail[: int(0.002 * v.SAMPLE_RATE)] = 0.0  # the diffuse field builds up after the first reflections
    # a one-pole low-pass whose pole moves with time would be exact; two fixed bands are enough here
    dark = _signal().lfilter([0.3], [1.0, -0.7], tail)
    fade = np.exp(-t / max(rt60 / 3, 1e-3))
    tail = fade * tail + (1 - fade) * dark
    for _ in range(int(rng.integers(4, 9))):
        at = int(rng.uniform(0.002, 0.025) * v.SAMPLE_RATE)
        if at < len(tail):
            tail[at] += float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.6))
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail ** 2)), 1e-12))
    rir = np.zeros(length)
    rir[direct] = 1.0
    rir[direct:] += tail
    return rir


def far_field(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same speech heard across a room: reverberation, then background noise."""
    rir = room_impulse_response(rng, rt60=float(rng.uniform(0.2, 0.8)), drr_db=float(rng.uniform(-3.0, 8.0)))
    reverberant = _signal().fftconvolve(wave, rir)[: len(wave)].astype(np.float32)
    return v.add_noise(reverberant, rng, float(rng.uniform(8.0, 22.0)), colour=float(rng.uniform(-4.0, -1.0)))


def close_talk(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A near microphone: a slight colouring and quiet background noise."""
    return v.istft(v.add_channel(v.stft(wave), len(wave), rng, tilt_db_per_octave=float(rng.uniform(-0.7, 0.7)),
                                 snr_db=float(rng.uniform(30.0, 45.0)), noise_colour=float(rng.uniform(-3.0, 0.0))),
                   len(wave))


def session_voice(voice: v.VoiceProfile, rng: np.random.Generator) -> v.VoiceProfile:
    """The same speaker on another day: pitch, rate, tilt and breathiness drift a little."""
    return dataclasses.replace(
        voice,
        f0_median=voice.f0_median * float(rng.uniform(0.96, 1.04)),
        speaking_rate=voice.speaking_rate * float(rng.uniform(0.92, 1.08)),
        tilt_db_per_octave=voice.tilt_db_per_octave + float(rng.uniform(-0.3, 0.3)),
        breathiness=voice.breathiness * float(rng.uniform(0.85, 1.15)),
    )


def scaled_style(style: v.Style, intensity: float) -> v.Style:
    """A style spoken more or less markedly (``intensity`` 1 = nominal, 0 = neutral)."""
    neutral = v.NEUTRAL

    def mix(field: str) -> float:
        return getattr(neutral, field) + intensity * (getattr(style, field) - getattr(neutral, field))

    return dataclasses.replace(style, **{f.name: mix(f.name) for f in dataclasses.fields(style) if f.name != "name"})


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class VoiceItem:
    """One utterance of the corpus; written as one or two files (close, far)."""

    split: str
    speaker: str
    speaker_number: int  # global, seeds the voice
    index: int  # per speaker
    seconds: float
    versions: tuple[str, ...]  # subset of ("close", "far")
    style: str = "neutral"

    def utt_id(self, version: str) -> str:
        """Speaker-prefixed, as Kaldi sorts them: ``spk0001-003-far``, ``spk0001-003-breathy``."""
        return f"{self.speaker}-{self.index:03d}-{self.style if version == 'emo' else version}"

    def relative_path(self, version: str) -> str:
        return f"wav/{self.split}/{self.speaker}/{self.utt_id(version)}.flac"


def vox_items(seed: int, sizes: SynthVoxSizes) -> list[VoiceItem]:
    items: list[VoiceItem] = []
    number = 0
    for split in SPLITS:
        rng = v.item_rng(seed, _STREAM_VOX_UTTS, SPLIT_INDEX[split])
        versions = ("close", "far")
        for _ in range(sizes.speakers(split)):
            number += 1
            speaker = f"spk{number:04d}"
            lengths = v.durations(rng, sizes.utts_per_speaker, sizes.min_seconds, sizes.max_seconds)
            items += [VoiceItem(split, speaker, number, i, float(lengths[i]), versions)
                      for i in range(sizes.utts_per_speaker)]
    return items


def emo_items(seed: int, sizes: SynthEmoSizes) -> list[VoiceItem]:
    items: list[VoiceItem] = []
    number = 0
    for split in SPLITS:
        rng = v.item_rng(seed, _STREAM_EMO_UTTS, SPLIT_INDEX[split])
        for _ in range(sizes.speakers(split)):
            number += 1
            speaker = f"spk{number:04d}"
            index = 0
            for style in STYLE_NAMES:
                lengths = v.durations(rng, sizes.utts_per_style, sizes.min_seconds, sizes.max_seconds)
                for seconds in lengths:
                    items.append(VoiceItem(split, speaker, number, index, float(seconds), ("emo",), style))
                    index += 1
    return items


def synthesise_vox(seed: int, item: VoiceItem) -> dict[str, np.ndarray]:
    """Both versions of one synth-vox utterance, from the same clean speech."""
    voice = v.random_voice(v.item_rng(seed, _STREAM_VOX_SPEAKERS, item.speaker_number), timbre_db=TIMBRE_DB)
    rng = v.item_rng(seed, _STREAM_VOX_SPEAKERS, item.speaker_number, item.index)
    plan = v.plan_utterance(session_voice(voice, rng), rng, item.seconds)
    clean = v.render(plan, rng)
    out = {}
    for version in item.versions:
        noisy = close_talk(clean, rng) if version == "close" else far_field(clean, rng)
        out[version] = v.normalise_level(noisy, rng)
    return out


def synthesise_emo(seed: int, item: VoiceItem) -> np.ndarray:
    voice = v.random_voice(v.item_rng(seed, _STREAM_EMO_SPEAKERS, item.speaker_number), timbre_db=TIMBRE_DB)
    rng = v.item_rng(seed, _STREAM_EMO_SPEAKERS, item.speaker_number, item.index)
    style = scaled_style(STYLES[item.style], float(rng.uniform(0.6, 1.3)))
    plan = v.plan_utterance(session_voice(voice, rng), rng, item.seconds, style)
    # the style's loudness is kept relative to a per-speaker level, not normalised away
    level = -24.0 + style.energy_db + float(rng.uniform(-2.0, 2.0))
    return v.normalise_level(close_talk(v.render(plan, rng), rng), rng, rms_dbfs=(level - 1.0, level + 1.0))


def _write_vox(job: tuple[int, str, list[VoiceItem]]) -> None:
    seed, root, items = job
    for item in items:
        for version, wave in synthesise_vox(seed, item).items():
            v.write_flac(Path(root) / item.relative_path(version), wave)


def _write_emo(job: tuple[int, str, list[VoiceItem]]) -> None:
    seed, root, items = job
    for item in items:
        v.write_flac(Path(root) / item.relative_path("emo"), synthesise_emo(seed, item))


# --------------------------------------------------------------------------- Kaldi lists


def write_kaldi_dir(folder: Path, entries: Sequence[tuple[str, str, str]], labels: Mapping[str, str] | None = None
                    ) -> None:
    """``wav.scp``, ``utt2spk``, ``spk2utt`` (and ``utt2label``) from ``(utt, speaker, path)`` entries."""
    folder.mkdir(parents=True, exist_ok=True)
    ordered = sorted(entries)
    (folder / "wav.scp").write_text("".join(f"{u} {p}\n" for u, _s, p in ordered), encoding="utf-8")
    (folder / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s, _p in ordered), encoding="utf-8")
    by_speaker: dict[str, list[str]] = {}
    for utt, speaker, _path in ordered:
        by_speaker.setdefault(speaker, []).append(utt)
    (folder / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(by_speaker.items())),
                                    encoding="utf-8")
    if labels is not None:
        (folder / "utt2label").write_text("".join(f"{u} {labels[u]}\n" for u, _s, _p in ordered), encoding="utf-8")


def vox_trials(items: Sequence[VoiceItem], rng: np.random.Generator, nontarget_per_target: int) -> list[str]:
    """Every close-talk enrolment against every far-field test of another utterance
    of the same speaker (targets), plus ``nontarget_per_target`` random far-field
    tests of other speakers per target; sorted, without duplicates."""
    by_speaker: dict[str, list[VoiceItem]] = {}
    for item in items:
        by_speaker.setdefault(item.speaker, []).append(item)
    speakers = sorted(by_speaker)
    lines: set[str] = set()
    for speaker in speakers:
        mine = by_speaker[speaker]
        others = [it for s in speakers if s != speaker for it in by_speaker[s]]
        for enrol in mine:
            for test in mine:
                if test.index == enrol.index:
                    continue
                lines.add(f"{enrol.utt_id('close')} {test.utt_id('far')} target")
                for pick in rng.choice(len(others), size=min(nontarget_per_target, len(others)), replace=False):
                    lines.add(f"{enrol.utt_id('close')} {others[int(pick)].utt_id('far')} nontarget")
    return sorted(lines)


# --------------------------------------------------------------------------- generators


def _write_audio(root: Path, items: Sequence[VoiceItem], writer: Any, seed: int, workers: int | None) -> None:
    for item in items:
        (root / "wav" / item.split / item.speaker).mkdir(parents=True, exist_ok=True)
    v.write_items(writer, seed, root, items, workers)


def generate_synth_vox(out_dir: Path, *, seed: int = 0, workers: int | None = None, **sizes: Any) -> Path:
    """Write synth-vox (Kaldi dirs ``train/``, ``dev/``, ``eval/`` and ``wav/``) to
    ``out_dir`` and return it.  ``sizes`` are :class:`SynthVoxSizes` fields.
    Same seed and sizes -> byte-identical files; an existing identical corpus is reused."""
    def write(root: Path, config: SynthVoxSizes) -> dict[str, Any]:
        items = vox_items(seed, config)
        _write_audio(root, items, _write_vox, seed, workers)
        counts: dict[str, Any] = {}
        for split in SPLITS:
            chosen = [it for it in items if it.split == split]
            entries = [(it.utt_id(ver), it.speaker, it.relative_path(ver)) for it in chosen for ver in it.versions]
            write_kaldi_dir(root / split, entries)
            counts[split] = {"speakers": len({it.speaker for it in chosen}), "utterances": len(entries)}
            if split != "train":
                trials = vox_trials(chosen, v.item_rng(seed, _STREAM_VOX_TRIALS, SPLIT_INDEX[split]),
                                    config.nontarget_per_target)
                (root / split / "trials").write_text("".join(f"{t}\n" for t in trials), encoding="utf-8")
                counts[split]["trials"] = {"target": sum(t.endswith(" target") for t in trials),
                                           "nontarget": sum(t.endswith(" nontarget") for t in trials)}
        return {"counts": counts, "trials": "close-talk enrolment, far-field test"}

    return v.generate_corpus(out_dir, generator=VOX, version=VOX_VERSION, manifest=VOX_MANIFEST,
                             sizes_class=SynthVoxSizes, seed=seed, sizes=sizes, write=write)


def generate_synth_emo(out_dir: Path, *, seed: int = 0, workers: int | None = None, **sizes: Any) -> Path:
    """Write synth-emo (Kaldi dirs with ``utt2label``, four styles) to ``out_dir`` and
    return it.  ``sizes`` are :class:`SynthEmoSizes` fields."""
    def write(root: Path, config: SynthEmoSizes) -> dict[str, Any]:
        items = emo_items(seed, config)
        _write_audio(root, items, _write_emo, seed, workers)
        counts: dict[str, Any] = {}
        for split in SPLITS:
            chosen = [it for it in items if it.split == split]
            entries = [(it.utt_id("emo"), it.speaker, it.relative_path("emo")) for it in chosen]
            write_kaldi_dir(root / split, entries, labels={it.utt_id("emo"): it.style for it in chosen})
            counts[split] = {style: sum(it.style == style for it in chosen) for style in STYLE_NAMES}
        return {"counts": counts, "classes": list(STYLE_NAMES)}

    return v.generate_corpus(out_dir, generator=EMO, version=EMO_VERSION, manifest=EMO_MANIFEST,
                             sizes_class=SynthEmoSizes, seed=seed, sizes=sizes, write=write)


def _cache_dir(generator: str, version: int, sizes_class: type, seed: int, sizes: Mapping[str, Any]) -> Path:
    config = v.sizes_from_options(sizes_class, sizes, generator)
    return v.cache_root() / f"{generator}-v{version}-seed{seed}-{v.options_tag(asdict(config))}"


def vox_cache_dir(seed: int = 0, **sizes: Any) -> Path:
    return _cache_dir(VOX, VOX_VERSION, SynthVoxSizes, seed, sizes)


def emo_cache_dir(seed: int = 0, **sizes: Any) -> Path:
    return _cache_dir(EMO, EMO_VERSION, SynthEmoSizes, seed, sizes)


def ensure_synth_vox(seed: int = 0, **sizes: Any) -> Path:
    """The cached synth-vox for these options, generated on first use."""
    return v.ensure_generated(VOX, VOX_MANIFEST, vox_cache_dir(seed, **sizes), generate_synth_vox, seed, sizes)


def ensure_synth_emo(seed: int = 0, **sizes: Any) -> Path:
    """The cached synth-emo for these options, generated on first use."""
    return v.ensure_generated(EMO, EMO_MANIFEST, emo_cache_dir(seed, **sizes), generate_synth_emo, seed, sizes)
