"""Score, key and trial files: reading, writing and validating them.

Every reader refuses bad input with a :class:`~benchsuite.api.ScoreFileError`
that names the file, the line and what was expected, before any metric sees a
number.  Score files are joined to protocols on utterance id, never on row
order (misaligned rows are a common cause of wrong published EERs).

Formats (whitespace-separated unless stated):

* CM scores: ``UTT SCORE`` (ASVspoof 2021 baselines), ``UTT SRC KEY SCORE``
  (AASIST, RawGAT-ST, and what benchsuite writes), or the ASVspoof 5
  tab-separated form with a ``filename<TAB>cm-score`` header.
* CM keys: ASVspoof 2019 protocol ``SPEAKER UTT - SYSTEM KEY``; ASVspoof 2021
  ``trial_metadata.txt`` with 8 (LA) or 13 (DF) columns; ASVspoof 5
  tab-separated key with a ``filename<TAB>cm-label`` header.
* organisers' ASV scores ``SOURCE KEY SCORE`` (KEY target|nontarget|spoof).
* SV trials ``LABEL ENROL TEST`` or ``ENROL TEST LABEL`` (label target/nontarget
  or 1/0); SV scores ``ENROL TEST SCORE`` with an optional 4th label column.
* classification ``UTT TRUE PRED``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from benchsuite.contract import AsvScores, BONAFIDE, SPOOF, ClassifyScores, ScoreFileError, SplitData, SpoofScores, VerifyScores
from benchsuite.common.files import atomic_write_text

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


# --------------------------------------------------------------------------- ASV scores (t-DCF)

ASV_KEYS = ("target", "nontarget", "spoof")


def read_asv_scores(path: str | Path) -> AsvScores:
    """The organisers' ASV scores (``SOURCE KEY SCORE``, KEY target|nontarget|spoof),
    e.g. ``ASVspoof2019.LA.asv.eval.gi.trl.scores.txt``.  They fix the ASV
    operating point of the t-DCF, so every class must be present."""
    path = Path(path)
    by_key: dict[str, list[float]] = {key: [] for key in ASV_KEYS}
    spoof_sources: list[str] = []
    for line, fields in _Table(path, "ASV score file").rows(3, "3 (SOURCE KEY SCORE)"):
        key = fields[1]
        if key not in by_key:
            raise ScoreFileError(f"{path}:{line}: key {key!r} is not one of {', '.join(ASV_KEYS)}")
        by_key[key].append(_parse_score(fields[2], path, line))
        if key == "spoof":
            spoof_sources.append(fields[0])
    empty = [key for key in ASV_KEYS if not by_key[key]]
    if empty:
        raise ScoreFileError(
            f"{path}: ASV score file has no {' / '.join(empty)} scores; the t-DCF needs target, "
            "nontarget and spoof ASV scores"
        )
    return AsvScores(
        target=np.asarray(by_key["target"], dtype=np.float64),
        nontarget=np.asarray(by_key["nontarget"], dtype=np.float64),
        spoof=np.asarray(by_key["spoof"], dtype=np.float64),
        source=str(path),
        spoof_attacks=np.asarray(spoof_sources),
    )


def validate_asv_scores(asv: AsvScores) -> None:
    where = asv.source or "ASV scores"
    for name in ASV_KEYS:
        values = np.asarray(getattr(asv, name), dtype=np.float64)
        if values.size == 0:
            raise ScoreFileError(f"{where}: no {name} ASV scores; the t-DCF needs target, nontarget and spoof scores")
        if not np.isfinite(values).all():
            raise ScoreFileError(f"{where}: {name} ASV scores contain NaN or inf")


# --------------------------------------------------------------------------- CM score files


@dataclass
class CmScoreFile:
    """A countermeasure score file as read; ``is_bonafide``/``attacks`` only for
    the 4-column form, which carries its own labels."""

    path: Path
    layout: str  # "2-column" | "4-column" | "asvspoof5"
    utt_ids: list[str]
    scores: np.ndarray
    lines: list[int]
    attacks: list[str] | None = None
    is_bonafide: np.ndarray | None = None


def read_cm_scores(path: str | Path) -> CmScoreFile:
    """Read a CM score file in any of the three layouts (detected from the first line)."""
    table = _Table(path, "score file")
    path = table.path
    if table.first_fields("\t")[0].strip().lower() == "filename":
        return _read_asvspoof5_scores(table)
    width = len(table.first_fields())
    if width not in (2, 4):
        raise _column_error(path, table.first_line, "2 (UTT SCORE) or 4 (UTT SRC KEY SCORE)", width, table.first_text)
    expected = "2 (UTT SCORE)" if width == 2 else "4 (UTT SRC KEY SCORE)"
    utt_ids: list[str] = []
    scores: list[float] = []
    numbers: list[int] = []
    attacks: list[str] = []
    keys: list[bool] = []
    unique = _UniqueIds(path, "utterance id")
    for line, fields in table.rows(width, expected):
        utt_id = fields[0]
        unique.add(utt_id, line, utt_id)
        scores.append(_parse_score(fields[-1], path, line))
        utt_ids.append(utt_id)
        numbers.append(line)
        if width == 4:
            key = fields[2]
            if key not in (BONAFIDE, SPOOF):
                raise ScoreFileError(f"{path}:{line}: key {key!r} is not {BONAFIDE!r} or {SPOOF!r}")
            keys.append(key == BONAFIDE)
            attacks.append(BONAFIDE_ATTACK if key == BONAFIDE else fields[1])
    unique.check()
    return CmScoreFile(path, f"{width}-column", utt_ids, np.asarray(scores, dtype=np.float64), numbers,
                       attacks if width == 4 else None, np.asarray(keys, dtype=bool) if width == 4 else None)


def _tsv_columns(table: _Table, required: Sequence[str]) -> tuple[list[str], dict[str, int]]:
    names = table.header()
    positions = {name: index for index, name in enumerate(names)}
    missing = [name for name in required if name not in positions]
    if missing:
        raise ScoreFileError(
            f"{table.path}:{table.first_line}: tab-separated header {names} lacks column(s) {', '.join(missing)}; "
            f"expected {' '.join(required)}"
        )
    return names, positions


def _tsv_rows(table: _Table, required: Sequence[str], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, {column: value})`` of a tab-separated file with a header; at least one row."""
    names, _ = _tsv_columns(table, required)
    expected = f"{len(names)} tab-separated ({' '.join(names)})"
    empty = True
    for line, fields in table.rows(len(names), expected, sep="\t"):
        empty = False
        yield line, dict(zip(names, fields))
    if empty:
        raise _empty_file(table.path, f"{what} (header only)")


