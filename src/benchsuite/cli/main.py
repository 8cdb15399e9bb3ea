"""The ``benchsuite`` command line."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from benchsuite import __version__
from benchsuite.contract import BenchsuiteError, ConfigError, Task
from benchsuite.cli.executor_options import executor_options

# Commands implemented in their own modules are imported only when used, so
# `benchsuite --help` and `benchsuite plugins` stay fast.
LAZY_COMMANDS = {
    "score": ("benchsuite.cli.score", "score"),
    "predict": ("benchsuite.cli.predict", "predict"),
    "report": ("benchsuite.cli.report", "report"),
}


class UserError(click.ClickException):
    """A BenchsuiteError shown as one line, exit code 2 (no traceback)."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchsuiteError as exc:
            raise UserError(str(exc)) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="benchsuite")
@click.option("--strict", is_flag=True, help="Treat a plugin that fails to load as an error.")
@click.pass_context
def cli(ctx: click.Context, strict: bool) -> None:
    """Benchmark speech anti-spoofing, speaker verification and classification
    models across datasets and seeds, reproducibly."""
    ctx.obj = {"strict": strict}


def _registry(ctx: click.Context):
    from benchsuite.plugins.manager import failure_message
    from benchsuite.plugins.registry import get_registry

    strict = bool((ctx.find_root().obj or {}).get("strict"))
    registry = get_registry(strict=strict)
    for failure in registry.failures:
        click.echo(f"warning: {failure_message(failure)}", err=True)
    return registry


# --------------------------------------------------------------------------- plugins / list


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--strict", is_flag=True, help="Exit with an error (code 2) when any plugin fails to load.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, strict: bool) -> None:
    """List loaded plugins, what each registered, and plugins that failed to load."""
    if strict:
        ctx.find_root().obj["strict"] = True
    registry = _registry(ctx)
    listing = registry.plugins()
    failures = [{"name": f.name, "distribution": f.distribution, "error": f.error} for f in registry.failures]
    if as_json:
        click.echo(json.dumps({"plugins": listing, "failed": failures}, indent=2))
        return
    for item in listing:
        who = f"{item['distribution']} {item['version']}" if item["distribution"] else "registered in-process"
        click.echo(f"{item['name']} ({who})")
        for key in ("models", "datasets", "metrics", "augmentations"):
            if item[key]:
                click.echo(f"  {key}: {', '.join(item[key])}")
        if item["baselines"]:
            click.echo(f"  baselines: {item['baselines']}")
    for failure in failures:
        click.echo(f"{failure['name']} FAILED to load: {failure['error']}")


def _model_params(spec: Any) -> int | None:
    from benchsuite.contract import TaskInfo

    config = spec.config_class()
    if spec.count_parameters is not None:
        return int(spec.count_parameters(config))
    task = spec.tasks[0]
    model = spec.build(config, TaskInfo(task, num_classes=2 if task == Task.SPOOF else 4))
    return int(sum(p.numel() for p in model.parameters()))


