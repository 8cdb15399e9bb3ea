"""Speaker-verification files: trial lists and score files, and joining them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchsuite.contract import ScoreFileError, VerifyScores
from ._lines import MAX_LISTED, FastTable, _Table, _UniqueIds, _column_error, _listing, _parse_score
from .validation import duplicate_values, positions, validate_verify_scores


# --------------------------------------------------------------------------- SV trials and scores

_TARGET_LABELS = {"target": True, "nontarget": False, "1": True, "0": False}


@dataclass
class SvTrials:
    path: Path
    layout: str  # "label-first" | "label-last"
    enrol: Sequence[str]  # a list (line by line) or an array (fast pass)
    test: Sequence[str]
    is_target: np.ndarray
    lines: Sequence[int]


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
    fast = table.fast(3, {label_at: "category", enrol_at: str, test_at: str})
    if fast is not None and set(fast.levels(label_at)) <= set(_TARGET_LABELS) \
            and not _repeats_a_pair(fast.strings(enrol_at), fast.strings(test_at)):
        labels, codes = fast.codes(label_at)
        is_target = np.asarray([_TARGET_LABELS[label] for label in labels], dtype=bool)[codes]
        return SvTrials(path, layout, fast.strings(enrol_at), fast.strings(test_at), is_target, fast.lines)
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
    enrol: Sequence[str]  # a list (line by line) or an array (fast pass)
    test: Sequence[str]
    scores: np.ndarray
    lines: Sequence[int]
    is_target: np.ndarray | None = None  # 4-column form (ENROL TEST SCORE LABEL)


def read_sv_scores(path: str | Path) -> SvScoreFile:
    """SV scores ``ENROL TEST SCORE`` or ``ENROL TEST SCORE target|nontarget``."""
    table = _Table(path, "score file")
    path = table.path
    width = len(table.first_fields())
    if width not in (3, 4):
        raise _column_error(path, table.first_line, "3 (ENROL TEST SCORE) or 4 (ENROL TEST SCORE LABEL)", width,
                            table.first_text)
    fast = table.fast(width, {0: str, 1: str, 2: np.float64, 3: "category"} if width == 4 else
                      {0: str, 1: str, 2: np.float64})
    in_bulk = _sv_scores_in_bulk(fast, path, width) if fast is not None else None
    return in_bulk if in_bulk is not None else _read_sv_scores_by_line(table, width)


def _sv_scores_in_bulk(fast: FastTable, path: Path, width: int) -> SvScoreFile | None:
    scores = fast.floats(2)
    if not np.isfinite(scores).all() or _repeats_a_pair(fast.strings(0), fast.strings(1)):
        return None
    is_target = None
    if width == 4:
        labels, codes = fast.codes(3)
        if not set(labels) <= set(_TARGET_LABELS):
            return None
        is_target = np.asarray([_TARGET_LABELS[label] for label in labels], dtype=bool)[codes]
    return SvScoreFile(path, fast.strings(0), fast.strings(1), scores, fast.lines, is_target)


def _read_sv_scores_by_line(table: _Table, width: int) -> SvScoreFile:
    path = table.path
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
        verify = VerifyScores(np.asarray(score_file.enrol, dtype=str), np.asarray(score_file.test, dtype=str),
                              score_file.scores,
                              score_file.is_target, source=str(path))
        validate_verify_scores(verify)
        return verify
    scored_pairs = _pair_keys(score_file.enrol, score_file.test)
    rows = positions(scored_pairs, _pair_keys(trials.enrol, trials.test))  # scored pairs are unique: checked
    absent = np.flatnonzero(rows < 0)
    if absent.size:
        missing = [f"{trials.enrol[i]} {trials.test[i]} (trial line {trials.lines[i]})" for i in absent[:MAX_LISTED]]
        raise ScoreFileError(
            f"{path}: {absent.size} of {len(rows)} trials of {trials.path} have no score: "
            f"{_listing(missing, int(absent.size))}"
        )
    matched = np.zeros(len(scored_pairs), dtype=bool)
    matched[rows] = True
    unmatched = np.flatnonzero(~matched)
    if unmatched.size:
        extra = [f"{score_file.enrol[i]} {score_file.test[i]} (line {score_file.lines[i]})"
                 for i in unmatched[:MAX_LISTED]]
        raise ScoreFileError(
            f"{path}: {unmatched.size} scored trial(s) are not in the trial list {trials.path}: "
            f"{_listing(extra, int(unmatched.size))}"
        )
    verify = VerifyScores(np.asarray(trials.enrol, dtype=str), np.asarray(trials.test, dtype=str), score_file.scores[rows],
                          trials.is_target, source=str(path))
    validate_verify_scores(verify)
    return verify


def _repeats_a_pair(enrol: np.ndarray, test: np.ndarray) -> bool:
    return duplicate_values(np.char.add(np.char.add(enrol, "\t"), test))[1] > 0


def _pair_keys(enrol: Sequence[str], test: Sequence[str]) -> list[str]:
    """One string per (enrol, test) pair; a tab never occurs inside a whitespace-separated id."""
    return [f"{e}\t{t}" for e, t in zip(enrol, test)]


def verify_scores_from_files(scores: str | Path, trials: str | Path | None = None) -> VerifyScores:
    return join_verify_scores(read_sv_scores(scores), read_sv_trials(trials) if trials is not None else None)
