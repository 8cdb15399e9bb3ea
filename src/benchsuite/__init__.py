"""benchsuite: a plugin-based benchmark suite for speech anti-spoofing,
speaker verification and utterance classification."""

__version__ = "0.1.0"
