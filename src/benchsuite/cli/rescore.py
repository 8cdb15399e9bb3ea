"""``benchsuite rescore``: run the registered metrics again on the score files a results store
already holds, without training (after a metric plugin was fixed, or a new one installed).

Each done cell's ``scores.txt`` (and ``dev_scores.txt`` when the cell stored dev metrics) is
read with the task's reader; a countermeasure file is joined to the dataset's split when the
cell's data root is still there (attacks, conditions and the organisers' ASV scores for the
t-DCF), and scored on its own KEY column otherwise.  The cell's result.json is rewritten
atomically with the new metrics and a ``rescored`` record; the cell id, the scores and the
training are untouched.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from benchsuite.cli._context import registry_for
from benchsuite.contract import BenchsuiteError, ConfigError, ScoreSet, Task


@click.command("rescore")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True, help="Results store.")
@click.option("--cell", "cell_ids", multiple=True, metavar="CELL_ID",
              help="Rescore only this cell (repeatable; default: every done cell).")
@click.option("--errors-only", is_flag=True, help="Only cells whose result records a metric that failed.")
@click.pass_context
def rescore(ctx: click.Context, out: Path, cell_ids: tuple[str, ...], errors_only: bool) -> None:
    """Recompute every metric of stored cells from their score files. Exit code 1 when a metric
    still fails."""
    from benchsuite.storage.store import ResultsStore

    store = ResultsStore(out)
    if not store.cells_dir.is_dir():
        raise ConfigError(f"--out {out}: no results store here (no cells/ directory)")
    known = store.cell_ids()
    for cell_id in cell_ids:
        if cell_id not in known:
            from benchsuite.plugins.registry import unknown_name_message

            raise ConfigError(f"--cell: {unknown_name_message('cell', cell_id, known)}")
    registry = registry_for(ctx)
    still_failing = 0
    rescored = 0
    for cell_id in cell_ids or known:
        result = store.read_result(cell_id)
        if result is None or result.get("status") != "done":
            if cell_ids:
                click.echo(f"skipped {cell_id}: status {None if result is None else result.get('status')!r}; "
                           f"only done cells have score files to rescore", err=True)
            continue
        if errors_only and not result.get("metric_errors"):
            continue
        try:
            updated, errors = rescore_cell(registry, store, cell_id, result)
        except BenchsuiteError as err:
            click.echo(f"error: {cell_id}: {err}", err=True)
            still_failing += 1
            continue
        store.write_result(cell_id, {k: v for k, v in updated.items() if k not in ("schema_version", "cell_id")})
        rescored += 1
        values = updated["metrics"].get("eval", {})
        shown = ", ".join(f"{k} {v:.6g}" for k, v in list(values.items())[:4] if isinstance(v, (int, float)))
        click.echo(f"rescored {cell_id}: {shown or 'no metric values'}")
        for split, failures in errors.items():
            for name, error in failures.items():
                click.echo(f"  metric {name!r} failed again ({split}): {error}", err=True)
                still_failing += 1
    click.echo(f"{rescored} cell(s) rescored" + (f", {still_failing} problem(s)" if still_failing else ""))
    if still_failing:
        ctx.exit(1)


def rescore_cell(registry: Any, store: Any, cell_id: str, result: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The cell's result with its metrics computed again from its score files, and the metric
    errors per split.  Raises a BenchsuiteError naming the file when a score file is unusable."""
    from benchsuite.common.provenance import now_iso
    from benchsuite.scoring.metrics import compute_metrics

    task = Task(result["task"])
    cell_dir = store.cell_dir(cell_id)
    config = store.read_config(cell_id) or {}
    artifacts = result.get("artifacts") or {}
    splits = {"eval": (cell_dir / (artifacts.get("scores") or "scores.txt"),
                       (result.get("dataset") or {}).get("eval_split") or "eval")}
    dev_file = artifacts.get("dev_scores")
    if "dev" in (result.get("metrics") or {}) and dev_file:
        splits["dev"] = (cell_dir / dev_file, (result.get("dataset") or {}).get("dev_split") or "dev")
    updated = {**result, "metrics": dict(result.get("metrics") or {}), "breakdown": dict(result.get("breakdown") or {}),
               "extra": dict(result.get("extra") or {}), "notes": dict(result.get("notes") or {})}
    info: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    for split, (path, split_name) in splits.items():
        if not path.is_file():
            raise ConfigError(f"{path}: the cell's {split} score file is missing")
        scores = _read_scores(registry, task, path, split_name, result, config, from_train=split == "dev")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            computed = compute_metrics(registry, task, scores)
        updated["metrics"][split] = computed.values
        info.update(computed.info)
        if split == "eval":
            updated["breakdown"]["eval"] = computed.breakdown
            updated["extra"]["eval"] = computed.extra
        notes = {k: v for k, v in (updated["notes"].get(split) or {}).items() if k in ("selection", "scoring")}
        notes.update(computed.notes)
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        if messages:
            notes["warnings"] = "; ".join(messages)
        if notes:
            updated["notes"][split] = notes
        if computed.errors:
            errors[split] = computed.errors
    updated["metric_info"] = info
    updated["metric_errors"] = errors
    updated["rescored"] = {"at": now_iso(), "metrics": sorted({i["metric"] for i in info.values()})}
    return updated, errors


def _read_scores(registry: Any, task: Task, path: Path, split_name: str, result: dict[str, Any],
                 config: dict[str, Any], *, from_train: bool) -> ScoreSet:
    from benchsuite.scoring import files as scorefiles

    if task == Task.SPOOF:
        split = _stored_split(registry, result, config, split_name, from_train)
        if split is None:
            return scorefiles.spoof_scores_from_files(path)  # the file's own KEY column
        from benchsuite.contract import SplitData

        score_file = scorefiles.read_cm_scores(path)
        scored = set(score_file.utt_ids)
        # a quick profile scores a subset of the split: join to the utterances the cell scored
        chosen = SplitData(split.name, [u for u in split.utterances if u.utt_id in scored],
                           asv_scores=split.asv_scores, source=split.source)
        return scorefiles.join_spoof_scores(score_file, scorefiles.spoof_key_from_split(chosen), split.asv_scores)
    if task == Task.VERIFY:
        return scorefiles.verify_scores_from_files(path)
    class_names = (result.get("training") or {}).get("class_names")
    return scorefiles.read_classify_scores(path, class_names)


def _stored_split(registry: Any, result: dict[str, Any], config: dict[str, Any], split_name: str,
                  from_train: bool) -> Any:
    """The split the cell scored, from the data root in its config, or None when it is gone."""
    from benchsuite.planning.cell_config import DataEntry
    from benchsuite.planning.plan import open_dataset

    data = (config.get("runtime") or {}).get("data") or {}
    dataset = result.get("dataset") or {}
    name = dataset.get("train_dataset") if from_train else dataset.get("name")
    if name not in data or name not in registry.datasets:
        return None
    try:
        entry = data[name] if isinstance(data[name], dict) else {}
        opened = open_dataset(registry.datasets.get(name).spec,
                              DataEntry(entry.get("root"), dict(entry.get("options") or {})))
        return opened.load_split(split_name)
    except BenchsuiteError:
        return None
