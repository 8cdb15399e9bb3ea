"""Writing score files in each task's official format."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence


from benchsuite.contract import BONAFIDE, SPOOF, ScoreFileError
from benchsuite.common.files import atomic_write_text
from ._lines import BONAFIDE_ATTACK
from .validation import _check_same_length


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
