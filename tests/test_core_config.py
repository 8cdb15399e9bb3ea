"""--set routing, config files, data roots, and the plan (matrix, cell ids)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchsuite.api import ConfigError, Recipe
from benchsuite.planning.options import (
    DataSource, RunOptions, apply_model_overrides, data_sources_from_config, env_data_roots, load_config_file,
    parse_data_root, parse_override, recipe_from_plain, to_plain,
)
from benchsuite.planning.plan import build_plan
from benchsuite.plugins.registry import build_registry
from builders_core import TESTPLUGIN, write_tiny_la


@dataclasses.dataclass
class Cfg:
    channels: int = 512
    dropout: float = 0.1
    kernels: tuple[int, ...] = (5, 3)


def test_set_routes_recipe_and_config_fields():
    overrides = [parse_override("model.ecapa.epochs=3"), parse_override("model.ecapa.channels=1024"),
                 parse_override("model.*.lr=0.01"), parse_override("model.other.channels=7")]
    recipe, config = apply_model_overrides("ecapa", Recipe(), Cfg(), overrides)
    assert recipe.epochs == 3 and recipe.lr == 0.01
    assert config.channels == 1024 and config.kernels == (5, 3)


def test_set_reads_exponent_numbers_that_yaml_11_leaves_as_strings():
    overrides = [parse_override("model.ecapa.lr=1e-3"), parse_override("model.ecapa.dropout=5E-2"),
                 parse_override("model.ecapa.channels=1e3")]
    recipe, config = apply_model_overrides("ecapa", Recipe(), Cfg(), overrides)
    assert recipe.lr == 0.001 and config.dropout == 0.05 and config.channels == 1000
    for text in ("nan", ".nan", ".inf"):
        with pytest.raises(ConfigError, match="expected a finite number, got"):
            apply_model_overrides("ecapa", Recipe(), Cfg(), [parse_override(f"model.ecapa.lr={text}")])


def test_set_errors_name_the_option_and_the_fields():
    with pytest.raises(ConfigError, match=r"--set model.ecapa.chanels=1: model 'ecapa' has no recipe or config field 'chanels'"):
        apply_model_overrides("ecapa", Recipe(), Cfg(), [parse_override("model.ecapa.chanels=1")])
    with pytest.raises(ConfigError, match="expected an integer, got 'many'"):
        apply_model_overrides("ecapa", Recipe(), Cfg(), [parse_override("model.ecapa.epochs=many")])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override("model.ecapa.epochs")
    with pytest.raises(ConfigError, match="expected model.<name>.<field>=V"):
        parse_override("epochs=3")


def test_recipe_round_trips_through_plain_data():
    recipe = Recipe(class_weights=(0.1, 0.9), margin_ramp_epochs=(20, 40), betas=(0.8, 0.99))
    assert recipe_from_plain(to_plain(recipe)) == recipe


def test_data_roots_from_option_config_and_environment(tmp_path):
    assert parse_data_root("asvspoof2019-la=/data/LA") == ("asvspoof2019-la", Path("/data/LA"))
    with pytest.raises(ConfigError, match="expected NAME=DIR"):
        parse_data_root("/data/LA")
    sources = data_sources_from_config({"a": "/x", "b": {"root": "/y", "options": {"subset": "progress"}}}, tmp_path)
    assert sources["a"].root == Path("/x") and sources["b"].options == {"subset": "progress"}
    assert env_data_roots({"BENCHSUITE_DATA_ASVSPOOF2019_LA": "/d", "OTHER": "1"}) == {"asvspoof2019_la": Path("/d")}


def test_config_file_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("models: [a]\nepochs: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) epochs"):
        load_config_file(path)
    path.write_text("models: [a\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(path)


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof,lfcc-lcnn")
    yield build_registry()


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory):
    return write_tiny_la(tmp_path_factory.mktemp("la"), {"train": 8, "dev": 6, "eval": 6}, seconds=0.1)


def test_plan_builds_the_compatible_matrix(registry, tiny_la):
    options = RunOptions(seeds=[1, 2, 3], profile="quick", data={"asvspoof2019-la": DataSource(tiny_la)})
    cells = build_plan(registry, options)
    assert sorted({(c.identity.model, c.identity.seed) for c in cells}) == [
        (m, s) for m in ("lfcc-lcnn", "tiny-cnn") for s in (1, 2, 3)]
    assert len({c.cell_id for c in cells}) == 6
    assert all(c.identity.dataset_fingerprint for c in cells)


def test_cell_id_changes_with_a_hyperparameter_not_with_runtime(registry, tiny_la):
    base = dict(models=["tiny-cnn"], seeds=[1], profile="quick", data={"asvspoof2019-la": DataSource(tiny_la)})
    first = build_plan(registry, RunOptions(**base))[0]
    again = build_plan(registry, RunOptions(**base, num_workers=2, device="cpu"))[0]
    changed = build_plan(registry, RunOptions(**base, overrides=["model.tiny-cnn.epochs=5"]))[0]
    assert first.cell_id == again.cell_id
    assert changed.cell_id != first.cell_id and changed.identity.recipe["epochs"] == 5


def test_plan_errors(registry, tiny_la):
    with pytest.raises(ConfigError, match="dataset 'asvspoof2019-la' needs its data: give --data-root asvspoof2019-la=DIR"):
        build_plan(registry, RunOptions(datasets=["asvspoof2019-la"]))
    with pytest.raises(ConfigError, match="unknown dataset 'asvspoof2019'"):
        build_plan(registry, RunOptions(datasets=["asvspoof2019"]))
    with pytest.raises(ConfigError, match="--profile 'fast'"):
        build_plan(registry, RunOptions(profile="fast"))
    with pytest.raises(ConfigError, match="data root for 'asvspoof2019-la' does not exist"):
        build_plan(registry, RunOptions(data={"asvspoof2019-la": DataSource(tiny_la / "missing")}))