def _read_asvspoof5_scores(table: _Table) -> CmScoreFile:
    utt_ids: list[str] = []
    scores: list[float] = []
    numbers: list[int] = []
    unique = _UniqueIds(table.path, "utterance id")
    for line, row in _tsv_rows(table, ("filename", "cm-score"), "score file"):
        unique.add(row["filename"], line, row["filename"])
        utt_ids.append(row["filename"])
        scores.append(_parse_score(row["cm-score"], table.path, line))
        numbers.append(line)
    unique.check()
    return CmScoreFile(table.path, "asvspoof5", utt_ids, np.asarray(scores, dtype=np.float64), numbers)


# --------------------------------------------------------------------------- CM keys / protocols


@dataclass
class SpoofKey:
    """Labels of a countermeasure evaluation set, from a protocol or key file."""

    path: str
    layout: str
    utt_ids: list[str]
    is_bonafide: np.ndarray
    attacks: list[str]  # "-" for bona fide
    conditions: dict[str, list[str]] = field(default_factory=dict)
    lines: list[int] | None = None


# column name -> index, for each whitespace-separated key layout
_KEY_LAYOUTS: dict[int, tuple[str, int, int, int, dict[str, int]]] = {
    # width: (layout, utt column, attack column, key column, condition columns)
    5: ("asvspoof2019", 1, 3, 4, {}),
    8: ("asvspoof2021-la", 1, 4, 5, {"codec": 2, "transmission": 3, "trim": 6, "subset": 7}),
    13: ("asvspoof2021-df", 1, 4, 5, {"codec": 2, "source": 3, "trim": 6, "subset": 7, "vocoder": 8}),
}
_KEY_EXPECTED = ("5 (ASVspoof 2019 protocol: SPEAKER UTT - SYSTEM KEY), 8 (ASVspoof 2021 LA trial_metadata) "
                 "or 13 (ASVspoof 2021 DF trial_metadata)")


