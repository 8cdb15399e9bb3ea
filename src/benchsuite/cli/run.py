"""`benchsuite run`: plan -> executor -> results store -> report."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from benchsuite.cli._context import registry_for
from benchsuite.cli.executor_options import executor_options
from benchsuite.common.progress import Progress, format_duration
from benchsuite.common.provenance import now_iso
from benchsuite.contract import ConfigError
from benchsuite.execution.base import Executor, LocalExecutor
from benchsuite.planning.options import RunOptions
from benchsuite.planning.plan import Cell, describe
from benchsuite.planning.sweeps import describe_matrix, plan_matrix, sweep_record
from benchsuite.plugins.registry import Registry, get_registry
from benchsuite.storage.reuse import partition_cells
from benchsuite.storage.store import ResultsStore


@dataclass
class RunSummary:
    out: Path
    cells: list[Cell]
    reused: list[str] = field(default_factory=list)  # cell ids already done before this run
    results: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") not in ("done", "running")]

    @property
    def running_elsewhere(self) -> list[dict[str, Any]]:
        """Cells another live process holds the lease of: left to it, neither done nor failed."""
        return [r for r in self.results if r.get("status") == "running"]


def run_benchmark(options: RunOptions, *, registry: Registry | None = None, executor: Executor | None = None,
                  progress: Progress | None = None) -> RunSummary:
    started = time.monotonic()
    progress = progress or Progress()
    registry = registry or get_registry()
    executor = executor or LocalExecutor(registry)
    cells = plan_matrix(registry, options)
    executor.check_device(options.device)
    out = Path(options.out)
    store = ResultsStore(out)
    summary = RunSummary(out, cells)
    reuse = partition_cells(store, cells, progress)
    pending = reuse.pending
    summary.reused.extend(reuse.reused_ids)
    summary.results.extend(reuse.reused + reuse.running)
    progress.message(f"plan: {describe(cells)}; {len(summary.reused)} already done, {len(pending)} to run"
                     + (f", {len(reuse.running)} being run by another process" if reuse.running else ""))
    invocation = {"command": options.command, "start": now_iso(), "cells": [c.cell_id for c in cells],
                  "pending": [c.cell_id for c in pending], "executor": executor.name}
    if options.sweep is not None:
        invocation["sweep"] = sweep_record(options, cells)
    if pending:
        results = executor.run(pending, out, progress)
        summary.results.extend(results)
    invocation["end"] = now_iso()
    invocation["failed"] = [r["cell_id"] for r in summary.failed]
    store.record_invocation(invocation)
    store.ensure_index()
    if options.render_report:
        summary.reports = render(out, options.report_dir, options.command)
    summary.seconds = time.monotonic() - started
    if getattr(executor, "detached", False) and pending:
        progress.end_run(f"submitted {len(pending)} cell(s); nothing has run here yet")
        return summary
    done = len(summary.results) - len(summary.failed) - len(summary.running_elsewhere)
    progress.end_run(f"finished in {format_duration(summary.seconds)}: {done} done, {len(summary.failed)} failed"
                     + (f", {len(summary.running_elsewhere)} left to the run training them ("
                        + ", ".join(sorted({str(r.get('held_by')) for r in summary.running_elsewhere})) + ")"
                        if summary.running_elsewhere else ""))
    return summary


def render(out: Path, report_dir: Path, command: str) -> dict[str, Path]:
    from benchsuite.reporting import render_report

    return render_report(out, report_dir, formats=("html", "md", "csv", "json"), command=command)


@click.command()
@click.option("--models", help="Comma-separated model names (default: every compatible model).")
@click.option("--datasets", help="Comma-separated dataset names (default: every dataset whose data is available).")
@click.option("--metrics", help="Comma-separated metric names; limits the matrix to their tasks.")
@click.option("--seeds", type=click.IntRange(min=1), help="Run seeds 1..N.")
@click.option("--seed-list", help="Explicit seeds, e.g. 1,10,100 (instead of --seeds).")
@click.option("--profile", type=click.Choice(["paper", "quick"]), help="paper: the published recipe; quick: short CPU runs.")
@click.option("--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="Mixed precision for training and scoring (default auto: bf16 autocast on a CUDA GPU with bf16 "
                   "tensor cores, fp32 elsewhere; the cell records the precision it used).")
@click.option("--out", type=click.Path(path_type=Path), help="Results store (default: runs).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe/config field: model.aasist.epochs=3, model.*.batch_size=8, recipe.epochs=1, "
                   "dataset.asvspoof2021-la.subset=progress. Repeatable.")
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2",
              help="One sweep axis (same scopes as --set, data.NAME.OPTION for dataset options): "
                   "recipe.optimizer=adam,sgd, model.resnet18.lr=0.001,0.005. Axes multiply. Repeatable.")
@click.option("--dry-run", is_flag=True, help="Print the matrix and its size (and what is already done); train nothing.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML file with these options and a datasets: section.")
@click.option("--data-root", "data_roots", multiple=True, metavar="NAME=DIR", help="Where a dataset lives. Repeatable.")
@click.option("--train-on", help="Training dataset for eval-only datasets (cross-dataset evaluation).")
@click.option("--init-from", help="Start every cell from this cell's best checkpoint (pre-train + fine-tune); a cell "
                                  "of the same model, or of a model it is built on (e.g. xvector for xvector-lstm).")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="MODEL=PATH",
              help="Evaluate these weights (e.g. an author's released checkpoint) as an eval-only row of MODEL "
                   "instead of training it. Repeatable.")
@click.option("--num-workers", help="DataLoader worker processes: auto (default: none on CPU; on CUDA the cell's "
              "cores minus one, at most 16) or a number.")
@click.option("--pin-memory/--no-pin-memory", default=None, help="Pin host memory (default: on with CUDA).")
@click.option("--persistent-workers/--no-persistent-workers", default=None,
              help="Keep loader workers alive between epochs (default: on).")
@click.option("--prefetch", type=click.IntRange(min=1), help="Batches each loader worker prepares ahead "
              "(default: 4 on CUDA, 2 elsewhere).")
@click.option("--audio-cache/--no-audio-cache", default=None,
              help="Decode audio once into an int16 cache (default: on for a split of 16-bit files at the model's "
                   "rate whose cache fits --audio-cache-budget and half the free disk).")
@click.option("--audio-cache-budget", "audio_cache_budget_gb", type=click.FloatRange(min=0),
              help="Largest decoded-audio cache of one split built by default, in GB (default 64).")
@click.option("--deterministic/--no-deterministic", default=None,
              help="Deterministic kernels, cudnn.benchmark off (default: on). Off is faster on GPUs but a repeated "
                   "GPU run is no longer bit-identical.")
@executor_options
@click.option("--report-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the leaderboard is rendered at the end (default reports/).")
@click.option("--no-report", is_flag=True, help="Do not render the leaderboard at the end.")
@click.option("--quiet", is_flag=True, help="Less progress output.")
@click.pass_context
def run(ctx: click.Context, **kw: Any) -> None:
    """Train and evaluate every compatible (dataset, model) pair across seeds.

    Finished cells are reused (a second identical run trains nothing); killed
    cells resume from their last checkpoint. Exit code 1 when a cell failed."""
    from benchsuite.cli.executor_options import build_executor
    from benchsuite.common.progress import Progress
    from benchsuite.cli.run import run_benchmark

    options = build_run_options(kw)
    if kw.get("dry_run"):
        click.echo(dry_run(options, registry_for(ctx)))
        return
    executor = build_executor(kw)
    detached = bool(getattr(executor, "detached", False))
    if detached:
        options.render_report = False  # the cells have not run yet
    registry = registry_for(ctx)
    summary = run_benchmark(options, registry=registry, executor=executor, progress=Progress(quiet=kw["quiet"]))
    click.echo(f"results: {summary.out.resolve()}")
    if detached and getattr(executor, "submitted", None):
        click.echo(f"submitted Slurm job {', '.join(executor.submitted)}; follow it with: "
                   f"benchsuite status --out {summary.out}")
        click.echo("when it has finished, the same `benchsuite run` command (or add --wait) renders the report "
                   "and reruns nothing that is done")
    # the HTML leaderboard is the last line, so `make run` ends with its path
    for fmt, path in sorted(summary.reports.items(), key=lambda item: item[0] == "html"):
        label = "leaderboard" if fmt == "html" else f"report ({fmt})"
        click.echo(f"{label}: {Path(path).resolve()}")
    for result in summary.failed:
        click.echo(f"failed: {result['cell_id']}: {result['error']['message']}", err=True)
    if summary.failed:
        ctx.exit(1)


def dry_run(options: RunOptions, registry: Registry) -> str:
    """The plan (every combination checked, datasets validated) and which cells are done; nothing runs."""
    cells = plan_matrix(registry, options)
    store = ResultsStore(Path(options.out))
    done = {c.cell_id for c in cells if (store.read_result(c.cell_id) or {}).get("status") == "done"}
    return describe_matrix(cells, done, options.sweep)


def build_run_options(kw: dict[str, Any]):
    from benchsuite.planning.options import (
        DEFAULT_AUDIO_CACHE_BUDGET_GB, DataSource, RunOptions, data_sources_from_config, load_config_file,
        parse_data_root, parse_name_list, parse_num_workers, parse_seed_list,
    )
    from benchsuite.common.provenance import command_line
    from benchsuite.planning.sweeps import sweep_spec
    from benchsuite.planning.released import checkpoint_texts

    file_cfg: dict[str, Any] = {}
    if kw.get("config_file"):
        file_cfg = load_config_file(kw["config_file"])

    def pick(cli_value: Any, key: str, default: Any) -> Any:
        return cli_value if cli_value is not None else file_cfg.get(key, default)

    def names(cli_value: str | None, key: str, option: str) -> list[str] | None:
        if cli_value is not None:
            return parse_name_list(cli_value, option)
        value = file_cfg.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"--config {kw['config_file']}: '{key}' must be a list of names")
        return value

    if kw.get("seeds") is not None and kw.get("seed_list"):
        raise ConfigError("give either --seeds N or --seed-list, not both")
    if kw.get("seed_list"):
        seeds = parse_seed_list(kw["seed_list"])
    elif kw.get("seeds") is not None:
        seeds = list(range(1, kw["seeds"] + 1))
    elif file_cfg.get("seed_list") is not None:
        seeds = [int(s) for s in file_cfg["seed_list"]]
    else:
        seeds = list(range(1, int(file_cfg.get("seeds", 1)) + 1))

    data = data_sources_from_config(file_cfg.get("datasets"), kw.get("config_file") or Path("."))
    for text in kw.get("data_roots") or ():
        name, root = parse_data_root(text)
        data.setdefault(name, DataSource()).root = root
    overrides = [f"{k}={v}" for k, v in (file_cfg.get("set") or {}).items()] + list(kw.get("overrides") or ())
    return RunOptions(
        models=names(kw.get("models"), "models", "--models"),
        datasets=names(kw.get("datasets"), "select_datasets", "--datasets"),
        metrics=names(kw.get("metrics"), "metrics", "--metrics"),
        seeds=seeds,
        profile=pick(kw.get("profile"), "profile", "paper"),
        device=pick(kw.get("device"), "device", "auto"),
        precision=pick(kw.get("precision"), "precision", "auto"),
        out=Path(pick(kw.get("out"), "out", "runs")),
        overrides=overrides,
        data=data,
        train_on=pick(kw.get("train_on"), "train_on", None),
        init_from=kw.get("init_from"),
        checkpoints=checkpoint_texts(file_cfg.get("checkpoints"), f"--config {kw.get('config_file')}")
        + list(kw.get("checkpoints") or ()),
        num_workers=parse_num_workers(pick(kw.get("num_workers"), "num_workers", "auto")),
        pin_memory=pick(kw.get("pin_memory"), "pin_memory", None),
        persistent_workers=bool(pick(kw.get("persistent_workers"), "persistent_workers", True)),
        prefetch_factor=pick(kw.get("prefetch"), "prefetch", None),
        audio_cache=pick(kw.get("audio_cache"), "audio_cache", None),
        audio_cache_budget_gb=float(pick(kw.get("audio_cache_budget_gb"), "audio_cache_budget_gb",
                                         DEFAULT_AUDIO_CACHE_BUDGET_GB)),
        deterministic=bool(pick(kw.get("deterministic"), "deterministic", True)),
        render_report=not kw.get("no_report"),
        report_dir=Path(pick(kw.get("report_dir"), "report_dir", "reports")),
        command=command_line(),
        sweep=sweep_spec(kw.get("sweeps") or (), file_cfg.get("sweep"), kw.get("config_file")),
    )
