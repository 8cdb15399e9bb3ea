"""Augmentations: shape/dtype, the SNR actually achieved, alignment and
energy of reverberation, determinism under a seeded generator, probability 0
= identity, and option/list errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchsuite.api import ConfigError, DataError
from benchsuite.plugins.registry import get_registry
from benchsuite_augment.augmentations import (
    RAWBOOST_ALGOS, RawBoostParams, build_musan, build_rawboost, build_rir, build_specaugment, reverberate,
    scale_to_snr, ssi_stationary,
)
from builders_speaker import make_file_list, make_rir_list, write_lines

LENGTH = 8000


def speech_like(seed: int = 0, length: int = LENGTH) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * envelope * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(length)).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    noise = noisy.astype(np.float64) - clean.astype(np.float64)
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise ** 2))


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("musan")
    return {
        "noise": make_file_list(folder, "noise_wav_list", 3, kind="noise"),
        "music": make_file_list(folder, "music_wav_list", 2, kind="music", seconds=0.2),  # shorter than LENGTH
        "speech": make_file_list(folder, "speech_wav_list", 4, kind="speech", rate=8000),  # resampled
        "rir": make_rir_list(folder),
    }


# --------------------------------------------------------------------------- musan


@pytest.mark.parametrize("kind", ["noise", "music"])
def test_musan_achieves_the_drawn_snr(lists: dict[str, Path], kind: str) -> None:
    augment = build_musan({f"{kind}_wav_list": str(lists[kind]), f"snr_{kind}": [7.5, 7.5]})
    clean = speech_like()
    for seed in range(3):
        noisy = augment(clean, np.random.default_rng(seed))
        assert noisy.shape == clean.shape and noisy.dtype == np.float32
        assert snr_db(clean, noisy) == pytest.approx(7.5, abs=0.01)


def test_musan_snr_is_drawn_within_the_range(lists: dict[str, Path]) -> None:
    augment = build_musan({"noise_wav_list": str(lists["noise"])})
    clean = speech_like()
    values = [snr_db(clean, augment(clean, np.random.default_rng(seed))) for seed in range(20)]
    assert min(values) >= -0.01 and max(values) <= 15.01
    assert max(values) - min(values) > 5


def test_babble_snr_per_talker_and_mixture(lists: dict[str, Path]) -> None:
    clean = speech_like()
    single = build_musan({"speech_wav_list": str(lists["speech"]), "snr_speech": [15, 15], "babble_speakers": [1, 1]})
    assert snr_db(clean, single(clean, np.random.default_rng(0))) == pytest.approx(15, abs=0.01)
    mixture = build_musan({"speech_wav_list": str(lists["speech"]), "snr_speech": [15, 15], "babble_speakers": [3, 5],
                           "babble_scaling": "mixture"})
    assert snr_db(clean, mixture(clean, np.random.default_rng(1))) == pytest.approx(15, abs=0.01)
    crowd = build_musan({"speech_wav_list": str(lists["speech"]), "snr_speech": [15, 15], "babble_speakers": [4, 4]})
    assert snr_db(clean, crowd(clean, np.random.default_rng(1))) < 14  # four talkers each at 15 dB


def test_musan_is_deterministic_for_a_seeded_generator(lists: dict[str, Path]) -> None:
    options = {"noise_wav_list": str(lists["noise"]), "music_wav_list": str(lists["music"]),
               "speech_wav_list": str(lists["speech"])}
    first, second = build_musan(options), build_musan(options)
    clean = speech_like()
    for seed in range(4):
        np.testing.assert_array_equal(first(clean, np.random.default_rng(seed)),
                                      second(clean, np.random.default_rng(seed)))
    outputs = {first(clean, np.random.default_rng(seed)).tobytes() for seed in range(6)}
    assert len(outputs) == 6


def test_probability_zero_is_identity_for_every_augmentation(lists: dict[str, Path]) -> None:
    clean = speech_like()
    waveform_augments = [
        build_musan({"noise_wav_list": str(lists["noise"]), "probability": 0}),
        build_rir({"rir_list": str(lists["rir"]), "probability": 0.0}),
        build_rawboost({"probability": 0}),
    ]
    for augment in waveform_augments:
        out = augment(clean, np.random.default_rng(0))
        np.testing.assert_array_equal(out, clean)
    features = np.random.default_rng(0).standard_normal((50, 20)).astype(np.float32)
    np.testing.assert_array_equal(build_specaugment({"probability": 0})(features, np.random.default_rng(0)), features)


def test_probability_applies_to_about_that_share(lists: dict[str, Path]) -> None:
    augment = build_musan({"noise_wav_list": str(lists["noise"]), "probability": 0.3})
    clean = speech_like(length=400)
    changed = sum(not np.array_equal(augment(clean, np.random.default_rng(s)), clean) for s in range(200))
    assert 40 <= changed <= 80


def test_musan_list_and_option_errors(tmp_path: Path, lists: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"needs at least one of noise_wav_list, music_wav_list"):
        build_musan({})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) snr_nosie"):
        build_musan({"noise_wav_list": str(lists["noise"]), "snr_nosie": [0, 5]})
    with pytest.raises(ConfigError, match=r"snr_noise=\[10, 5\]; expected \[low, high\]"):
        build_musan({"noise_wav_list": str(lists["noise"]), "snr_noise": [10, 5]})
    with pytest.raises(ConfigError, match=r"probability=1\.5; expected a number in \[0\.0, 1\.0\]"):
        build_musan({"noise_wav_list": str(lists["noise"]), "probability": 1.5})
    with pytest.raises(DataError, match=r"MUSAN noise list not found"):
        build_musan({"noise_wav_list": str(tmp_path / "nope")})
    write_lines(tmp_path / "broken_list", [f"gone-{i}.wav" for i in range(12)])
    with pytest.raises(DataError, match=r"12 of 12 MUSAN music files are missing:(\n  .*){10}\n  \.\.\. and 2 more"):
        build_musan({"music_wav_list": str(tmp_path / "broken_list")})


def test_scale_to_snr_formula() -> None:
    clean = speech_like()
    noise = np.random.default_rng(0).standard_normal(LENGTH)
    assert snr_db(clean, clean + scale_to_snr(clean, noise, -3.0)) == pytest.approx(-3.0, abs=1e-9)
    assert not np.any(scale_to_snr(clean, np.zeros(LENGTH), 5.0))


# --------------------------------------------------------------------------- rir


def test_rir_output_is_aligned_and_keeps_energy_and_length(lists: dict[str, Path]) -> None:
    augment = build_rir({"rir_list": str(lists["rir"])})
    # white noise: its autocorrelation has one peak, so the correlation peak is the direct path
    clean = (0.1 * np.random.default_rng(9).standard_normal(LENGTH)).astype(np.float32)
    wet = augment(clean, np.random.default_rng(0))
    assert wet.shape == clean.shape and wet.dtype == np.float32
    assert np.sum(wet.astype(np.float64) ** 2) == pytest.approx(np.sum(clean.astype(np.float64) ** 2), rel=1e-4)
    lags = np.arange(-100, 101)
    correlation = [np.dot(clean[max(0, -k):LENGTH - max(0, k)], wet[max(0, k):LENGTH - max(0, -k)]) for k in lags]
    assert lags[int(np.argmax(correlation))] == 0
    assert not np.allclose(wet, clean, atol=1e-3)
    np.testing.assert_array_equal(wet, build_rir({"rir_list": str(lists["rir"])})(clean, np.random.default_rng(0)))


def test_delayed_impulse_is_the_identity() -> None:
    clean = speech_like()
    impulse = np.zeros(300)
    impulse[120] = 0.4
    np.testing.assert_allclose(reverberate(clean, impulse), clean, atol=1e-6)


def test_rir_needs_its_list() -> None:
    with pytest.raises(ConfigError, match=r"needs option rir_list"):
        build_rir({})


# --------------------------------------------------------------------------- rawboost


@pytest.mark.parametrize("algo", sorted(RAWBOOST_ALGOS))
def test_rawboost_algorithms_shape_dtype_determinism(algo: int) -> None:
    augment = build_rawboost({"algo": algo})
    clean = speech_like()
    out = augment(clean, np.random.default_rng(5))
    assert out.shape == clean.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert not np.allclose(out, clean)
    np.testing.assert_array_equal(out, build_rawboost({"algo": algo})(clean, np.random.default_rng(5)))
    assert not np.array_equal(out, augment(clean, np.random.default_rng(6)))


def test_rawboost_stationary_noise_hits_the_snr() -> None:
    clean = speech_like().astype(np.float64)
    params = RawBoostParams(algo=3, snr_min=20.0, snr_max=20.0)
    noisy = ssi_stationary(clean, np.random.default_rng(0), params)
    ratio = np.linalg.norm(clean) / np.linalg.norm(noisy - clean)
    assert 20 * np.log10(ratio) == pytest.approx(20.0, abs=1e-9)


def test_rawboost_impulsive_noise_touches_at_most_p_percent() -> None:
    clean = speech_like()
    out = build_rawboost({"algo": 2, "p": 5})(clean, np.random.default_rng(1))
    changed = np.count_nonzero(~np.isclose(out, clean, atol=1e-7))
    assert 0 < changed <= 0.05 * LENGTH


def test_rawboost_linear_convolutive_noise_is_a_zero_mean_filtering() -> None:
    clean = speech_like()
    out = build_rawboost({"algo": 1, "n_f": 1})(clean, np.random.default_rng(2))
    assert abs(float(np.mean(out))) < 1e-6
    assert np.max(np.abs(out)) <= 1.0 + 1e-6
    # a cascade of notches keeps most of the 180 Hz tone's correlation with the input
    assert np.corrcoef(out, clean)[0, 1] > 0.3


def test_rawboost_option_errors() -> None:
    with pytest.raises(ConfigError, match=r"algo=9; expected 1-8"):
        build_rawboost({"algo": 9})
    with pytest.raises(ConfigError, match=r"snr_min=40\.0 exceeds snr_max=10\.0"):
        build_rawboost({"snr_min": 40, "snr_max": 10})
    with pytest.raises(ConfigError, match=r"n_bands=2\.5; expected an integer"):
        build_rawboost({"n_bands": 2.5})


# --------------------------------------------------------------------------- specaugment


def test_specaugment_masks_bands_and_spans() -> None:
    features = np.random.default_rng(0).standard_normal((100, 80)).astype(np.float32) + 5
    augment = build_specaugment({"freq_masks": 2, "max_freq_width": 10, "time_masks": 2, "max_time_width": 20})
    out = augment(features, np.random.default_rng(3))
    assert out.shape == features.shape and out.dtype == np.float32
    masked_bins = np.all(out == 0, axis=0)
    masked_frames = np.all(out == 0, axis=1)
    assert 0 < masked_bins.sum() <= 20 and 0 < masked_frames.sum() <= 40
    untouched = ~masked_bins[None, :] & ~masked_frames[:, None]
    np.testing.assert_array_equal(out[untouched], features[untouched])
    np.testing.assert_array_equal(out, augment(features, np.random.default_rng(3)))
    assert features.min() > 0  # the input array is not modified in place


def test_specaugment_mean_fill_and_shape_check() -> None:
    features = np.arange(200, dtype=np.float32).reshape(20, 10)
    out = build_specaugment({"time_masks": 0, "freq_masks": 1, "max_freq_width": 10, "mask_value": "mean"})(
        features, np.random.default_rng(1))
    filled = np.isclose(out, features.mean()) & ~np.isclose(features, features.mean())
    assert filled.any()
    with pytest.raises(ConfigError, match=r"expects a \[frames, bins\] feature array, got shape \(200,\)"):
        build_specaugment({})(features.ravel(), np.random.default_rng(0))


def test_registered_augmentations_and_stages() -> None:
    registry = get_registry()
    stages = {name: registry.augmentations.get(name).spec.stage for name in ("musan", "rir", "rawboost", "specaugment")}
    assert stages == {"musan": "waveform", "rir": "waveform", "rawboost": "waveform", "specaugment": "features"}


def test_augmentations_pickle_for_spawned_workers(lists: dict[str, Path]) -> None:
    import pickle

    clean = speech_like()
    for augment in (build_musan({"noise_wav_list": str(lists["noise"]), "speech_wav_list": str(lists["speech"])}),
                    build_rir({"rir_list": str(lists["rir"])}), build_rawboost({"algo": 4})):
        copy = pickle.loads(pickle.dumps(augment))
        np.testing.assert_array_equal(copy(clean, np.random.default_rng(11)), augment(clean, np.random.default_rng(11)))
    features = np.ones((30, 12), dtype=np.float32)
    mask = build_specaugment({})
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mask))(features, np.random.default_rng(2)),
                                  mask(features, np.random.default_rng(2)))