def read_spoof_key(path: str | Path) -> SpoofKey:
    """Read a CM protocol/key in any supported layout (detected from the first line)."""
    table = _Table(path, "protocol/key file")
    path = table.path
    if table.first_fields("\t")[0].strip().lower() == "filename":
        return _read_asvspoof5_key(table)
    width = len(table.first_fields())
    if width not in _KEY_LAYOUTS:
        raise _column_error(path, table.first_line, _KEY_EXPECTED, width, table.first_text)
    layout, utt_at, attack_at, key_at, condition_at = _KEY_LAYOUTS[width]
    utt_ids: list[str] = []
    is_bonafide: list[bool] = []
    attacks: list[str] = []
    numbers: list[int] = []
    environment: list[str] = []
    conditions: dict[str, list[str]] = {name: [] for name in condition_at}
    unique = _UniqueIds(path, "utterance id")
    for line, fields in table.rows(width, f"{width} ({layout} layout, as on line {table.first_line})"):
        key = fields[key_at]
        if key not in (BONAFIDE, SPOOF):
            raise ScoreFileError(f"{path}:{line}: key {key!r} is not {BONAFIDE!r} or {SPOOF!r}")
        utt_id = fields[utt_at]
        unique.add(utt_id, line, utt_id)
        utt_ids.append(utt_id)
        is_bonafide.append(key == BONAFIDE)
        attacks.append(BONAFIDE_ATTACK if key == BONAFIDE else fields[attack_at])
        numbers.append(line)
        for name, column in condition_at.items():
            conditions[name].append(fields[column])
        if width == 5:
            environment.append(fields[2])  # '-' for LA; the acoustic environment for 2019 PA
    unique.check()
    if environment and any(value != "-" for value in environment):
        conditions["environment"] = environment
    return SpoofKey(str(path), layout, utt_ids, np.asarray(is_bonafide, dtype=bool), attacks, conditions, numbers)


def _read_asvspoof5_key(table: _Table) -> SpoofKey:
    utt_ids: list[str] = []
    is_bonafide: list[bool] = []
    numbers: list[int] = []
    unique = _UniqueIds(table.path, "utterance id")
    for line, row in _tsv_rows(table, ("filename", "cm-label"), "key file"):
        label = row["cm-label"]
        if label not in (BONAFIDE, SPOOF):
            raise ScoreFileError(f"{table.path}:{line}: cm-label {label!r} is not {BONAFIDE!r} or {SPOOF!r}")
        unique.add(row["filename"], line, row["filename"])
        utt_ids.append(row["filename"])
        is_bonafide.append(label == BONAFIDE)
        numbers.append(line)
    unique.check()
    attacks = [BONAFIDE_ATTACK if bona else SPOOF for bona in is_bonafide]  # the T1 key names no attack
    return SpoofKey(str(table.path), "asvspoof5", utt_ids, np.asarray(is_bonafide, dtype=bool), attacks, {}, numbers)


def spoof_key_from_split(split: SplitData) -> SpoofKey:
    """The labels a dataset reader parsed, as a key to join a score file to."""
    utts = split.utterances
    columns = sorted({name for utt in utts for name in utt.conditions})
    return SpoofKey(
        path=split.source or f"split {split.name!r}",
        layout="dataset",
        utt_ids=[u.utt_id for u in utts],
        is_bonafide=np.asarray([u.label == BONAFIDE for u in utts], dtype=bool),
        attacks=[BONAFIDE_ATTACK if u.label == BONAFIDE else (u.attack or SPOOF) for u in utts],
        conditions={name: [u.conditions.get(name, "") for u in utts] for name in columns},
    )


# --------------------------------------------------------------------------- joining CM scores


