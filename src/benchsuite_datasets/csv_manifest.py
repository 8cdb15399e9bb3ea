"""``csv-manifest``: a custom corpus described by one CSV file, for any task.

Columns: ``path`` and ``label`` (required), ``speaker``, ``split``
(train/dev/eval; ``test`` and ``val``/``valid``/``validation`` are accepted
spellings), ``utt_id`` (else the path as written) and, for spoof corpora,
``attack``; every other column becomes ``Utterance.conditions`` (a breakdown
column).  Relative paths are read from the manifest's folder and may not
leave it.  Without a ``split`` column, option ``split_ratio`` (e.g.
``80/10/10``) assigns whole speakers to splits, seeded by ``seed``.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from benchsuite.api import BONAFIDE, ConfigError, DataError, DatasetSpec, SPOOF, SplitData, Task, Utterance, hookimpl

from ._toolkit import (
    MAX_LISTED, SpoofDataset, check_relative, check_unique, known_options, require_data_root, require_file,
)
from ._speakers import (
    PathMaker, SpeakerCorpus, generate_trials, int_option, may_escape, option_path, parse_task, read_trial_lines,
    resolve_trials,
)

OPTIONS = ("task", "manifest", "path_column", "label_column", "id_column", "speaker_column", "split_column",
           "attack_column", "split_ratio", "split_by", "seed", "classes", "trials_dev", "trials_eval",
           "trials_per_split", "channel", "delimiter")
SPLIT_SPELLINGS = {"train": "train", "dev": "dev", "val": "dev", "valid": "dev", "validation": "dev",
                   "eval": "eval", "test": "eval"}
SPOOF_SPELLINGS = {BONAFIDE: BONAFIDE, "bona-fide": BONAFIDE, SPOOF: SPOOF}  # In-the-Wild writes bona-fide
SPLITS = ("train", "dev", "eval")


def parse_ratio(value: Any, dataset: str) -> tuple[float, float, float]:
    """``"80/10/10"``, ``"0.8,0.1,0.1"`` or a list of three numbers -> fractions."""
    parts: Sequence[Any]
    if isinstance(value, str):
        parts = [p for p in value.replace(",", "/").replace(":", "/").split("/") if p.strip()]
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        parts = ()
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 3 or any(n < 0 for n in numbers) or sum(numbers) <= 0 or numbers[0] == 0 or numbers[2] == 0:
        raise ConfigError(f"dataset {dataset!r}: option split_ratio={value!r}; expected three non-negative "
                          f"train/dev/eval shares with train and eval above zero, e.g. 80/10/10")
    total = sum(numbers)
    return numbers[0] / total, numbers[1] / total, numbers[2] / total


def assign_by_group(groups: Sequence[str], ratio: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Whole groups (speakers) to splits: shuffled with ``seed``, then cut
    where the running utterance count passes each split's share."""
    sizes: dict[str, int] = {}
    for group in groups:
        sizes[group] = sizes.get(group, 0) + 1
    order = sorted(sizes)
    rng = np.random.default_rng(seed)
    order = [order[int(i)] for i in rng.permutation(len(order))]
    total = sum(sizes.values())
    bounds = np.cumsum(ratio) * total
    assigned: dict[str, str] = {}
    running = 0
    for group in order:
        # the group goes where its first utterance falls, so no split overshoots by more than one group
        position = running + 0.5
        index = int(np.searchsorted(bounds, position, side="right"))
        assigned[group] = SPLITS[min(index, 2)]
        running += sizes[group]
    return assigned


