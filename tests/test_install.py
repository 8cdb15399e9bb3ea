"""The install: every built-in plugin loads, the versions are the locked ones,
and a broken install names its cause instead of failing deep in the suite."""
from __future__ import annotations

import json
import re
from importlib import metadata

import pytest

from benchsuite.plugins import manager as plugins
from builders_core import REPO, env_with_testplugin, run_cli

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = REPO / "requirements" / "lock.txt"


def _locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{LOCK.name}: {line!r} is not an exact pin"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_builtin_entry_point_loads():
    import os

    env = dict(os.environ)  # the installed distribution alone, without the test plugins
    env.pop("BENCHSUITE_LOAD_PLUGINS", None)
    listed = run_cli("plugins", "--strict", "--json", env=env)
    assert listed.returncode == 0, listed.stderr

    report = json.loads(listed.stdout)
    builtin = set(PYPROJECT["project"]["entry-points"]["benchsuite"])
    loaded = {p["name"] for p in report["plugins"] if p["distribution"] == "benchsuite"}
    assert loaded == builtin
    assert report["failed"] == []


def test_plugins_strict_fails_with_one_clear_line_per_broken_plugin():
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": "testplugin,broken,nonexistent"})
    done = run_cli("plugins", "--strict", env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "2 plugins failed to load" in done.stderr
    assert "plugin 'broken' (from benchsuite-testplugin) failed to load: ImportError" in done.stderr
    assert "no entry point named 'nonexistent'" in done.stderr
    # without --strict the same install lists what loaded and names the failures
    lenient = run_cli("plugins", env=env)
    assert lenient.returncode == 0 and "broken FAILED to load" in lenient.stdout


def test_installed_versions_are_the_locked_ones():
    pins = _locked()
    assert pins["torch"] == "2.11.0" and pins["torchaudio"] == "2.11.0"
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name in pins:
            assert dist.version.split("+")[0] == pins[name], f"{name} {dist.version} installed, {pins[name]} locked"
    # every direct dependency is pinned, and the pin satisfies pyproject's range
    from packaging.requirements import Requirement

    extras = PYPROJECT["project"]["optional-dependencies"]["test"]
    for requirement in map(Requirement, PYPROJECT["project"]["dependencies"] + extras):
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{requirement.name} is not pinned in {LOCK.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])


def test_the_known_broken_pair_is_outside_the_declared_range():
    from packaging.requirements import Requirement

    declared = {Requirement(r).name: Requirement(r).specifier for r in PYPROJECT["project"]["dependencies"]}
    assert not declared["torchaudio"].contains("2.11.1")
    assert declared["torchaudio"].contains("2.11.0") and declared["torch"].contains("2.11.0")
    assert declared["torch"].contains("2.9.1") and declared["torchaudio"].contains("2.9.1")


@pytest.mark.parametrize(("torch", "torchaudio", "problem"), [
    ("2.11.0+cu130", "2.11.0", None),
    ("2.9.1", "2.9.1", None),
    ("2.10.0+cpu", "2.10.0", None),
    ("2.12.0", "2.11.1", None),
    ("2.11.0", "2.11.1", "install torchaudio==2.11.0"),
    ("2.10.0", "2.11.0", "install torchaudio==2.10.*"),
    ("2.12.0", "2.11.0", "install torch==2.11.0 torchaudio==2.11.0"),
])
def test_torch_pair_check(monkeypatch, torch, torchaudio, problem):
    monkeypatch.setattr(plugins.metadata, "version", {"torch": torch, "torchaudio": torchaudio}.__getitem__)
    found = plugins.torch_pair_problem()
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert f"torch {torch} with torchaudio {torchaudio} cannot load together" in found


def test_a_mismatched_pair_is_the_first_failure_named(monkeypatch):
    monkeypatch.setattr(plugins.metadata, "version", {"torch": "2.11.0", "torchaudio": "2.11.1"}.__getitem__)
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    with pytest.raises(plugins.ConfigError, match=r"torch 2.11.0 with torchaudio 2.11.1 cannot load together"):
        plugins.make_plugin_manager(strict=True)
