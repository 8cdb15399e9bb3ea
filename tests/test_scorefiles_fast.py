"""The two passes of the score-file readers agree: the bulk pass (pandas) and
the line-by-line pass give the same values on every layout and the same
message on every malformed file the suite knows; and the files real users
have (BOM, gzip, xz, CRLF, tabs, blank lines) read the same either way."""
from __future__ import annotations

import dataclasses
import gzip
import lzma
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from benchsuite.api import ScoreFileError
from benchsuite.scoring import files as scorefiles
from benchsuite.scoring.files import _lines

from builders_metrics import ASV_NONTARGET, ASV_SPOOF, ASV_TARGET, spoof_set, sv_set, write_asv_scores, write_lines
from test_scorefiles import BAD_LINES

BULK, BY_LINE = "bulk", "line by line"


def _in_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> list[bool]:
    """Force one pass; returns a list that records whether each file took the bulk pass."""
    monkeypatch.setattr(_lines, "FAST_MIN_BYTES", 0 if mode == BULK else 1 << 62)
    taken: list[bool] = []
    real = _lines.fast_table

    def recorded(*args: Any, **kwargs: Any):
        table = real(*args, **kwargs)
        taken.append(table is not None)
        return table

    monkeypatch.setattr(_lines, "fast_table", recorded)
    return taken


def _plain(value: Any) -> Any:
    """A reader's result as plain Python values (lists for arrays and ranges)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, list, tuple, range)):
        return [_plain(v) for v in np.asarray(list(value) if isinstance(value, range) else value, dtype=object)]
    return value.item() if isinstance(value, np.generic) else value


def _both(monkeypatch: pytest.MonkeyPatch, read: Callable[[], Any]) -> tuple[Any, Any, list[bool]]:
    with monkeypatch.context() as patch:
        taken = _in_mode(patch, BULK)
        bulk = _plain(read())
    with monkeypatch.context() as patch:
        _in_mode(patch, BY_LINE)
        by_line = _plain(read())
    return bulk, by_line, taken


def _message(monkeypatch: pytest.MonkeyPatch, mode: str, read: Callable[[], Any]) -> str:
    with monkeypatch.context() as patch:
        _in_mode(patch, mode)
        with pytest.raises(ScoreFileError) as caught:
            read()
    return str(caught.value)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    data = spoof_set()
    sv = sv_set()
    out = {
        "protocol": write_lines(tmp_path / "protocol.txt", data.protocol_lines()),
        "four": write_lines(tmp_path / "scores4.txt", data.four_column_lines()),
        "two": write_lines(tmp_path / "scores2.txt", reversed(data.two_column_lines())),
        "asv": write_asv_scores(tmp_path / "asv.txt", ASV_TARGET, ASV_NONTARGET, ASV_SPOOF),
        "trials": write_lines(tmp_path / "trials.txt", [f"{'target' if y else 'nontarget'} {e} {t}"
                                                        for e, t, y in zip(sv.enrol, sv.test, sv.is_target)]),
        "trials-last": write_lines(tmp_path / "trials_last.txt", [f"{e} {t} {int(y)}"
                                                                  for e, t, y in zip(sv.enrol, sv.test, sv.is_target)]),
        "sv": write_lines(tmp_path / "sv.txt", reversed([f"{e} {t} {s!r}" for e, t, s in
                                                         zip(sv.enrol, sv.test, sv.scores)])),
        "key5": write_lines(tmp_path / "key.tsv", ["filename\tcm-label"] + [
            f"{u}\t{'bonafide' if b else 'spoof'}" for u, b in zip(data.utt_ids, data.is_bonafide)]),
        "scores5": write_lines(tmp_path / "scores.tsv", ["filename\tcm-score"] + [
            f"{u}\t{s}" for u, s in zip(data.utt_ids, data.scores)]),
        "la2021": write_lines(tmp_path / "la.txt", [
            f"LA_0009 {u} alaw ita_tx {a if not b else 'bonafide'} {'bonafide' if b else 'spoof'} notrim eval"
            for u, a, b in zip(data.utt_ids, data.attacks, data.is_bonafide)]),
        "pa2021": write_lines(tmp_path / "pa.txt", [
            f"PA_0010 {u} R3 M3 d4 {'- - - -' if b else 'r1 m1 s4 c4'} {'bonafide' if b else 'spoof'} notrim eval"
            for u, b in zip(data.utt_ids, data.is_bonafide)]),
        "classify": write_lines(tmp_path / "c.txt", [f"u{i} {'cat' if i % 3 else 'dog'} {'cat' if i % 2 else 'dog'}"
                                                     for i in range(20)]),
    }
    return out


READERS: dict[str, Callable[[dict[str, Path]], Any]] = {
    "2-column scores + 2019 protocol + ASV": lambda f: scorefiles.spoof_scores_from_files(f["two"], f["protocol"], f["asv"]),
    "4-column scores on their own labels": lambda f: scorefiles.spoof_scores_from_files(f["four"]),
    "4-column scores + protocol": lambda f: scorefiles.spoof_scores_from_files(f["four"], f["protocol"]),
    "2019 protocol": lambda f: scorefiles.read_spoof_key(f["protocol"]),
    "2021 LA trial_metadata": lambda f: scorefiles.read_spoof_key(f["la2021"]),
    "2021 PA trial_metadata": lambda f: scorefiles.read_spoof_key(f["pa2021"]),
    "ASVspoof 5 key and scores": lambda f: scorefiles.spoof_scores_from_files(f["scores5"], f["key5"]),
    "ASV scores": lambda f: scorefiles.read_asv_scores(f["asv"]),
    "SV trials, label first": lambda f: scorefiles.read_sv_trials(f["trials"]),
    "SV trials, label last": lambda f: scorefiles.read_sv_trials(f["trials-last"]),
    "SV scores + trials": lambda f: scorefiles.verify_scores_from_files(f["sv"], f["trials"]),
    "classification": lambda f: scorefiles.read_classify_scores(f["classify"]),
}


@pytest.mark.parametrize("case", list(READERS), ids=list(READERS))
def test_both_passes_read_the_same_values(files, monkeypatch, case: str):
    bulk, by_line, taken = _both(monkeypatch, lambda: READERS[case](files))
    assert taken and all(taken), "every file of this case should take the bulk pass"
    assert bulk == by_line


@pytest.mark.parametrize("case", list(BAD_LINES), ids=list(BAD_LINES))
def test_both_passes_give_the_same_message_for_a_bad_line(tmp_path: Path, monkeypatch, case: str):
    name, lines, reader, _ = BAD_LINES[case]
    path = write_lines(tmp_path / name, lines)
    assert _message(monkeypatch, BULK, lambda: reader(path)) == _message(monkeypatch, BY_LINE, lambda: reader(path))


def test_long_and_extreme_numbers_parse_as_pythons_float(tmp_path: Path, monkeypatch):
    """pandas' float parser must round as ``float()`` does, digit strings of any length included."""
    rng = np.random.default_rng(3)
    texts = ["2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "-0", "+.5", "5.",
             "0.1000000000000000055511151231257827021181583404541015625", "179769313486231580793728971405301e276"]
    for _ in range(2000):
        digits = "".join(rng.choice(list("0123456789"), int(rng.integers(1, 40))))
        point = int(rng.integers(0, len(digits) + 1))
        texts.append(f"{'-' if rng.random() < 0.3 else ''}{digits[:point]}.{digits[point:]}e{int(rng.integers(-300, 300))}")
    texts = [t for t in texts if np.isfinite(float(t))]
    path = write_lines(tmp_path / "long.txt", [f"u{i} {t}" for i, t in enumerate(texts)])
    bulk, by_line, taken = _both(monkeypatch, lambda: scorefiles.read_cm_scores(path))
    assert taken == [True]
    assert bulk["scores"] == by_line["scores"] == [float(t) for t in texts]


