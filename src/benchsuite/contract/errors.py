"""The errors the core reports as one clear message (exit code 2 for user errors)."""
from __future__ import annotations

class BenchsuiteError(Exception):
    """An error the CLI reports as one clear message, without a traceback."""


class ConfigError(BenchsuiteError):
    """A bad option, name or configuration value."""


class DataError(BenchsuiteError):
    """A corpus, protocol or audio file that is missing or malformed."""


class ScoreFileError(BenchsuiteError):
    """A score, key or trial file that cannot be evaluated as it is."""


class CellFailure(BenchsuiteError):
    """A cell that cannot finish (non-finite loss, diverged model, ...)."""
