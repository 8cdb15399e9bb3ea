"""Cells stored before the stage restructuring keep their ids.

``data/cell_ids_before_stages.json`` holds the cell ids that commit 79313f2 (the last
flat layout) planned for the commands below on the tiny LA corpus; the same plan now
must give the same ids, so a store written then is reused as done.  A cell id hashes
the identity (dataset fingerprint, model config, recipe, seed, profile, plugin names
and versions), never a module path or bytes of this machine, so it holds anywhere;
a version bump of benchsuite changes it on purpose (regenerate the file then)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.planning.plan import build_plan
from benchsuite.plugins.registry import build_registry
from builders_core import TESTPLUGIN, write_tiny_la

BEFORE = json.loads((Path(__file__).parent / "data" / "cell_ids_before_stages.json").read_text())
MODELS = ["tiny-cnn", "aasist", "aasist-l", "rawnet2", "rawgat-st", "lfcc-lcnn", "lfcc-gmm", "cqcc-gmm"]


@pytest.fixture(scope="module")
def tiny_la(tmp_path_factory) -> Path:
    return write_tiny_la(tmp_path_factory.mktemp("tiny") / "LA")


@pytest.mark.parametrize("command", sorted(BEFORE))
def test_the_plan_gives_the_cell_ids_of_the_flat_layout(monkeypatch, tiny_la, command):
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof,spoof-metrics,aasist,rawnet2,rawgat-st,"
                                                  "lfcc-lcnn,gmm")
    options = RunOptions(models=MODELS, datasets=["asvspoof2019-la"], data={"asvspoof2019-la": DataSource(tiny_la)},
                         **BEFORE[command]["options"])
    assert [cell.cell_id for cell in build_plan(build_registry(), options)] == BEFORE[command]["cell_ids"]


def test_a_field_added_later_keeps_stored_ids_until_a_cell_sets_it():
    from dataclasses import dataclass

    from benchsuite.contract.recipe import added_field, without_added_defaults
    from benchsuite.planning.options import to_plain

    @dataclass
    class Config:
        width: int = 64
        swa: str = added_field("none")
        layers: tuple[int, ...] = added_field(default_factory=tuple)

    assert without_added_defaults(Config(), to_plain(Config())) == {"width": 64}
    assert without_added_defaults(Config(swa="dev-improving"), to_plain(Config(swa="dev-improving"))) == {
        "width": 64, "swa": "dev-improving"}
    assert without_added_defaults(Config(layers=(1, 2)), to_plain(Config(layers=(1, 2))))["layers"] == [1, 2]


def test_the_typed_cell_config_round_trips_through_its_stored_form(monkeypatch, tiny_la):
    """A cell crosses processes as a CellConfig and is stored as plain YAML; reading the stored
    form back gives the same config and the same id, and a foreign file is refused by name."""
    import yaml

    from benchsuite.contract import ConfigError
    from benchsuite.planning.cell_config import CellConfig

    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,asvspoof,spoof-metrics")
    options = RunOptions(models=["tiny-cnn"], datasets=["asvspoof2019-la"], seeds=[0, 1],
                         data={"asvspoof2019-la": DataSource(tiny_la)})
    for cell in build_plan(build_registry(), options):
        stored = yaml.safe_load(yaml.safe_dump(cell.config.to_plain(), sort_keys=False))
        again = CellConfig.from_plain(stored)
        assert again == cell.config and again.cell_id == cell.cell_id
        assert again.with_runtime(executor="pool", threads=1).cell_id == cell.cell_id
    with pytest.raises(ConfigError, match="missing .*seed"):
        CellConfig.from_plain({"identity": {k: v for k, v in stored["identity"].items() if k != "seed"}})