class CsvManifest(SpeakerCorpus):
    """A corpus described by a CSV manifest (see the module doc).

    Options: ``task`` classify (default) | verify | spoof; ``manifest`` (file
    name in the root, default manifest.csv, or give the CSV itself as the
    root); ``path_column``/``label_column``/``id_column``/``speaker_column``/
    ``split_column``/``attack_column`` rename the columns; ``split_ratio`` +
    ``split_by`` speaker|utterance + ``seed`` when there is no split column;
    ``classes`` (the allowed class names); ``trials_dev``/``trials_eval``
    (verify trial files; otherwise ``trials_per_split`` seeded trials are
    generated); ``channel``; ``delimiter`` (default ',' or tab for .tsv)."""

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, name: str = "csv-manifest"):
        options = dict(options or {})
        known_options(options, OPTIONS, name)
        task = parse_task(options.get("task", "classify"), name, (Task.CLASSIFY, Task.VERIFY, Task.SPOOF))
        root = Path(root)
        if root.is_file():
            manifest, folder = root, root.parent
        else:
            folder = root
            manifest = option_path(root, options.get("manifest", "manifest.csv"), dataset=name, key="manifest")
        super().__init__(folder, options, name=name, task=task)
        self.manifest = require_file(manifest, f"dataset {name!r} manifest")
        self.columns = {
            "path": str(self.options.get("path_column", "path")),
            "label": str(self.options.get("label_column", "label")),
            "speaker": str(self.options.get("speaker_column", "speaker")),
            "split": str(self.options.get("split_column", "split")),
            "attack": str(self.options.get("attack_column", "attack")),
        }
        self.seed = int_option(self.options, "seed", 0, name)
        self.trials_per_split = int_option(self.options, "trials_per_split", 2000, name, minimum=2)
        self.split_by = str(self.options.get("split_by", "speaker"))
        if self.split_by not in ("speaker", "utterance"):
            raise ConfigError(f"dataset {name!r}: option split_by={self.split_by!r}; expected speaker or utterance")
        classes = self.options.get("classes")
        if isinstance(classes, str):
            classes = [c.strip() for c in classes.split(",") if c.strip()]
        self.declared_classes = tuple(sorted(str(c) for c in classes)) if classes else None
        self._rows: dict[str, list[Utterance]] | None = None
        self.make_path = PathMaker(self.root)
        self._split_source = ""

    # ---------------------------------------------------------------- parsing

    def protocol_files(self) -> list[Path]:
        files = [self.manifest]
        for key in ("trials_dev", "trials_eval"):
            if key in self.options:
                files.append(option_path(self.root, self.options[key], dataset=self.name, key=key))
        return files

    def _delimiter(self) -> str:
        if "delimiter" in self.options:
            value = str(self.options["delimiter"])
            return "\t" if value in ("tab", "\\t") else value
        return "\t" if self.manifest.suffix.lower() == ".tsv" else ","

    def _read_rows(self) -> dict[str, list[Utterance]]:
        if self._rows is not None:
            return self._rows
        path = self.manifest
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle, delimiter=self._delimiter())
                header = next(reader, None)
                if not header:
                    raise DataError(f"{path}: empty manifest; expected a header line with at least "
                                    f"{self.columns['path']},{self.columns['label']}")
                header = [h.strip() for h in header]
                for required in ("path", "label"):
                    if self.columns[required] not in header:
                        raise DataError(f"{path}:1: no {self.columns[required]!r} column in the header "
                                        f"{','.join(header)!r}; expected at least {self.columns['path']},"
                                        f"{self.columns['label']} (option {required}_column renames it)")
                rows: list[tuple[int, dict[str, str]]] = []
                for fields in reader:
                    number = reader.line_num
                    if not any(f.strip() for f in fields):
                        continue
                    if len(fields) != len(header):
                        raise DataError(f"{path}:{number}: expected {len(header)} fields as in the header, found "
                                        f"{len(fields)}: {self._delimiter().join(fields)!r}")
                    rows.append((number, {h: f.strip() for h, f in zip(header, fields)}))
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not UTF-8 text ({err.reason}); expected a CSV manifest") from None
        except csv.Error as err:
            raise DataError(f"{path}: malformed CSV ({err})") from None
        if not rows:
            raise DataError(f"{path}: the manifest lists no utterances")
        id_column = self.options.get("id_column") or next((c for c in ("utt_id", "id") if c in header), None)
        if id_column is not None and id_column not in header:
            raise DataError(f"{path}:1: option id_column={id_column!r} but the header has no such column")
        used = {self.columns["path"], self.columns["label"], self.columns["speaker"], self.columns["split"]}
        if self.task == Task.SPOOF:
            used.add(self.columns["attack"])
        if id_column:
            used.add(id_column)
        condition_columns = [h for h in header if h not in used]
        self._condition_columns = tuple(condition_columns)
        has_split = self.columns["split"] in header
        has_speaker = self.columns["speaker"] in header
        utterances: list[Utterance] = []
        splits: list[str] = []
        lines: list[int] = []
        for number, row in rows:
            where = f"{path}:{number}"
            utterances.append(self._utterance(row, where, id_column, has_speaker, condition_columns))
            lines.append(number)
            if has_split:
                value = row[self.columns["split"]].lower()
                if value not in SPLIT_SPELLINGS:
                    raise DataError(f"{where}: split {row[self.columns['split']]!r}; expected train, dev or eval "
                                    f"(also test, val, valid, validation)")
                splits.append(SPLIT_SPELLINGS[value])
        check_unique([u.utt_id for u in utterances], str(path), lines)
        if not has_split:
            splits = self._assign_splits(utterances, has_speaker)
        by_split: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
        for utt, split in zip(utterances, splits):
            by_split[split].append(utt)
        for split in ("train", "eval"):
            if not by_split[split]:
                raise DataError(f"{path}: no utterance falls in the {split} split{self._split_source}; every "
                                f"manifest needs train and eval rows")
        self._rows = by_split
        return by_split

    def _utterance(self, row: Mapping[str, str], where: str, id_column: str | None, has_speaker: bool,
                   condition_columns: Sequence[str]) -> Utterance:
        location = row[self.columns["path"]]
        label = row[self.columns["label"]]
        if not location:
            raise DataError(f"{where}: empty {self.columns['path']!r} field")
        if not label:
            raise DataError(f"{where}: empty {self.columns['label']!r} field")
        if may_escape(location) and not os.path.isabs(location):
            check_relative(location, where, self.root)
        audio = self.make_path(location)
        utt_id = row[id_column] if id_column else location
        if not utt_id:
            raise DataError(f"{where}: empty {id_column!r} field")
        speaker = row.get(self.columns["speaker"]) if has_speaker else None
        attack = None
        if self.task == Task.SPOOF:
            normalised = SPOOF_SPELLINGS.get(label.lower())
            if normalised is None:
                raise DataError(f"{where}: unknown label {label!r}; a spoof manifest expects bonafide (or bona-fide) "
                                f"or spoof")
            label = normalised
            attack = row.get(self.columns["attack"]) or ("-" if label == BONAFIDE else None)
        elif self.task == Task.VERIFY:
            speaker = speaker or label
        elif self.declared_classes is not None and label not in self.declared_classes:
            raise DataError(f"{where}: unknown label {label!r}; option classes allows "
                            f"{', '.join(self.declared_classes)}")
        conditions = {c: row[c] for c in condition_columns if row[c]}
        return Utterance(utt_id, audio, label, speaker or None, attack, conditions)

    def _assign_splits(self, utterances: Sequence[Utterance], has_speaker: bool) -> list[str]:
        if "split_ratio" not in self.options:
            raise ConfigError(f"dataset {self.name!r}: {self.manifest} has no {self.columns['split']!r} column; add "
                              f"one (train/dev/eval) or set option split_ratio (e.g. 80/10/10)")
        ratio = parse_ratio(self.options["split_ratio"], self.name)
        if self.split_by == "speaker":
            if not has_speaker and self.task != Task.VERIFY:
                raise ConfigError(f"dataset {self.name!r}: split_ratio splits by speaker, but {self.manifest} has no "
                                  f"{self.columns['speaker']!r} column; add one, or set split_by: utterance "
                                  f"(speakers may then appear in several splits)")
            groups = [u.speaker or u.label for u in utterances]
            assigned = assign_by_group(groups, ratio, self.seed)
            self._split_source = f" (speaker-disjoint split_ratio {self.options['split_ratio']}, seed {self.seed})"
            return [assigned[g] for g in groups]
        # utterance-level: shuffled within each label so every split keeps the label mix
        splits = [""] * len(utterances)
        by_label: dict[str, list[int]] = {}
        for index, utt in enumerate(utterances):
            by_label.setdefault(utt.label, []).append(index)
        rng = np.random.default_rng(self.seed)
        for label in sorted(by_label):
            indices = by_label[label]
            order = [indices[int(i)] for i in rng.permutation(len(indices))]
            assigned = assign_by_group([str(i) for i in range(len(order))], ratio, int(rng.integers(1 << 31)))
            for position, index in enumerate(order):
                splits[index] = assigned[str(position)]
        self._split_source = f" (utterance-level split_ratio {self.options['split_ratio']}, seed {self.seed})"
        return splits

    # ---------------------------------------------------------------- Dataset

    def split_names(self) -> list[str]:
        rows = self._read_rows()
        return [s for s in SPLITS if rows[s]]

    def condition_columns(self) -> tuple[str, ...]:
        self._read_rows()
        return self._condition_columns

    def class_names(self) -> tuple[str, ...]:
        if self.task == Task.CLASSIFY and self.declared_classes is not None:
            return self.declared_classes
        return super().class_names()

    def _parse_split(self, split: str) -> SplitData:
        utterances = self._read_rows()[split]
        source = f"{self.manifest} ({split} rows{self._split_source})"
        if self.task == Task.CLASSIFY:
            self.check_labels_known(split, utterances, str(self.manifest))
        if self.task != Task.VERIFY or split == "train":
            return SplitData(split, utterances, source=source)
        key = f"trials_{split}"
        if key in self.options:
            path = option_path(self.root, self.options[key], dataset=self.name, key=key)
            trials, needed, models = resolve_trials(read_trial_lines(path), utterances, path)
            return SplitData(split, needed, trials=trials, enrolments=models, source=f"{path} ({len(trials)} trials)")
        trials = generate_trials(utterances, self.trials_per_split, self.seed + SPLITS.index(split))
        used = {t.enrol for t in trials} | {t.test for t in trials}
        return SplitData(split, [u for u in utterances if u.utt_id in used], trials=trials,
                         source=f"{source}, {len(trials)} generated trials")

    def validate(self, check_audio: bool = True) -> None:
        super().validate(check_audio)
        if self.task == Task.CLASSIFY:
            train_labels = {u.label for u in self.load_split("train").utterances}
            unused = sorted(set(self.class_names()) - train_labels)
            if unused:
                raise DataError(f"{self.manifest}: class(es) {', '.join(unused[:MAX_LISTED])} have no training "
                                f"utterance")

    def statistics(self, check_audio: bool = False) -> dict:
        if self.task == Task.SPOOF:
            return SpoofDataset.statistics(self, check_audio)  # type: ignore[arg-type]
        return super().statistics(check_audio)


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="csv-manifest", task=Task.CLASSIFY,
        open=lambda root, options: CsvManifest(require_data_root(root, "csv-manifest"), options),
        description=("A custom corpus from a CSV: path,label[,speaker,split,utt_id,attack,...] (extra columns become "
                     "breakdown conditions; relative paths under the CSV's folder). Options: task classify|verify|spoof; "
                     "manifest; *_column renames; split_ratio (e.g. 80/10/10) + split_by speaker|utterance + seed when "
                     "there is no split column; classes; trials_dev/trials_eval or trials_per_split (verify); "
                     "channel; delimiter."),
    ))
