"""``benchsuite recipe``: a model's resolved recipe, where each value comes from, and its deviations from the
authors' code; ``--all --markdown`` writes the fidelity table of every model (``docs/recipes.md``)."""
from __future__ import annotations

import json
from typing import Any

import click

from benchsuite.cli._context import registry_for
from benchsuite.contract import ConfigError, PROFILES, ModelSpec, Task
from benchsuite.contract.recipe import recipe_problems
from benchsuite.planning.fidelity import FieldSource, deviations_record, resolve
from benchsuite.planning.options import Override, parse_override, to_plain

DOC_COMMAND = "benchsuite recipe --all --markdown > docs/recipes.md"


def _overrides(model: str, texts: tuple[str, ...]) -> list[Override]:
    """``FIELD=VALUE`` means ``model.MODEL.FIELD=VALUE``; full ``model.``/``recipe.`` forms pass as they are."""
    return [parse_override(text if text.startswith(("model.", "recipe.")) else f"model.{model}.{text}")
            for text in texts]


def _task(spec: ModelSpec, name: str | None) -> Task:
    if name is None:
        return spec.tasks[0]
    tasks = {t.value: t for t in spec.tasks}
    if name not in tasks:
        raise ConfigError(f"--task {name}: model {spec.name!r} serves {', '.join(tasks)}")
    return tasks[name]


def describe(spec: ModelSpec, profile: str, task: Task, overrides: list[Override]) -> dict[str, Any]:
    """The resolved recipe of (model, profile, task) as ``benchsuite recipe --json`` prints it."""
    recipe, config, sources, deviations = resolve(spec, profile, task, overrides)
    problems = recipe_problems(recipe)
    if problems:
        raise ConfigError(f"model {spec.name!r}, {profile!r} recipe: {'; '.join(problems)}")
    return {"model": spec.name, "profile": profile, "task": task.value,
            **deviations_record(deviations),
            "fields": [s.as_dict() for s in sources]}


def _value_text(value: Any) -> str:
    plain = to_plain(value)
    return "null" if plain is None else json.dumps(plain) if isinstance(plain, (list, dict)) else str(plain)


def _text(described: dict[str, Any], show_all: bool) -> str:
    lines = [f"{described['model']} ({described['task']}), profile {described['profile']}: "
             + ("no deviation from the authors' code" if described["faithful"]
                else f"{len(described['deviations'])} deviation(s) from the authors' code")]
    rows = [f for f in described["fields"] if show_all or f["source"] != "default"]
    width = max((len(f["field"]) for f in rows), default=5)
    for f in rows:
        marks = f"  [deviation: {', '.join(f['deviations'])}]" if f["deviations"] else ""
        where = f"  ({f['reference']})" if f["reference"] else ""
        lines.append(f"  {f['field']:<{width}}  {_value_text(f['value'])}  <- {f['source']}{where}{marks}")
    if not show_all:
        lines.append("  (fields at the benchsuite default are left out; --all-fields lists them)")
    for d in described["deviations"]:
        lines.append(f"deviation {d['name']}: {d['what']}")
        lines.append(f"  why: {d['why']}")
        if d["reference"]:
            lines.append(f"  authors: {d['reference']}")
    return "\n".join(lines)


def _status(field: FieldSource) -> str:
    if field.deviations:
        return "deviation: " + ", ".join(field.deviations)
    if field.reference:
        return "as the authors"
    return "benchsuite's choice (no reference)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fidelity_markdown(models: list[ModelSpec]) -> str:
    """The fidelity table of every model's ``paper`` recipe (and what ``quick`` changes), as Markdown."""
    out = ["# Paper recipes against the authors' code", "",
           f"Generated from the model plugins by `{DOC_COMMAND}`; `tests/test_recipe_fidelity.py` checks that it",
           "is current.  Each table lists the fields a model's `paper` recipe (or model config) sets, where the",
           "authors' code sets them, and whether benchsuite does the same.  Fields left at the benchsuite",
           "default and not set by the authors' code are not listed.  Every deviation is stored with each",
           "result and marked on the leaderboard.", ""]
    for spec in sorted(models, key=lambda s: s.name):
        task = spec.tasks[0]
        _recipe, _config, sources, deviations = resolve(spec, "paper", task, [])
        out += [f"## {spec.name}", "", _cell(spec.description) if spec.description else "", ""]
        if len(spec.tasks) > 1:
            out += [f"Recipe for {task.value}; the {', '.join(t.value for t in spec.tasks[1:])} variant "
                    f"changes only what that task needs.", ""]
        out += ["| field | authors' code | benchsuite | status |", "|---|---|---|---|"]
        for field in sources:
            if field.source == "default" and not field.reference:
                continue
            out.append(f"| `{field.name}` | {_cell(field.reference) or '-'} | `{_cell(_value_text(field.value))}` "
                       f"| {_cell(_status(field))} |")
        out.append("")
        if deviations:
            out += ["Deviations:", ""]
            for d in deviations:
                ref = f" Authors: {_cell(d.reference)}." if d.reference else ""
                out.append(f"- **{d.name}**: {_cell(d.what)}. Why: {_cell(d.why)}.{ref}")
            out.append("")
        else:
            out += ["No deviation declared.", ""]
        if "quick" in spec.recipes:
            _q, _c, quick_sources, _d = resolve(spec, "quick", task, [])
            changed = [f"`{f.name}` {_value_text(f.value)}" for f in quick_sources if f.source == "profile"]
            if changed:
                out += ["The `quick` profile (each change a deviation): " + ", ".join(changed) + ".", ""]
    return "\n".join(line for line in out).rstrip() + "\n"


@click.command()
@click.argument("model", required=False)
@click.option("--profile", type=click.Choice(PROFILES), default="paper", show_default=True)
@click.option("--task", "task_name", default=None, help="The task variant (default: the model's first task).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override a recipe or model-config field (model.MODEL. is implied).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "all_models", is_flag=True, help="Every registered model.")
@click.option("--markdown", is_flag=True, help="With --all: the fidelity tables (docs/recipes.md).")
@click.option("--all-fields", "show_all", is_flag=True, help="List fields at the benchsuite default too.")
@click.pass_context
def recipe(ctx: click.Context, model: str | None, profile: str, task_name: str | None, sets: tuple[str, ...],
           as_json: bool, all_models: bool, markdown: bool, show_all: bool) -> None:
    """Show MODEL's resolved recipe: each field's value and source (default, paper with the authors'
    reference, profile, --set) and every deviation from the authors' code."""
    registry = registry_for(ctx)
    if markdown and not all_models:
        raise ConfigError("--markdown writes the tables of every model; add --all")
    if all_models == bool(model):
        raise ConfigError("give one MODEL or --all")
    specs = [reg.spec for reg in registry.models] if all_models else [registry.models.get(model).spec]
    if markdown:
        click.echo(fidelity_markdown(specs), nl=False)
        return
    described = []
    for spec in specs:
        served = task_name is None or task_name in {t.value for t in spec.tasks}
        task = _task(spec, task_name if served or not all_models else None)
        described.append(describe(spec, profile, task, _overrides(spec.name, sets)))
    if as_json:
        click.echo(json.dumps(described[0] if model else described, indent=2))
        return
    click.echo("\n\n".join(_text(d, show_all) for d in described))
