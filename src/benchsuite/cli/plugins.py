"""``benchsuite plugins`` and ``benchsuite list``: who registered what."""
from __future__ import annotations

import json
from typing import Any

import click

from benchsuite.contract import Task

from benchsuite.cli._context import registry_for


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--strict", is_flag=True, help="Exit with an error (code 2) when any plugin fails to load.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, strict: bool) -> None:
    """List loaded plugins, what each registered, and plugins that failed to load."""
    if strict:
        ctx.find_root().obj["strict"] = True
    registry = registry_for(ctx, allow_conflicts=True)
    listing = registry.plugins()
    failures = [{"name": f.name, "distribution": f.distribution, "error": f.error} for f in registry.failures]
    if as_json:
        click.echo(json.dumps({"plugins": listing, "failed": failures, "conflicts": registry.conflicts}, indent=2))
        _refuse_conflicts_when_strict(ctx, registry)
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
    for conflict in registry.conflicts:
        click.echo(f"CONFLICT: {conflict}; other commands refuse to run until one is removed")
    _refuse_conflicts_when_strict(ctx, registry)


def _refuse_conflicts_when_strict(ctx: click.Context, registry: Any) -> None:
    if (ctx.find_root().obj or {}).get("strict"):
        registry.refuse_conflicts()


def _model_params(spec: Any) -> int | None:
    from benchsuite.contract import TaskInfo

    config = spec.config_class()
    if spec.count_parameters is not None:
        return int(spec.count_parameters(config))
    task = spec.tasks[0]
    model = spec.build(config, TaskInfo(task, num_classes=2 if task == Task.SPOOF else 4))
    return int(sum(p.numel() for p in model.parameters()))


@click.command("list")
@click.argument("kind", type=click.Choice(["models", "datasets", "metrics", "baselines", "augmentations"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, kind: str, as_json: bool) -> None:
    """List registered models, datasets, metrics, baselines or augmentations."""
    registry = registry_for(ctx, kinds=(kind,))
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
