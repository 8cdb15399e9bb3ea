"""Speaker-verification files: trial lists and score files, and joining them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchsuite.contract import ScoreFileError, VerifyScores
from ._lines import _Table, _UniqueIds, _column_error, _listing, _parse_score
from .validation import validate_verify_scores


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
