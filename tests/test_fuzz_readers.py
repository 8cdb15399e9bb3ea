"""Property-based fuzz of the score-file, protocol and result readers (issue 21): whatever the
bytes, a reader returns a value that is correct as far as it can be checked, or raises one of
our errors (a BenchsuiteError subclass naming the file), never another exception.  Only the
public reader functions are called."""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from benchsuite.cell.directory import STATUSES, UNREADABLE, CellDirectories
from benchsuite.contract import BenchsuiteError
from benchsuite.scoring import files as scorefiles
from benchsuite_datasets.asvspoof import load_asv_scores, parse_cm_protocol

# tokens that real files hold, and the ones that break readers: numbers of every spelling,
# labels, ids, paths that escape, separators, non-UTF-8 bytes
TOKENS = ["LA_0001", "LA_T_1000001", "LA_E_2", "A01", "A07", "-", "bonafide", "spoof", "target", "nontarget",
          "1", "0", "0.5", "-3.25", "1e400", "nan", "inf", "-inf", "1,5", "0x10", "", "../x", "/abs", "e1", "t2",
          "filename", "cm-score", "cm-label", "happy", "sad", "\t", "  ", "\u00e9", "\ufeff"]
LINE = st.lists(st.sampled_from(TOKENS), min_size=0, max_size=7).map(" ".join)
TEXT = st.lists(LINE, min_size=0, max_size=12).map("\n".join)
RAW = st.one_of(TEXT.map(lambda t: t.encode("utf-8")), st.binary(max_size=200),
                TEXT.map(lambda t: t.encode("utf-8") + b"\xff\xfe"))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _file(data: bytes, name: str = "input.txt") -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


def _finite(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))


@FUZZ
@given(RAW)
def test_cm_score_reader_gives_finite_scores_or_our_error(data):
    try:
        read = scorefiles.read_cm_scores(_file(data))
    except BenchsuiteError:
        return
    assert len(read.utt_ids) == len(read.scores) == len(read.lines) > 0
    assert _finite(read.scores)
    assert len(set(read.utt_ids)) == len(read.utt_ids)


@FUZZ
@given(RAW, RAW)
def test_cm_scores_joined_to_a_key_or_our_error(scores, key):
    try:
        joined = scorefiles.spoof_scores_from_files(_file(scores), _file(key, "key.txt"))
    except BenchsuiteError:
        return
    assert len(joined.scores) == len(joined.is_bonafide) == len(joined.utt_ids)
    assert _finite(joined.scores) and joined.is_bonafide.any() and not joined.is_bonafide.all()


@FUZZ
@given(RAW)
def test_spoof_key_and_asv_score_readers(data):
    path = _file(data)
    try:
        key = scorefiles.read_spoof_key(path)
        assert len(key.utt_ids) == len(key.is_bonafide) == len(key.attacks) > 0
    except BenchsuiteError:
        pass
    for reader in (scorefiles.read_asv_scores, load_asv_scores):
        try:
            asv = reader(path)
        except BenchsuiteError:
            continue
        for part in (asv.target, asv.nontarget, asv.spoof):
            assert _finite(part)


@FUZZ
@given(RAW, RAW)
def test_sv_readers_and_join(scores, trials):
    try:
        joined = scorefiles.verify_scores_from_files(_file(scores), _file(trials, "trials.txt"))
    except BenchsuiteError:
        return
    assert len(joined.scores) == len(joined.is_target) > 0 and _finite(joined.scores)


@FUZZ
@given(RAW)
def test_classify_reader(data):
    try:
        read = scorefiles.read_classify_scores(_file(data))
    except BenchsuiteError:
        return
    assert len(read.true) == len(read.predicted) == len(read.utt_ids) > 0
    assert int(max(read.true.max(), read.predicted.max())) < len(read.class_names)


@FUZZ
@given(RAW)
def test_cm_protocol_parser(data):
    path = _file(data, "protocol.txt")
    try:
        utterances = parse_cm_protocol(path, path.parent / "flac", path.parent)
    except BenchsuiteError:
        return
    assert utterances and len({u.utt_id for u in utterances}) == len(utterances)
    for utt in utterances:
        assert utt.label in ("bonafide", "spoof")
        assert Path(utt.path).parent == path.parent / "flac"  # no id leaves the audio folder


@FUZZ
@given(st.one_of(RAW, st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                                   lambda inner: st.lists(inner, max_size=3)
                                   | st.dictionaries(st.sampled_from(["status", "cell_id", "schema_version",
                                                                      "metrics", "dataset", "model", "error"]),
                                                     inner, max_size=6),
                                   max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_a_stored_result_reads_as_a_result_or_as_unreadable(data):
    root = Path(tempfile.mkdtemp(prefix="fuzz-store-"))
    store = CellDirectories(root)
    store.result_path("c").parent.mkdir(parents=True)
    store.result_path("c").write_bytes(data)
    result = store.read_result("c")
    assert result is not None and result["cell_id"] == "c"
    assert result["status"] in (*STATUSES, UNREADABLE)
    if result["status"] == UNREADABLE:
        assert str(store.result_path("c")) in result["error"]["message"]
    else:
        assert isinstance(result["metrics"], dict) and not math.isnan(float(result["schema_version"]))
