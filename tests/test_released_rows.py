"""Issue 16: released checkpoints as eval-only leaderboard rows (``run --checkpoint MODEL=PATH``).

The authors' AASIST, AASIST-L and RawGAT-ST weights (../shared/reference/checkpoints) are
evaluated on a small synth-la beside a trained row; each released cell's score file equals
what ``benchsuite predict`` gives for the same audio, and the leaderboard marks the rows.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchsuite.api import ConfigError, DataError
from benchsuite.cli.predict import build_scoring_model, load_checkpoint_file, resolve_config, score_files
from benchsuite.cli.run import build_run_options, run_benchmark
from benchsuite.common.progress import Progress
from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.planning.plan import build_plan
from benchsuite.planning.released import file_sha256
from benchsuite.plugins.registry import get_registry
from benchsuite.reporting.collect import build_report
from benchsuite.reporting.render import render_report

CHECKPOINTS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "checkpoints"
if not CHECKPOINTS.is_dir():
    CHECKPOINTS = Path("/work/shared/reference/checkpoints")
RELEASED = {"aasist": "AASIST.pth", "aasist-l": "AASIST-L.pth", "rawgat-st": "RawGAT-ST-mul.pth"}
SYNTH = {"train": 12, "dev": 12, "eval": 16, "min_seconds": 0.8, "max_seconds": 1.2}
# a few utterances, and half-second crops for the AASISTs, keep the CPU forward passes short
# (RawGAT-ST's node projections need its 64,600-sample input)
SMALL = ["recipe.max_dev_utterances=6", "recipe.max_eval_utterances=8", "model.aasist.crop_samples=8000",
         "model.aasist-l.crop_samples=8000"]


def _released_paths() -> dict[str, Path]:
    paths = {model: CHECKPOINTS / name for model, name in RELEASED.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        pytest.skip(f"released checkpoints not available here (../shared/reference/checkpoints): {', '.join(missing)}")
    return paths


def _options(out: Path, models: list[str], checkpoints: list[str], seeds: list[int] | None = None) -> RunOptions:
    return RunOptions(models=models, datasets=["synth-la"], seeds=seeds or [1], profile="quick", device="cpu",
                      out=out, data={"synth-la": DataSource(None, dict(SYNTH))}, checkpoints=checkpoints,
                      overrides=list(SMALL), render_report=False, command="pytest")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    paths = _released_paths()
    out = tmp_path_factory.mktemp("released") / "runs"
    quiet = Progress(quiet=True)
    checkpoints = [f"{model}={path}" for model, path in paths.items()]
    run_benchmark(_options(out, list(RELEASED), checkpoints, seeds=[1, 2]), progress=quiet)
    # a trained row of the same model beside its released row (one short epoch)
    trained = _options(out, ["aasist-l"], [])
    trained.overrides += ["recipe.epochs=1", "recipe.max_train_utterances=8"]
    run_benchmark(trained, progress=quiet)
    return out


def _results(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("cells/*/result.json"))]


def test_released_cells_are_eval_only_and_identified_by_the_file_hash(store):
    paths = _released_paths()
    released = [r for r in _results(store) if r["model"].get("released_weights")]
    # one cell per checkpoint, whatever the seeds
    assert sorted(r["model"]["name"] for r in released) == sorted(RELEASED)
    for result in released:
        assert result["status"] == "done", result.get("error")
        weights = result["model"]["released_weights"]
        assert weights == {"sha256": file_sha256(paths[result["model"]["name"]]), "file": RELEASED[result["model"]["name"]]}
        assert result["training"]["epochs_run"] == 0 and result["selection"]["epoch"] is None
        assert ".released." in result["cell_id"]
        assert not (store / "cells" / result["cell_id"] / "checkpoints").exists()
    assert {"aasist": 297_866, "aasist-l": 85_306}.items() <= {r["model"]["name"]: r["model"]["params"]
                                                               for r in released}.items()


def test_released_score_files_equal_predict(store):
    paths = _released_paths()
    spec_of = get_registry().models
    for result in _results(store):
        if not result["model"].get("released_weights"):
            continue
        name = result["model"]["name"]
        cell = store / "cells" / result["cell_id"]
        lines = [line.split() for line in (cell / "scores.txt").read_text().splitlines()]
        spec = spec_of.get(name).spec
        state = load_checkpoint_file(paths[name])
        recipe, config = resolve_config(spec, state, [o for o in SMALL if o.startswith(f"model.{name}.")], "quick")
        model = build_scoring_model(spec, config, state, paths[name])
        audio = _eval_audio(result, [line[0] for line in lines])
        predictions, failures = score_files(model, audio, recipe, "cpu", batch_size=4)
        assert not failures
        np.testing.assert_allclose([float(line[-1]) for line in lines], [p[1] for p in predictions],
                                   rtol=0, atol=1e-5, err_msg=name)


def _eval_audio(result: dict, utterance_ids: list[str]) -> list[str]:
    """The audio files of the cell's eval split, in score-file order (through the dataset reader)."""
    from benchsuite.planning.plan import open_dataset
    from benchsuite.planning.cell_config import DataEntry

    spec = get_registry().datasets.get("synth-la").spec
    dataset = open_dataset(spec, DataEntry(None, dict(result["dataset"]["options"])))
    by_id = {u.utt_id: str(u.path) for u in dataset.load_split("eval").utterances}
    return [by_id[u] for u in utterance_ids]


