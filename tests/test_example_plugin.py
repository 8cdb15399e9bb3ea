"""The example third-party plugin: installed with pip (no network), discovered
by `plugins`, `list` and `run`, and gone after uninstall."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builders_core import REPO, env_with_testplugin, run_cli

EXAMPLE = REPO / "examples" / "benchsuite-example-plugin"
DIST = "benchsuite-example-plugin"


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture
def installed_example():
    if _pip("show", DIST).returncode == 0:
        pytest.fail(f"{DIST} is already installed in this environment; uninstall it first")
    done = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        removed = _pip("uninstall", "--yes", DIST)
        assert removed.returncode == 0, removed.stderr


def test_example_plugin_is_discovered_after_install_and_gone_after_uninstall(installed_example, tmp_path):
    env = env_with_testplugin({"BENCHSUITE_CACHE_DIR": str(tmp_path / "cache")})
    env.pop("BENCHSUITE_LOAD_PLUGINS", None)
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    example = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}["example"]
    assert (example["distribution"], example["version"]) == (DIST, "0.2.0")
    assert (example["models"], example["datasets"], example["metrics"]) == (
        ["example-mfcc-mlp"], ["example-tones"], ["example-auc"])

    limited = dict(env, BENCHSUITE_LOAD_PLUGINS="example,spoof-metrics")
    models = run_cli("list", "models", "--json", env=limited)
    assert models.returncode == 0, models.stderr
    rows = json.loads(models.stdout)
    assert [r["name"] for r in rows] == ["example-mfcc-mlp"]
    assert rows[0]["plugin"]["distribution"] == DIST and rows[0]["params"] > 0

    out = tmp_path / "runs"
    ran = run_cli("run", "--models", "example-mfcc-mlp", "--datasets", "example-tones", "--profile", "quick",
                  "--out", str(out), "--no-report", env=limited)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(next(out.glob("cells/*/result.json")).read_text())
    assert result["status"] == "done"
    assert result["model"]["plugin"]["distribution"] == DIST
    assert 0.0 <= result["metrics"]["eval"]["auc"] <= 1.0
    assert 0.0 <= result["metrics"]["eval"]["eer"] <= 1.0


def test_the_example_plugins_own_tests_pass_with_benchsuite_testing(installed_example, tmp_path):
    """Its tests use only benchsuite.testing, as a third-party author's would."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(EXAMPLE),
                           str(EXAMPLE / "tests")], capture_output=True, text=True, timeout=900,
                          env=env_with_testplugin({"BENCHSUITE_CACHE_DIR": str(tmp_path / "cache")}), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_example_plugin_absent_when_not_installed():
    env = env_with_testplugin()
    env.pop("BENCHSUITE_LOAD_PLUGINS", None)
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "example" not in {p["name"] for p in json.loads(listed.stdout)["plugins"]}
