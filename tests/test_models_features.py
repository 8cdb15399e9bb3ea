"""Front ends checked against computations written independently in numpy/scipy here."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.fft import dct as scipy_dct

from benchsuite.api import ConfigError, DataError
from benchsuite_models._features import LFCC, deltas, lcnn_lfcc


def _numpy_trimf(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    out = np.zeros_like(x)
    up = (x > a) & (x < b)
    out[up] = (x[up] - a) / (b - a)
    down = (x >= b) & (x < c)
    out[down] = (c - x[down]) / (c - b)
    return out


def _numpy_delta(x: np.ndarray) -> np.ndarray:
    """x[t+1] - x[t-1] along axis 0 with the edges repeated."""
    padded = np.concatenate([x[:1], x, x[-1:]], axis=0)
    return padded[2:] - padded[:-2]


def _numpy_b03_lfcc(wave: np.ndarray) -> np.ndarray:
    """B03 LFCC from its definition: pre-emphasis 0.97, frames of 320 centred on
    t * 160 (zeros outside), periodic Hamming, |FFT 1024|^2 bins 0..255, 20
    triangles on a 0-4 kHz axis, log10, orthonormal DCT, c0 := log10 energy,
    + delta + delta-delta."""
    emphasised = wave.astype(np.float64).copy()
    emphasised[1:] = wave[1:] - 0.97 * wave[:-1]
    frames = 1 + len(wave) // 160
    padded = np.concatenate([np.zeros(160), emphasised, np.zeros(320)])
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(320) / 320)
    power = np.empty((frames, 256))
    for t in range(frames):
        segment = padded[t * 160:t * 160 + 320] * window
        power[t] = np.abs(np.fft.fft(segment, 1024)[:256]) ** 2
    axis = np.linspace(0.0, 4000.0, 256)
    edges = np.linspace(0.0, 4000.0, 22)
    bank = np.stack([_numpy_trimf(axis, edges[i], edges[i + 1], edges[i + 2]) for i in range(20)], axis=1)
    eps = np.finfo(np.float32).eps
    ceps = scipy_dct(np.log10(power @ bank + eps), type=2, norm="ortho", axis=1)
    ceps[:, 0] = np.log10(power.sum(axis=1) / 1024 + eps)
    d1 = _numpy_delta(ceps)
    return np.concatenate([ceps, d1, _numpy_delta(d1)], axis=1)


@pytest.mark.parametrize("samples", [2400, 8001, 16000])
def test_b03_lfcc_matches_independent_numpy(samples: int) -> None:
    rng = np.random.default_rng(samples)
    waves = (0.1 * rng.standard_normal((2, samples))).astype(np.float32)
    ours = lcnn_lfcc()(torch.from_numpy(waves)).numpy()
    assert ours.shape == (2, 1 + samples // 160, 60)
    for i in range(2):
        expected = _numpy_b03_lfcc(waves[i])
        np.testing.assert_allclose(ours[i], expected, atol=1e-4, rtol=1e-4)


def _numpy_b02_lfcc(wave: np.ndarray) -> np.ndarray:
    """MATLAB lfcc_bp with the 2021 LA settings: 480-sample frames every 240 from
    sample 0 (tail zero-padded), symmetric Hamming, |FFT 1024|^2 on bins 0..256
    (0-4 kHz), 70 triangles, log10, orthonormal DCT, first 19, HTK deltas (N=1)."""
    frames = int(np.ceil((len(wave) - 240) / 240))
    padded = np.concatenate([wave.astype(np.float64), np.zeros(480)])
    window = np.hamming(480)
    power = np.stack([np.abs(np.fft.rfft(padded[t * 240:t * 240 + 480] * window, 1024)) ** 2 for t in range(frames)])
    freqs = np.arange(513) * 8000 / 512
    power, freqs = power[:, :257], freqs[:257]
    edges = np.linspace(0, 4000, 72)
    bank = np.stack([_numpy_trimf(freqs, edges[i], edges[i + 1], edges[i + 2]) for i in range(70)], axis=1)
    ceps = scipy_dct(np.log10(power @ bank + np.finfo(np.float64).eps), type=2, norm="ortho", axis=1)[:, :19]
    d1 = _numpy_delta(ceps) / 2
    return np.concatenate([ceps, d1, _numpy_delta(d1) / 2], axis=1)


def test_b02_lfcc_matches_independent_numpy() -> None:
    from benchsuite_models._features import gmm_lfcc

    rng = np.random.default_rng(3)
    wave = (0.1 * rng.standard_normal(7777)).astype(np.float32)
    ours = gmm_lfcc()(torch.from_numpy(wave)[None]).numpy()[0]
    expected = _numpy_b02_lfcc(wave)
    assert ours.shape == expected.shape == (32, 57)
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-4)


def test_regression_deltas_match_htk_formula() -> None:
    x = torch.arange(10, dtype=torch.float32).square().reshape(1, 10, 1)
    d = deltas(x, half_width=2, normalize=True)[0, :, 0].numpy()
    values = x[0, :, 0].numpy()
    padded = np.concatenate([values[:1].repeat(2), values, values[-1:].repeat(2)])
    expected = [sum(m * (padded[t + 2 + m] - padded[t + 2 - m]) for m in (1, 2)) / 10 for t in range(10)]
    np.testing.assert_allclose(d, expected, rtol=1e-6)


def test_lfcc_refuses_bad_options_and_shapes() -> None:
    with pytest.raises(ConfigError, match="n_coefficients"):
        LFCC(n_filters=10, n_coefficients=20)
    with pytest.raises(ConfigError, match="band"):
        LFCC(max_hz=9000)
    with pytest.raises(DataError, match=r"\[batch, samples\]"):
        lcnn_lfcc()(torch.zeros(16000))


# --------------------------------------------------------------------------- CQCC


def _numpy_cqt_channel(wave: np.ndarray, centre_hz: float, bandwidth_hz: float, slots: int, sr: int = 16000) -> np.ndarray:
    """|c_k[n]| of the 2013 CQT toolbox for one channel, term by term: the Hann-weighted
    FFT bins around the centre, inverse-transformed on ``slots`` points, 'sine' normalised."""
    length = len(wave)
    spectrum = np.fft.fft(wave.astype(np.float64))
    width = int(np.floor(bandwidth_hz * length / sr + 0.5))
    start = int(np.floor(centre_hz * length / sr))
    offsets = np.arange(-(width // 2), (width + 1) // 2)
    out = np.zeros(slots, dtype=complex)
    n = np.arange(slots)
    for j in offsets:
        weight = 0.5 + 0.5 * np.cos(2 * np.pi * j / width)
        out += spectrum[(start + j) % length] * weight * np.exp(2j * np.pi * j * n / slots)
    return np.abs(out) * 2.0 / length


def test_cqt_channels_match_the_toolbox_definition() -> None:
    from benchsuite_models._features import CQCC

    cqcc = CQCC()
    rng = np.random.default_rng(5)
    wave = (0.1 * rng.standard_normal(9000)).astype(np.float32)
    magnitude = cqcc.constant_q_magnitude(torch.from_numpy(wave)[None])[0].numpy()
    assert magnitude.shape == (73, cqcc.num_frames(9000))
    for k in (0, 30, 72):
        expected = _numpy_cqt_channel(wave, cqcc.centres_hz[k], cqcc.bandwidths_hz[k], magnitude.shape[1])
        np.testing.assert_allclose(magnitude[k], expected, rtol=1e-4, atol=1e-7)


def test_cqt_of_a_pure_tone_peaks_in_its_channel_with_its_amplitude() -> None:
    from benchsuite_models._features import CQCC

    cqcc = CQCC()
    t = np.arange(16000) / 16000
    for hz, channel in ((1000.0, 48), (250.0, 24)):  # 62.5 * 2^(k/12)
        tone = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        magnitude = cqcc.constant_q_magnitude(torch.from_numpy(tone)[None])[0]
        profile = magnitude[:, 50:-50].mean(dim=1)  # away from the circular edges
        assert int(profile.argmax()) == channel
        assert abs(float(profile[channel]) - 0.5) < 0.01  # 'sine' normalisation
        assert float(profile[channel + 3]) < 0.05 * float(profile[channel])


def test_cqcc_cepstra_match_spline_and_dct_in_scipy() -> None:
    from scipy.interpolate import CubicSpline

    from benchsuite_models._features import CQCC

    cqcc = CQCC()
    rng = np.random.default_rng(9)
    wave = torch.from_numpy((0.1 * rng.standard_normal(12000)).astype(np.float32))[None]
    ours = cqcc(wave)[0].numpy()
    frames = cqcc.num_frames(12000)
    assert ours.shape == (frames, 60)
    log_power = np.log(cqcc.constant_q_magnitude(wave)[0].double().numpy() ** 2 + np.finfo(float).eps)
    channel_hz = 62.5 * 2.0 ** (np.arange(73) / 12)
    uniform_hz = np.arange(62.5, 4000.0 + 1e-6, 62.5 / 16)  # fmin / d steps, 1009 points
    resampled = CubicSpline(channel_hz, log_power, axis=0)(uniform_hz)
    static = scipy_dct(resampled, type=2, norm="ortho", axis=0)[:20].T
    padded = np.concatenate([static[:1].repeat(3, 0), static, static[-1:].repeat(3, 0)])
    delta = sum(m * (padded[3 + m:3 + m + frames] - padded[3 - m:3 - m + frames]) for m in (1, 2, 3)) / 28
    np.testing.assert_allclose(ours[:, :20], static, rtol=1e-4, atol=5e-4)
    np.testing.assert_allclose(ours[:, 20:40], delta, rtol=1e-4, atol=5e-4)