def test_leaderboard_marks_released_rows_beside_trained_rows(store):
    table = next(t for t in build_report(store).tables if t.split == "eval")
    rows = {(row.model, row.key.released is not None): row for row in table.rows}
    for model, name in RELEASED.items():
        row = rows[(model, True)]
        assert row.key.released.startswith(f"{name} sha256:")
        assert "released weights" in row.label()
    assert rows[("aasist-l", False)].key.released is None  # the trained row stays its own row
    reports = render_report(store, store.parent / "reports", formats=("html", "md", "json"))
    html = Path(reports["html"]).read_text()
    assert html.count('class="badge badge-released"') == 2 * len(RELEASED)  # eval and dev tables
    markdown = Path(reports["md"]).read_text()
    assert "released weights AASIST-L.pth sha256:" in markdown and "| released |" in markdown
    exported = json.loads(Path(reports["json"]).read_text())
    released_rows = [row for table in exported["tables"] for row in table["rows"] if row["released_weights"]]
    assert len(released_rows) == 2 * len(RELEASED)


def test_checkpoint_option_errors_and_config_file(tmp_path):
    registry = get_registry()
    with pytest.raises(ConfigError, match="expected MODEL=PATH"):
        build_plan(registry, _options(tmp_path, ["aasist"], ["aasist"]))
    with pytest.raises(ConfigError, match="model 'rawnet2' is not in this run"):
        build_plan(registry, _options(tmp_path, ["aasist"], ["rawnet2=/x.pth"]))
    with pytest.raises(DataError, match="no such file"):
        build_plan(registry, _options(tmp_path, ["aasist"], [f"aasist={tmp_path / 'absent.pth'}"]))
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"any bytes: the plan hashes, the cell loads")
    config = tmp_path / "run.yaml"
    config.write_text(f"models: [aasist]\ncheckpoints: {{aasist: {weights}}}\n")
    options = build_run_options({"config_file": config, "datasets": "synth-la", "profile": "quick"})
    assert options.checkpoints == [f"aasist={weights}"]
    options.data = {"synth-la": DataSource(None, dict(SYNTH))}
    cells = build_plan(registry, options)
    assert len(cells) == 1
    identity = cells[0].identity
    assert identity.released == {"sha256": file_sha256(weights), "file": "w.pth"}
    assert cells[0].config.runtime.released_path == str(weights.resolve())
    assert identity.to_plain()["released"]["sha256"] == file_sha256(weights)
    trained = build_plan(registry, _options(tmp_path, ["aasist"], []))[0]
    assert "released" not in trained.identity.to_plain() and ".s1." in trained.cell_id