def _malformed(files: dict[str, Path], tmp_path: Path) -> dict[str, Callable[[], Any]]:
    data = spoof_set()
    lines4 = data.four_column_lines()
    flipped = [lines4[0].replace("bonafide", "spoof").replace(" - ", " A07 ")] + lines4[1:]
    write = lambda name, rows: write_lines(tmp_path / name, rows)  # noqa: E731
    return {
        "duplicate ids": lambda: scorefiles.read_cm_scores(write("dup.txt", ["u1 0.5", "u2 0.1", "u1 0.7", "u2 0.2"])),
        "duplicate trials": lambda: scorefiles.read_sv_trials(write("dt.txt", ["target e1 t1", "nontarget e1 t1"])),
        "duplicate protocol ids": lambda: scorefiles.read_spoof_key(write("dp.txt", data.protocol_lines()[:3] * 2)),
        "missing ids": lambda: scorefiles.spoof_scores_from_files(write("few.txt", data.two_column_lines()[:-8]),
                                                                  files["protocol"]),
        "extra ids": lambda: scorefiles.spoof_scores_from_files(
            write("extra.txt", data.two_column_lines() + ["LA_E_9 0.5", "LA_E_8 0.25"]), files["protocol"]),
        "missing trials": lambda: scorefiles.verify_scores_from_files(
            write("sv_few.txt", ["e1 t1 0.5", "e1 t2 0.1"]), write("tr3.txt", ["1 e1 t1", "0 e1 t2", "0 e2 t1"])),
        "hard decisions": lambda: scorefiles.spoof_scores_from_files(
            write("hard.txt", ["u1 - bonafide 1", "u2 A07 spoof 0", "u3 A07 spoof 0", "u4 - bonafide 1"])),
        "an empty class": lambda: scorefiles.spoof_scores_from_files(
            write("one.txt", ["u1 A07 spoof 1.5", "u2 A07 spoof 0.5", "u3 A08 spoof 0.1"])),
        "ASV class missing": lambda: scorefiles.read_asv_scores(write("asv2.txt", ["bonafide target 1.0", "A07 spoof 0.5"])),
        "labels disagree with the protocol": lambda: scorefiles.spoof_scores_from_files(write("fl.txt", flipped),
                                                                                        files["protocol"]),
        "no labels": lambda: scorefiles.spoof_scores_from_files(files["two"]),
        "bad ASVspoof 5 label": lambda: scorefiles.read_spoof_key(write("k.tsv", ["filename\tcm-label", "E_1\tfake"])),
        "a short row after good ones": lambda: scorefiles.read_spoof_key(write("short.txt", data.protocol_lines()
                                                                               + ["LA_0001 LA_E_9 - A07"])),
        "a blank-led short row": lambda: scorefiles.read_cm_scores(write("lead.txt", ["u1 0.5", " u2", "u3 0.1"])),
        "not UTF-8": lambda: scorefiles.read_cm_scores(_bytes(tmp_path / "latin.txt", b"u1 0.5\nu\xe92 0.1\n")),
        "UTF-16": lambda: scorefiles.read_cm_scores(_bytes(tmp_path / "u16.txt", "u1 0.5\n".encode("utf-16"))),
        "broken gzip": lambda: scorefiles.read_cm_scores(_bytes(tmp_path / "broken.gz",
                                                                gzip.compress(b"u1 0.5\n" * 50)[:30])),
    }