def join_spoof_scores(score_file: CmScoreFile, key: SpoofKey | None = None,
                      asv: AsvScores | None = None) -> SpoofScores:
    """Join scores to labels on utterance id, in key order, then validate.

    Without a key the score file must carry its own labels (4-column form).
    A 4-column file joined to a key must agree with it on bona fide/spoof."""
    path = score_file.path
    if key is None:
        if score_file.is_bonafide is None:
            raise ScoreFileError(
                f"{path}: a {score_file.layout} score file has no labels; give the protocol/key "
                "(--protocol FILE) or the dataset (--dataset NAME --data-root DIR)"
            )
        spoof_scores = SpoofScores(
            utt_ids=np.asarray(score_file.utt_ids), scores=score_file.scores,
            is_bonafide=score_file.is_bonafide, attacks=np.asarray(score_file.attacks),
            asv=asv, source=str(path),
        )
        validate_spoof_scores(spoof_scores)
        return spoof_scores
    row_of = {utt_id: row for row, utt_id in enumerate(score_file.utt_ids)}
    missing = [utt_id for utt_id in key.utt_ids if utt_id not in row_of]
    if missing:
        raise ScoreFileError(
            f"{path}: {len(missing)} of {len(key.utt_ids)} utterances of the protocol {key.path} have no score: "
            f"{_listing(missing, len(missing))}"
        )
    key_ids = set(key.utt_ids)
    extra = [f"{utt_id} (line {line})" for utt_id, line in zip(score_file.utt_ids, score_file.lines)
             if utt_id not in key_ids]
    if extra:
        raise ScoreFileError(
            f"{path}: {len(extra)} scored utterance(s) are not in the protocol {key.path}: {_listing(extra, len(extra))}"
        )
    rows = np.fromiter((row_of[utt_id] for utt_id in key.utt_ids), dtype=np.int64, count=len(key.utt_ids))
    if score_file.is_bonafide is not None:
        disagree = np.flatnonzero(score_file.is_bonafide[rows] != key.is_bonafide)
        if disagree.size:
            shown = [f"{key.utt_ids[i]} (line {score_file.lines[rows[i]]}: "
                     f"{BONAFIDE if score_file.is_bonafide[rows[i]] else SPOOF}, protocol: "
                     f"{BONAFIDE if key.is_bonafide[i] else SPOOF})" for i in disagree[:MAX_LISTED]]
            raise ScoreFileError(
                f"{path}: {disagree.size} utterance(s) are labelled differently from the protocol {key.path}: "
                f"{_listing(shown, int(disagree.size))}"
            )
    spoof_scores = SpoofScores(
        utt_ids=np.asarray(key.utt_ids),
        scores=score_file.scores[rows],
        is_bonafide=np.asarray(key.is_bonafide, dtype=bool),
        attacks=np.asarray(key.attacks),
        conditions={name: np.asarray(values) for name, values in key.conditions.items()},
        asv=asv,
        source=str(path),
    )
    validate_spoof_scores(spoof_scores)
    return spoof_scores


def spoof_scores_from_files(scores: str | Path, protocol: str | Path | None = None,
                            asv_scores: str | Path | None = None) -> SpoofScores:
    """Read a CM score file, join it to a protocol/key (optional for the
    4-column form) and attach the organisers' ASV scores (optional)."""
    key = read_spoof_key(protocol) if protocol is not None else None
    asv = read_asv_scores(asv_scores) if asv_scores is not None else None
    return join_spoof_scores(read_cm_scores(scores), key, asv)


def spoof_scores_from_split(scores: str | Path, split: SplitData) -> SpoofScores:
    """Join a CM score file to a dataset split (labels, attacks, conditions, ASV scores)."""
    return join_spoof_scores(read_cm_scores(scores), spoof_key_from_split(split), split.asv_scores)


# --------------------------------------------------------------------------- SV trials and scores

_TARGET_LABELS = {"target": True, "nontarget": False, "1": True, "0": False}


@dataclass
class SvTrials:
    path: Path
    layout: str  # "label-first" | "label-last"
    enrol: list[str]
    test: list[str]
    is_target: np.ndarray
    lines: list[int]


