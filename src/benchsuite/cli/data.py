"""``benchsuite data``: write an embedded corpus, or check a user's copy of one."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from benchsuite.contract import ConfigError

from benchsuite.cli._context import registry_for


# --------------------------------------------------------------------------- data


class DataGroup(click.Group):
    """`data check` plus one generator command per embedded dataset (`data synth-la`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from benchsuite.plugins.registry import get_registry

        generators = [r.spec.name for r in get_registry(kinds=("datasets",)).datasets if r.spec.generate is not None]
        return sorted(set(super().list_commands(ctx)) | set(generators))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        from benchsuite.plugins.registry import get_registry

        registry = get_registry(kinds=("datasets",))
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
    @click.option("--size", help="A named size whose options --set amends (synth-la: asvspoof2019, the 2019 LA "
                  "counts and 1-8 s utterances).")
    @click.option("--workers", type=click.IntRange(min=1),
                  help="Generation processes (default: every core this process may use); the files do not "
                       "depend on it.")
    def generate(out: Path, seed: int, options: tuple[str, ...], size: str | None, workers: int | None) -> None:
        from benchsuite.execution.pool import available_cores

        extra = {"size": size} if size is not None else {}
        started = time.monotonic()
        path = spec.generate(out, seed=seed, workers=workers or available_cores(), **extra, **_key_values(options))
        click.echo(f"{spec.name} written to {Path(path).resolve()} in {time.monotonic() - started:.1f} s")

    return generate


@click.group(cls=DataGroup)
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
    registry = registry_for(ctx, kinds=("datasets",))
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
