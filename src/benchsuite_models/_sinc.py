"""Fixed mel-spaced sinc band-pass filterbank, the front end of RawNet2, RawGAT-ST and AASIST.

The published models use sinc filters whose cut-offs are fixed on a mel grid
(not learnt, as in SincNet): band ``i`` passes ``[edge_i, edge_i+1]`` Hz where the
edges split the mel range of an NFFT-512 grid from 0 Hz to Nyquist into equal
steps, and each ideal band-pass impulse response is shaped by a Hamming window.
The filters are therefore absent from the released state dicts.

The reference code rebuilds the filters in NumPy on every forward pass (RawNet2,
RawGAT-ST) or copies them to the device every step (AASIST).  Here they are
computed once and kept as a non-persistent buffer, and long kernels are applied
in the frequency domain, which gives the same output to float32 rounding.
"""
from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The reference implementations place the band edges on the mel values of an NFFT-512 grid.
_EDGE_GRID_NFFT = 512
# Direct convolution (oneDNN) is faster for short kernels, FFT filtering for long ones;
# measured on AVX2 CPUs: 129 taps roughly break even, 1,025 taps are 3-10x faster with FFT.
FFT_MIN_KERNEL = 256


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray | float:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray | float:
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_band_edges(n_filters: int, sample_rate: int = 16000) -> np.ndarray:
    """``n_filters + 1`` band edges in Hz, equally spaced in mel from 0 Hz to Nyquist."""
    grid_hz = (sample_rate // 2) * np.linspace(0.0, 1.0, _EDGE_GRID_NFFT // 2 + 1)
    grid_mel = hz_to_mel(grid_hz)
    return mel_to_hz(np.linspace(grid_mel.min(), grid_mel.max(), n_filters + 1))


def odd_kernel_size(kernel_size: int) -> int:
    """The reference code forces an odd (symmetric) filter length: 128 -> 129, 1024 -> 1025."""
    return kernel_size + 1 if kernel_size % 2 == 0 else kernel_size


def mel_sinc_filters(n_filters: int, kernel_size: int, sample_rate: int = 16000) -> torch.Tensor:
    """Hamming-windowed ideal band-pass filters, ``[n_filters, odd_kernel_size(kernel_size)]`` float32.

    Computed in float64 and rounded once; the reference multiplies float32 copies,
    which differs by at most one float32 ulp per tap."""
    taps = odd_kernel_size(kernel_size)
    half = (taps - 1) / 2
    support = np.arange(-half, half + 1, dtype=np.float64)
    window = np.hamming(taps)
    edges = mel_band_edges(n_filters, sample_rate)
    filters = np.empty((n_filters, taps), dtype=np.float64)
    for band, (low_hz, high_hz) in enumerate(zip(edges[:-1], edges[1:])):
        # difference of two ideal low-pass responses = ideal band-pass
        high = (2 * high_hz / sample_rate) * np.sinc(2 * high_hz * support / sample_rate)
        low = (2 * low_hz / sample_rate) * np.sinc(2 * low_hz * support / sample_rate)
        filters[band] = window * (high - low)
    return torch.from_numpy(filters).float()


def _smooth_fft_size(minimum: int) -> int:
    """Smallest 2-3-5-smooth integer >= ``minimum`` (pocketfft/cuFFT are fastest on these)."""
    best = 1 << (minimum - 1).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            value = power35
            while value < minimum:
                value *= 2
            best = min(best, value)
            power35 *= 3
        power5 *= 5
    return best


class FixedSincFilterbank(nn.Module):
    """``[batch, samples]`` (or ``[batch, 1, samples]``) -> ``[batch, bands, samples - taps + 1]``.

    A valid (unpadded) cross-correlation with the fixed filters, like the reference
    ``F.conv1d`` call.  ``method`` picks direct convolution, FFT filtering
    (overlap-save in blocks, so memory stays bounded on long files), or ``"auto"``
    (FFT from :data:`FFT_MIN_KERNEL` taps).  ``keep_filters`` computes only the
    first bands when a following pooling layer drops the rest.
    """

    _MAX_CACHED_SPECTRA = 8

    def __init__(self, n_filters: int, kernel_size: int, sample_rate: int = 16000, method: str = "auto",
                 keep_filters: int | None = None) -> None:
        super().__init__()
        if method not in ("auto", "direct", "fft"):
            raise ValueError(f"sinc method {method!r}: expected auto, direct or fft")
        self.n_filters = n_filters
        self.sample_rate = sample_rate
        self.taps = odd_kernel_size(kernel_size)
        self.keep_filters = n_filters if keep_filters is None else keep_filters
        self.use_fft = method == "fft" or (method == "auto" and self.taps >= FFT_MIN_KERNEL)
        # ~6x the kernel: long enough that few outputs are wasted per block, short enough for fast FFTs
        self.block_size = 1 << (6 * self.taps - 1).bit_length()
        filters = mel_sinc_filters(n_filters, kernel_size, sample_rate)[: self.keep_filters]
        # not in the state dict: the released checkpoints do not carry the fixed filters
        self.register_buffer("filters", filters.unsqueeze(1), persistent=False)
        self._spectra: dict[tuple, torch.Tensor] = {}

    def extra_repr(self) -> str:
        method = f"fft (blocks of {self.block_size})" if self.use_fft else "direct"
        return f"n_filters={self.n_filters}, taps={self.taps}, keep={self.keep_filters}, method={method}"

    def _filter_spectra(self, fft_size: int, device: torch.device) -> torch.Tensor:
        key = (fft_size, str(device))
        spectra = self._spectra.get(key)
        if spectra is None:
            if len(self._spectra) >= self._MAX_CACHED_SPECTRA:
                self._spectra.pop(next(iter(self._spectra)))
            # correlation = convolution with the reversed kernel
            reversed_filters = self.filters.squeeze(1).flip(-1).to(device=device, dtype=torch.float32)
            spectra = torch.fft.rfft(reversed_filters, n=fft_size).unsqueeze(1)  # [bands, 1, bins]
            self._spectra[key] = spectra
        return spectra

    def _apply(self, fn, recurse=True):  # device/dtype moves invalidate the cached spectra
        self._spectra = {}
        return super()._apply(fn, recurse)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() == 2:
            waveforms = waveforms.unsqueeze(1)
        if waveforms.dim() != 3 or waveforms.shape[1] != 1:
            raise ValueError(f"expected [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        length = waveforms.shape[-1]
        if length < self.taps:
            raise ValueError(f"input of {length} samples is shorter than the {self.taps}-tap sinc filters")
        if not self.use_fft:
            return F.conv1d(waveforms, self.filters.to(waveforms.dtype))
        return self._overlap_save(waveforms).to(waveforms.dtype)

    def _overlap_save(self, waveforms: torch.Tensor) -> torch.Tensor:
        # always float32: half-precision FFTs lose too much accuracy (and autocast leaves FFTs alone)
        signal = waveforms.float()
        length = signal.shape[-1]
        out_length = length - self.taps + 1
        fft_size = min(self.block_size, _smooth_fft_size(length))
        hop = fft_size - self.taps + 1  # valid outputs per block
        n_blocks = -(-out_length // hop)
        padded_length = (n_blocks - 1) * hop + fft_size
        signal = F.pad(signal, (0, padded_length - length))
        blocks = signal.unfold(-1, fft_size, hop)  # [batch, 1, blocks, fft_size]
        spectra = torch.fft.rfft(blocks, n=fft_size) * self._filter_spectra(fft_size, signal.device)
        # the first taps - 1 samples of each block hold circular wrap-around: drop them
        filtered = torch.fft.irfft(spectra, n=fft_size)[..., self.taps - 1:]
        batch, bands = filtered.shape[:2]
        return filtered.reshape(batch, bands, n_blocks * hop)[..., :out_length]


def magnitude(bands: torch.Tensor) -> torch.Tensor:
    """``|bands|``, in place when no gradient flows (the filterbank output is a fresh tensor)."""
    return bands.abs() if bands.requires_grad else bands.abs_()


def mask_filter_bands(features: torch.Tensor, max_width: int, n_filters: int) -> torch.Tensor:
    """Training-time frequency masking of the reference code (``Freq_aug``):
    zero a run of ``width`` consecutive filter bands, ``width`` uniform in
    ``[0, max_width)`` and the start uniform in ``[0, n_filters - width]``, one mask
    per batch as in the reference.  Zeroing a band's output equals zeroing its
    filter; bands beyond ``features.shape[1]`` (dropped by the pooling) are simply
    not stored.  Draws from torch's generator, so the trainer's seed fixes it."""
    if max_width <= 0:
        return features
    width = min(int(torch.randint(0, max_width, ()).item()), n_filters)
    if width == 0:
        return features
    start = int(torch.randint(0, n_filters - width + 1, ()).item())
    # the filterbank output is a fresh tensor outside autograd: zero it in place
    masked = features.clone() if features.requires_grad else features
    masked[:, start:start + width] = 0
    return masked
