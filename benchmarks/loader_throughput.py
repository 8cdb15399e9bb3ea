"""Samples per second per CPU core for the three ways a training item reaches the
model, and from them the CPU cores one GPU needs to be fed.

1. ``decode``: soundfile FLAC decode of a whole file + a random 64,600-sample crop
   (what a DataLoader worker does per item without the cache);
2. ``cache``: the same crop from the decoded-audio cache (int16 memory map);
3. ``loader``: the full ``DataLoader`` of a training cell (``WaveformDataset``,
   ``EpochSampler``, collate, batch 24 as AASIST's paper recipe) at 0..N workers,
   each with and without the cache.

Run on a corpus of real size and real lengths, e.g. the one of
``benchsuite data synth-la --size asvspoof2019`` (or a fraction of it, or the real
LA corpus)::

    python benchmarks/loader_throughput.py --corpus DIR [--files 2000] [--max-workers N] [--json out.json]

The GPU side is an estimate, not a measurement (there is no GPU where this was
written): AASIST costs about 55 GFLOP per 4 s training sample (forward and
backward); an H100 SXM's dense bf16 peak is 989 TFLOP/s; small convolutional and
graph-attention layers use a GPU poorly, so the estimate assumes 20 % of peak
(range 10-30 %).  ``cores per GPU = GPU samples/s / loader samples/s per core``.

Timings on a shared machine are noisy: every figure is the best of ``--repeats``
passes over the same files, and the decode and cache rows run side by side in one
process.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

CROP = 64_600
BATCH = 24  # AASIST's paper batch
AASIST_GFLOP_PER_SAMPLE = 55.0
H100_BF16_DENSE_TFLOPS = 989.0
UTILISATION = 0.20
UTILISATION_RANGE = (0.10, 0.30)


def gpu_samples_per_second(utilisation: float = UTILISATION) -> float:
    return H100_BF16_DENSE_TFLOPS * 1e12 * utilisation / (AASIST_GFLOP_PER_SAMPLE * 1e9)


def training_files(corpus: Path, limit: int) -> list[Path]:
    """The first ``limit`` training files in protocol order (the LA layout), else any FLAC/WAV files."""
    protocol = corpus / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.train.trn.txt"
    if protocol.is_file():
        ids = [line.split()[1] for line in protocol.read_text().splitlines() if line.strip()]
        files = [corpus / "ASVspoof2019_LA_train" / "flac" / f"{utt}.flac" for utt in ids]
    else:
        files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".flac", ".wav"))
    if not files:
        raise SystemExit(f"--corpus {corpus}: no audio files found")
    return files[:limit]


def best_rate(items: int, run: Callable[[], None], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return items / best


def measure_items(files: list[Path], repeats: int, cache_dir: Path) -> dict[str, Any]:
    """decode+crop and cache+crop on one core (this process, torch/OpenMP at 1 thread)."""
    import soundfile

    from benchsuite.api import Utterance
    from benchsuite.common.audio import crop, read_audio
    from benchsuite.training.audio_cache import DecodedAudioCache

    utterances = [Utterance(p.stem, p, "bonafide") for p in files]
    seconds = sum(soundfile.info(str(p)).duration for p in files)
    started = time.perf_counter()
    header_reads = [soundfile.info(str(p)).frames for p in files]
    info_rate = len(header_reads) / (time.perf_counter() - started)
    rng = np.random.default_rng(0)

    def decode() -> None:
        for path in files:
            crop(read_audio(path), CROP, "random", rng)

    started = time.perf_counter()
    cache = DecodedAudioCache.build_or_open(cache_dir, "bench", utterances, 16000, read_audio)
    build_seconds = time.perf_counter() - started

    def cached() -> None:
        for index in range(len(files)):
            crop(cache.waveform(index), CROP, "random", rng)

    decode_rate = best_rate(len(files), decode, repeats)
    cache_rate = best_rate(len(files), cached, repeats)
    return {"files": len(files), "audio_seconds": round(seconds, 1), "mean_seconds": round(seconds / len(files), 3),
            "decode_crop_per_core": round(decode_rate, 1), "cache_crop_per_core": round(cache_rate, 1),
            "cache_speedup": round(cache_rate / decode_rate, 1),
            "cache_build_seconds": round(build_seconds, 2), "cache_bytes": int(cache.offsets[-1]) * 2,
            "header_reads_per_second": round(info_rate, 1)}


def measure_loader(files: list[Path], workers: int, use_cache: bool, cache_dir: Path, batches: int) -> float:
    """Samples/s of a training DataLoader over ``batches`` batches after the workers' first batch."""
    from benchsuite.api import Utterance
    from benchsuite.common.audio import read_audio
    from benchsuite.training.audio_cache import DecodedAudioCache
    from benchsuite.training.data import WaveformDataset, make_loader

    utterances = [Utterance(p.stem, p, "bonafide") for p in files]
    audio = (DecodedAudioCache.build_or_open(cache_dir, "bench", utterances, 16000, read_audio).waveform
             if use_cache else None)
    dataset = WaveformDataset(utterances, np.zeros(len(files), np.int64), sample_rate=16000, crop_samples=CROP,
                              crop_policy="random", seed=1, audio=audio)
    loader = make_loader(dataset, batch_size=BATCH, shuffle=True, seed=1, as_list=False, drop_last=True,
                         num_workers=workers, pin_memory=False, persistent_workers=False,
                         prefetch_factor=4 if workers else None)
    iterator = iter(loader)
    next(iterator)  # worker start-up is not throughput
    started = time.perf_counter()
    count = 0
    for _ in range(batches):
        try:
            waves, _, _ = next(iterator)
        except StopIteration:
            break
        count += waves.shape[0]
    elapsed = time.perf_counter() - started
    del iterator
    return count / elapsed if elapsed > 0 else 0.0