@cli.command("list")
@click.argument("kind", type=click.Choice(["models", "datasets", "metrics", "baselines", "augmentations"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, kind: str, as_json: bool) -> None:
    """List registered models, datasets, metrics, baselines or augmentations."""
    registry = _registry(ctx)
    rows: list[dict[str, Any]] = []
    if kind == "models":
        for reg in registry.models:
            spec = reg.spec
            rows.append({"name": spec.name, "tasks": [t.value for t in spec.tasks], "params": _model_params(spec),
                         "output": spec.output, "profiles": sorted(spec.recipes), "plugin": reg.plugin.as_dict(),
                         "description": spec.description, "paper": spec.paper})
    elif kind == "datasets":
        for reg in registry.datasets:
            spec = reg.spec
            rows.append({"name": spec.name, "task": spec.task.value, "splits": list(spec.splits),
                         "embedded": spec.embedded, "eval_only": spec.eval_only, "train_on": spec.train_on,
                         "plugin": reg.plugin.as_dict(), "description": spec.description})
    elif kind == "metrics":
        for reg in registry.metrics:
            spec = reg.spec
            rows.append({"name": spec.name, "task": spec.task.value, "plugin": reg.plugin.as_dict(),
                         "outputs": [{"key": o.key, "label": o.label, "formulation": o.formulation,
                                      "lower_is_better": o.lower_is_better} for o in spec.outputs],
                         "description": spec.description})
    elif kind == "augmentations":
        for reg in registry.augmentations:
            rows.append({"name": reg.spec.name, "stage": reg.spec.stage, "plugin": reg.plugin.as_dict(),
                         "description": reg.spec.description})
    else:
        for reg in registry.baselines:
            b = reg.spec
            rows.append({"system": b.system, "dataset": b.dataset, "split": b.split, "metric": b.metric,
                         "value": b.value, "formulation": b.formulation, "model": b.model, "source": b.source,
                         "year": b.year, "conditions": dict(b.conditions), "kind": b.kind,
                         "plugin": reg.plugin.as_dict()})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if kind == "baselines":
            click.echo(f"{row['dataset']:<18} {row['split']:<6} {row['system']:<22} {row['metric']:<18} {row['value']:<10g} "
                       f"{row['source']}")
            continue
        task = ",".join(row["tasks"]) if "tasks" in row else row.get("task", row.get("stage", ""))
        extra = f" params={row['params']:,}" if kind == "models" and row["params"] is not None else ""
        click.echo(f"{row['name']:<20} {task:<16} [{row['plugin']['name']}]{extra}  {row['description'].splitlines()[0] if row['description'] else ''}")


# --------------------------------------------------------------------------- run


@cli.command()
@click.option("--models", help="Comma-separated model names (default: every compatible model).")
@click.option("--datasets", help="Comma-separated dataset names (default: every dataset whose data is available).")
@click.option("--metrics", help="Comma-separated metric names; limits the matrix to their tasks.")
@click.option("--seeds", type=click.IntRange(min=1), help="Run seeds 1..N.")
@click.option("--seed-list", help="Explicit seeds, e.g. 1,10,100 (instead of --seeds).")
@click.option("--profile", type=click.Choice(["paper", "quick"]), help="paper: the published recipe; quick: short CPU runs.")
@click.option("--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), help="Mixed precision for training and scoring.")
@click.option("--out", type=click.Path(path_type=Path), help="Results store (default: runs).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe/config field: model.aasist.epochs=3, model.*.batch_size=8, recipe.epochs=1, "
                   "dataset.asvspoof2021-la.subset=progress. Repeatable.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML file with these options and a datasets: section.")
@click.option("--data-root", "data_roots", multiple=True, metavar="NAME=DIR", help="Where a dataset lives. Repeatable.")
@click.option("--train-on", help="Training dataset for eval-only datasets (cross-dataset evaluation).")
@click.option("--init-from", help="Start every cell from this cell's best checkpoint (pre-train + fine-tune).")
@click.option("--num-workers", type=click.IntRange(min=0), help="DataLoader worker processes (default 0).")
@click.option("--pin-memory/--no-pin-memory", default=None, help="Pin host memory (default: on with CUDA).")
@click.option("--audio-cache/--no-audio-cache", default=None, help="Decode audio once into an int16 cache.")
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
    executor = build_executor(kw)
    detached = bool(getattr(executor, "detached", False))
    if detached:
        options.render_report = False  # the cells have not run yet
    registry = _registry(ctx)
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


def build_run_options(kw: dict[str, Any]):
    from benchsuite.planning.options import (
        DataSource, RunOptions, data_sources_from_config, load_config_file, parse_data_root, parse_name_list,
        parse_seed_list,
    )
    from benchsuite.common.provenance import command_line

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
        precision=pick(kw.get("precision"), "precision", "fp32"),
        out=Path(pick(kw.get("out"), "out", "runs")),
        overrides=overrides,
        data=data,
        train_on=pick(kw.get("train_on"), "train_on", None),
        init_from=kw.get("init_from"),
        num_workers=int(pick(kw.get("num_workers"), "num_workers", 0)),
        pin_memory=pick(kw.get("pin_memory"), "pin_memory", None),
        audio_cache=bool(pick(kw.get("audio_cache"), "audio_cache", False)),
        render_report=not kw.get("no_report"),
        report_dir=Path(pick(kw.get("report_dir"), "report_dir", "reports")),
        command=command_line(),
    )


# --------------------------------------------------------------------------- data


class DataGroup(click.Group):
    """`data check` plus one generator command per embedded dataset (`data synth-la`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from benchsuite.plugins.registry import get_registry

        generators = [r.spec.name for r in get_registry().datasets if r.spec.generate is not None]
        return sorted(set(super().list_commands(ctx)) | set(generators))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        from benchsuite.plugins.registry import get_registry

        registry = get_registry()
        if name in registry.datasets and registry.datasets.get(name).spec.generate is not None:
            return _generator_command(registry.datasets.get(name).spec)
        return None


def _key_values(options: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    parsed = {}
    for text in options:
        if "=" not in text:
            raise ConfigError(f"--set {text!r}: expected KEY=VALUE")
        key, value = text.split("=", 1)
        parsed[key.strip()] = yaml.safe_load(value)
    return parsed


def _generator_command(spec: Any) -> click.Command:
    @click.command(name=spec.name, help=f"Generate the embedded corpus {spec.name!r}. {spec.description}")
    @click.option("--out", type=click.Path(path_type=Path), required=True, help="Directory to write the corpus to.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Generator seed (same seed, same corpus).")
    @click.option("--set", "options", multiple=True, metavar="KEY=VALUE",
                  help="Generator option, e.g. train=600 (see `benchsuite list datasets`). Repeatable.")
    def generate(out: Path, seed: int, options: tuple[str, ...]) -> None:
        path = spec.generate(out, seed=seed, **_key_values(options))
        click.echo(f"{spec.name} written to {Path(path).resolve()}")

    return generate


@cli.group(cls=DataGroup)
def data() -> None:
    """Validate corpora and generate the embedded synthetic ones."""


@data.command("check")
@click.argument("dataset")
@click.option("--data-root", type=click.Path(path_type=Path), help="The corpus directory (not needed for embedded corpora).")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE", help="Dataset option, e.g. subset=progress.")
@click.option("--no-audio", is_flag=True, help="Check only protocol/key files; open no audio.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.pass_context
def data_check(ctx: click.Context, dataset: str, data_root: Path | None, options: tuple[str, ...], no_audio: bool,
               as_json: bool) -> None:
    """Validate a corpus and print its statistics."""
    registry = _registry(ctx)
    spec = registry.datasets.get(dataset).spec
    if data_root is None and not spec.embedded:
        raise ConfigError(f"dataset {dataset!r} needs --data-root DIR")
    if data_root is not None and not data_root.exists():
        raise ConfigError(f"--data-root {data_root}: directory not found")
    ds = spec.open(data_root, _key_values(options))
    ds.validate(check_audio=not no_audio)
    stats = ds.statistics(check_audio=not no_audio)
    stats = {"dataset": dataset, "task": spec.task.value, "root": str(data_root) if data_root else None,
             "audio_checked": not no_audio, "fingerprint": ds.fingerprint(), **stats}
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    click.echo(f"{dataset}: OK ({'protocols and audio' if not no_audio else 'protocols only'})")
    for split, info in stats.get("splits", {}).items():
        parts = [f"{k}={v}" for k, v in info.items() if not isinstance(v, dict)]
        click.echo(f"  {split}: {', '.join(parts)}")
        for key, value in info.items():
            if isinstance(value, dict) and value:
                click.echo(f"    {key}: " + ", ".join(f"{k} {v}" for k, v in sorted(value.items())))


# --------------------------------------------------------------------------- store


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True, help="Results store.")
@click.option("--rebuild", is_flag=True, help="Recreate runs.sqlite from the cell directories.")
def index(out: Path, rebuild: bool) -> None:
    """Show or rebuild the SQLite index of a results store."""
    from benchsuite.storage.store import ResultsStore

    store = ResultsStore(out)
    if not store.cells_dir.is_dir():
        raise ConfigError(f"--out {out}: no results store here (no cells/ directory)")
    if rebuild:
        count = store.rebuild_index()
        click.echo(f"indexed {count} cell(s) into {store.index_path}")
        return
    store.ensure_index()
    rows = store.query("SELECT status, COUNT(*) FROM cells GROUP BY status ORDER BY status")
    click.echo(f"{store.index_path}: " + ", ".join(f"{n} {s}" for s, n in rows) if rows else "no finished cells")


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True, help="Results store.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(out: Path, as_json: bool) -> None:
    """Cells of a results store: done, failed, pending or running (with their Slurm
    job ids or pool processes), incomplete (killed or lost: the next run resumes them)."""
    from benchsuite.execution.status import cell_states

    rows = cell_states(out)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        detail = ", ".join(str(d) for d in (row["executor"], row["job_id"] and f"job {row['job_id']}", row["where"]) if d)
        click.echo(f"{row['status']:<11} {row['cell_id']}" + (f"  ({detail})" if detail else "")
                   + (f"  {row['error']}" if row["error"] else ""))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no cells")


def main(argv: list[str] | None = None) -> None:
    """Entry point: BenchsuiteErrors become one clear message, exit code 2."""
    try:
        code = cli.main(args=argv, prog_name="benchsuite", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except BenchsuiteError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
