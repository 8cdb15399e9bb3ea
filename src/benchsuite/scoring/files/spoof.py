"""Anti-spoofing files: CM score files, CM keys and protocols, the organisers' ASV scores, and joining them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from benchsuite.contract import AsvScores, BONAFIDE, SPOOF, ScoreFileError, SplitData, SpoofScores
from ._lines import (
    BONAFIDE_ATTACK, MAX_LISTED, FastTable, _Table, _UniqueIds, _column_error, _empty_file, _listing, _parse_score,

)
from .validation import ASV_KEYS, duplicate_values, positions, validate_spoof_scores


# --------------------------------------------------------------------------- ASV scores (t-DCF)



def read_asv_scores(path: str | Path) -> AsvScores:
    """The organisers' ASV scores (``SOURCE KEY SCORE``, KEY target|nontarget|spoof),
    e.g. ``ASVspoof2019.LA.asv.eval.gi.trl.scores.txt``.  They fix the ASV
    operating point of the t-DCF, so every class must be present."""
    table = _Table(path, "ASV score file")
    fast = table.fast(3, {0: "category", 1: "category", 2: np.float64}) if len(table.first_fields()) == 3 else None
    asv = _asv_scores_in_bulk(fast, table.path) if fast is not None else None
    return asv if asv is not None else _read_asv_scores_by_line(table)


def _asv_scores_in_bulk(fast: FastTable, path: Path) -> AsvScores | None:
    """The fast pass: None when any line needs the line-by-line reader's message."""
    keys, codes = fast.codes(1)
    scores = fast.floats(2)
    if sorted(keys) != sorted(ASV_KEYS) or not np.isfinite(scores).all():
        return None
    key_of_row = np.asarray(keys)[codes]
    spoof = key_of_row == "spoof"
    return AsvScores(target=scores[key_of_row == "target"], nontarget=scores[key_of_row == "nontarget"],
                     spoof=scores[spoof], source=str(path), spoof_attacks=fast.strings(0)[spoof])


def _read_asv_scores_by_line(table: _Table) -> AsvScores:
    path = table.path
    by_key: dict[str, list[float]] = {key: [] for key in ASV_KEYS}
    spoof_sources: list[str] = []
    for line, fields in table.rows(3, "3 (SOURCE KEY SCORE)"):
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
    utt_ids: Sequence[str]  # a list (line by line) or an array (fast pass)
    scores: np.ndarray
    lines: Sequence[int]
    attacks: Sequence[str] | None = None
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
    fast = table.fast(width, {0: str, 1: np.float64} if width == 2 else {0: str, 1: "category", 2: "category",
                                                                         3: np.float64})
    in_bulk = _cm_scores_in_bulk(fast, path, width) if fast is not None else None
    return in_bulk if in_bulk is not None else _read_cm_scores_by_line(table, width)


def _distinct_ids(fast: FastTable, column: int) -> np.ndarray | None:
    """The id column as a unicode array, or None when an id repeats (the line-by-line reader names them)."""
    ids = fast.strings(column)
    return None if duplicate_values(ids)[1] else ids


def _cm_scores_in_bulk(fast: FastTable, path: Path, width: int) -> CmScoreFile | None:
    scores = fast.floats(width - 1)
    utt_ids = _distinct_ids(fast, 0) if np.isfinite(scores).all() else None
    if utt_ids is None:
        return None
    if width == 2:
        return CmScoreFile(path, "2-column", utt_ids, scores, fast.lines)
    if not set(fast.levels(2)) <= {BONAFIDE, SPOOF}:
        return None
    is_bonafide = fast.equals(2, BONAFIDE)
    attacks = np.where(is_bonafide, BONAFIDE_ATTACK, fast.strings(1))
    return CmScoreFile(path, "4-column", utt_ids, scores, fast.lines, attacks, is_bonafide)


def _read_cm_scores_by_line(table: _Table, width: int) -> CmScoreFile:
    path = table.path
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


def _tsv_in_bulk(table: _Table, required: Sequence[str], score: str | None = None) -> tuple[FastTable, dict] | None:
    """The fast pass over a tab-separated file with a header: its rows and the header's positions."""
    names, positions_of = _tsv_columns(table, required)
    dtypes = {index: str for index in range(len(names))}
    if score is not None:
        dtypes[positions_of[score]] = np.float64
    fast = table.fast(len(names), dtypes, header=names)
    if fast is None or len(fast) == 0:
        return None
    return fast, positions_of


def _read_asvspoof5_scores(table: _Table) -> CmScoreFile:
    bulk = _tsv_in_bulk(table, ("filename", "cm-score"), score="cm-score")
    if bulk is not None:
        fast, at = bulk
        scores = fast.floats(at["cm-score"])
        utt_ids = _distinct_ids(fast, at["filename"]) if np.isfinite(scores).all() else None
        if utt_ids is not None:
            return CmScoreFile(table.path, "asvspoof5", utt_ids, scores, fast.lines)
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
    utt_ids: Sequence[str]  # a list (line by line) or an array (fast pass)
    is_bonafide: np.ndarray
    attacks: Sequence[str]  # "-" for bona fide
    conditions: dict[str, Sequence[str]] = field(default_factory=dict)
    lines: Sequence[int] | None = None