def cores_per_gpu(per_core: float) -> dict[str, Any]:
    low, high = (gpu_samples_per_second(u) for u in UTILISATION_RANGE)
    rate = gpu_samples_per_second()
    return {"gpu_samples_per_second": round(rate), "cores": round(rate / per_core, 1),
            "cores_range": [round(low / per_core, 1), round(high / per_core, 1)]}


def run(corpus: Path, n_files: int, max_workers: int, repeats: int, batches: int) -> dict[str, Any]:
    files = training_files(corpus, n_files)
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        items = measure_items(files, repeats, Path(tmp))
        loader: list[dict[str, Any]] = []
        for workers in range(0, max_workers + 1):
            for use_cache in (False, True):
                rate = measure_loader(files, workers, use_cache, Path(tmp), batches)
                cores = max(1, workers)  # workers=0: the main process decodes
                loader.append({"workers": workers, "cache": use_cache, "samples_per_second": round(rate, 1),
                               "per_core": round(rate / cores, 1)})
    best_flac = max(r["per_core"] for r in loader if not r["cache"])
    best_cache = max(r["per_core"] for r in loader if r["cache"])
    return {
        "corpus": str(corpus), "cores_here": len(os.sched_getaffinity(0)), "crop_samples": CROP, "batch": BATCH,
        "items": items, "loader": loader,
        "gpu_estimate": {"model": "AASIST", "gflop_per_sample": AASIST_GFLOP_PER_SAMPLE,
                         "peak_tflops": H100_BF16_DENSE_TFLOPS, "utilisation": UTILISATION,
                         "utilisation_range": list(UTILISATION_RANGE)},
        "cores_per_gpu": {"flac": cores_per_gpu(best_flac), "cache": cores_per_gpu(best_cache)},
    }


def table(report: dict[str, Any]) -> str:
    items = report["items"]
    lines = [f"corpus {report['corpus']}: {items['files']} training files, mean {items['mean_seconds']} s, "
             f"crop {report['crop_samples']}, {report['cores_here']} cores here",
             f"  FLAC decode + crop : {items['decode_crop_per_core']:>9.1f} samples/s per core",
             f"  cache + crop       : {items['cache_crop_per_core']:>9.1f} samples/s per core "
             f"({items['cache_speedup']}x; built in {items['cache_build_seconds']} s)",
             f"  header reads       : {items['header_reads_per_second']:>9.1f} files/s (the auto cache decision)",
             "  DataLoader (batch 24): workers  cache  samples/s  per core"]
    for row in report["loader"]:
        lines.append(f"                        {row['workers']:>7}  {'yes' if row['cache'] else 'no':>5}  "
                     f"{row['samples_per_second']:>9.1f}  {row['per_core']:>8.1f}")
    gpu = report["cores_per_gpu"]
    estimate = report["gpu_estimate"]
    lines.append(f"  AASIST on one H100 (estimate: {estimate['gflop_per_sample']:g} GFLOP/sample, "
                 f"{estimate['peak_tflops']:g} TFLOP/s bf16 dense, {estimate['utilisation']:.0%} of peak) = "
                 f"{gpu['flac']['gpu_samples_per_second']} samples/s")
    for name in ("flac", "cache"):
        low, high = gpu[name]["cores_range"]
        lines.append(f"  cores per GPU, {name:<5}: {gpu[name]['cores']} (at 10-30 % of peak: {low}-{high})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="An LA-layout corpus (or any folder of FLAC/WAV).")
    parser.add_argument("--files", type=int, default=2000, help="Training files to read (default 2000).")
    parser.add_argument("--max-workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="DataLoader workers up to this (default: the cores here).")
    parser.add_argument("--repeats", type=int, default=2, help="Passes per item figure; the best is kept.")
    parser.add_argument("--batches", type=int, default=40, help="Batches per DataLoader figure.")
    parser.add_argument("--json", type=Path, help="Also write the report as JSON here.")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    report = run(args.corpus, args.files, args.max_workers, args.repeats, args.batches)
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
