"""``make gpu-check``: one short command that proves the GPU path on a machine that has one.

On a CUDA machine (sized for one H100/H200-class GPU and 16 cores, about 8 minutes
including ``make install``) it

1. generates a mid-size synth-la (12,000 / 2,000 / 4,000 utterances of 1-8 s, in
   parallel over the cores);
2. trains one epoch of AASIST and RawNet2 in the paper profile with the pool
   executor packing both cells on one GPU (``--cells-per-gpu 2``), at the default
   ``--precision auto`` (bf16 on a GPU with bf16 tensor cores), while sampling the
   GPU's utilisation with ``nvidia-smi``;
3. repeats the AASIST cell alone in a fresh store and compares its score files byte
   for byte (GPU determinism); its speed is the baseline of the next two steps;
4. trains the AASIST cell again at the other precision (fp32 vs bf16) and reports
   the bf16 speed-up of the training samples/s;
5. trains it once more with ``--no-deterministic`` (cudnn.benchmark on): the
   samples/s that determinism costs;
6. prints one table and writes it as JSON to ``$BENCHSUITE_GPU_CHECK_JSON``
   (default ``WORK/gpu-check.json``).

Without a GPU it runs the same steps on CPU with a tiny corpus and the paper recipe
shortened to 0.5 s crops and batches of 4 (``tests/test_gpu_check.py`` runs that mode),
so the script itself is known to work before it meets a GPU.  The exit code is 1
when a step failed or a GPU repeat was not bit-identical.

    python tools/gpu_check.py [--work DIR] [--mode auto|gpu|cpu]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

JSON_ENV = "BENCHSUITE_GPU_CHECK_JSON"
MODELS = ("aasist", "rawnet2")
REPEATED = "aasist"
# Sized so that generation (~500 utterances/s on 16 cores) and the four cells
# (12,000 training samples each) fit the 8 minutes with install and start-up.
GPU_CORPUS = {"train": 12_000, "dev": 2_000, "eval": 4_000, "min_seconds": 1.0, "max_seconds": 8.0}
# the smallest synth-la there is (every attack once); CPU mode trains the paper recipe for one
# epoch on 0.5 s crops in batches of 4, so the whole check runs in well under a minute
CPU_CORPUS = {"train": 8, "dev": 8, "eval": 15, "min_seconds": 1.0, "max_seconds": 2.0}
CPU_SETS = ("recipe.crop_samples=8000", "recipe.batch_size=4", "recipe.eval_batch_size=8")


def benchsuite(*args: str) -> int:
    """Run one benchsuite command in this process (the same code path as the CLI); its exit code."""
    from benchsuite.cli.main import main

    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


class GpuSampler:
    """``nvidia-smi`` utilisation and memory samples every half second, in a thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (utilisation %, memory used MiB)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.available = shutil.which("nvidia-smi") is not None

    def __enter__(self) -> "GpuSampler":
        if self.available:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                      "--format=csv,noheader,nounits", "--id=0"],
                                     capture_output=True, text=True, timeout=5).stdout
                util, memory = (float(v) for v in out.strip().splitlines()[0].split(","))
                self.samples.append((util, memory))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
            self._stop.wait(0.5)

    def summary(self) -> dict[str, Any]:
        """The mean from the first busy sample to the last (start-up, cache building and the
        cells' ends leave the GPU idle and would dilute it) and over the whole run."""
        utils = [u for u, _ in self.samples]
        busy = [i for i, u in enumerate(utils) if u > 0]
        if not busy:
            return {"mean_utilisation_pct": None, "mean_over_run_pct": None, "max_utilisation_pct": None,
                    "max_memory_used_mib": None, "samples": len(utils)}
        span = utils[busy[0]:busy[-1] + 1]
        return {"mean_utilisation_pct": round(sum(span) / len(span), 1),
                "mean_over_run_pct": round(sum(utils) / len(utils), 1), "max_utilisation_pct": max(utils),
                "max_memory_used_mib": max(m for _, m in self.samples), "samples": len(utils)}


def cell_dirs(store: Path) -> dict[str, Path]:
    """model -> its cell directory in ``store`` (one seed, one dataset)."""
    out = {}
    for result in sorted(store.glob("cells/*/result.json")):
        data = json.loads(result.read_text())
        out[data["model"]["name"]] = result.parent
    return out