# column name -> index, for each whitespace-separated key layout
_KEY_LAYOUTS: dict[int, tuple[str, int, int | None, int, dict[str, int]]] = {
    # width: (layout, utt column, attack column (None: the key names none), key column, condition columns)
    5: ("asvspoof2019", 1, 3, 4, {}),
    8: ("asvspoof2021-la", 1, 4, 5, {"codec": 2, "transmission": 3, "trim": 6, "subset": 7}),
    # asvspoof-challenge/2021:eval-package/config.py ConfigPA.p_names:
    # spk trial asv_room asv_mic dis_to_asv att_room att_mic att_d att_to_spk label trim subset
    12: ("asvspoof2021-pa", 1, None, 9, {"asv_room": 2, "asv_mic": 3, "dis_to_asv": 4, "att_room": 5, "att_mic": 6,
                                         "att_d": 7, "att_to_spk": 8, "trim": 10, "subset": 11}),
    13: ("asvspoof2021-df", 1, 4, 5, {"codec": 2, "source": 3, "trim": 6, "subset": 7, "vocoder": 8}),
}
_KEY_EXPECTED = ("5 (ASVspoof 2019 protocol: SPEAKER UTT - SYSTEM KEY), 8 (ASVspoof 2021 LA trial_metadata), "
                 "12 (ASVspoof 2021 PA trial_metadata) or 13 (ASVspoof 2021 DF trial_metadata)")


def read_spoof_key(path: str | Path) -> SpoofKey:
    """Read a CM protocol/key in any supported layout (detected from the first line)."""
    table = _Table(path, "protocol/key file")
    path = table.path
    if table.first_fields("\t")[0].strip().lower() == "filename":
        return _read_asvspoof5_key(table)
    width = len(table.first_fields())
    if width not in _KEY_LAYOUTS:
        raise _column_error(path, table.first_line, _KEY_EXPECTED, width, table.first_text)
    fast = table.fast(width, {column: (str if column == _KEY_LAYOUTS[width][1] else "category")
                              for column in range(width)})
    key = _spoof_key_in_bulk(fast, path, width) if fast is not None else None
    return key if key is not None else _read_spoof_key_by_line(table, width)


def _spoof_key_in_bulk(fast: FastTable, path: Path, width: int) -> SpoofKey | None:
    layout, utt_at, attack_at, key_at, condition_at = _KEY_LAYOUTS[width]
    utt_ids = _distinct_ids(fast, utt_at) if set(fast.levels(key_at)) <= {BONAFIDE, SPOOF} else None
    if utt_ids is None:
        return None
    is_bonafide = fast.equals(key_at, BONAFIDE)
    attacks = np.where(is_bonafide, BONAFIDE_ATTACK, fast.strings(attack_at) if attack_at is not None else SPOOF)
    conditions = {name: fast.strings(column) for name, column in condition_at.items()}
    if width == 5 and any(value != "-" for value in fast.levels(2)):
        conditions["environment"] = fast.strings(2)  # the acoustic environment of 2019 PA
    return SpoofKey(str(path), layout, utt_ids, is_bonafide, attacks, conditions, fast.lines)


def _read_spoof_key_by_line(table: _Table, width: int) -> SpoofKey:
    path = table.path
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
        attacks.append(BONAFIDE_ATTACK if key == BONAFIDE else fields[attack_at] if attack_at is not None else SPOOF)
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
    bulk = _tsv_in_bulk(table, ("filename", "cm-label"))
    if bulk is not None:
        fast, at = bulk
        labels = fast.strings(at["cm-label"])
        is_bonafide = labels == BONAFIDE
        utt_ids = _distinct_ids(fast, at["filename"]) if bool((is_bonafide | (labels == SPOOF)).all()) else None
        if utt_ids is not None:
            attacks = np.where(is_bonafide, BONAFIDE_ATTACK, SPOOF)  # the T1 key names no attack
            return SpoofKey(str(table.path), "asvspoof5", utt_ids, is_bonafide, attacks, {}, fast.lines)
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
            utt_ids=np.asarray(score_file.utt_ids, dtype=str), scores=score_file.scores,
            is_bonafide=score_file.is_bonafide, attacks=np.asarray(score_file.attacks),
            asv=asv, source=str(path),
        )
        validate_spoof_scores(spoof_scores)
        return spoof_scores
    rows = positions(score_file.utt_ids, key.utt_ids)  # score ids are unique: the reader checked
    absent = np.flatnonzero(rows < 0)
    if absent.size:
        missing = [str(key.utt_ids[i]) for i in absent[:MAX_LISTED]]
        raise ScoreFileError(
            f"{path}: {absent.size} of {len(key.utt_ids)} utterances of the protocol {key.path} have no score: "
            f"{_listing(missing, int(absent.size))}"
        )
    matched = np.zeros(len(score_file.utt_ids), dtype=bool)
    matched[rows] = True
    unmatched = np.flatnonzero(~matched)
    if unmatched.size:
        extra = [f"{score_file.utt_ids[i]} (line {score_file.lines[i]})" for i in unmatched[:MAX_LISTED]]
        raise ScoreFileError(
            f"{path}: {unmatched.size} scored utterance(s) are not in the protocol {key.path}: "
            f"{_listing(extra, int(unmatched.size))}"
        )
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
        utt_ids=np.asarray(key.utt_ids, dtype=str),
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