MALFORMED = ["duplicate ids", "duplicate trials", "duplicate protocol ids", "missing ids", "extra ids", "missing trials",
             "hard decisions", "an empty class", "ASV class missing", "labels disagree with the protocol", "no labels",
             "bad ASVspoof 5 label", "a short row after good ones", "a blank-led short row", "not UTF-8", "UTF-16",
             "broken gzip"]


@pytest.mark.parametrize("case", MALFORMED, ids=MALFORMED)
def test_both_passes_give_the_same_message_for_a_malformed_file(files, tmp_path: Path, monkeypatch, case: str):
    read = _malformed(files, tmp_path)[case]
    bulk, by_line = _message(monkeypatch, BULK, read), _message(monkeypatch, BY_LINE, read)
    assert bulk == by_line
    if case == "UTF-16":
        assert "UTF-16" in bulk and "save it as UTF-8" in bulk
    if case == "broken gzip":
        assert "gzip-compressed but cannot be decompressed" in bulk


def _bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _variants(text: str) -> dict[str, bytes]:
    """What real users have, all meaning the same table."""
    lines = text.splitlines()
    return {
        "plain": text.encode(),
        "UTF-8 BOM": b"\xef\xbb\xbf" + text.encode(),
        "gzip": gzip.compress(text.encode()),
        "xz": lzma.compress(text.encode()),
        "CRLF": text.replace("\n", "\r\n").encode(),
        "tabs": text.replace(" ", "\t").encode(),
        "runs of blanks": "\n".join("  " + line.replace(" ", "   ") + " " for line in lines).encode() + b"\n",
        "blank lines inside and at the end": ("\n\n".join(lines) + "\n\n \n").encode(),
        "no final newline": text.rstrip("\n").encode(),
    }


@pytest.mark.parametrize("variant", list(_variants("a b\n")), ids=list(_variants("a b\n")))
def test_real_world_files_read_the_same_in_both_passes(files, tmp_path: Path, monkeypatch, variant: str):
    expected = _both(monkeypatch, lambda: READERS["2-column scores + 2019 protocol + ASV"](files))[1]
    protocol = _bytes(tmp_path / "p.bin", _variants(files["protocol"].read_text())[variant])
    scores = _bytes(tmp_path / "s.bin", _variants(files["two"].read_text())[variant])
    bulk, by_line, _ = _both(monkeypatch, lambda: scorefiles.spoof_scores_from_files(scores, protocol, files["asv"]))
    assert bulk == by_line
    for name in ("utt_ids", "scores", "is_bonafide", "attacks"):
        assert bulk[name] == expected[name], name
    key_bulk, key_by_line, _ = _both(monkeypatch, lambda: scorefiles.read_spoof_key(protocol))
    assert key_bulk["lines"] == key_by_line["lines"]  # line numbers survive blank lines


def test_the_first_protocol_id_after_a_bom_is_found(tmp_path: Path, files):
    """A BOM used to glue itself to the first id, which then had "no score"."""
    protocol = _bytes(tmp_path / "bom.txt", b"\xef\xbb\xbf" + files["protocol"].read_bytes())
    joined = scorefiles.spoof_scores_from_files(files["two"], protocol)
    assert joined.utt_ids[0] == spoof_set().utt_ids[0]