def cell_figures(cell: Path) -> dict[str, Any]:
    result = json.loads((cell / "result.json").read_text())
    figures: dict[str, Any] = {"status": result.get("status"), "cell_id": cell.name,
                               "precision": (result.get("provenance") or {}).get("precision"),
                               "peak_memory_mb": (result.get("provenance") or {}).get("peak_memory_mb"),
                               "runtime_settings": (result.get("provenance") or {}).get("runtime_settings")}
    if result.get("status") != "done":
        figures["error"] = (result.get("error") or {}).get("message")
        return figures
    with open(cell / "train_log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    last = rows[-1]
    parts = [float(last[k] or 0) for k in ("data_wait_s", "host_to_device_s", "compute_s")]
    figures.update({"samples_per_s": float(last["samples_per_s"] or 0),
                    "data_wait_fraction": round(parts[0] / sum(parts), 4) if sum(parts) > 0 else None,
                    "host_to_device_fraction": round(parts[1] / sum(parts), 4) if sum(parts) > 0 else None,
                    "eer_eval": result.get("metrics", {}).get("eval", {}).get("eer")})
    return figures


def identical_scores(first: Path, second: Path) -> bool:
    names = ("scores.txt", "dev_scores.txt")
    return all((first / n).is_file() and (first / n).read_bytes() == (second / n).read_bytes() for n in names)


def run_check(work: Path, mode: str) -> dict[str, Any]:
    import torch

    gpu = mode == "gpu" or (mode == "auto" and torch.cuda.is_available())
    if gpu and not torch.cuda.is_available():
        raise SystemExit("gpu-check --mode gpu: CUDA is not available here")
    work.mkdir(parents=True, exist_ok=True)
    corpus_sizes = GPU_CORPUS if gpu else CPU_CORPUS
    corpus = work / "synth-la"
    steps: dict[str, float] = {}
    report: dict[str, Any] = {"mode": "gpu" if gpu else "cpu", "work": str(work), "corpus": corpus_sizes,
                              "device_name": torch.cuda.get_device_name(0) if gpu else "cpu",
                              "torch": torch.__version__, "cuda": torch.version.cuda, "failures": []}

    started = time.monotonic()
    sets = [a for key, value in corpus_sizes.items() for a in ("--set", f"{key}={value}")]
    if benchsuite("data", "synth-la", "--out", str(corpus), *sets) != 0:
        report["failures"].append("corpus generation failed")
        return report
    steps["generate"] = time.monotonic() - started

    common = ["run", "--datasets", "synth-la", "--data-root", f"synth-la={corpus}", "--profile", "paper",
              "--seeds", "1", "--set", "recipe.epochs=1", "--no-report"]
    if not gpu:
        common += ["--device", "cpu", "--quiet"] + [a for s in CPU_SETS for a in ("--set", s)]
    # --gpus 0: the pool would otherwise spread the two cells over two GPUs where there are several
    pool = ["--executor", "pool"] + (["--gpus", "0", "--cells-per-gpu", "2"] if gpu else
                                     ["--jobs", "2", "--threads", "1"])
    # CPU results are bit-identical only at equal thread counts: the repeat uses the pool's one thread
    alone = [] if gpu else ["--threads", "1"]

    started = time.monotonic()
    with GpuSampler() as sampler:
        code = benchsuite(*common, "--models", ",".join(MODELS), "--out", str(work / "runs"), *pool)
    steps["train_pair"] = time.monotonic() - started
    report["gpu_utilisation"] = sampler.summary() if gpu else None
    main_cells = cell_dirs(work / "runs")
    if code != 0 or set(main_cells) != set(MODELS):
        report["failures"].append(f"the pool run of {', '.join(MODELS)} failed (exit code {code})")
    report["models"] = {name: cell_figures(cell) for name, cell in main_cells.items()}

    started = time.monotonic()
    shutil.rmtree(work / "repeat", ignore_errors=True)
    code = benchsuite(*common, "--models", REPEATED, "--out", str(work / "repeat"), *alone)
    steps["repeat"] = time.monotonic() - started
    repeat_cells = cell_dirs(work / "repeat")
    repeat_identical = None
    if code == 0 and REPEATED in repeat_cells and REPEATED in main_cells:
        repeat_identical = identical_scores(main_cells[REPEATED], repeat_cells[REPEATED])
        if repeat_cells[REPEATED].name != main_cells[REPEATED].name:
            report["failures"].append("the repeated cell got another cell id")
    else:
        report["failures"].append(f"the repeat of {REPEATED} failed (exit code {code})")
    report["repeat"] = {"model": REPEATED, "bit_identical": repeat_identical}
    # the speed comparisons below set cells run alone against the repeat, also run alone
    # (the pool run shares the device with the other model)
    baseline = cell_figures(repeat_cells[REPEATED]).get("samples_per_s") if REPEATED in repeat_cells else None
    if repeat_identical is False:
        report["failures"].append(f"the repeat of {REPEATED} gave different score files")

    main_precision = (report["models"].get(REPEATED) or {}).get("precision") or "fp32"
    other = "fp32" if main_precision == "bf16" else "bf16"
    started = time.monotonic()
    shutil.rmtree(work / "precision", ignore_errors=True)
    code = benchsuite(*common, "--models", REPEATED, "--precision", other, "--out", str(work / "precision"), *alone)
    steps["other_precision"] = time.monotonic() - started
    other_cells = cell_dirs(work / "precision")
    comparison: dict[str, Any] = {"model": REPEATED, main_precision: None, other: None, "bf16_speedup": None}
    if code == 0 and REPEATED in other_cells and baseline:
        rates = {main_precision: baseline, other: cell_figures(other_cells[REPEATED]).get("samples_per_s")}
        comparison.update(rates)
        if rates.get("fp32") and rates.get("bf16"):
            comparison["bf16_speedup"] = round(rates["bf16"] / rates["fp32"], 3)
    else:
        report["failures"].append(f"the {other} run of {REPEATED} failed (exit code {code})")
    report["precision_comparison"] = comparison

    started = time.monotonic()
    shutil.rmtree(work / "fast", ignore_errors=True)
    code = benchsuite(*common, "--models", REPEATED, "--no-deterministic", "--out", str(work / "fast"), *alone)
    steps["no_deterministic"] = time.monotonic() - started
    fast_cells = cell_dirs(work / "fast")
    determinism: dict[str, Any] = {"model": REPEATED, "deterministic": None, "not_deterministic": None,
                                   "speedup_without": None}
    if code == 0 and REPEATED in fast_cells and baseline:
        determinism["deterministic"] = baseline
        determinism["not_deterministic"] = cell_figures(fast_cells[REPEATED]).get("samples_per_s")
        if determinism["deterministic"] and determinism["not_deterministic"]:
            determinism["speedup_without"] = round(determinism["not_deterministic"] / determinism["deterministic"], 3)
    else:
        report["failures"].append(f"the --no-deterministic run of {REPEATED} failed (exit code {code})")
    report["determinism_cost"] = determinism
    report["steps_seconds"] = {k: round(v, 1) for k, v in steps.items()}
    return report


def table(report: dict[str, Any]) -> str:
    gpu = report["mode"] == "gpu"
    util = report.get("gpu_utilisation") or {}
    memory = "peak GPU MB" if gpu else "peak host MB"
    lines = [f"gpu-check ({report['mode']} mode, {report['device_name']}, torch {report['torch']}): "
             f"synth-la {report['corpus']['train']}/{report['corpus']['dev']}/{report['corpus']['eval']}",
             f"{'model':<9} {'precision':<9} {'samples/s':>10} {'GPU util %':>10} {'data wait':>9} "
             f"{memory:>12} {'repeat identical':>16} {'bf16 speed-up':>13} {'non-det. speed-up':>17}"]
    comparison = report.get("precision_comparison") or {}
    determinism = report.get("determinism_cost") or {}
    for name, row in sorted((report.get("models") or {}).items()):
        repeat = report["repeat"]["bit_identical"] if name == report["repeat"]["model"] else None
        speedup = comparison.get("bf16_speedup") if name == comparison.get("model") else None
        fast = determinism.get("speedup_without") if name == determinism.get("model") else None
        wait = row.get("data_wait_fraction")
        lines.append(
            f"{name:<9} {str(row.get('precision')):<9} {row.get('samples_per_s', 0):>10.1f} "
            f"{'n/a' if util.get('mean_utilisation_pct') is None else util['mean_utilisation_pct']:>10} "
            f"{'n/a' if wait is None else f'{100 * wait:.1f} %':>9} {row.get('peak_memory_mb') or 0:>12.0f} "
            f"{'-' if repeat is None else ('yes' if repeat else 'NO'):>16} "
            f"{'-' if speedup is None else f'{speedup:.2f}x':>13} "
            f"{'-' if fast is None else f'{fast:.2f}x':>17}")
    lines.append("steps (s): " + ", ".join(f"{k} {v}" for k, v in (report.get("steps_seconds") or {}).items()))
    for failure in report.get("failures", []):
        lines.append(f"FAILED: {failure}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("gpu-check"), help="Working folder (default gpu-check/).")
    parser.add_argument("--mode", choices=("auto", "gpu", "cpu"), default="auto",
                        help="auto (default): gpu when CUDA is available, else cpu.")
    args = parser.parse_args(argv)
    # the corpus cache and decoded-audio caches stay inside the working folder
    os.environ.setdefault("BENCHSUITE_CACHE_DIR", str((args.work / "cache").resolve()))
    report = run_check(args.work.resolve(), args.mode)
    print(table(report))
    out = Path(os.environ.get(JSON_ENV) or args.work / "gpu-check.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"gpu-check: report written to {out.resolve()}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
