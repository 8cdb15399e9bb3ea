"""What every command shares: the one-line user error and the registry of the invocation."""
from __future__ import annotations

from typing import Any

import click


class UserError(click.ClickException):
    """A BenchsuiteError shown as one line, exit code 2 (no traceback)."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def registry_for(ctx: click.Context, kinds: tuple[str, ...] | None = None, *, allow_conflicts: bool = False):
    """The registry of this invocation, with a warning per plugin that failed; ``kinds`` leaves out the
    built-in plugins that register none of them; a name two plugins registered is an error (naming both)
    unless ``allow_conflicts`` (``benchsuite plugins`` lists it instead)."""
    from benchsuite.plugins.manager import failure_message
    from benchsuite.plugins.registry import get_registry

    strict = bool((ctx.find_root().obj or {}).get("strict"))
    registry = get_registry(strict=strict, kinds=kinds, allow_conflicts=allow_conflicts)
    for failure in registry.failures:
        click.echo(f"warning: {failure_message(failure)}", err=True)
    return registry
