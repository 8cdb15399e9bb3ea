"""Online training-time augmentations (MUSAN, RIR, RawBoost, SpecAugment): a plugin package."""
