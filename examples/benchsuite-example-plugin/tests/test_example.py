"""The example plugin's own tests, written with benchsuite.testing as any plugin author would."""
from __future__ import annotations

from benchsuite.testing import one_cell, registry_with, write_tiny_spoof_corpus


def test_the_plugin_registers_its_model_dataset_and_metric():
    registry = registry_with("example", builtins=())
    assert registry.models.names() == ["example-mfcc-mlp"]
    assert registry.datasets.names() == ["example-tones"]
    assert registry.metrics.names() == ["example-auc"]


def test_one_quick_cell_on_the_embedded_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHSUITE_CACHE_DIR", str(tmp_path / "cache"))
    registry = registry_with("example", builtins=("spoof-metrics",))  # dev-EER selection needs the eer metric
    result = one_cell(registry, "example-mfcc-mlp", None, tmp_path / "runs", dataset="example-tones")
    assert result["status"] == "done", result.get("error")
    assert 0.0 <= result["metrics"]["eval"]["auc"] <= 1.0
    assert result["model"]["plugin"]["name"] == "example"


def test_the_model_also_trains_on_an_asvspoof_layout_corpus(tmp_path):
    corpus = write_tiny_spoof_corpus(tmp_path / "LA")
    result = one_cell(registry_with("example"), "example-mfcc-mlp", corpus, tmp_path / "runs",
                      overrides=["model.example-mfcc-mlp.epochs=1"])
    assert result["status"] == "done", result.get("error")
    assert result["dataset"]["name"] == "asvspoof2019-la" and result["training"]["epochs_run"] == 1
