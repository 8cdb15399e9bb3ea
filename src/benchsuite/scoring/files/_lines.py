"""Reading text tables: a fast bulk pass and a line-by-line pass that names file and line.

Every reader of this package works in two passes over the same bytes:

* the fast pass (:func:`fast_table`) parses the whole file with pandas' C
  parser and validates it in bulk (column counts, numbers, finite values,
  duplicates, allowed labels).  It is taken only for files it can read exactly
  as the line-by-line pass does (plain ASCII, whitespace or tab separated, no
  lone carriage returns) and larger than :data:`FAST_MIN_BYTES`, below which
  importing pandas would cost more than it saves;
* the line-by-line pass (:class:`_Table`) runs when the fast pass declines or
  finds any problem.  It locates the line and raises the message that names
  file, line and what was expected.  So a malformed file gets the same message
  whichever pass saw it first, and a good file the same values.

Both passes read the file through :func:`read_file_bytes`: a UTF-8 byte order
mark is skipped, gzip and xz files (told by their magic bytes, whatever their
name) are decompressed, and UTF-16 text is refused by name.
"""
from __future__ import annotations

import csv
import gzip
import io
import lzma
import math
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

from benchsuite.contract import ScoreFileError

if TYPE_CHECKING:  # pandas is imported only when a file is large enough for the fast pass
    import pandas


MAX_LISTED = 5  # ids quoted in a message before "... and N more"
BONAFIDE_ATTACK = "-"  # SRC column of a bona fide line
FAST_MIN_BYTES = 256 * 1024  # smaller files are read line by line (no pandas import)

UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"))
# what the fast pass accepts: printable ASCII, tab, newline, carriage return
_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r"


# --------------------------------------------------------------------------- bytes of a file


def read_file_bytes(path: str | Path, what: str) -> bytes:
    """The content of ``path``, decompressed (gzip, xz) and without a UTF-8 BOM."""
    path = Path(path)
    if not path.is_file():
        raise ScoreFileError(f"{what} not found: {path}")
    raw = path.read_bytes()
    for magic, kind in _COMPRESSED:
        if raw.startswith(magic):
            try:
                raw = gzip.decompress(raw) if kind == "gzip" else lzma.decompress(raw)
            except (OSError, EOFError, zlib.error, lzma.LZMAError) as err:
                raise ScoreFileError(f"{path}: {what} is {kind}-compressed but cannot be decompressed ({err})") from err
            break
    if raw.startswith(UTF8_BOM):
        return raw[len(UTF8_BOM):]
    if raw.startswith(_UTF16_BOMS):
        raise ScoreFileError(f"{path}: {what} is UTF-16 or UTF-32 text (it starts with a byte order mark "
                             f"{raw[:2].hex(' ')}); save it as UTF-8")
    return raw


