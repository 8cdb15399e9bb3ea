"""``benchsuite report``: render the leaderboard of a results store.

The CLI adds it with ``cli.add_command(report)``."""
from __future__ import annotations

import shlex
from pathlib import Path

import click

from benchsuite.contract import BenchsuiteError
from benchsuite.reporting.render import FORMAT_FILES, render_report


@click.command("report")
@click.option("--runs", "runs_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
              show_default=True, help="Results store to read (the --out of `benchsuite run`).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"),
              show_default=True, help="Directory to write the report into.")
@click.option("--format", "formats", default="html", show_default=True,
              help=f"Comma-separated formats: {','.join(FORMAT_FILES)}, or 'all'.")
def report(runs_dir: Path, out_dir: Path, formats: str) -> None:
    """Render the leaderboard (published vs reproduced numbers) from a results store."""
    chosen = list(FORMAT_FILES) if formats.strip().lower() == "all" else formats.split(",")
    ctx = click.get_current_context()
    # the effective command, spelled out with every option, for the provenance footer
    command = " ".join([ctx.command_path, "--runs", shlex.quote(str(runs_dir)), "--out", shlex.quote(str(out_dir)),
                        "--format", shlex.quote(formats)])
    try:
        written = render_report(runs_dir, out_dir, chosen, command=command)
    except BenchsuiteError as err:
        raise click.ClickException(str(err)) from err
    for name, path in written.items():
        if name != "html":
            click.echo(f"{name}: {path}")
    if "html" in written:  # last, so scripts (and `make run`) can take the final line
        click.echo(f"leaderboard: {written['html']}")
