"""A tiny corpus in the PartialSpoof v1.2 layout (see :mod:`benchsuite_datasets.partialspoof`).

Bona fide utterances are harmonic tones with vibrato (as in :func:`benchsuite.testing.
write_tiny_spoof_corpus`); a partially spoofed one is a bona fide tone with one stretch in the
middle replaced by the same tone re-quantised with noise, and its segment labels mark exactly
the segments that overlap that stretch.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np

SAMPLE_RATE = 16000
PREFIX = {"train": "T", "dev": "D", "eval": "E"}
RESOLUTIONS = ("0.02", "0.16")


def tone(rng: np.random.Generator, samples: int) -> np.ndarray:
    t = np.arange(samples) / SAMPLE_RATE
    f0 = rng.uniform(90, 240) * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    return 0.3 * sum(np.sin(k * phase) / k for k in range(1, 6)) / 2.3


def segment_labels(samples: int, spoofed: tuple[int, int] | None, resolution: float) -> np.ndarray:
    """'1' per segment of ``resolution`` s without a spoofed sample, '0' otherwise; ceil(samples /
    shift) segments, the last one partial (PartialSpoof's seglab_extraction_spfin.py)."""
    shift = int(round(resolution * SAMPLE_RATE))
    count = math.ceil(samples / shift)
    labels = np.full(count, "1", dtype="<U1")
    if spoofed is not None:
        start, end = spoofed
        labels[start // shift:(end - 1) // shift + 1] = "0"
    return labels


def write_tiny_partialspoof(root: Path, sizes: Mapping[str, int] | None = None, seconds: float = 0.5,
                            seed: int = 0) -> Path:
    """``root/database/...`` with audio, lists, CM protocols and segment labels; returns ``root/database``."""
    import soundfile

    database = root / "database"
    sizes = dict(sizes or {"train": 24, "dev": 12, "eval": 16})
    rng = np.random.default_rng(seed)
    protocols = database / "protocols" / "PartialSpoof_LA_cm_protocols"
    protocols.mkdir(parents=True, exist_ok=True)
    (database / "segment_labels").mkdir(exist_ok=True)
    for split_index, (split, size) in enumerate(sizes.items()):
        audio = database / split / "con_wav"
        audio.mkdir(parents=True, exist_ok=True)
        lines, ids = [], []
        seglab: dict[str, dict[str, np.ndarray]] = {res: {} for res in RESOLUTIONS}
        for i in range(size):
            speaker = f"LA_{split_index * 10 + i % 3:04d}"
            samples = int(seconds * SAMPLE_RATE * rng.uniform(0.8, 1.2))
            wave = tone(rng, samples)
            if i % 2:
                utt = f"CON_{PREFIX[split]}_{i:07d}"
                start, end = samples // 3, samples // 3 + int(rng.uniform(0.25, 0.45) * samples)
                fake = np.round((wave[start:end] + 0.03 * rng.standard_normal(end - start)) * 48) / 48
                wave = np.concatenate([wave[:start], fake, wave[end:]])
                spoofed: tuple[int, int] | None = (start, end)
                lines.append(f"{speaker} {utt} - CON spoof")
            else:
                utt = f"LA_{PREFIX[split]}_{1000000 + 1000 * split_index + i}"
                spoofed = None
                lines.append(f"{speaker} {utt} - - bonafide")
            ids.append(utt)
            soundfile.write(str(audio / f"{utt}.wav"), wave.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
            for res in RESOLUTIONS:
                seglab[res][utt] = segment_labels(samples, spoofed, float(res))
        (protocols / f"PartialSpoof.LA.cm.{split}.trl.txt").write_text("\n".join(sorted(lines)) + "\n")
        (database / split / f"{split}.lst").write_text("\n".join(sorted(ids)) + "\n")
        for res, labels in seglab.items():
            np.save(database / "segment_labels" / f"{split}_seglab_{res}.npy", labels)
    return database
