"""The GPU defaults (issue 19) on a machine without a GPU: what ``auto`` resolves to,
that it never changes a cell id, the loader settings a CUDA cell would get, the
audio cache's default, the determinism switch, the step timing and the synth-la
size preset."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from benchsuite.api import ConfigError, Utterance
from benchsuite.common.progress import Progress
from benchsuite.planning.hardware import resolve_precision
from benchsuite.planning.options import DataSource, RunOptions, parse_num_workers
from benchsuite.planning.plan import build_plan
from benchsuite.plugins.registry import build_registry
from benchsuite.training.loading import (MAX_AUTO_WORKERS, auto_num_workers, choose_audio_cache,
                                         resolve_loader_settings)
from benchsuite.training.seeding import configure_determinism
from benchsuite.training.timing import StepTimer
from builders_core import TESTPLUGIN, run_cli, write_tiny_la

CUDA = torch.device("cuda")  # a device object needs no GPU; nothing here runs on it


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof")
    return build_registry()


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory):
    return write_tiny_la(tmp_path_factory.mktemp("la"), {"train": 8, "dev": 6, "eval": 6}, seconds=0.1)


def test_precision_auto_is_resolved_before_the_cell_id(registry, tiny_la):
    base = dict(models=["tiny-cnn"], profile="quick", data={"asvspoof2019-la": DataSource(tiny_la)})
    auto = build_plan(registry, RunOptions(**base))[0]  # auto is the default
    explicit = build_plan(registry, RunOptions(**base, precision="fp32"))[0]
    assert auto.identity.precision == "fp32" and auto.cell_id == explicit.cell_id
    assert auto.config.runtime.precision_requested == "auto"
    assert resolve_precision("auto", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    if not torch.cuda.is_available():
        assert resolve_precision("auto", "auto") == "fp32"
    with pytest.raises(ConfigError, match="--precision 'fp8'"):
        build_plan(registry, RunOptions(**base, precision="fp8"))


def test_num_workers_auto_uses_the_cells_cores_on_cuda_only():
    assert auto_num_workers(torch.device("cpu"), 16) == 0
    assert auto_num_workers(CUDA, 8) == 7 and auto_num_workers(CUDA, 1) == 1
    assert auto_num_workers(CUDA, 128) == MAX_AUTO_WORKERS
    cuda = resolve_loader_settings({"num_workers": "auto", "threads": 8}, CUDA)
    assert (cuda.num_workers, cuda.pin_memory, cuda.persistent_workers, cuda.prefetch_factor) == (7, True, True, 4)
    cpu = resolve_loader_settings({"num_workers": "auto", "threads": 8}, torch.device("cpu"))
    assert (cpu.num_workers, cpu.pin_memory, cpu.persistent_workers, cpu.prefetch_factor) == (0, False, False, None)
    chosen = resolve_loader_settings({"num_workers": 3, "pin_memory": False, "prefetch_factor": 2,
                                      "persistent_workers": False}, CUDA)
    assert (chosen.num_workers, chosen.pin_memory, chosen.persistent_workers, chosen.prefetch_factor) == (
        3, False, False, 2)
    assert resolve_loader_settings({"num_workers": 2}, torch.device("cpu")).num_workers == 2  # a stored config
    assert parse_num_workers("AUTO") == "auto" and parse_num_workers("4") == 4
    for bad in ("many", -1, 2.5, True):
        with pytest.raises(ConfigError, match="--num-workers"):
            parse_num_workers(bad)


def _files(folder: Path, subtype: str, rate: int = 16000, count: int = 3) -> list[Utterance]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"u{i}.{'flac' if subtype == 'PCM_16' else 'wav'}"
        soundfile.write(str(path), np.full(1600, 0.25, np.float32), rate, subtype=subtype)
        out.append(Utterance(f"u{i}", path, "bonafide"))
    return out


def test_audio_cache_is_on_by_default_only_where_it_is_lossless_and_fits(tmp_path):
    pcm16 = _files(tmp_path / "pcm16", "PCM_16")
    on, why = choose_audio_cache(None, pcm16, 16000, 64.0, tmp_path / "cache")
    assert on and "0.00 GB within the budget" in why
    assert choose_audio_cache(None, pcm16, 16000, 0.0, tmp_path)[0] is False  # over a zero budget
    on, why = choose_audio_cache(None, _files(tmp_path / "float", "FLOAT"), 16000, 64.0, tmp_path)
    assert not on and "FLOAT" in why
    on, why = choose_audio_cache(None, _files(tmp_path / "rate", "PCM_16", rate=8000), 16000, 64.0, tmp_path)
    assert not on and "8000 Hz" in why
    assert choose_audio_cache(True, _files(tmp_path / "f2", "FLOAT"), 16000, 0.0, tmp_path) == (True, "asked for")
    assert choose_audio_cache(False, pcm16, 16000, 64.0, tmp_path) == (False, "turned off")
    # a cache an earlier cell built is used without reading every header again
    from benchsuite.common.audio import read_audio
    from benchsuite.training.audio_cache import DecodedAudioCache

    assert not DecodedAudioCache.exists(tmp_path / "cache", "k", pcm16, 16000)
    DecodedAudioCache.build_or_open(tmp_path / "cache", "k", pcm16, 16000, read_audio)
    assert DecodedAudioCache.exists(tmp_path / "cache", "k", pcm16, 16000)
    assert choose_audio_cache(None, pcm16, 16000, 0.0, tmp_path, built=True) == (True, "auto: built by an earlier cell")


def test_no_deterministic_turns_deterministic_kernels_off_and_says_so():
    try:
        assert configure_determinism(torch.device("cpu"), False) == {"deterministic": False, "cudnn_benchmark": False}
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        assert configure_determinism(torch.device("cpu"))["deterministic"] is True
    assert torch.are_deterministic_algorithms_enabled()


def test_step_timer_splits_data_wait_from_compute():
    def slow_loader():
        for _ in range(3):
            time.sleep(0.05)
            yield torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)

    timer = StepTimer(torch.device("cpu"))
    for waves, labels in timer.batches(slow_loader()):
        waves, labels = timer.to_device(waves, labels)
        time.sleep(0.02)
        timer.end_step(len(labels))
    epoch = timer.epoch
    assert (epoch.steps, epoch.samples) == (3, 6)
    assert epoch.data_wait >= 0.15 and epoch.compute >= 0.06
    assert 0.5 < epoch.share(epoch.data_wait) < 1.0
    assert epoch.note().startswith("data wait ") and epoch.note().endswith(" %")


def test_progress_line_ends_with_the_data_wait_note():
    import io

    stream = io.StringIO()
    progress = Progress(stream=stream, log_interval=0.0)
    progress.plan_steps(2)
    progress.step(0, 1, 0, 2, 0.5, "data wait 3 %")
    line = stream.getvalue().rstrip()
    assert " step/s ETA " in line and line.endswith(", data wait 3 %")


def test_synth_la_asvspoof2019_size_has_the_2019_counts():
    from benchsuite_synth.la import SynthLaSizes, corpus_items, preset_sizes

    sizes = SynthLaSizes(**preset_sizes("asvspoof2019", {}))
    assert (sizes.train, sizes.dev, sizes.eval) == (25_380, 24_844, 71_237)
    assert (sizes.speakers_train, sizes.speakers_dev, sizes.speakers_eval) == (20, 20, 67)
    assert (sizes.min_seconds, sizes.max_seconds) == (1.0, 8.0)
    assert preset_sizes("asvspoof2019", {"train": 100})["train"] == 100  # --set amends the preset
    assert preset_sizes(None, {"train": 100}) == {"train": 100}
    items = corpus_items(0, sizes)
    train = [it for it in items if it.split == "train"]
    assert len(train) == 25_380 and sum(it.system == "-" for it in train) == 2_589
    lengths = np.array([it.seconds for it in items])
    assert 1.0 <= lengths.min() and lengths.max() <= 8.0 and 3.2 < lengths.mean() < 3.5
    with pytest.raises(ConfigError, match="--size 'asvspoof2021'"):
        preset_sizes("asvspoof2021", {})


def test_data_command_refuses_an_unknown_size(tmp_path):
    done = run_cli("data", "synth-la", "--out", str(tmp_path / "la"), "--size", "huge")
    assert done.returncode == 2 and "expected one of asvspoof2019" in done.stderr
    assert not (tmp_path / "la").exists()


def test_run_refuses_a_bad_worker_count_before_planning(tmp_path):
    done = run_cli("run", "--models", "tiny-cnn", "--num-workers", "lots", "--out", str(tmp_path / "runs"))
    assert done.returncode == 2 and "--num-workers 'lots': expected auto or a whole number >= 0" in done.stderr
