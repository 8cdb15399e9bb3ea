"""Sweeps as matrix dimensions: parsing, checks before any data is read, the config-hash identity
of swept cells (an added axis value trains only the new cells), and the data knobs in a cell."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchsuite.cli.run import run_benchmark
from benchsuite.common.progress import Progress
from benchsuite.contract import ConfigError, Utterance
from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.planning.plan import build_plan
from benchsuite.planning.sweeps import (
    describe_matrix, parse_sweep_option, plan_matrix, split_values, sweep_from_config, sweep_spec,
)
from benchsuite.testing import registry_with
from benchsuite.training.data_knobs import Standardise, WhiteNoise, per_speaker
from builders_core import TESTPLUGIN, run_cli, write_tiny_la

QUIET = Progress(quiet=True)


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory) -> Path:
    return write_tiny_la(tmp_path_factory.mktemp("tiny_la"))


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))  # tiny-cnn, with the LA reader and the spoof metrics
    return registry_with("testplugin")


def _options(root: Path, out: Path, sweeps=(), config=None, **kw) -> RunOptions:
    base = dict(models=["tiny-cnn"], datasets=["asvspoof2019-la"], seeds=[1], profile="quick", out=out,
                data={"asvspoof2019-la": DataSource(root)}, render_report=False, command="pytest",
                overrides=["recipe.epochs=1"], sweep=sweep_spec(sweeps, config, Path("study.yaml")))
    base.update(kw)
    return RunOptions(**base)


def test_sweep_values_parse_with_lists_and_data_scope():
    assert split_values("[5,145],[5,100]") == ["[5,145]", "[5,100]"]
    axis = parse_sweep_option("data.synth-emo.utts_per_style=2,3")
    assert axis.key == "dataset.synth-emo.utts_per_style" and axis.values == (2, 3)
    assert parse_sweep_option("recipe.utterances_per_speaker=[5,145],20").values == ([5, 145], 20)
    assert parse_sweep_option("recipe.lr=1e-3,3e-3").values == (0.001, 0.003)  # numbers, not YAML 1.1 strings
    with pytest.raises(ConfigError, match="given twice"):
        parse_sweep_option("recipe.lr=0.1,0.1")
    with pytest.raises(ConfigError, match="no sweep key"):
        parse_sweep_option("lr=0.1,0.2")
    spec = sweep_from_config({"axes": {"recipe.optimizer": ["adam", "sgd"]},
                              "combinations": [{"recipe.lr": 0.1, "recipe.batch_size": 4},
                                               {"recipe.lr": 0.01, "recipe.batch_size": 8}]}, Path("s.yaml"))
    assert len(spec.expand()) == 4  # 2 explicit combinations x 2 optimizers, not 2 x 2 x 2
    with pytest.raises(ConfigError, match="same keys"):
        sweep_from_config({"combinations": [{"recipe.lr": 0.1}, {"recipe.epochs": 2}]}, Path("s.yaml"))


def test_bad_axis_values_fail_before_any_data_is_read(registry, tmp_path):
    missing = tmp_path / "no-such-corpus"  # opening it would fail with a data error instead
    for sweep, message in [(["recipe.optimizer=adam,adamx"], "--sweep recipe.optimizer=adamx: optimizer 'adamx'"),
                           (["recipe.optimiser=adam,sgd"], "Did you mean 'optimizer'"),
                           (["model.tiny-cn.channels=4,8"], "Did you mean 'tiny-cnn'"),
                           (["recipe.waveform_norm=none,global"], "expected one of none, utterance, train")]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
            plan_matrix(registry, _options(missing, tmp_path / "out", sweeps=sweep))
    with pytest.raises(ConfigError, match="also fixed by --set recipe.epochs=1"):
        plan_matrix(registry, _options(missing, tmp_path / "out", sweeps=["recipe.epochs=1,2"]))


def test_swept_cells_keep_config_hash_ids_and_an_added_value_trains_only_new_cells(registry, tiny_la, tmp_path):
    out = tmp_path / "runs"
    plain = build_plan(registry, _options(tiny_la, out, sweep=None))
    first = run_benchmark(_options(tiny_la, out, sweeps=["model.tiny-cnn.channels=8,4"]), registry=registry,
                          progress=QUIET)
    assert not first.failed and len(first.cells) == 2 and not first.reused
    # channels=8 is tiny-cnn's default: that combination is the ordinary cell, with the same id
    assert plain[0].cell_id in {c.cell_id for c in first.cells}
    logs = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/train_log.csv")}

    second = run_benchmark(_options(tiny_la, out, sweeps=["model.tiny-cnn.channels=8,4,6"]), registry=registry,
                           progress=QUIET)
    assert not second.failed and len(second.cells) == 3
    assert sorted(second.reused) == sorted(c.cell_id for c in first.cells)  # only the channels=6 cell trained
    assert {p: p.stat().st_mtime_ns for p in logs} == logs
    new = next(c for c in second.cells if c.cell_id not in second.reused)
    result = json.loads((out / "cells" / new.cell_id / "result.json").read_text())
    assert result["sweep"]["values"] == {"model.tiny-cnn.channels": 6}
    assert result["model"]["config"]["channels"] == 6
    # the invocation keeps the whole sweep, reused cells included, under one sweep key
    records = [i["sweep"] for i in (json.loads(p.read_text()) for p in sorted(out.glob("invocations/*.json")))]
    assert records[0]["key"] == records[1]["key"]
    assert sorted(records[1]["cells"].values(), key=str) == sorted(
        [{"model.tiny-cnn.channels": v} for v in (8, 4, 6)], key=str)
    text = describe_matrix(second.cells, set(second.reused), _options(
        tiny_la, out, sweeps=["model.tiny-cnn.channels=8,4,6"]).sweep)
    assert text.splitlines()[0].startswith("3 cell(s)") and "2 already done, 1 to train" in text


def test_data_knobs_in_a_cell(registry, tiny_la, tmp_path):
    options = _options(tiny_la, tmp_path / "runs", sweeps=["recipe.waveform_norm=train"],
                       overrides=["recipe.epochs=1", "recipe.utterances_per_speaker=[2,4]", "recipe.noise_snr_db=10"])
    summary = run_benchmark(options, registry=registry, progress=QUIET)
    (result,) = summary.results
    assert result["status"] == "done", result.get("error")
    stats = result["training"]["waveform_normalisation"]
    assert stats["method"] == "train" and stats["utterances"] == 9 and stats["std"] > 0  # 3 speakers x 3
    assert result["training"]["utterances"]["train"] == 9
    assert result["recipe"]["utterances_per_speaker"] == [2, 4] and result["recipe"]["noise_snr_db"] == 10


def test_per_speaker_noise_and_normalisation_units():
    utts = [Utterance(f"u{i:02d}", Path(f"{i}.wav"), "x", speaker=f"s{i % 2}") for i in range(10)]
    assert [u.utt_id for u in per_speaker(utts, 2)] == ["u00", "u01", "u02", "u03"]
    assert [u.utt_id for u in per_speaker(utts, (2, 3))] == ["u02", "u03", "u04", "u05"]
    with pytest.raises(ConfigError, match="no speaker"):
        per_speaker(utts, (9, 12))
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 400, 64000)).astype(np.float32)
    noisy = WhiteNoise(snr_db=10)(clean, rng)
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))
    assert abs(snr - 10) < 0.1
    assert abs(np.std(WhiteNoise(scale=0.05)(clean, rng) - clean) - 0.05) < 0.002
    scaled = Standardise()(3 * clean + 1)
    assert abs(float(scaled.mean())) < 1e-5 and abs(float(scaled.std()) - 1) < 1e-4
    assert np.allclose(Standardise(1.0, 2.0)(np.array([3.0], np.float32)), [1.0], atol=1e-6)


def test_cli_dry_run_prints_the_matrix_and_a_bad_value_exits_2(tiny_la, tmp_path):
    config = tmp_path / "study.yaml"
    config.write_text("sweep:\n  recipe.lr: [0.001, 0.003]\n  model.tiny-cnn.channels: [4, 8]\n")
    base = ["run", "--models", "tiny-cnn", "--datasets", "asvspoof2019-la", "--profile", "quick", "--seeds", "2",
            "--data-root", f"asvspoof2019-la={tiny_la}", "--out", str(tmp_path / "runs"), "--config", str(config)]
    done = run_cli(*base, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("8 cell(s)")
    assert "= 4 combination(s)" in done.stdout and "0 already done, 8 to train" in done.stdout
    assert not (tmp_path / "runs" / "cells").exists()
    bad = run_cli(*base, "--sweep", "recipe.optimizer=adam,adamw,nadam", "--dry-run")
    assert bad.returncode == 2 and "--sweep recipe.optimizer=nadam: optimizer 'nadam'" in bad.stderr
