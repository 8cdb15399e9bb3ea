"""Faithful paper recipes: the mechanisms they need (weight averaging with a batch-norm update, the selection
tie rule, validation mode, steps per epoch, per-class subsampling, schedule shapes, lr scaling, speed
perturbation), the deviations every cell records, ``benchsuite recipe`` and the generated docs/recipes.md."""
from __future__ import annotations

import json
import math
import typing
from pathlib import Path

import numpy as np
import pytest
import torch

from benchsuite.common.progress import Progress
from benchsuite.contract import ConfigError, Recipe, Task, TaskInfo, Utterance
from benchsuite.contract.recipe import Scheduler
from benchsuite.training.averaging import WeightAverage, average_state_dicts, update_batch_norm
from benchsuite.training.checkpoints import BEST, load_checkpoint
from benchsuite.training.data import WaveformDataset, every_nth_of_class, make_loader
from benchsuite.training.loop import Trainer
from benchsuite.training.optim import (SCHEDULES, build_optimizer, exponential_warmup_product, lr_factor,
                                       warmup_then_exponential)

ROOT = Path(__file__).resolve().parents[1]


class _Tiny(torch.nn.Module):
    """Linear -> batch norm -> dropout -> 2 logits, on 8-sample inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)
        self.norm = torch.nn.BatchNorm1d(4)
        self.drop = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.norm(self.linear(x))))


def _loader(count: int = 16, batch: int = 4, seed: int = 1) -> torch.utils.data.DataLoader:
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(8).astype(np.float32) for _ in range(count)]
    utterances = [Utterance(f"u{i}", Path(f"u{i}.flac"), "bonafide" if i % 2 else "spoof") for i in range(count)]
    labels = np.array([i % 2 for i in range(count)], dtype=np.int64)
    dataset = WaveformDataset(utterances, labels, sample_rate=16000, crop_samples=8, crop_policy="first", seed=seed,
                              audio=lambda i: waves[i])
    return make_loader(dataset, batch_size=batch, shuffle=True, seed=seed, as_list=False, drop_last=True,
                       num_workers=0, pin_memory=False, persistent_workers=False)


def _trainer(tmp_path: Path, recipe: Recipe) -> Trainer:
    torch.manual_seed(0)
    return Trainer(model=_Tiny(), head=None, recipe=recipe, task_info=TaskInfo(Task.SPOOF), output="logits",
                   device=torch.device("cpu"), precision="fp32", seed=1, checkpoint_dir=tmp_path,
                   progress=Progress(quiet=True), model_name="tiny", model_config={})


def _fit(trainer: Trainer, values: list[float], loader=None):
    """Fit with dev values taken from ``values`` epoch by epoch; returns (summary, weights after each epoch)."""
    weights: list[dict[str, torch.Tensor]] = []
    pending = list(values)

    def dev_value() -> float | None:
        if not pending:  # the averaged model's own dev pass
            return 0.0
        weights.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
        return pending.pop(0)

    summary = trainer.fit(loader or _loader(), dev_value, lambda epoch: None)
    return summary, weights


# --------------------------------------------------------------------------- averaging and batch norm


def test_swa_of_two_checkpoints_is_the_average_of_their_weights():
    first, second = _Tiny().state_dict(), _Tiny().state_dict()
    second["norm.num_batches_tracked"] = torch.tensor(7)
    average = average_state_dicts([first, second])
    for key, value in first.items():
        if value.is_floating_point():
            torch.testing.assert_close(average[key], (value + second[key]) / 2)
    assert int(average["norm.num_batches_tracked"]) == 7  # integer buffers: the latest checkpoint's


def test_running_average_is_resumable_from_its_state():
    states = [_Tiny().state_dict() for _ in range(3)]
    whole = WeightAverage()
    for epoch, state in enumerate(states, 1):
        whole.add(epoch, {"model": state})
    resumed = WeightAverage()
    resumed.add(1, {"model": states[0]})
    restored = WeightAverage()
    restored.load_state_dict(resumed.state_dict())
    for epoch, state in enumerate(states[1:], 2):
        restored.add(epoch, {"model": state})
    assert restored.epochs == [1, 2, 3]
    for key in states[0]:
        torch.testing.assert_close(restored.mean["model"][key], whole.mean["model"][key])


def test_bn_update_changes_only_running_statistics():
    model = _Tiny()
    model.eval()
    batches = [torch.randn(5, 8) + 3.0 for _ in range(4)]
    parameters = {k: v.clone() for k, v in model.named_parameters()}
    momentum = model.norm.momentum
    assert update_batch_norm(model, batches, model) == 4
    for name, value in model.named_parameters():
        torch.testing.assert_close(value, parameters[name])
    hidden = torch.cat([model.linear(b) for b in batches]).detach()
    # torch's cumulative average (momentum None) of the per-batch means and unbiased variances
    batch_means = torch.stack([model.linear(b).detach().mean(0) for b in batches])
    batch_vars = torch.stack([model.linear(b).detach().var(0, unbiased=True) for b in batches])
    torch.testing.assert_close(model.norm.running_mean, batch_means.mean(0))
    torch.testing.assert_close(model.norm.running_var, batch_vars.mean(0))
    assert not torch.allclose(model.norm.running_mean, torch.zeros(4)) and hidden.shape == (20, 4)
    assert model.norm.momentum == momentum and not model.training  # restored


# --------------------------------------------------------------------------- selection and averaging in fit


def test_tie_rule_picks_the_later_epoch_and_ties_enter_the_average(tmp_path):
    recipe = Recipe(epochs=4, batch_size=4, lr=1e-2, loss="ce", averaging="improving", selection_ties="later")
    summary, weights = _fit(_trainer(tmp_path / "later", recipe), [0.5, 0.3, 0.3, 0.4])
    assert summary.averaged_epochs == [1, 2, 3]
    best = load_checkpoint(tmp_path / "later" / BEST)
    assert best["averaged_epochs"] == [1, 2, 3]
    for key, value in best["model_state"].items():
        if value.is_floating_point():
            torch.testing.assert_close(value, sum(w[key] for w in weights[:3]) / 3)

    earlier = recipe.replace(selection_ties="earlier", averaging="none")
    summary, _ = _fit(_trainer(tmp_path / "earlier", earlier), [0.5, 0.3, 0.3, 0.4])
    assert summary.best_epoch == 2 and summary.averaged_epochs is None
    later = recipe.replace(averaging="none")
    summary, _ = _fit(_trainer(tmp_path / "later-only", later), [0.5, 0.3, 0.3, 0.4])
    assert summary.best_epoch == 3


def test_last_n_averaging_with_bn_update_keeps_the_averaged_parameters(tmp_path):
    recipe = Recipe(epochs=4, batch_size=4, lr=1e-2, loss="ce", selection="last", averaging="last_n",
                    average_epochs=2, bn_update=True)
    trainer = _trainer(tmp_path, recipe)
    summary, weights = _fit(trainer, [0.0] * 4)
    assert summary.averaged_epochs == [3, 4]
    best = load_checkpoint(tmp_path / BEST)["model_state"]
    torch.testing.assert_close(best["linear.weight"], (weights[2]["linear.weight"] + weights[3]["linear.weight"]) / 2)
    # the batch-norm statistics were recomputed, not averaged
    assert not torch.allclose(best["norm.running_mean"],
                              (weights[2]["norm.running_mean"] + weights[3]["norm.running_mean"]) / 2)


def test_steps_per_epoch_does_not_depend_on_the_corpus_size(tmp_path):
    recipe = Recipe(epochs=2, batch_size=4, lr=1e-2, loss="ce", selection="last", steps_per_epoch=5)
    summary, _ = _fit(_trainer(tmp_path / "small", recipe), [0.0, 0.0], loader=_loader(count=8))
    assert [r.steps for r in summary.history] == [5, 10]
    summary, _ = _fit(_trainer(tmp_path / "large", recipe), [0.0, 0.0], loader=_loader(count=40))
    assert [r.steps for r in summary.history] == [5, 10]


def test_validation_in_train_mode_updates_batch_norm_statistics_and_eval_mode_does_not():
    from benchsuite.scoring.inference import spoof_outputs

    loader = _loader(count=8)
    model = _Tiny()
    before = model.norm.running_mean.clone()
    spoof_outputs(model, loader, torch.device("cpu"), None, False)
    torch.testing.assert_close(model.norm.running_mean, before)
    spoof_outputs(model, loader, torch.device("cpu"), None, False, train_mode=True)
    assert not torch.allclose(model.norm.running_mean, before)


# --------------------------------------------------------------------------- data, schedules, lr, speed


def test_cqcc_spoof_subsampling_takes_every_tenth_spoof_file_in_protocol_order():
    labels = ["bonafide" if i % 4 == 0 else "spoof" for i in range(100)]
    utterances = [Utterance(f"LA_T_{i:07d}", Path(f"{i}.flac"), label) for i, label in enumerate(labels)]
    kept = every_nth_of_class(utterances, {"spoof": 10})
    spoof = [u.utt_id for u in utterances if u.label == "spoof"]
    assert [u.utt_id for u in kept if u.label == "spoof"] == spoof[0::10]  # MATLAB idx(1:10:end)
    assert [u for u in kept if u.label == "bonafide"] == [u for u in utterances if u.label == "bonafide"]
    assert [u.utt_id for u in kept] == sorted(u.utt_id for u in kept)  # protocol order kept


def test_cqcc_gmm_paper_recipe_thins_spoof_and_initialises_like_vl_gmm():
    from benchsuite.planning import fidelity
    from benchsuite.plugins.registry import get_registry

    spec = get_registry().models.get("cqcc-gmm").spec
    recipe, config, _sources, _deviations = fidelity.resolve(spec, "paper", Task.SPOOF, [])
    assert recipe.class_subsample == {"spoof": 10} and config.init == "random" and config.em_iterations == 10
    quick, quick_config, _s, _d = fidelity.resolve(spec, "quick", Task.SPOOF, [])
    assert quick.class_subsample == {} and quick_config.init == "kmeans++"


def test_schedule_shapes():
    wespeaker = Recipe(epochs=150, lr=0.1, lr_min=5e-5, warmup_epochs=6, scheduler="exponential_warmup_product")
    steps, total, warm = 10, 1500, 60
    assert exponential_warmup_product(wespeaker, 0, steps) == 0.0  # warm_from_zero: the first step has lr 0
    floor = 5e-5 / 0.1
    assert math.isclose(exponential_warmup_product(wespeaker, 30, steps), 0.5 * floor ** (30 / total))
    assert math.isclose(exponential_warmup_product(wespeaker, warm, steps), floor ** (warm / total))
    assert math.isclose(exponential_warmup_product(wespeaker, total, steps), floor)
    # restarting the decay after the warm-up runs ~1.36x higher from then on
    restart = warmup_then_exponential(wespeaker.replace(scheduler="exponential"), warm, steps)
    assert math.isclose(restart / exponential_warmup_product(wespeaker, warm, steps), 1.355, rel_tol=1e-3)
    cosine = Recipe(epochs=10, lr=1e-4, lr_min=5e-6, scheduler="cosine")
    assert lr_factor(cosine, 0, 10) == 1.0 and math.isclose(lr_factor(cosine, 100, 10), 0.05)
    assert math.isclose(lr_factor(cosine, 50, 10), (1 + 0.05) / 2)
    step = Recipe(epochs=30, scheduler="step", step_epochs=10, gamma=0.5)
    assert [lr_factor(step, s * 10, 10) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert set(SCHEDULES) == set(typing.get_args(Scheduler))  # every recipe choice has its named function
    with pytest.raises(ConfigError, match="scheduler"):
        lr_factor(Recipe(scheduler="triangular"), 0, 1)  # type: ignore[arg-type]


def test_lr_scaling_follows_wespeaker_world_size_times_batch_over_64():
    parameters = [torch.nn.Parameter(torch.zeros(1))]
    scaled = Recipe(optimizer="sgd", lr=0.1, batch_size=256, lr_scaling="batch_over_64")
    assert math.isclose(build_optimizer(scaled, parameters).param_groups[0]["lr"], 0.4)  # 2 GPUs x 128
    one_gpu = scaled.replace(batch_size=128)
    assert math.isclose(build_optimizer(one_gpu, parameters).param_groups[0]["lr"], 0.2)
    assert math.isclose(build_optimizer(scaled.replace(lr_scaling="none"), parameters).param_groups[0]["lr"], 0.1)


def test_speed_perturbation_changes_pitch_and_keeps_the_length():
    from benchsuite_augment.augmentations import build_speed, change_speed

    rate, tone = 16000, 200.0
    wave = np.sin(2 * np.pi * tone * np.arange(rate) / rate).astype(np.float32)
    for speed in (0.9, 1.1):
        changed = change_speed(wave, speed)
        assert changed.shape == wave.shape and changed.dtype == np.float32
        spectrum = np.abs(np.fft.rfft(changed[: int(rate * 0.85)]))
        peak = np.argmax(spectrum) * rate / int(rate * 0.85)
        assert abs(peak - tone * speed) < 3.0
    assert change_speed(wave, 1.0) is wave
    augment = build_speed({})
    draws = [augment(wave, np.random.default_rng(seed)) for seed in range(12)]
    assert len({round(float(d[:800].std()), 6) for d in draws}) >= 2  # more than one speed drawn
    again = augment(wave, np.random.default_rng(3))
    np.testing.assert_array_equal(again, draws[3])  # all randomness from the given generator
    with pytest.raises(ConfigError, match="speeds"):
        build_speed({"speeds": [3.0]})


def test_sincnet_d_vector_drops_low_energy_windows_and_averages_unit_vectors():
    from benchsuite_models.sincnet import energy_filtered_mean

    embedded = torch.tensor([[[3.0, 4.0], [0.0, 2.0], [100.0, 0.0]]])
    energies = torch.tensor([[1.0, 1.0, 0.01]])  # the last window is below 0.1 x the mean energy
    torch.testing.assert_close(energy_filtered_mean(embedded, energies), torch.tensor([[0.3, 0.9]]))


# --------------------------------------------------------------------------- deviations and benchsuite recipe


def test_aasist_recipe_json_lists_swa_the_tie_rule_and_only_the_eval_set_deviation():
    from click.testing import CliRunner

    from benchsuite.cli.main import cli

    result = CliRunner().invoke(cli, ["recipe", "aasist", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.output)
    fields = {f["field"]: f for f in described["fields"]}
    assert fields["averaging"]["value"] == "improving" and fields["averaging"]["source"] == "paper"
    assert "update_swa" in fields["averaging"]["reference"]
    assert fields["bn_update"]["value"] is True
    assert fields["selection_ties"]["value"] == "later" and "main.py:148" in fields["selection_ties"]["reference"]
    assert [d["name"] for d in described["deviations"]] == ["eval-set-selection"]
    assert described["faithful"] is False


def test_quick_profile_and_set_overrides_are_deviations():
    from benchsuite.cli.recipe import describe, _overrides
    from benchsuite.plugins.registry import get_registry

    spec = get_registry().models.get("aasist").spec
    quick = describe(spec, "quick", Task.SPOOF, [])
    names = {d["name"] for d in quick["deviations"]}
    assert {"quick:epochs", "quick:crop_samples", "quick:averaging", "eval-set-selection"} <= names
    changed = describe(spec, "paper", Task.SPOOF, _overrides("aasist", ("lr=0.001",)))
    lr = next(f for f in changed["fields"] if f["field"] == "lr")
    assert lr["source"] == "--set" and lr["deviations"] == ["--set:lr"]
    assert "set by --set model.aasist.lr=0.001" in next(d["why"] for d in changed["deviations"]
                                                         if d["name"] == "--set:lr")


def test_every_run_stores_its_deviations(tmp_path, monkeypatch):
    from benchsuite.planning.options import DataSource, RunOptions
    from benchsuite.planning.plan import build_plan
    from benchsuite.plugins.registry import build_registry
    from builders_core import TESTPLUGIN, write_tiny_la

    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof,spoof-metrics,aasist")
    la = write_tiny_la(tmp_path / "LA")
    options = RunOptions(models=["aasist"], datasets=["asvspoof2019-la"], seeds=[1], profile="paper",
                         data={"asvspoof2019-la": DataSource(la)})
    (cell,) = build_plan(build_registry(), options)
    assert cell.config.fidelity["faithful"] is False
    assert [d["name"] for d in cell.config.fidelity["deviations"]] == ["eval-set-selection"]
    assert "deviations" not in cell.identity.recipe and "sources" not in cell.identity.recipe


def test_unknown_model_config_key_in_a_recipe_is_one_clear_error():
    from benchsuite.planning import fidelity
    from benchsuite.plugins.registry import get_registry

    spec = get_registry().models.get("lfcc-gmm").spec
    broken = type(spec)(**{**spec.__dict__, "recipes": {"paper": Recipe(model_config={"inti": "random"})}})
    with pytest.raises(ConfigError, match=r"model_config names inti.*init"):
        fidelity.resolve(broken, "paper", Task.SPOOF, [])


def test_leaderboard_marks_a_deviating_row_and_lists_its_deviations():
    from benchsuite.reporting.aggregate import Row, RowKey

    key = RowKey("aasist", "paper", "asvspoof2019-la", None, "v1")
    stored = {"name": "eval-set-selection", "what": "best.pth by eval t-DCF", "why": "dev only", "reference": "x"}
    row = Row(key, runs=[{"seed": 1, "fidelity": {"faithful": False, "deviations": [stored]}}])
    assert row.deviations == [stored] and "eval-set-selection: best.pth by eval t-DCF" in row.deviation_summary()
    faithful = Row(key, runs=[{"seed": 1, "fidelity": {"faithful": True, "deviations": []}}])
    assert faithful.deviations == [] and faithful.fidelity_recorded and faithful.deviation_summary() == ""
    old = Row(key, runs=[{"seed": 1}])  # stored before deviations were recorded: never shown as faithful
    assert not old.fidelity_recorded and "unknown" in old.deviation_summary()


def test_docs_recipes_md_is_current():
    """docs/recipes.md is generated: regenerate it with `benchsuite recipe --all --markdown > docs/recipes.md`."""
    from benchsuite.cli.recipe import DOC_COMMAND, fidelity_markdown
    from benchsuite.plugins.registry import get_registry

    path = ROOT / "docs" / "recipes.md"
    builtin = [reg.spec for reg in get_registry().models if reg.plugin.distribution == "benchsuite"]
    assert path.read_text(encoding="utf-8") == fidelity_markdown(builtin), f"docs/recipes.md is stale: {DOC_COMMAND}"


def test_a_cell_with_swa_bn_update_and_train_mode_validation_runs_end_to_end(tmp_path, monkeypatch):
    from benchsuite.cli.run import run_benchmark
    from benchsuite.planning.options import DataSource, RunOptions
    from benchsuite.plugins.registry import build_registry
    from builders_core import TESTPLUGIN, write_tiny_la

    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof,spoof-metrics")
    la = write_tiny_la(tmp_path / "LA")
    overrides = ["model.tiny-cnn.averaging=improving", "model.tiny-cnn.bn_update=true",
                 "model.tiny-cnn.selection_ties=later", "model.tiny-cnn.validation_mode=train",
                 "model.tiny-cnn.class_subsample={spoof: 2}"]
    options = RunOptions(models=["tiny-cnn"], datasets=["asvspoof2019-la"], seeds=[1], profile="quick",
                         out=tmp_path / "runs", data={"asvspoof2019-la": DataSource(la)}, render_report=False,
                         command="pytest", overrides=overrides)
    summary = run_benchmark(options, registry=build_registry(), progress=Progress(quiet=True))
    assert not summary.failed
    (result,) = summary.results
    assert result["selection"]["averaging"]["rule"] == "improving" and result["selection"]["averaging"]["epochs"]
    assert result["selection"]["ties"] == "later" and result["selection"]["validation_mode"] == "train"
    assert result["fidelity"]["faithful"] is False
    assert {"--set:averaging", "--set:validation_mode"} <= {d["name"] for d in result["fidelity"]["deviations"]}
    stored = json.loads((tmp_path / "runs" / "cells" / result["cell_id"] / "result.json").read_text())
    assert stored["fidelity"] == result["fidelity"]


def test_an_interrupted_averaging_run_resumes_to_the_same_model(tmp_path):
    recipe = Recipe(epochs=4, batch_size=4, lr=1e-2, loss="ce", averaging="improving", selection_ties="later",
                    bn_update=True)
    values = [0.5, 0.3, 0.3, 0.4]
    _fit(_trainer(tmp_path / "whole", recipe), values)

    class Killed(Exception):
        pass

    calls = []

    def dev_value_killed_at_epoch_3() -> float:
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return values[len(calls) - 1]

    with pytest.raises(Killed):
        _trainer(tmp_path / "resumed", recipe).fit(_loader(), dev_value_killed_at_epoch_3, lambda epoch: None)
    summary, _ = _fit(_trainer(tmp_path / "resumed", recipe), values[2:])
    assert summary.resumed_from_epoch == 2 and summary.averaged_epochs == [1, 2, 3]
    whole = load_checkpoint(tmp_path / "whole" / BEST)["model_state"]
    resumed = load_checkpoint(tmp_path / "resumed" / BEST)["model_state"]
    for key, value in whole.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0)


def test_reverb_or_noise_applies_one_of_the_two_with_wespeakers_probability(tmp_path):
    import soundfile

    from benchsuite_augment.augmentations import build_reverb_or_noise

    rate = 16000
    rir = np.zeros(800, dtype=np.float32)
    rir[0], rir[400] = 1.0, 0.5
    noise = np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    soundfile.write(tmp_path / "rir.wav", rir, rate)
    soundfile.write(tmp_path / "noise.wav", noise, rate)
    (tmp_path / "rirs.txt").write_text("rir.wav\n")
    (tmp_path / "noise.txt").write_text("noise.wav\n")
    augment = build_reverb_or_noise({"rir_list": str(tmp_path / "rirs.txt"),
                                     "noise_wav_list": str(tmp_path / "noise.txt")})
    wave = np.sin(2 * np.pi * 300 * np.arange(rate) / rate).astype(np.float32)
    outcomes = []
    for seed in range(200):
        out = augment(wave, np.random.default_rng(seed))
        if np.array_equal(out, wave):
            outcomes.append("none")
        else:  # reverberation keeps the energy exactly; noise at 0-15 dB adds energy
            outcomes.append("reverb" if math.isclose(float(np.sum(out.astype(np.float64) ** 2)),
                                                     float(np.sum(wave.astype(np.float64) ** 2)), rel_tol=1e-4)
                            else "noise")
    share = {kind: outcomes.count(kind) / len(outcomes) for kind in ("none", "reverb", "noise")}
    assert 0.3 < share["none"] < 0.5 and 0.2 < share["reverb"] < 0.4 and 0.2 < share["noise"] < 0.4
