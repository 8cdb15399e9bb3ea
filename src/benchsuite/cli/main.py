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
