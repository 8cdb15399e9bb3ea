"""Helpers for testing a benchsuite plugin, for third-party authors as much as for us.

    from benchsuite.testing import one_cell, registry_with, write_tiny_spoof_corpus

    def test_my_model_trains_and_scores(tmp_path):
        corpus = write_tiny_spoof_corpus(tmp_path / "LA")
        registry = registry_with("my-plugin")                # my entry point + the built-in LA reader
        result = one_cell(registry, "my-model", corpus, tmp_path / "runs")
        assert result["status"] == "done"

The corpus is a few dozen short utterances in the exact ASVspoof 2019 LA layout (bona fide:
harmonic tones with vibrato; spoof: the same re-quantised with noise), read by the real
``asvspoof2019-la`` reader; a small model separates it in a few epochs.  Nothing downloads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from benchsuite.cli.run import run_benchmark
from benchsuite.common.progress import Progress
from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.plugins.registry import Registry, build_registry

SAMPLE_RATE = 16000
LA_PROTOCOLS = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
                "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}
# what a spoof cell needs beside the plugin under test: the LA reader and the spoof metrics
SPOOF_BUILTINS = ("asvspoof", "spoof-metrics")


def write_tiny_spoof_corpus(root: Path, sizes: Mapping[str, int] | None = None, seconds: float = 0.4,
                            seed: int = 0) -> Path:
    """A tiny corpus in the ASVspoof 2019 LA layout under ``root``; returns ``root``."""
    import soundfile

    sizes = dict(sizes or {"train": 32, "dev": 16, "eval": 24})
    rng = np.random.default_rng(seed)
    prefix = {"train": "LA_T", "dev": "LA_D", "eval": "LA_E"}
    attacks = {"train": ["A01", "A02"], "dev": ["A01", "A02"], "eval": ["A07", "A08", "A09"]}
    (root / "ASVspoof2019_LA_cm_protocols").mkdir(parents=True, exist_ok=True)
    for split_index, (split, size) in enumerate(sizes.items()):
        folder = root / f"ASVspoof2019_LA_{split}" / "flac"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(size):
            utt = f"{prefix[split]}_{1000000 + 1000 * split_index + i}"
            speaker = f"LA_{split_index * 10 + i % 3:04d}"
            t = np.arange(int(seconds * SAMPLE_RATE * rng.uniform(0.8, 1.2))) / SAMPLE_RATE
            f0 = rng.uniform(90, 240) * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
            phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
            wave = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 6)) / 2.3
            if i % 2:
                attack = attacks[split][(i // 2) % len(attacks[split])]
                wave = np.round((wave + 0.03 * rng.standard_normal(len(wave))) * 48) / 48
                lines.append(f"{speaker} {utt} - {attack} spoof")
            else:
                lines.append(f"{speaker} {utt} - - bonafide")
            soundfile.write(str(folder / f"{utt}.flac"), wave.astype(np.float32), SAMPLE_RATE)
        (root / "ASVspoof2019_LA_cm_protocols" / LA_PROTOCOLS[split]).write_text("\n".join(lines) + "\n")
    return root


def registry_with(*entry_points: str, builtins: Iterable[str] = SPOOF_BUILTINS,
                  objects: Mapping[str, object] | None = None) -> Registry:
    """A registry of only the named entry points (yours), the built-in plugins a cell of
    theirs needs, and plugin ``objects`` registered in-process; strict, so a plugin that
    fails to load fails the test with its reason."""
    return build_registry(strict=True, only=[*entry_points, *builtins], extra=objects)


def one_cell(registry: Registry, model: str, corpus: Path | None, out: Path, *, dataset: str = "asvspoof2019-la",
             profile: str = "quick", seed: int = 1, overrides: Iterable[str] = (), device: str = "cpu",
             init_from: str | None = None) -> dict[str, Any]:
    """Train and score one cell of ``model`` on ``corpus`` (the data root of ``dataset``; None for
    an embedded dataset) into ``out``, as ``benchsuite run`` would (``init_from``: ``--init-from``, a
    cell id in ``out``); returns its stored result."""
    options = RunOptions(models=[model], datasets=[dataset], seeds=[seed], profile=profile, out=Path(out),
                         device=device, overrides=list(overrides), init_from=init_from,
                         data={dataset: DataSource(Path(corpus))} if corpus is not None else {},
                         render_report=False, command=f"benchsuite.testing.one_cell({model!r})")
    summary = run_benchmark(options, registry=registry, progress=Progress(quiet=True))
    (result,) = summary.results
    return result