def read_sv_trials(path: str | Path) -> SvTrials:
    """SV trials ``LABEL ENROL TEST`` (VoxCeleb) or ``ENROL TEST LABEL`` (Kaldi);
    label target/nontarget or 1/0.  The layout is taken from the first line."""
    table = _Table(path, "trial file")
    path = table.path
    fields = table.first_fields()
    if len(fields) != 3:
        raise _column_error(path, table.first_line, "3 (LABEL ENROL TEST or ENROL TEST LABEL)", len(fields),
                            table.first_text)
    if fields[0] in _TARGET_LABELS:
        layout, label_at, enrol_at, test_at = "label-first", 0, 1, 2
    elif fields[2] in _TARGET_LABELS:
        layout, label_at, enrol_at, test_at = "label-last", 2, 0, 1
    else:
        raise ScoreFileError(f"{path}:{table.first_line}: no trial label (target/nontarget or 1/0) in the first or "
                             f"last column: {table.first_text!r}")
    enrol: list[str] = []
    test: list[str] = []
    is_target: list[bool] = []
    numbers: list[int] = []
    unique = _UniqueIds(path, "trial")
    for line, fields in table.rows(3, "3 (" + ("LABEL ENROL TEST" if label_at == 0 else "ENROL TEST LABEL") + ")"):
        label = fields[label_at]
        if label not in _TARGET_LABELS:
            raise ScoreFileError(f"{path}:{line}: trial label {label!r} is not target/nontarget or 1/0 ({layout} layout)")
        unique.add((fields[enrol_at], fields[test_at]), line, f"{fields[enrol_at]} {fields[test_at]}")
        enrol.append(fields[enrol_at])
        test.append(fields[test_at])
        is_target.append(_TARGET_LABELS[label])
        numbers.append(line)
    unique.check()
    return SvTrials(path, layout, enrol, test, np.asarray(is_target, dtype=bool), numbers)


@dataclass
class SvScoreFile:
    path: Path
    enrol: list[str]
    test: list[str]
    scores: np.ndarray
    lines: list[int]
    is_target: np.ndarray | None = None  # 4-column form (ENROL TEST SCORE LABEL)


def read_sv_scores(path: str | Path) -> SvScoreFile:
    """SV scores ``ENROL TEST SCORE`` or ``ENROL TEST SCORE target|nontarget``."""
    table = _Table(path, "score file")
    path = table.path
    width = len(table.first_fields())
    if width not in (3, 4):
        raise _column_error(path, table.first_line, "3 (ENROL TEST SCORE) or 4 (ENROL TEST SCORE LABEL)", width,
                            table.first_text)
    enrol: list[str] = []
    test: list[str] = []
    scores: list[float] = []
    numbers: list[int] = []
    labels: list[bool] = []
    unique = _UniqueIds(path, "trial")
    for line, fields in table.rows(width, "3 (ENROL TEST SCORE)" if width == 3 else "4 (ENROL TEST SCORE LABEL)"):
        unique.add((fields[0], fields[1]), line, f"{fields[0]} {fields[1]}")
        enrol.append(fields[0])
        test.append(fields[1])
        scores.append(_parse_score(fields[2], path, line))
        numbers.append(line)
        if width == 4:
            if fields[3] not in _TARGET_LABELS:
                raise ScoreFileError(f"{path}:{line}: trial label {fields[3]!r} is not target/nontarget or 1/0")
            labels.append(_TARGET_LABELS[fields[3]])
    unique.check()
    return SvScoreFile(path, enrol, test, np.asarray(scores, dtype=np.float64), numbers,
                       np.asarray(labels, dtype=bool) if width == 4 else None)


def join_verify_scores(score_file: SvScoreFile, trials: SvTrials | None = None) -> VerifyScores:
    """Join SV scores to trials on the (enrol, test) pair, in trial order, then validate."""
    path = score_file.path
    if trials is None:
        if score_file.is_target is None:
            raise ScoreFileError(f"{path}: a 3-column SV score file has no labels; give the trial list (--trials FILE)")
        verify = VerifyScores(np.asarray(score_file.enrol), np.asarray(score_file.test), score_file.scores,
                              score_file.is_target, source=str(path))
        validate_verify_scores(verify)
        return verify
    row_of = {pair: row for row, pair in enumerate(zip(score_file.enrol, score_file.test))}
    pairs = list(zip(trials.enrol, trials.test))
    missing = [f"{e} {t} (trial line {line})" for (e, t), line in zip(pairs, trials.lines) if (e, t) not in row_of]
    if missing:
        raise ScoreFileError(
            f"{path}: {len(missing)} of {len(pairs)} trials of {trials.path} have no score: "
            f"{_listing(missing, len(missing))}"
        )
    wanted = set(pairs)
    extra = [f"{e} {t} (line {line})" for e, t, line in zip(score_file.enrol, score_file.test, score_file.lines)
             if (e, t) not in wanted]
    if extra:
        raise ScoreFileError(
            f"{path}: {len(extra)} scored trial(s) are not in the trial list {trials.path}: {_listing(extra, len(extra))}"
        )
    rows = np.fromiter((row_of[pair] for pair in pairs), dtype=np.int64, count=len(pairs))
    verify = VerifyScores(np.asarray(trials.enrol), np.asarray(trials.test), score_file.scores[rows],
                          trials.is_target, source=str(path))
    validate_verify_scores(verify)
    return verify


