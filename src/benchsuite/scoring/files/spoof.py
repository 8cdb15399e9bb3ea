"""Anti-spoofing files: CM score files, CM keys and protocols, the organisers' ASV scores, and joining them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from benchsuite.contract import AsvScores, BONAFIDE, SPOOF, ScoreFileError, SplitData, SpoofScores
from ._lines import BONAFIDE_ATTACK, MAX_LISTED, _Table, _UniqueIds, _column_error, _empty_file, _listing, _parse_score
from .validation import ASV_KEYS, validate_spoof_scores


# --------------------------------------------------------------------------- ASV scores (t-DCF)



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
