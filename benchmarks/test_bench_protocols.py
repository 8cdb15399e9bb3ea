"""How long indexing a corpus takes (no audio is opened).

Run with ``make benchmark`` or
``.venv/bin/python -m pytest benchmarks/test_bench_protocols.py --benchmark-only --benchmark-enable``.
The real ASVspoof 2019 LA protocols come from ../shared/reference (skipped
when absent); the In-the-Wild list is generated at its real size."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchsuite_datasets.asvspoof import ASVspoof2019LA, parse_cm_protocol
from benchsuite_datasets.in_the_wild import parse_meta_csv

REFERENCE_DIR = Path(os.environ.get("BENCHSUITE_REFERENCE_DIR",
                                    Path(__file__).resolve().parents[1].parent / "shared" / "reference"))
PROTOCOLS = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
             "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}
IN_THE_WILD_CLIPS = 31779  # 19,963 bona fide + 11,816 spoof


@pytest.fixture(scope="module")
def la2019(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official protocol and ASV score files linked into the LA layout."""
    source = REFERENCE_DIR / "asvspoof2019_la"
    if not source.is_dir():
        pytest.skip(f"official reference files not found at {REFERENCE_DIR}")
    la = tmp_path_factory.mktemp("bench-la2019") / "LA"
    (la / "ASVspoof2019_LA_cm_protocols").mkdir(parents=True)
    (la / "ASVspoof2019_LA_asv_scores").mkdir()
    for name in PROTOCOLS.values():
        os.symlink(source / name, la / "ASVspoof2019_LA_cm_protocols" / name)
    for split in ("dev", "eval"):
        name = f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
        os.symlink(source / name, la / "ASVspoof2019_LA_asv_scores" / name)
    return la


def test_parse_2019_la_eval_protocol(benchmark, la2019: Path) -> None:
    """The 71,237-line eval protocol: must stay well under a second."""
    protocol = la2019 / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS["eval"]
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