def verify_scores_from_files(scores: str | Path, trials: str | Path | None = None) -> VerifyScores:
    return join_verify_scores(read_sv_scores(scores), read_sv_trials(trials) if trials is not None else None)


# --------------------------------------------------------------------------- classification


def read_classify_scores(path: str | Path, class_names: Sequence[str] | None = None) -> ClassifyScores:
    """``UTT TRUE PRED`` (class names).  Without ``class_names`` the classes are
    the sorted names that occur in either column."""
    path = Path(path)
    utt_ids: list[str] = []
    true: list[str] = []
    predicted: list[str] = []
    numbers: list[int] = []
    unique = _UniqueIds(path, "utterance id")
    for line, fields in _Table(path, "classification file").rows(3, "3 (UTT TRUE PRED)"):
        unique.add(fields[0], line, fields[0])
        utt_ids.append(fields[0])
        true.append(fields[1])
        predicted.append(fields[2])
        numbers.append(line)
    unique.check()
    names = tuple(class_names) if class_names is not None else tuple(sorted(set(true) | set(predicted)))
    index = {name: i for i, name in enumerate(names)}
    for column, values in (("true", true), ("predicted", predicted)):
        for value, line in zip(values, numbers):
            if value not in index:
                raise ScoreFileError(f"{path}:{line}: {column} class {value!r} is not one of {', '.join(names)}")
    scores = ClassifyScores(
        utt_ids=np.asarray(utt_ids),
        true=np.fromiter((index[v] for v in true), dtype=np.int64, count=len(true)),
        predicted=np.fromiter((index[v] for v in predicted), dtype=np.int64, count=len(predicted)),
        class_names=names,
        source=str(path),
    )
    validate_classify_scores(scores)
    return scores


# --------------------------------------------------------------------------- writers


def _float_text(value: float, where: str) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ScoreFileError(f"{where}: cannot write a non-finite score ({number!r})")
    return repr(number)  # shortest text that reads back as the same double


def _token(value: object, where: str, what: str) -> str:
    text = str(value)
    if not text or any(ch.isspace() for ch in text):
        raise ScoreFileError(f"{where}: {what} {text!r} is empty or contains whitespace; it would break the columns")
    return text


def write_spoof_scores(path: str | Path, utt_ids: Sequence[str], attacks: Sequence[str],
                       is_bonafide: Sequence[bool], scores: Sequence[float]) -> None:
    """``UTT SRC KEY SCORE`` (SRC = attack id, ``-`` for bona fide), written atomically."""
    path = Path(path)
    _check_same_length(str(path), utt_ids=utt_ids, attacks=attacks, is_bonafide=is_bonafide, scores=scores)
    rows = []
    for utt_id, attack, bona, score in zip(utt_ids, attacks, is_bonafide, scores):
        where = f"{path} (utterance {utt_id})"
        source = BONAFIDE_ATTACK if bona else _token(attack, where, "attack id")
        rows.append(f"{_token(utt_id, where, 'utterance id')} {source} {BONAFIDE if bona else SPOOF} "
                    f"{_float_text(score, where)}\n")
    atomic_write_text(path, "".join(rows))


