"""The results store: atomic files, the SQLite index and its rebuild."""
from __future__ import annotations

import os

import pytest

from benchsuite.common.files import atomic_write_text
from benchsuite.storage.store import ResultsStore


def _result(cell: str, eer: float, status: str = "done") -> dict:
    return {"status": status, "task": "spoof", "seed": 1, "profile": "quick",
            "dataset": {"name": "synth-la", "train_dataset": "synth-la", "task": "spoof"},
            "model": {"name": cell.split(".")[0]}, "metrics": {"eval": {"eer": eer, "min_tdcf_legacy": None}}}


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_index_is_rebuilt_from_cell_directories(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_result("m1.x", _result("m1.x", 0.1))
    store.write_result("m2.x", _result("m2.x", 0.2, status="failed"))
    store.write_config("m3.x", {"identity": {}})  # started, never finished
    assert store.query("SELECT cell_id, status FROM cells ORDER BY cell_id") == [("m1.x", "done"), ("m2.x", "failed")]
    assert [c["cell_id"] for c in store.incomplete()] == ["m3.x"]
    store.index_path.unlink()
    assert store.index_is_stale()
    assert store.query("SELECT value FROM metrics WHERE cell_id='m1.x' AND metric='eer'") == [(0.1,)]
    # a cell written by another process (not through this store) makes the index stale
    other = ResultsStore(tmp_path)
    atomic_write_text(other.result_path("m4.x"), '{"schema_version": 1, "cell_id": "m4.x", "status": "done"}')
    assert store.index_is_stale()
    assert store.rebuild_index() == 3
    assert not store.index_is_stale()


def test_result_carries_schema_version(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_result("a.b", _result("a.b", 0.3))
    stored = store.read_result("a.b")
    assert stored["schema_version"] == 1 and stored["cell_id"] == "a.b"
    assert store.read_result("missing") is None
