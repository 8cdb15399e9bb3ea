"""Time to generate the embedded corpora at their default sizes.

Run with
``.venv/bin/python -m pytest benchmarks/test_bench_synth.py --benchmark-only --benchmark-enable``.
Each corpus is generated once per round into a fresh directory (generation
reuses an existing identical corpus, so a second run into the same folder
would measure nothing).  ``BENCH_SYNTH_WORKERS`` sets the worker processes
(default 1: the single-core figure the issue asks for); the audio does not
depend on it.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Callable

import pytest

from benchsuite_synth.la import generate_synth_la
from benchsuite_synth.vox import generate_synth_emo, generate_synth_vox

WORKERS = int(os.environ.get("BENCH_SYNTH_WORKERS", "1"))


@pytest.mark.parametrize("name, generate", [
    ("synth-la", generate_synth_la),
    ("synth-vox", generate_synth_vox),
    ("synth-emo", generate_synth_emo),
])
def test_generate_default_corpus(benchmark, tmp_path: Path, name: str, generate: Callable[..., Path]) -> None:
    counter = itertools.count()

    def fresh_target() -> tuple[tuple[Path], dict]:
        return (tmp_path / f"{name}-{next(counter)}",), {"seed": 0, "workers": WORKERS}

    root = benchmark.pedantic(generate, setup=fresh_target, rounds=1, iterations=1)
    files = sum(1 for p in root.rglob("*.flac"))
    benchmark.extra_info.update({"corpus": name, "workers": WORKERS, "flac_files": files,
                                 "megabytes": round(sum(p.stat().st_size for p in root.rglob("*")) / 1e6, 1)})
    assert files > 0