def write_verify_scores(path: str | Path, enrol: Sequence[str], test: Sequence[str], scores: Sequence[float],
                        is_target: Sequence[bool]) -> None:
    """``ENROL TEST SCORE target|nontarget``, written atomically."""
    path = Path(path)
    _check_same_length(str(path), enrol=enrol, test=test, scores=scores, is_target=is_target)
    rows = []
    for e, t, score, target in zip(enrol, test, scores, is_target):
        where = f"{path} (trial {e} {t})"
        rows.append(f"{_token(e, where, 'enrolment id')} {_token(t, where, 'test id')} {_float_text(score, where)} "
                    f"{'target' if target else 'nontarget'}\n")
    atomic_write_text(path, "".join(rows))


def write_classify_scores(path: str | Path, utt_ids: Sequence[str], true_names: Sequence[str],
                          predicted_names: Sequence[str]) -> None:
    """``UTT TRUE PRED``, written atomically."""
    path = Path(path)
    _check_same_length(str(path), utt_ids=utt_ids, true_names=true_names, predicted_names=predicted_names)
    rows = []
    for utt_id, true, predicted in zip(utt_ids, true_names, predicted_names):
        where = f"{path} (utterance {utt_id})"
        rows.append(f"{_token(utt_id, where, 'utterance id')} {_token(true, where, 'class')} "
                    f"{_token(predicted, where, 'class')}\n")
    atomic_write_text(path, "".join(rows))


# --------------------------------------------------------------------------- validation of in-memory scores


