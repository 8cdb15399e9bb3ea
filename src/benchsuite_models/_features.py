"""Hand-crafted anti-spoofing front ends in torch: LFCC, CQCC and deltas.

Every fixed part (windows, filter banks, DCT matrices, CQT plans) is computed
once in float64 with numpy and held as a buffer, so a module moved to CUDA
computes features there and nothing is rebuilt per step.  Inputs are
``[batch, samples]`` float waveforms; outputs are ``[batch, frames, dims]``.

Two LFCC conventions exist in the ASVspoof 2021 baselines and both are kept
selectable, because each baseline was trained on its own:

- B03 LFCC-LCNN (``LA/Baseline-LFCC-LCNN/sandbox/util_frontend.py``): torch.stft
  framing centred on ``t * hop`` with ``n_fft // 2`` zeros of padding, 0.97
  pre-emphasis, the filter-bank frequency axis spread by ``linspace`` over the
  kept bins, c0 replaced by the log energy, deltas ``x[t+1] - x[t-1]``;
- B02 LFCC-GMM (``LA/Baseline-LFCC-GMM/matlab/LFCC/lfcc_bp.m``): MATLAB
  ``buffer`` framing from sample 0 with a zero-padded tail, symmetric Hamming,
  true bin frequencies, no pre-emphasis, HTK regression deltas.

CQCC follows ``LA/Baseline-CQCC-GMM/matlab/CQCC/cqcc.m`` and the 2013 CQT
toolbox (non-stationary Gabor CQT, ``rasterize='full'``).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchsuite.api import ConfigError, DataError

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # the LCNN reference's log floor
FLOAT64_EPS = float(np.finfo(np.float64).eps)  # MATLAB ``eps``, the GMM baselines' log floor


# --------------------------------------------------------------------------- fixed matrices


def dct_matrix(size: int, keep: int | None = None) -> np.ndarray:
    """Orthonormal DCT-II as a ``[size, keep]`` matrix: ``x @ M`` transforms the last axis
    (MATLAB ``dct`` and scipy ``dct(norm='ortho')``)."""
    keep = size if keep is None else keep
    n = np.arange(size)[:, None]
    k = np.arange(keep)[None, :]
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * math.sqrt(2.0 / size)
    basis[:, 0] /= math.sqrt(2.0)
    return basis


def triangular_filterbank(frequencies: np.ndarray, low_hz: float, high_hz: float, n_filters: int) -> np.ndarray:
    """Triangles with edges ``linspace(low, high, n + 2)`` sampled at ``frequencies``
    (MATLAB ``trimf``), as a ``[len(frequencies), n_filters]`` matrix."""
    edges = np.linspace(low_hz, high_hz, n_filters + 2)
    bank = np.zeros((len(frequencies), n_filters))
    for i in range(n_filters):
        left, centre, right = edges[i], edges[i + 1], edges[i + 2]
        rising = (frequencies - left) / (centre - left)
        falling = (right - frequencies) / (right - centre)
        bank[:, i] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def window_function(name: str, length: int) -> np.ndarray:
    """``hamming``/``hann`` periodic (torch default) or ``*_symmetric`` (MATLAB default)."""
    kinds = {"hamming": (0.54, 0.46), "hann": (0.5, 0.5)}
    base, symmetric = name.removesuffix("_symmetric"), name.endswith("_symmetric")
    if base not in kinds:
        raise ConfigError(f"unknown window {name!r}; expected hamming, hann, hamming_symmetric or hann_symmetric")
    a, b = kinds[base]
    denominator = length - 1 if symmetric else length
    return a - b * np.cos(2 * np.pi * np.arange(length) / max(denominator, 1))


# --------------------------------------------------------------------------- deltas


def deltas(features: torch.Tensor, half_width: int = 1, normalize: bool = True) -> torch.Tensor:
    """Regression deltas along time of ``[batch, frames, dims]``, edges replicated:
    ``sum_m m * (x[t+m] - x[t-m])``, divided by ``2 * sum m^2`` when ``normalize``
    (HTK; the MATLAB baselines).  ``half_width=1, normalize=False`` is the LCNN
    reference's ``x[t+1] - x[t-1]``."""
    frames = features.shape[1]
    padded = F.pad(features.transpose(1, 2), (half_width, half_width), mode="replicate").transpose(1, 2)
    out = torch.zeros_like(features)
    for m in range(1, half_width + 1):
        out = out + m * (padded[:, half_width + m:half_width + m + frames] - padded[:, half_width - m:half_width - m + frames])
    if normalize:
        out = out / (2 * sum(m * m for m in range(1, half_width + 1)))
    return out


