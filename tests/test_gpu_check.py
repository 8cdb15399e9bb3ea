"""``make gpu-check`` in its CPU mode: the same steps the GPU check takes (generate,
train AASIST and RawNet2 on the pool, repeat one cell, the other precision, one
table and its JSON), on the smallest synth-la, so the script is known to work
before it meets a GPU."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

from builders_core import REPO


def test_gpu_check_cpu_mode_prints_the_table_and_writes_the_json(tmp_path):
    report_path = tmp_path / "out" / "check.json"
    env = {**os.environ, "BENCHSUITE_GPU_CHECK_JSON": str(report_path), "OMP_NUM_THREADS": "1"}
    env.pop("BENCHSUITE_CACHE_DIR", None)  # the check keeps its caches in its working folder
    done = subprocess.run([sys.executable, str(REPO / "tools" / "gpu_check.py"), "--mode", "cpu",
                           "--work", str(tmp_path / "work")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "samples/s" in done.stdout and "repeat identical" in done.stdout and "bf16 speed-up" in done.stdout
    report = json.loads(report_path.read_text())
    assert report["mode"] == "cpu" and report["failures"] == []
    assert sorted(report["models"]) == ["aasist", "rawnet2"]
    for row in report["models"].values():
        assert row["status"] == "done" and row["precision"] == "fp32" and row["samples_per_s"] > 0
        assert 0.0 <= row["data_wait_fraction"] < 1.0
        settings = row["runtime_settings"]
        assert settings["deterministic"] is True and settings["loader"]["num_workers"] == 0
        assert all(choice.startswith("on (auto") for choice in settings["audio_cache"].values())
    assert report["repeat"] == {"model": "aasist", "bit_identical": True}
    comparison = report["precision_comparison"]
    assert comparison["fp32"] > 0 and comparison["bf16"] > 0 and comparison["bf16_speedup"] > 0
    assert report["determinism_cost"]["speedup_without"] > 0
    fast = json.loads(next((tmp_path / "work" / "fast").glob("cells/*/result.json")).read_text())
    assert fast["provenance"]["runtime_settings"]["deterministic"] is False
    assert (tmp_path / "work" / "cache" / "decoded").is_dir()  # caches stayed in the working folder
    log = next((tmp_path / "work" / "runs").glob("cells/*aasist*/train_log.csv"))
    with open(log, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert float(row["data_wait_s"]) >= 0 and float(row["compute_s"]) > 0 and float(row["samples_per_s"]) > 0


def test_gpu_utilisation_is_averaged_over_the_busy_span(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "tools"))
    import gpu_check

    sampler = gpu_check.GpuSampler()
    sampler.samples = [(0, 10), (50, 900), (70, 1200), (0, 900), (60, 1000), (0, 10)]
    summary = sampler.summary()
    assert summary["mean_utilisation_pct"] == 45.0 and summary["mean_over_run_pct"] == 30.0
    assert summary["max_utilisation_pct"] == 70 and summary["max_memory_used_mib"] == 1200
    sampler.samples = []
    assert sampler.summary()["mean_utilisation_pct"] is None
