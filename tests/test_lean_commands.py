"""Commands that need no model import no torch and load no model plugin; plugin
loading by kind stays true to what every built-in plugin registers."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from benchsuite.cli.main import LAZY_COMMANDS, SUMMARIES
from benchsuite.plugins import manager
from benchsuite.plugins.registry import build_registry
from benchsuite.contract import hookspecs

from builders_asvspoof import build_la2019
from builders_metrics import ASV_NONTARGET, ASV_SPOOF, ASV_TARGET, spoof_set, write_asv_scores, write_lines
from builders_results import build_standard_store

# run a command in a fresh interpreter and report which heavy modules it imported
_PROBE = """
import json, sys
from benchsuite.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted(name for name in ("torch", "torchaudio", "scipy.signal", "scipy.stats") if name in sys.modules)
models = sorted(name for name in sys.modules if name.startswith("benchsuite_models.") and name != "benchsuite_models._published")
print(json.dumps({"code": code, "heavy": heavy, "models": models}), file=sys.stderr)
"""


def _imports_of(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=300)
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    assert probe["code"] in (0, None), done.stderr
    return probe


@pytest.fixture(scope="module")
def score_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lean")
    data = spoof_set()
    return {"scores": write_lines(root / "scores.txt", data.two_column_lines()),
            "protocol": write_lines(root / "protocol.txt", data.protocol_lines()),
            "asv": write_asv_scores(root / "asv.txt", ASV_TARGET, ASV_NONTARGET, ASV_SPOOF),
            "store": build_standard_store(root / "runs").root, "out": root / "report",
            "la2019": build_la2019(root / "la2019", audio=False)}


@pytest.mark.parametrize("command", ["help", "score", "report", "list metrics", "list baselines", "data check"])
def test_commands_that_need_no_model_import_no_torch(score_files, command: str):
    args = {
        "help": ["--help"],
        "score": ["score", "--scores", str(score_files["scores"]), "--protocol", str(score_files["protocol"]),
                  "--asv-scores", str(score_files["asv"]), "--bootstrap", "50", "--json"],
        "report": ["report", "--runs", str(score_files["store"]), "--out", str(score_files["out"])],
        "list metrics": ["list", "metrics"],
        "list baselines": ["list", "baselines"],
        "data check": ["data", "check", "asvspoof2019-la", "--data-root", str(score_files["la2019"]), "--no-audio"],
    }[command]
    probe = _imports_of(*args)
    assert "torch" not in probe["heavy"] and "torchaudio" not in probe["heavy"]
    assert probe["models"] == []  # no model plugin module was imported
    if command in ("help", "score", "list metrics", "data check"):
        assert probe["heavy"] == []  # nor scipy's signal or stats


def test_builtin_kinds_table_matches_the_hooks_each_plugin_implements():
    hook_kind = {"benchsuite_register_models": "models", "benchsuite_register_datasets": "datasets",
                 "benchsuite_register_metrics": "metrics", "benchsuite_register_baselines": "baselines",
                 "benchsuite_register_augmentations": "augmentations"}
    builtin = {ep.name: ep.value for ep in metadata.entry_points(group=manager.ENTRY_POINT_GROUP)
               if ep.dist is not None and ep.dist.metadata["Name"] == manager.BUILTIN_DISTRIBUTION}
    assert set(builtin) == set(manager.BUILTIN_KINDS)
    assert set(hook_kind) == {name for name in dir(hookspecs) if name.startswith("benchsuite_register_")}
    for name, module in builtin.items():
        implemented = {kind for hook, kind in hook_kind.items() if hasattr(importlib.import_module(module), hook)}
        assert implemented == manager.BUILTIN_KINDS[name], name


def test_baselines_without_models_are_the_same_rows_with_the_same_plugins():
    light = build_registry(kinds=("baselines",))
    full = build_registry()
    assert light.models.names() == []
    rows = lambda registry: sorted((b.plugin.name, repr(b.spec)) for b in registry.baselines)  # noqa: E731
    assert rows(light) == rows(full)


def test_kinds_leave_out_the_other_builtin_plugins():
    registry = build_registry(kinds=("metrics",))
    assert registry.metrics.names() and not registry.models.names() and not registry.datasets.names()
    with pytest.raises(ValueError, match="unknown plugin kind"):
        build_registry(kinds=("model",))


def test_help_summaries_are_the_commands_own():
    import click

    for name, (module, attribute) in LAZY_COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        assert click.Command(name, help=SUMMARIES[name]).get_short_help_str(300) == command.get_short_help_str(300)
