"""How long indexing a corpus takes (no audio is opened).

Run with ``make benchmark`` or
``.venv/bin/python -m pytest benchmarks/test_bench_protocols.py --benchmark-only --benchmark-enable``.
The real ASVspoof 2019 LA protocols come from ../shared/reference (skipped
when absent); the In-the-Wild list is generated at its real size."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from benchsuite_datasets.asvspoof import LA2019_PROTOCOL_DIR, LA2019_PROTOCOLS, ASVspoof2019LA, parse_cm_protocol
from benchsuite_datasets.in_the_wild import parse_meta_csv

# the fixture builders live with the tests, which pytest puts on sys.path only there
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from builders_asvspoof import reference_la2019_layout  # noqa: E402

REFERENCE_DIR = Path(os.environ.get("BENCHSUITE_REFERENCE_DIR",
                                    Path(__file__).resolve().parents[1].parent / "shared" / "reference"))
IN_THE_WILD_CLIPS = 31779  # 19,963 bona fide + 11,816 spoof


@pytest.fixture(scope="module")
def la2019(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official protocol and ASV score files linked into the LA layout."""
    if not (REFERENCE_DIR / "asvspoof2019_la").is_dir():
        pytest.skip(f"official reference files not found at {REFERENCE_DIR}")
    return reference_la2019_layout(REFERENCE_DIR, tmp_path_factory.mktemp("bench-la2019"))


def test_parse_2019_la_eval_protocol(benchmark, la2019: Path) -> None:
    """The 71,237-line eval protocol: must stay well under a second."""
    protocol = la2019 / LA2019_PROTOCOL_DIR / LA2019_PROTOCOLS["eval"]
    audio_dir = la2019 / "ASVspoof2019_LA_eval" / "flac"
    utterances = benchmark(parse_cm_protocol, protocol, audio_dir, la2019)
    assert len(utterances) == 71237


def test_load_all_2019_la_splits_with_asv_scores(benchmark, la2019: Path) -> None:
    """What a run pays before training: three protocols plus both ASV score files."""
    def load() -> int:
        dataset = ASVspoof2019LA(la2019, {})
        return sum(len(dataset.load_split(split).utterances) for split in ("train", "dev", "eval"))

    assert benchmark(load) == 25380 + 24844 + 71237


def test_parse_in_the_wild_meta_csv(benchmark, tmp_path: Path) -> None:
    rows = ["file,speaker,label"] + [f"{i}.wav,Speaker {i % 58},{'spoof' if i % 8 < 3 else 'bona-fide'}"
                                     for i in range(IN_THE_WILD_CLIPS)]
    meta = tmp_path / "meta.csv"
    meta.write_text("\n".join(rows) + "\n", encoding="utf-8")
    utterances = benchmark(parse_meta_csv, meta, tmp_path)
    assert len(utterances) == IN_THE_WILD_CLIPS
