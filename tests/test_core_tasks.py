"""The verify and classify paths of the runner, on tiny Kaldi-style corpora."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders_core import env_with_testplugin, run_cli
from builders_speaker import make_kaldi_corpus


def _result(out: Path) -> dict:
    results = [json.loads(p.read_text()) for p in out.glob("cells/*/result.json")]
    assert len(results) == 1
    return results[0]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("speaker")
    return {"verify": make_kaldi_corpus(root / "verify", task="verify", dev=True, per_speaker=4),
            "classify": make_kaldi_corpus(root / "classify", task="classify", dev=True, per_speaker=4)}


def test_verify_cell_selects_on_dev_trials_and_scores_eval_trials_with_asnorm(corpora, tmp_path):
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": "kaldi,verify-metrics,xvector"})
    done = run_cli("run", "--models", "xvector", "--datasets", "kaldi-dir", "--data-root",
                   f"kaldi-dir={corpora['verify']}", "--profile", "quick", "--set", "recipe.epochs=2",
                   "--set", "recipe.batch_size=4", "--set", "recipe.selection=dev_eer",
                   "--set", "recipe.score_norm=asnorm", "--set", "recipe.asnorm_top_n=2",
                   "--out", str(tmp_path), "--no-report", env=env)
    assert done.returncode == 0, done.stderr
    result = _result(tmp_path)
    assert result["status"] == "done" and result["task"] == "verify"
    assert result["selection"]["rule"] == "dev_eer" and result["selection"]["epoch"] in (1, 2)
    assert 0.0 <= result["metrics"]["eval"]["eer"] <= 1.0
    assert set(result["metrics"]["eval"]) >= {"eer", "min_dcf_p0.01", "min_dcf_p0.05"}
    cell = next(tmp_path.glob("cells/*"))
    lines = (cell / "scores.txt").read_text().splitlines()
    assert len(lines) == 8 * 7 // 2  # all pairs of the 8 eval utterances
    assert all(line.split()[3] in ("target", "nontarget") for line in lines)
    assert (cell / "dev_scores.txt").exists()


def test_classify_task_comes_from_the_dataset_option(corpora, tmp_path):
    env = env_with_testplugin({"BENCHSUITE_LOAD_PLUGINS": "kaldi,classify-metrics,testplugin"})
    done = run_cli("run", "--models", "tiny-cnn", "--datasets", "kaldi-dir", "--data-root",
                   f"kaldi-dir={corpora['classify']}", "--set", "dataset.kaldi-dir.task=classify",
                   "--set", "recipe.selection=dev_accuracy", "--profile", "quick", "--out", str(tmp_path),
                   "--no-report", env=env)
    assert done.returncode == 0, done.stderr
    result = _result(tmp_path)
    assert result["task"] == "classify" and result["status"] == "done"
    assert result["training"]["class_names"] == ["happy", "sad"]
    confusion = result["extra"]["eval"]["confusion_matrix"]
    assert confusion["classes"] == ["happy", "sad"]
    assert sum(map(sum, confusion["matrix"])) == 8  # every eval utterance counted once
    predictions = (next(tmp_path.glob("cells/*")) / "scores.txt").read_text().split()
    assert set(predictions[1::3]) | set(predictions[2::3]) <= {"happy", "sad"}
