"""SpecAugment masking (Park et al., Interspeech 2019) of a batch of fbank features
inside a model, in the form WeSpeaker applies it (``spec_aug`` in
``wenet-e2e/wespeaker:wespeaker/dataset/processor.py``): with probability
``probability`` an utterance gets ``time_masks`` spans and ``freq_masks`` bands set
to zero, each starting uniformly anywhere in the utterance and ``1..max_frames`` frames
(``1..max_bins`` bins) wide, cut off at the edge.

Training mode only; every draw comes from torch's generator, which the trainer seeds
per cell, like the fbank dither.
"""
from __future__ import annotations

import torch
from torch import nn

from benchsuite.api import ConfigError


class SpecAugment(nn.Module):
    """``[batch, frames, bins]`` -> the same with random time spans and frequency bands zeroed."""

    def __init__(self, probability: float, time_masks: int, max_frames: int, freq_masks: int, max_bins: int) -> None:
        super().__init__()
        if not 0.0 <= probability <= 1.0 or min(time_masks, freq_masks) < 0 or min(max_frames, max_bins) < 1:
            raise ConfigError(f"spec_augment: probability {probability} must be in [0, 1], the mask counts "
                              f"({time_masks}, {freq_masks}) at least 0 and the widths ({max_frames}, {max_bins}) "
                              f"at least 1")
        self.probability = probability
        self.time_masks = time_masks
        self.max_frames = max_frames
        self.freq_masks = freq_masks
        self.max_bins = max_bins

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not self.training or self.probability <= 0.0:
            return features
        batch, frames, bins = features.shape
        chosen = torch.rand(batch, device=features.device) < self.probability  # [batch]
        keep = torch.ones(batch, frames, bins, dtype=torch.bool, device=features.device)
        for count, width, size, axis in ((self.time_masks, self.max_frames, frames, 1),
                                         (self.freq_masks, self.max_bins, bins, 2)):
            positions = torch.arange(size, device=features.device)
            for _ in range(count):
                start = torch.randint(0, size, (batch, 1), device=features.device)
                length = torch.randint(1, width + 1, (batch, 1), device=features.device)
                inside = (positions >= start) & (positions < start + length) & chosen.unsqueeze(1)  # [batch, size]
                keep &= ~(inside.unsqueeze(2) if axis == 1 else inside.unsqueeze(1))
        return features.masked_fill(~keep, 0.0)
