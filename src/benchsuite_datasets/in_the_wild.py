"""In-the-Wild (Müller et al., Interspeech 2022): an evaluation-only deepfake
corpus, ``release_in_the_wild/`` with ``0.wav ... 31778.wav`` and ``meta.csv``
(``file,speaker,label``, label ``bona-fide`` or ``spoof``).

Models are trained on another corpus (ASVspoof 2019 LA by default) and scored
here: a cross-dataset evaluation.  The corpus names no attack systems, so
every spoofed clip has attack ``unknown``.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Mapping

from benchsuite.api import BONAFIDE, DataError, DatasetSpec, SPOOF, SplitData, Task, Utterance, hookimpl

from ._toolkit import (
    SpoofDataset, check_relative, checked_index, gc_paused, is_bare_name, known_options, path_joiner, require_data_root,
    require_file,
)

META_FILE = "meta.csv"
RELEASE_FOLDER = "release_in_the_wild"
REQUIRED_COLUMNS = ("file", "speaker", "label")
# the release spells bona fide with a hyphen; the unhyphenated form appears in
# re-distributed copies and means the same
LABELS = {"bona-fide": BONAFIDE, "bonafide": BONAFIDE, "spoof": SPOOF}
UNKNOWN_ATTACK = "unknown"


def find_release_folder(root: Path) -> Path:
    """The folder holding ``meta.csv``: ``root`` or ``root/release_in_the_wild``."""
    root = Path(root)
    for candidate in (root, root / RELEASE_FOLDER):
        if (candidate / META_FILE).is_file():
            return candidate
    raise DataError(f"In-the-Wild not found under {root}: expected {root / META_FILE} or "
                    f"{root / RELEASE_FOLDER / META_FILE}")


@gc_paused()
def parse_meta_csv(path: Path, root: Path) -> list[Utterance]:
    """``meta.csv`` rows in file order; the utterance id is the file name
    without its extension (``0.wav`` -> ``0``), the id score files use."""
    require_file(path, "In-the-Wild meta.csv")
    in_root = path_joiner(root)
    utterances: list[Utterance] = []
    line_numbers: list[int] = []
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file; expected a header {','.join(REQUIRED_COLUMNS)}")
            names = [name.strip().lower() for name in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in names]
            if missing:
                raise DataError(f"{path}:1: header {','.join(header)!r} lacks column(s) {', '.join(missing)}; "
                                f"expected {','.join(REQUIRED_COLUMNS)}")
            i_file, i_speaker, i_label = (names.index(c) for c in REQUIRED_COLUMNS)
            for row in reader:
                number = reader.line_num
                if not row or not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(names):
                    raise DataError(f"{path}:{number}: expected {len(names)} columns, found {len(row)}: "
                                    f"{','.join(row)!r}")
                relative, speaker, raw_label = row[i_file].strip(), row[i_speaker].strip(), row[i_label].strip()
                label = LABELS.get(raw_label.lower())
                if label is None:
                    raise DataError(f"{path}:{number}: unknown label {raw_label!r}; expected bona-fide or spoof "
                                    f"(line: {','.join(row)!r})")
                if is_bare_name(relative):
                    audio = in_root(relative)
                else:
                    check_relative(relative, f"{path}:{number}", root)
                    audio = root / relative
                utterances.append(Utterance(os.path.splitext(relative)[0], audio, label, speaker or None,
                                            "-" if label == BONAFIDE else UNKNOWN_ATTACK))
                line_numbers.append(number)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason}); expected the release's meta.csv") from None
    except csv.Error as err:
        raise DataError(f"{path}: malformed CSV ({err})") from None
    return checked_index(utterances, line_numbers, path, "no clips listed")


class InTheWild(SpoofDataset):
    """In-the-Wild, one ``eval`` split.  ``root`` is ``release_in_the_wild/`` or its parent."""

    task = Task.SPOOF
    sample_rate = 16000

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, name: str = "in-the-wild"):
        options = dict(options or {})
        known_options(options, (), name)
        super().__init__(find_release_folder(Path(root)), options)
        self.name = name

    def split_names(self) -> list[str]:
        return ["eval"]

    def meta_path(self) -> Path:
        return self.root / META_FILE

    def protocol_files(self) -> list[Path]:
        return [self.meta_path()]

    def _parse_split(self, split: str) -> SplitData:
        return SplitData(split, parse_meta_csv(self.meta_path(), self.root), source=str(self.meta_path()))


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="in-the-wild", task=Task.SPOOF,
        open=lambda root, options: InTheWild(require_data_root(root, "in-the-wild"), options),
        description="In-the-Wild deepfake clips (meta.csv + wav); evaluation only, trained on another corpus",
        splits=("eval",), eval_only=True, train_on="asvspoof2019-la",
    ))