def _text_lines(raw: bytes, path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of every non-blank line, 1-based as editors show them;
    lines end as in a text-mode ``open``: at ``\\n``, ``\\r\\n`` or ``\\r``.  Lazy:
    looking at the first line decodes only that line."""
    has_cr = b"\r" in raw
    position, number, size = 0, 0, len(raw)
    while position < size:
        end = raw.find(b"\n", position)
        end = size if end < 0 else end
        after = end + 1
        if has_cr:
            cr = raw.find(b"\r", position, end)
            if cr >= 0:
                end, after = cr, (cr + 2 if raw[cr + 1:cr + 2] == b"\n" else cr + 1)
        number += 1
        try:
            text = raw[position:end].decode("utf-8")
        except UnicodeDecodeError as err:
            raise ScoreFileError(f"{path}: {what} is not UTF-8 text ({err.reason} at byte {position + err.start})") \
                from err
        if text.strip():
            yield number, text
        position = after


# --------------------------------------------------------------------------- line helpers


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
    at (to detect the layout) before the rows are read.  ``raw`` keeps the
    file's bytes for the fast pass (which lets go of them once it has parsed them)."""

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        self.raw: bytes | None = read_file_bytes(self.path, what)
        first = next(_text_lines(self.raw, self.path, what), None)
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
        raw = self.raw if self.raw is not None else read_file_bytes(self.path, self.what)
        for line, text in _text_lines(raw, self.path, self.what):
            if line == self.first_line and not self._first_is_a_row:
                continue  # the header
            yield self._checked(line, text, width, expected, sep)

    def _checked(self, line: int, text: str, width: int, expected: str, sep: str | None) -> tuple[int, list[str]]:
        fields = [field.strip() for field in text.split(sep)] if sep is not None else text.split()
        if len(fields) != width:
            raise _column_error(self.path, line, expected, len(fields), text)
        return line, fields

    def fast(self, width: int, dtypes: Mapping[int, Any], header: Sequence[str] | None = None) -> "FastTable | None":
        """This table through the fast pass (see :func:`fast_table`)."""
        if self.raw is None:
            return None
        parsed = fast_table(self.raw, width, dtypes, first_line=self.first_line, header=header)
        if parsed is None:
            return None
        self.raw = None  # parsed: the bytes go (and are read again should the line-by-line pass need them)
        return parsed.with_text()


# --------------------------------------------------------------------------- the fast pass


@dataclass
class FastTable:
    """A table parsed in bulk: one column per field, and each row's line number."""

    frame: "pandas.DataFrame"
    lines: Sequence[int]  # 1-based line of each row (a range when they are consecutive)
    text: dict[int, np.ndarray]  # the ``str`` columns as fixed-width unicode arrays

    def __len__(self) -> int:
        return len(self.frame)

    def with_text(self) -> "FastTable | None":
        """The ``str`` columns as unicode arrays, or None when a field is empty: a
        row with fields missing at its end, or (one-space split) blanks that run."""
        categorical = _categorical_dtype()
        for column in range(self.frame.shape[1]):
            values = self.frame.iloc[:, column]
            if isinstance(values.dtype, categorical):
                empty = "" in set(values.cat.categories)
            elif values.dtype == np.float64:
                empty = False  # an empty field is not a number: read_csv refused it
            else:
                self.text[column] = np.asarray(values.to_numpy(dtype=object), dtype=str)
                self.frame.isetitem(column, np.zeros(len(self.frame), dtype=np.int8))  # its str objects go
                empty = bool((self.text[column] == "").any())
            if empty:
                return None
        return self

    def strings(self, column: int) -> np.ndarray:
        """A column as a fixed-width unicode array (what the metrics and joins key on)."""
        if column in self.text:
            return self.text[column]
        values = self.frame.iloc[:, column]
        names = np.asarray(values.cat.categories.to_numpy(dtype=object), dtype=str)
        return names[values.cat.codes.to_numpy()]

    def floats(self, column: int) -> np.ndarray:
        return self.frame.iloc[:, column].to_numpy(dtype=np.float64)

    def levels(self, column: int) -> list[str]:
        """The distinct values of a categorical column."""
        return [str(name) for name in self.frame.iloc[:, column].cat.categories]

    def codes(self, column: int) -> tuple[list[str], np.ndarray]:
        """(the distinct values, the code of each row) of a categorical column."""
        values = self.frame.iloc[:, column]
        return [str(name) for name in values.cat.categories], values.cat.codes.to_numpy()

    def equals(self, column: int, value: str) -> np.ndarray:
        return (self.frame.iloc[:, column] == value).to_numpy(dtype=bool)



def _categorical_dtype() -> type:
    import pandas

    return pandas.CategoricalDtype


def fast_table(raw: bytes, width: int, dtypes: Mapping[int, Any], *, first_line: int = 1,
               header: Sequence[str] | None = None) -> FastTable | None:
    """``raw`` parsed by pandas' C parser, ``width`` whitespace-separated fields a
    row (tab-separated under the ``header`` line when one is given), or None when
    the line-by-line reader must read it: a small file, bytes other than
    printable ASCII and tab/CR/LF (whose splitting rules differ), a lone CR, a
    row of another width, a field that is not a number where ``dtypes`` asks for
    ``float64``, or a missing field.  ``dtypes`` maps a column to ``str``,
    ``"category"`` or ``np.float64``.  Values equal the line-by-line reader's
    (pandas' float parser rounds correctly, as Python's ``float`` does)."""
    if len(raw) < FAST_MIN_BYTES or raw.translate(None, _PLAIN_BYTES):
        return None
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return None  # a lone CR ends a line in text mode, not in pandas
    if header is not None:
        if b" " in raw:
            return None  # the line-by-line reader strips tab-separated fields
        sep = "\t"
    else:
        # one space splits fastest; where blanks run or lead a line, it gives empty fields,
        # which send the file to the line-by-line reader below.  Tabs need pandas' whitespace splitter
        sep = r"\s+" if b"\t" in raw else " "
    import pandas

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pandas.read_csv(io.BytesIO(raw), sep=sep, header=0 if header is not None else None,
                                    dtype=dict(dtypes), na_filter=False, quoting=csv.QUOTE_NONE, engine="c",
                                    skip_blank_lines=True, **_exact_floats(pandas.__version__))
    except (ValueError, TypeError, OverflowError, pandas.errors.ParserError):
        return None  # a row of another width, or a field that is not a number
    if frame.shape[1] != width or (header is not None and [str(c) for c in frame.columns] != list(header)):
        return None
    lines = _row_lines(raw, len(frame), first_line + (1 if header is not None else 0), sep == " ")
    return FastTable(frame, lines, {}) if lines is not None else None


def _exact_floats(version: str) -> dict[str, str]:
    """read_csv options that parse floats exactly as ``float()`` does: pandas 3 does by
    default (and deprecates the option); pandas 2 needs its round-trip parser."""
    return {} if int(version.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def _row_lines(raw: bytes, rows: int, first_row_line: int, single_spaced: bool) -> Sequence[int] | None:
    """The line number of each row: consecutive when every line after the first
    row holds a row (a one-space split refused lines of blanks already), else counted."""
    lines_in_file = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    if single_spaced and lines_in_file == first_row_line - 1 + rows:  # no line without a row after the first
        return range(first_row_line, first_row_line + rows)
    numbers = np.fromiter((number for number, line in enumerate(raw.splitlines(), start=1) if line.strip()),
                          dtype=np.int64)
    numbers = numbers[numbers >= first_row_line]
    return numbers if numbers.size == rows else None
