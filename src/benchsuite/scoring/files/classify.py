"""Classification score files (``UTT TRUE PRED``)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from benchsuite.contract import ClassifyScores, ScoreFileError
from ._lines import _Table, _UniqueIds
from .validation import duplicate_values, validate_classify_scores


# --------------------------------------------------------------------------- classification


def read_classify_scores(path: str | Path, class_names: Sequence[str] | None = None) -> ClassifyScores:
    """``UTT TRUE PRED`` (class names).  Without ``class_names`` the classes are
    the sorted names that occur in either column."""
    table = _Table(path, "classification file")
    path = table.path
    fast = table.fast(3, {0: str, 1: "category", 2: "category"}) if len(table.first_fields()) == 3 else None
    if fast is not None and not duplicate_values(fast.strings(0))[1]:
        names = tuple(class_names) if class_names is not None else tuple(sorted(set(fast.levels(1)) | set(fast.levels(2))))
        index = {name: i for i, name in enumerate(names)}
        if set(fast.levels(1)) <= set(index) and set(fast.levels(2)) <= set(index):
            columns = []
            for column in (1, 2):
                levels, codes = fast.codes(column)
                columns.append(np.asarray([index[level] for level in levels], dtype=np.int64)[codes])
            scores = ClassifyScores(utt_ids=fast.strings(0), true=columns[0], predicted=columns[1], class_names=names,
                                    source=str(path))
            validate_classify_scores(scores)
            return scores
    utt_ids: list[str] = []
    true: list[str] = []
    predicted: list[str] = []
    numbers: list[int] = []
    unique = _UniqueIds(path, "utterance id")
    for line, fields in table.rows(3, "3 (UTT TRUE PRED)"):
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