def with_deltas(static: torch.Tensor, order: int, half_width: int, normalize: bool) -> torch.Tensor:
    """``[static, delta, delta-delta, ...]`` concatenated on the feature axis."""
    parts = [static]
    for _ in range(order):
        parts.append(deltas(parts[-1], half_width, normalize))
    return torch.cat(parts, dim=-1)


# --------------------------------------------------------------------------- LFCC


class LFCC(nn.Module):
    """Linear-frequency cepstral coefficients with deltas.

    ``framing``: ``"centered"`` (torch.stft, ``center=True``, zero padding) or
    ``"buffer"`` (MATLAB ``buffer(x, n, n - hop, 'nodelay')``).
    ``frequency_grid``: ``"linspace"`` (LCNN reference: the kept bins are given
    the frequencies ``(sr/2) * linspace(min, max, n_bins)``) or ``"bins"`` (true
    FFT bin frequencies, kept from the bin closest to ``min_hz`` to the one
    closest to ``max_hz`` inclusive).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        frame_length: int = 320,
        hop_length: int = 160,
        n_fft: int = 1024,
        n_filters: int = 20,
        n_coefficients: int = 20,
        min_hz: float = 0.0,
        max_hz: float = 4000.0,
        window: str = "hamming",
        pre_emphasis: float = 0.97,
        framing: str = "centered",
        frequency_grid: str = "linspace",
        energy_as_c0: bool = True,
        log_floor: float = FLOAT32_EPS,
        delta_order: int = 2,
        delta_half_width: int = 1,
        delta_normalize: bool = False,
    ) -> None:
        super().__init__()
        if framing not in ("centered", "buffer"):
            raise ConfigError(f"LFCC framing {framing!r}; expected 'centered' or 'buffer'")
        if frequency_grid not in ("linspace", "bins"):
            raise ConfigError(f"LFCC frequency_grid {frequency_grid!r}; expected 'linspace' or 'bins'")
        if not 0 <= min_hz < max_hz <= sample_rate / 2:
            raise ConfigError(f"LFCC band {min_hz}-{max_hz} Hz is not inside 0-{sample_rate / 2} Hz")
        if frame_length > n_fft:
            raise ConfigError(f"LFCC frame_length {frame_length} exceeds n_fft {n_fft}")
        if n_coefficients > n_filters:
            raise ConfigError(f"LFCC n_coefficients {n_coefficients} exceeds n_filters {n_filters}")
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.n_fft = n_fft
        self.pre_emphasis = pre_emphasis
        self.framing = framing
        self.energy_as_c0 = energy_as_c0
        self.log_floor = log_floor
        self.delta_order = delta_order
        self.delta_half_width = delta_half_width
        self.delta_normalize = delta_normalize

        n_bins = n_fft // 2 + 1
        if frequency_grid == "linspace":
            # The reference keeps bins [int(lo * n_bins), int(hi * n_bins)) with lo/hi as
            # fractions of Nyquist and spreads those bins evenly over lo..hi (not the
            # exact bin frequencies); reproduced because the trained weights assume it.
            lo, hi = min_hz / (sample_rate / 2), max_hz / (sample_rate / 2)
            first, last = int(lo * n_bins), int(hi * n_bins)
            frequencies = (sample_rate / 2) * np.linspace(lo, hi, last - first)
            low_edge, high_edge = frequencies.min(), frequencies.max()
        else:
            bin_hz = (sample_rate / 2) * np.linspace(0, 1, n_bins)
            first = int(np.argmin(np.abs(bin_hz - min_hz)))
            last = int(np.argmin(np.abs(bin_hz - max_hz))) + 1
            frequencies = bin_hz[first:last]
            low_edge, high_edge = min_hz, max_hz
        self.first_bin, self.last_bin = first, last
        bank = triangular_filterbank(frequencies, low_edge, high_edge, n_filters)
        self.register_buffer("window", torch.tensor(window_function(window, frame_length), dtype=torch.float32),
                             persistent=False)
        self.register_buffer("filterbank", torch.tensor(bank, dtype=torch.float32), persistent=False)
        self.register_buffer("dct", torch.tensor(dct_matrix(n_filters, n_coefficients), dtype=torch.float32),
                             persistent=False)

    @property
    def dims(self) -> int:
        return self.dct.shape[1] * (1 + self.delta_order)

    def num_frames(self, samples: int) -> int:
        if self.framing == "centered":
            return 1 + samples // self.hop_length
        overlap = self.frame_length - self.hop_length
        return max(1, math.ceil((samples - overlap) / self.hop_length))

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[batch, frames, frame_length]`` windowed frames, before zero padding to ``n_fft``."""
        samples = waveforms.shape[-1]
        count = self.num_frames(samples)
        if self.framing == "centered":
            # torch.stft(center=True) pads n_fft // 2 zeros and centres the shorter
            # window inside each n_fft frame; only those frame_length samples are non-zero.
            left = self.n_fft // 2 - (self.n_fft - self.frame_length) // 2
        else:
            left = 0
        right = max(0, (count - 1) * self.hop_length + self.frame_length - left - samples)
        padded = F.pad(waveforms, (left, right))
        framed = padded.unfold(-1, self.frame_length, self.hop_length)[:, :count]
        return framed * self.window

    def power_spectrum(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[batch, frames, kept bins]`` power spectrum."""
        if self.pre_emphasis:
            # the first sample is kept as it is, like the reference
            waveforms = torch.cat([waveforms[:, :1], waveforms[:, 1:] - self.pre_emphasis * waveforms[:, :-1]], dim=1)
        spectrum = torch.fft.rfft(self.frames(waveforms), n=self.n_fft, dim=-1)[..., self.first_bin:self.last_bin]
        return spectrum.real.square() + spectrum.imag.square()

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise DataError(f"LFCC expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        power = self.power_spectrum(waveforms.float())
        cepstra = torch.log10(power @ self.filterbank + self.log_floor) @ self.dct
        if self.energy_as_c0:
            energy = torch.log10((power / self.n_fft).sum(dim=-1) + self.log_floor)
            cepstra = torch.cat([energy.unsqueeze(-1), cepstra[..., 1:]], dim=-1)
        return with_deltas(cepstra, self.delta_order, self.delta_half_width, self.delta_normalize)


def lcnn_lfcc(sample_rate: int = 16000) -> LFCC:
    """The ASVspoof 2021 B03 front end: 20 ms / 10 ms, FFT 1024, 20 filters over 0-4 kHz,
    energy in c0, + delta + delta-delta = 60 dims."""
    return LFCC(sample_rate=sample_rate)


def gmm_lfcc(sample_rate: int = 16000, n_coefficients: int = 19) -> LFCC:
    """The ASVspoof 2021 B02 front end as in the MATLAB baseline (``lfcc_bp.m`` with
    ``LFCC_GMM_ASVspoof_2021_baseline.m``): 30 ms frames every 15 ms, symmetric
    Hamming, FFT 1024, 70 filters over 0-4 kHz, 19 coefficients including c0,
    + delta + delta-delta (HTK regression, N = 1) = 57 dims.  (The Python port
    keeps 20 coefficients and un-normalised deltas.)"""
    frame = round(0.030 * sample_rate)
    return LFCC(
        sample_rate=sample_rate, frame_length=frame, hop_length=frame // 2, n_fft=1024, n_filters=70,
        n_coefficients=n_coefficients, min_hz=0.0, max_hz=4000.0, window="hamming_symmetric", pre_emphasis=0.0,
        framing="buffer", frequency_grid="bins", energy_as_c0=False, log_floor=FLOAT64_EPS,
        delta_order=2, delta_half_width=1, delta_normalize=True,
    )


# --------------------------------------------------------------------------- CQCC


def _matlab_round(values: np.ndarray) -> np.ndarray:
    """MATLAB ``round`` (halves away from zero), not numpy's round-half-to-even."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


class _CqtPlan:
    """Where each constant-Q channel reads the spectrum of an ``Ls``-sample signal."""

    def __init__(self, spectrum_index: torch.Tensor, conjugate: torch.Tensor, weights: torch.Tensor, scale: float):
        self.spectrum_index = spectrum_index  # [K, M] rfft bin read at each slot
        self.conjugate = conjugate  # [K, M] slot reads a negative frequency
        self.weights = weights  # [K, M] Hann window value, 0 outside the channel
        self.scale = scale


class CQCC(nn.Module):
    """Constant-Q cepstral coefficients as ``cqcc.m`` (Todisco et al., 2016) computes them.

    The CQT is the toolbox's non-stationary Gabor transform (``nsgcqwin`` +
    ``nsgtf_real``): channel ``k`` at ``fmin * 2^(k/B)`` Hz with bandwidth
    ``Q f_k + gamma`` takes a Hann-weighted slice of the whole-signal FFT and
    inverse-transforms it; with ``rasterize='full'`` every channel has the
    top channel's number of coefficients ``M``, so frames are ``Ls / M``
    samples apart (about 2 ms with the LA settings).  Then ``log(|c|^2 + eps)``,
    cubic-spline (not-a-knot) resampling onto a uniform grid of ``fmin / d``
    Hz from the first to the last channel frequency, an orthonormal DCT,
    coefficients 0..``n_coefficients - 1``, and HTK deltas with
    ``delta_half_width`` (``cqcc.m`` calls ``Deltas(x, 3)``).

    Only magnitudes are used, so the toolbox's circular shifts (phase only)
    are skipped.  Interpolation and DCT are one fixed ``[K, n_coefficients]``
    matrix.  Per-length CQT plans are cached.
    """

    def __init__(self, *, sample_rate: int = 16000, bins_per_octave: int = 12, fmin: float = 62.5,
                 fmax: float = 4000.0, uniform_per_octave: int = 16, n_coefficients: int = 20,
                 gamma: float | None = None, delta_order: int = 2, delta_half_width: int = 3,
                 plan_cache_size: int = 64) -> None:
        super().__init__()
        if not 0 < fmin < fmax:
            raise ConfigError(f"CQCC needs 0 < fmin < fmax; got fmin {fmin}, fmax {fmax}")
        self.sample_rate = sample_rate
        self.bins_per_octave = bins_per_octave
        self.delta_order = delta_order
        self.delta_half_width = delta_half_width
        self.plan_cache_size = plan_cache_size
        nyquist = sample_rate / 2
        fmax = min(fmax, nyquist)
        b = bins_per_octave
        self.gamma = 228.7 * (2 ** (1 / b) - 2 ** (-1 / b)) if gamma is None else gamma
        centres = fmin * 2.0 ** (np.arange(math.floor(b * math.log2(fmax / fmin)) + 1) / b)
        bandwidths = (2 ** (1 / b) - 2 ** (-1 / b)) * centres + self.gamma
        # nsgcqwin drops channels reaching past Nyquist or below 0 Hz
        above = np.nonzero(centres + bandwidths / 2 > nyquist)[0]
        if len(above):
            centres, bandwidths = centres[:above[0]], bandwidths[:above[0]]
        below = np.nonzero(centres - bandwidths / 2 < 0)[0]
        if len(below):
            centres, bandwidths = centres[below[-1] + 1:], bandwidths[below[-1] + 1:]
        if len(centres) < 4:
            raise ConfigError(f"CQCC: only {len(centres)} constant-Q channels between {fmin} and {fmax} Hz")
        self.centres_hz = centres
        self.bandwidths_hz = bandwidths
        channel_hz = fmin * 2.0 ** (np.arange(len(centres)) / b)  # cqcc.m's FreqVec
        step = fmin * (2 ** (math.log2(1 + 1 / uniform_per_octave)) - 1)  # = fmin / d
        count = int(math.floor((channel_hz[-1] - channel_hz[0]) / step + 1e-9)) + 1
        uniform_hz = channel_hz[0] + step * np.arange(count)
        from scipy.interpolate import CubicSpline

        spline = CubicSpline(channel_hz, np.eye(len(channel_hz)), bc_type="not-a-knot", axis=0)(uniform_hz)
        if n_coefficients > count:
            raise ConfigError(f"CQCC n_coefficients {n_coefficients} exceeds the {count} uniform frequency samples")
        cepstral = spline.T @ dct_matrix(count, n_coefficients)  # [K, n_coefficients]
        self.register_buffer("cepstral_map", torch.tensor(cepstral, dtype=torch.float32), persistent=False)
        self._plans: OrderedDict[tuple[int, str], _CqtPlan] = OrderedDict()

    @property
    def dims(self) -> int:
        return self.cepstral_map.shape[1] * (1 + self.delta_order)

    @property
    def channels(self) -> int:
        return self.cepstral_map.shape[0]

    def num_frames(self, samples: int) -> int:
        top = _matlab_round(np.array([self.bandwidths_hz[-1] * samples / self.sample_rate]))[0]
        return int(max(top, 4))

    def _plan(self, samples: int, device: torch.device) -> _CqtPlan:
        key = (samples, str(device))
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
            return plan
        resolution = self.sample_rate / samples
        widths = np.maximum(_matlab_round(self.bandwidths_hz / resolution), 4).astype(np.int64)  # min_win 4
        starts = np.floor(self.centres_hz / resolution).astype(np.int64)
        slots = int(widths[-1])  # rasterize='full': every channel gets the top channel's M
        m = np.arange(slots)[None, :]
        width = widths[:, None]
        # slot m holds offset j = m (m < ceil(w/2)) or j = m - M (last floor(w/2) slots)
        offset = np.where(m < (width + 1) // 2, m, m - slots)
        inside = (m < (width + 1) // 2) | (m >= slots - width // 2)
        weights = np.where(inside, 0.5 + 0.5 * np.cos(2 * np.pi * offset / width), 0.0)
        index = np.mod(starts[:, None] + offset, samples)
        conjugate = index > samples // 2  # real signal: X[Ls - i] = conj(X[i])
        index = np.where(conjugate, samples - index, index)
        plan = _CqtPlan(torch.tensor(index, device=device), torch.tensor(conjugate, device=device),
                        torch.tensor(weights, dtype=torch.float32, device=device), 2.0 * slots / samples)
        self._plans[key] = plan
        while len(self._plans) > self.plan_cache_size:
            self._plans.popitem(last=False)
        return plan

    def constant_q_magnitude(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[batch, channels, frames]`` |CQT| with the toolbox's 'sine' normalisation."""
        if waveforms.dim() != 2:
            raise DataError(f"CQCC expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        plan = self._plan(waveforms.shape[1], waveforms.device)
        spectrum = torch.fft.rfft(waveforms.float(), dim=-1)
        gathered = spectrum[:, plan.spectrum_index]  # [B, K, M]
        gathered = torch.where(plan.conjugate, gathered.conj(), gathered) * plan.weights
        return torch.fft.ifft(gathered, dim=-1).abs() * plan.scale

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        magnitude = self.constant_q_magnitude(waveforms)
        log_power = torch.log(magnitude.square() + FLOAT64_EPS)
        cepstra = log_power.transpose(1, 2) @ self.cepstral_map  # [B, M, n_coefficients]
        return with_deltas(cepstra, self.delta_order, self.delta_half_width, normalize=True)
