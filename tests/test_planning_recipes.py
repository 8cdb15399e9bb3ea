"""Recipes are typed and checked when the plan is built: a bad --set, --config or plugin
recipe is one error naming the field and what is allowed, before any data is read."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchsuite.contract import ConfigError, ModelSpec, Recipe, Task, hookimpl
from benchsuite.contract.recipe import recipe_problems
from benchsuite.planning.options import RunOptions
from benchsuite.planning.plan import build_plan
from benchsuite.plugins.registry import build_registry
from builders_core import run_cli

MISSING_DATA = "/nonexistent/benchsuite-test-data"


def _run_with(tmp_path: Path, *settings: str):
    # the data root does not exist: an error about it would mean the data was looked at first
    args = ["run", "--models", "aasist,lfcc-lcnn", "--datasets", "asvspoof2019-la", "--data-root",
            f"asvspoof2019-la={MISSING_DATA}", "--out", str(tmp_path / "runs"), "--no-report"]
    for setting in settings:
        args += ["--set", setting]
    env = dict(os.environ)
    env.pop("BENCHSUITE_LOAD_PLUGINS", None)
    return run_cli(*args, env=env)


@pytest.mark.parametrize("setting, expected", [
    ("model.aasist.optimiser=adamw", ["--set model.aasist.optimiser=adamw", "no recipe or config field 'optimiser'",
                                      "Did you mean 'optimizer'?", "Known fields:"]),
    ("model.aasist.lr=fast", ["--set model.aasist.lr=fast", "expected a finite number, got 'fast'"]),
    ("model.aasist.optimizer=adamx", ["--set model.aasist.optimizer=adamx", "optimizer 'adamx'",
                                      "expected one of adam, adamw, sgd, rmsprop"]),
    ("model.aasist.scheduler=linear", ["scheduler 'linear'", "expected one of none, cosine, step, exponential"]),
    ("model.lfcc-lcnn.epochs=0", ["--set model.lfcc-lcnn.epochs=0", "epochs 0: expected a number >= 1"]),
    ("model.lfcc-lcnn.epochs=-1", ["epochs -1: expected a number >= 1"]),
    ("recipe.epochz=1", ["--set recipe.epochz=1", "no selected model (aasist, lfcc-lcnn) has a recipe or config "
                         "field 'epochz'", "Did you mean 'epochs'?"]),
    ("model.*.epochz=1", ["--set model.*.epochz=1", "field 'epochz'"]),
    ("model.aasist.augmentations=[rawbost]", ["augmentations: unknown augmentation 'rawbost'",
                                              "Did you mean 'rawboost'?"]),
    ("model.aasist.betas=[0.9]", ["betas (0.9,): expected a list of 2 (number, number)"]),
])
def test_a_bad_setting_fails_at_planning_time(tmp_path, setting, expected):
    done = _run_with(tmp_path, setting)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("error: "), message
    assert "Traceback" not in done.stderr and MISSING_DATA not in message
    for part in expected:
        assert part in message, (part, message)
    assert not (tmp_path / "runs").exists()  # no cell directory, no store


def test_a_good_setting_passes_the_checks_and_only_then_the_data_is_looked_at(tmp_path):
    done = _run_with(tmp_path, "model.aasist.lr=1e-3", "model.aasist.optimizer=adamw", "recipe.epochs=2")
    assert done.returncode == 2 and MISSING_DATA in done.stderr  # now the missing data root is what is wrong


@dataclass
class _Cfg:
    width: int = 4


class _BadRecipePlugin:
    @staticmethod
    @hookimpl
    def benchsuite_register_models(register):
        register(ModelSpec(name="bad-recipe", tasks=(Task.SPOOF,), build=lambda c, t: None, config_class=_Cfg,
                           recipes={"paper": Recipe(selection="eval_eer"), "quick": Recipe()}))


def test_a_plugins_own_recipe_is_checked_too(monkeypatch):
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "synth")
    registry = build_registry(extra={"bad-recipe-plugin": _BadRecipePlugin})
    options = RunOptions(models=["bad-recipe"], datasets=["synth-la"], profile="paper")
    with pytest.raises(ConfigError) as err:
        build_plan(registry, options)
    assert str(err.value) == ("model 'bad-recipe', 'paper' recipe for spoof: selection 'eval_eer': expected one of "
                              "dev_eer, dev_loss, dev_accuracy, last")


def test_a_config_field_of_the_wrong_type_is_refused(monkeypatch):
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "synth")
    registry = build_registry(extra={"bad-recipe-plugin": _BadRecipePlugin})
    options = RunOptions(models=["bad-recipe"], datasets=["synth-la"], profile="quick",
                         overrides=["model.bad-recipe.width=wide"])
    with pytest.raises(ConfigError, match=r"--set model.bad-recipe.width=wide: expected an integer, got 'wide'"):
        build_plan(registry, options)


def test_every_registered_recipe_is_valid():
    registry = build_registry()
    for reg in registry.models:
        for profile, recipe in reg.spec.recipes.items():
            assert recipe_problems(recipe) == [], (reg.spec.name, profile)


def test_recipe_problems_name_every_bad_field():
    problems = recipe_problems(Recipe(optimizer="adamx", lr="fast", epochs=0, max_train_utterances=0,
                                      margin_ramp_epochs=(5, 2), augmentation_options={"musan": {}}))
    assert problems == [
        "epochs 0: expected a number >= 1",
        "optimizer 'adamx': expected one of adam, adamw, sgd, rmsprop",
        "lr 'fast': expected a finite number",
        "max_train_utterances 0: expected a number >= 1",
        "margin_ramp_epochs [5, 2]: expected [start, end] with 0 <= start <= end",
        "augmentation_options for musan: not in augmentations []",
    ]
