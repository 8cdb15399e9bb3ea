"""Reading text tables line by line, with the file and line in every message."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, Sequence


from benchsuite.contract import ScoreFileError


MAX_LISTED = 5  # ids quoted in a message before "... and N more"
BONAFIDE_ATTACK = "-"  # SRC column of a bona fide line


# --------------------------------------------------------------------------- line helpers


def _open_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of every non-blank line, 1-based as editors show them."""
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if text.strip():
                    yield number, text
    except UnicodeDecodeError as err:
        raise ScoreFileError(f"{path}: {what} is not UTF-8 text ({err.reason} at byte {err.start})") from err


def _parse_score(token: str, path: Path | str, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ScoreFileError(f"{path}:{line}: score {token!r} is not a number") from None
    if not math.isfinite(value):
        raise ScoreFileError(f"{path}:{line}: score {token!r} is not finite (NaN/inf scores cannot be evaluated)")
    return value


def _column_error(path: Path, line: int, expected: str, found: int, text: str) -> ScoreFileError:
    return ScoreFileError(f"{path}:{line}: expected {expected} columns, found {found}: {text.strip()!r}")


def _listing(items: Sequence[str], total: int) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", ... and {total - MAX_LISTED} more" if total > MAX_LISTED else "")


def _empty_file(path: Path, what: str) -> ScoreFileError:
    return ScoreFileError(f"{path}: {what} holds no lines")


class _UniqueIds:
    """Collects ids with their line numbers and reports every duplicate at the end."""

    def __init__(self, path: Path, noun: str):
        self.path, self.noun = path, noun
        self.first_line: dict[object, int] = {}
        self.duplicates: list[str] = []

    def add(self, key: object, line: int, shown: str) -> None:
        first = self.first_line.setdefault(key, line)
        if first != line:
            self.duplicates.append(f"{shown} (lines {first} and {line})")

    def check(self) -> None:
        if self.duplicates:
            raise ScoreFileError(
                f"{self.path}: {len(self.duplicates)} duplicate {self.noun}(s): "
                f"{_listing(self.duplicates, len(self.duplicates))}"
            )


class _Table:
    """A text table read line by line; its first non-blank line can be looked
    at (to detect the layout) before the rows are read."""

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self._lines = _open_lines(self.path, what)
        first = next(self._lines, None)
        if first is None:
            raise _empty_file(self.path, what)
        self.first_line, self.first_text = first
        self._first_is_a_row = True

    def first_fields(self, sep: str | None = None) -> list[str]:
        return self.first_text.split(sep)

    def header(self) -> list[str]:
        """Take the first line as a tab-separated header."""
        self._first_is_a_row = False
        return [name.strip() for name in self.first_text.split("\t")]

    def rows(self, width: int, expected: str, sep: str | None = None) -> Iterator[tuple[int, list[str]]]:
        """``(line, fields)`` of every row, each refused unless it has ``width`` fields."""
        if self._first_is_a_row:
            self._first_is_a_row = False
            yield self._checked(self.first_line, self.first_text, width, expected, sep)
        for line, text in self._lines:
            yield self._checked(line, text, width, expected, sep)

    def _checked(self, line: int, text: str, width: int, expected: str, sep: str | None) -> tuple[int, list[str]]:
        fields = [field.strip() for field in text.split(sep)] if sep is not None else text.split()
        if len(fields) != width:
            raise _column_error(self.path, line, expected, len(fields), text)
        return line, fields
