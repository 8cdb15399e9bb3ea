"""The ``benchsuite`` command line."""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from benchsuite import __version__
from benchsuite.cli._context import UserError
from benchsuite.contract import BenchsuiteError

# Each command lives in its own module, imported only when it is used, so `benchsuite --help`
# and the commands that need no model (score, report) stay fast.
LAZY_COMMANDS = {
    "plugins": ("benchsuite.cli.plugins", "plugins"),
    "list": ("benchsuite.cli.plugins", "list_"),
    "run": ("benchsuite.cli.run", "run"),
    "data": ("benchsuite.cli.data", "data"),
    "index": ("benchsuite.cli.store", "index"),
    "status": ("benchsuite.cli.store", "status"),
    "score": ("benchsuite.cli.score", "score"),
    "predict": ("benchsuite.cli.predict", "predict"),
    "report": ("benchsuite.cli.report", "report"),
    "compare": ("benchsuite.cli.compare", "compare"),
    "rescore": ("benchsuite.cli.rescore", "rescore"),
    "recipe": ("benchsuite.cli.recipe", "recipe"),
}
# The first line of each command's help, for `benchsuite --help` without importing every command
# (tests/test_score_command.py checks them against the commands).
SUMMARIES = {
    "plugins": "List loaded plugins, what each registered, and plugins that failed to load.",
    "list": "List registered models, datasets, metrics, baselines or augmentations.",
    "run": "Train and evaluate every compatible (dataset, model) pair across seeds.",
    "data": "Validate corpora and generate the embedded synthetic ones.",
    "index": "Show or rebuild the SQLite index of a results store.",
    "status": "Cells of a results store: done, failed, pending or running (with their Slurm job ids or pool "
              "processes), incomplete (killed or lost: the next run resumes them).",
    "score": "Compute EER, min t-DCF (legacy and revised) and the other metrics of an existing score file.",
    "predict": "Score AUDIO files (WAV/FLAC, mono; other sample rates are resampled) with a trained countermeasure; "
               "higher = bona fide.",
    "report": "Render the leaderboard (published vs reproduced numbers) from a results store.",
    "compare": "Compare two leaderboard rows: a seed-level test and a paired trial bootstrap.",
    "rescore": "Recompute every metric of stored cells from their score files.",
    "recipe": "Show MODEL's resolved recipe: each field's value and source (default, paper with the authors' "
              "reference, profile, --set) and every deviation from the authors' code.",
}


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchsuiteError as exc:
            raise UserError(str(exc)) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from :data:`SUMMARIES` (no command module is imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, (click.Command(name, help=SUMMARIES[name]) if name in SUMMARIES
                        else self.get_command(ctx, name)).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