def string_keys(values: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """A uint64 key per string of a 1-D fixed-width unicode array, or None for
    other arrays.  Strings of at most 3 characters get their code points packed
    (21 bits each, so the key is exact); longer ones a multiplicative hash of
    their UTF-32 words (equal strings get equal keys; equal keys must still be
    confirmed on the strings).  Sorting or bucketing keys is several times
    cheaper than sorting strings.  Returns ``(keys, exact)``."""
    values = np.asarray(values)
    if values.dtype.kind != "U" or values.dtype.itemsize == 0 or values.ndim != 1:
        return None
    values = np.ascontiguousarray(values)
    width = values.dtype.itemsize // 4
    if width <= 3:
        points = values.view(np.uint32).reshape(values.size, width)
        keys = points[:, 0].astype(np.uint64)
        for column in range(1, width):
            keys <<= np.uint64(21)  # code points are below 2**21
            keys |= points[:, column]
        return keys, True
    words = (values.view(np.uint64) if values.dtype.itemsize % 8 == 0 else values.view(np.uint32))
    words = words.reshape(values.size, -1).astype(np.uint64, copy=False)
    # the polynomial sum(word_j * P^(k-1-j)) mod 2^64 as one integer matrix product (a single pass)
    powers = np.array([pow(_HASH_BASE, e, 1 << 64) for e in reversed(range(words.shape[1]))], dtype=np.uint64)
    return words @ powers, False


_HASH_BASE = 0x100000001B3


def duplicate_values(values: np.ndarray) -> tuple[list[str], int]:
    """(the first few duplicated values, how many values repeat an earlier one)."""
    values = np.asarray(values)
    if values.size < 2:
        return [], 0
    keyed = string_keys(values)
    if keyed is not None:
        keys = keyed[0]
        ranked = np.sort(keys)
        same = ranked[1:] == ranked[:-1]
        if not same.any():
            return [], 0
        candidates = values[np.isin(keys, ranked[1:][same])]
    else:
        candidates = values
    unique, counts = np.unique(candidates, return_counts=True)
    repeated = unique[counts > 1]
    return [str(v) for v in repeated[:MAX_LISTED]], int((counts[counts > 1] - 1).sum())


def _where(source: str, fallback: str) -> str:
    return source or fallback


def _check_binary_scores(where: str, scores: np.ndarray, positive: np.ndarray, ids: np.ndarray,
                         positive_name: str, negative_name: str) -> None:
    finite = np.isfinite(scores)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        shown = [f"{ids[i]} ({float(scores[i])!r})" for i in bad[:MAX_LISTED]]
        raise ScoreFileError(f"{where}: {bad.size} score(s) are NaN or inf: {_listing(shown, int(bad.size))}")
    n_positive = int(np.count_nonzero(positive))
    if n_positive == 0 or n_positive == positive.size:
        empty = positive_name if n_positive == 0 else negative_name
        raise ScoreFileError(
            f"{where}: no {empty} scores ({n_positive} {positive_name}, {positive.size - n_positive} {negative_name}); "
            "the metrics need both classes"
        )
    if _fewer_than_three_distinct(scores):
        distinct = np.unique(scores).size
        raise ScoreFileError(
            f"{where}: only {distinct} distinct score value(s) among {scores.size}; these look like hard decisions, "
            "not scores (at least 3 distinct values are needed)"
        )


def _fewer_than_three_distinct(scores: np.ndarray) -> bool:
    """Two linear scans instead of sorting a possibly huge array."""
    differs = scores != scores[0]
    if not differs.any():
        return True
    second = scores[int(np.argmax(differs))]
    return not (differs & (scores != second)).any()


def _check_same_length(where: str, **columns: object) -> None:
    sizes = {name: len(np.atleast_1d(np.asarray(values))) for name, values in columns.items()}
    if len(set(sizes.values())) > 1:
        raise ScoreFileError(f"{where}: columns differ in length: {sizes}")


def validate_spoof_scores(scores: SpoofScores) -> None:
    """Refuse a :class:`SpoofScores` that no metric may be computed on."""
    where = _where(scores.source, "spoof scores")
    values = np.asarray(scores.scores)
    _check_same_length(where, utt_ids=scores.utt_ids, scores=values, is_bonafide=scores.is_bonafide,
                       attacks=scores.attacks, **{f"conditions[{k}]": v for k, v in scores.conditions.items()})
    if values.dtype.kind not in "fiu":
        raise ScoreFileError(f"{where}: scores must be numbers, got an array of {values.dtype}")
    ids = np.asarray(scores.utt_ids)
    shown, count = duplicate_values(ids)
    if count:
        raise ScoreFileError(f"{where}: {count} duplicate utterance id(s): {_listing(shown, count)}")
    _check_binary_scores(where, values.astype(np.float64, copy=False), np.asarray(scores.is_bonafide, dtype=bool),
                         ids, BONAFIDE, SPOOF)
    if scores.asv is not None:
        validate_asv_scores(scores.asv)


def validate_verify_scores(scores: VerifyScores) -> None:
    """Refuse a :class:`VerifyScores` that no metric may be computed on."""
    where = _where(scores.source, "verification scores")
    values = np.asarray(scores.scores)
    _check_same_length(where, enrol=scores.enrol, test=scores.test, scores=values, is_target=scores.is_target)
    if values.dtype.kind not in "fiu":
        raise ScoreFileError(f"{where}: scores must be numbers, got an array of {values.dtype}")
    pairs = np.char.add(np.char.add(np.asarray(scores.enrol).astype(str), "\t"), np.asarray(scores.test).astype(str))
    shown, count = duplicate_values(pairs)
    if count:
        raise ScoreFileError(f"{where}: {count} duplicate trial(s): {_listing([s.replace(chr(9), ' ') for s in shown], count)}")
    _check_binary_scores(where, values.astype(np.float64, copy=False), np.asarray(scores.is_target, dtype=bool),
                         pairs, "target", "nontarget")


def validate_classify_scores(scores: ClassifyScores) -> None:
    """Refuse a :class:`ClassifyScores` that no metric may be computed on."""
    where = _where(scores.source, "classification results")
    true = np.asarray(scores.true)
    predicted = np.asarray(scores.predicted)
    _check_same_length(where, utt_ids=scores.utt_ids, true=true, predicted=predicted)
    if true.size == 0:
        raise ScoreFileError(f"{where}: no utterances to evaluate")
    if true.dtype.kind not in "iu" or predicted.dtype.kind not in "iu":
        raise ScoreFileError(f"{where}: true and predicted classes must be integer indices")
    n_classes = len(scores.class_names) if scores.class_names else int(max(true.max(), predicted.max())) + 1
    for name, values in (("true", true), ("predicted", predicted)):
        bad = np.flatnonzero((values < 0) | (values >= n_classes))
        if bad.size:
            raise ScoreFileError(
                f"{where}: {name} class index {int(values[bad[0]])} of utterance {scores.utt_ids[bad[0]]} is outside "
                f"0..{n_classes - 1} ({bad.size} such)"
            )
    shown, count = duplicate_values(np.asarray(scores.utt_ids))
    if count:
        raise ScoreFileError(f"{where}: {count} duplicate utterance id(s): {_listing(shown, count)}")
