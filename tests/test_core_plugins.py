"""Plugin discovery: entry points, attribution, selection, failures, duplicates."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from benchsuite.api import ConfigError, ModelSpec, Recipe, Task
from benchsuite.contract.hookspecs import hookimpl
from benchsuite.plugins.registry import build_registry, unknown_name_message
from builders_core import TESTPLUGIN, run_cli, env_with_testplugin


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Reload entry points under a modified environment, and restore afterwards."""
    monkeypatch.syspath_prepend(str(TESTPLUGIN))
    yield monkeypatch


def test_builtin_plugins_register_through_entry_points(fresh_plugins):
    fresh_plugins.delenv("BENCHSUITE_LOAD_PLUGINS", raising=False)
    registry = build_registry()
    lcnn = registry.models.get("lfcc-lcnn")
    assert lcnn.plugin.name == "lfcc-lcnn"
    assert lcnn.plugin.distribution == "benchsuite"
    assert lcnn.plugin.version
    tiny = registry.models.get("tiny-cnn")
    assert (tiny.plugin.name, tiny.plugin.distribution, tiny.plugin.version) == ("testplugin", "benchsuite-testplugin", "0.1")


def test_broken_plugin_is_reported_and_others_still_load(fresh_plugins):
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,broken,lfcc-lcnn")
    registry = build_registry()
    failures = {f.name: f for f in registry.failures}
    assert "broken" in failures
    assert failures["broken"].distribution == "benchsuite-testplugin"
    assert "ImportError: this test plugin is broken on purpose" in failures["broken"].error
    assert set(registry.models.names()) == {"tiny-cnn", "lfcc-lcnn"}


def test_strict_turns_a_broken_plugin_into_an_error(fresh_plugins):
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "broken")
    with pytest.raises(ConfigError, match=r"plugin 'broken' \(from benchsuite-testplugin\) failed to load: ImportError"):
        build_registry(strict=True)


def test_load_plugins_env_limits_and_empty_loads_none(fresh_plugins):
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin")
    assert build_registry().models.names() == ["tiny-cnn"]
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    registry = build_registry()
    assert registry.models.names() == [] and registry.datasets.names() == [] and registry.metrics.names() == []


def test_unknown_plugin_name_in_env_is_reported(fresh_plugins):
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin,no-such-plugin")
    registry = build_registry()
    assert any(f.name == "no-such-plugin" and "no entry point" in f.error for f in registry.failures)


@dataclass
class _Cfg:
    width: int = 1


def _spec(name: str) -> ModelSpec:
    return ModelSpec(name=name, tasks=(Task.SPOOF,), build=lambda c, t: None, config_class=_Cfg,
                     recipes={"paper": Recipe()})


class _First:
    @staticmethod
    @hookimpl
    def benchsuite_register_models(register):
        register(_spec("dup-model"))


class _Second:
    @staticmethod
    @hookimpl
    def benchsuite_register_models(register):
        register(_spec("dup-model"))


def test_name_registered_twice_names_both_plugins(fresh_plugins):
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    with pytest.raises(ConfigError) as err:
        build_registry(extra={"first-plugin": _First, "second-plugin": _Second})
    message = str(err.value)
    assert "model 'dup-model' is registered twice" in message
    assert "'first-plugin'" in message and "'second-plugin'" in message


def test_register_with_wrong_type_is_an_error(fresh_plugins):
    class Bad:
        @staticmethod
        @hookimpl
        def benchsuite_register_models(register):
            register("not a spec")

    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    # contained like an import failure: listed, nothing of it registered; --strict makes it an error
    (failure,) = build_registry(extra={"bad-plugin": Bad}).failures
    assert failure.name == "bad-plugin"
    assert "passed a str to register" in failure.error and "expected ModelSpec" in failure.error
    with pytest.raises(ConfigError, match="plugin 'bad-plugin' failed to load: hook benchsuite_register_models "
                                          "raised ConfigError: plugin 'bad-plugin' passed a str to register"):
        build_registry(strict=True, extra={"bad-plugin": Bad})


def test_unknown_name_suggests_the_closest():
    message = unknown_name_message("model", "aasit", ["aasist", "aasist-l", "rawnet2"])
    assert "unknown model 'aasit'. Did you mean 'aasist'?" in message
    assert "Known models: aasist, aasist-l, rawnet2" in message


def test_cli_plugins_json_and_unknown_model_suggestion():
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": "testplugin,broken,lfcc-lcnn"})
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["testplugin"]["models"] == ["tiny-cnn"]
    assert by_name["testplugin"]["distribution"] == "benchsuite-testplugin"
    assert by_name["lfcc-lcnn"]["models"] == ["lfcc-lcnn"]
    assert [f["name"] for f in data["failed"]] == ["broken"]
    wrong = run_cli("run", "--models", "tiny-cn", env=env)
    assert wrong.returncode == 2
    assert "unknown model 'tiny-cn'. Did you mean 'tiny-cnn'?" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_a_misspelt_hook_is_reported_not_silently_ignored(fresh_plugins):
    class Misspelt:
        @staticmethod
        @hookimpl
        def benchsuite_register_model(register):  # "models"
            register(_spec("never-registered"))

    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    registry = build_registry(extra={"misspelt": Misspelt})
    (failure,) = registry.failures
    assert failure.name == "misspelt"
    assert "benchsuite_register_model" in failure.error and "benchsuite_register_models" in failure.error
    assert "never-registered" not in registry.models
    with pytest.raises(ConfigError, match=r"plugin 'misspelt' failed to load: PluginValidationError"):
        build_registry(strict=True, extra={"misspelt": Misspelt})


def test_each_registry_has_its_own_plugin_manager(fresh_plugins):
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "")
    with_first = build_registry(extra={"first-plugin": _First})
    alone = build_registry()
    assert "dup-model" in with_first.models and "dup-model" not in alone.models
    fresh_plugins.setenv("BENCHSUITE_LOAD_PLUGINS", "testplugin")
    assert build_registry().models.names() == ["tiny-cnn"]  # the environment is read at each build
