"""Checks of in-memory score sets before any metric sees a number."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from benchsuite.contract import AsvScores, BONAFIDE, ClassifyScores, SPOOF, ScoreFileError, SpoofScores, VerifyScores
from ._lines import MAX_LISTED, _listing

ASV_KEYS = ("target", "nontarget", "spoof")  # the organisers' ASV score classes


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


def positions(haystack: Sequence[Any], needles: Sequence[Any]) -> np.ndarray:
    """Row of each needle in ``haystack`` (distinct values), -1 where absent.

    Unicode arrays are joined on their :func:`string_keys` (sort and binary
    search, every match confirmed on the strings); anything else, or any needle
    not found that way (absent, or a hash collision), through a dict."""
    hay, need = np.asarray(haystack), np.asarray(needles)
    if hay.dtype.kind == "U" and need.dtype.kind == "U" and hay.size and need.size:
        hay_keys, need_keys = string_keys(hay)[0], string_keys(need)[0]
        order = np.argsort(hay_keys)
        ranked = hay_keys[order]
        at = np.minimum(np.searchsorted(ranked, need_keys), hay.size - 1)
        rows = order[at]
        if bool(((ranked[at] == need_keys) & (hay[rows] == need)).all()):
            return rows
    row_of = {value: row for row, value in enumerate(hay.tolist())}
    return np.fromiter((row_of.get(value, -1) for value in need.tolist()), dtype=np.int64, count=need.size)


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


def validate_asv_scores(asv: AsvScores) -> None:
    where = asv.source or "ASV scores"
    for name in ASV_KEYS:
        values = np.asarray(getattr(asv, name), dtype=np.float64)
        if values.size == 0:
            raise ScoreFileError(f"{where}: no {name} ASV scores; the t-DCF needs target, nontarget and spoof scores")
        if not np.isfinite(values).all():
            raise ScoreFileError(f"{where}: {name} ASV scores contain NaN or inf")


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
