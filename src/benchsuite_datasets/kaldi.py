"""Kaldi-style data directories: ``kaldi-dir`` (any verify or classify
corpus), ``himia`` (HI-MIA, OpenSLR 85, with ``{}`` channel trials) and
``ffsvc2022`` (the FFSVC 2022 baseline's data layout).

A data directory holds ``wav.scp`` (``<utt> <audio path>``), ``utt2spk``,
``spk2utt`` (optional; checked against utt2spk), ``utt2label`` (classify) and,
for the scored splits of a verify corpus, ``trials`` (``<enrol> <test>
target|nontarget``, ``1/0`` accepted, and the ``LABEL ENROL TEST`` order of
VoxCeleb and FFSVC).  An optional ``model2utt`` (``<model> <utt> <utt> ...``)
defines multi-utterance enrolment models that trials may name.

This module also holds what the other speaker and classification readers
(``voxceleb1``, ``csv-manifest``) share: :class:`SpeakerCorpus` (reading with a
channel, statistics, class names), trial-file parsing, the name index that
maps trial entries to utterances, seeded trial generation and speaker hold-out.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from benchsuite.api import (
    Baseline, ConfigError, DataError, DatasetSpec, SplitData, Task, Trial, Utterance,
)
from benchsuite.api import hookimpl

from .common import (
    MAX_LISTED, CachedSplitsDataset, audio_duration_seconds, check_relative, check_unique, gc_paused, known_options,
    path_joiner, protocol_lines, require_data_root, require_file,
)

TRIAL_KEYS = {"target": True, "nontarget": False, "1": True, "0": False}
AUDIO_SUFFIXES = (".wav", ".flac")
NO_SPEAKER = "-"  # label of a scored utterance whose speaker the corpus does not name


# --------------------------------------------------------------------------- small shared helpers


def parse_task(value: Any, dataset: str, allowed: Sequence[Task]) -> Task:
    try:
        task = Task(str(value))
    except ValueError:
        task = None
    if task is None or task not in allowed:
        raise ConfigError(f"dataset {dataset!r}: option task={value!r}; expected one of "
                          f"{', '.join(t.value for t in allowed)}")
    return task


def int_option(options: Mapping[str, Any], key: str, default: int | None, dataset: str, *,
               minimum: int = 0) -> int | None:
    value = options.get(key, default)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"dataset {dataset!r}: option {key}={value!r}; expected an integer") from None
    if number < minimum or (isinstance(value, float) and value != number):
        raise ConfigError(f"dataset {dataset!r}: option {key}={value!r}; expected an integer >= {minimum}")
    return number


def option_path(root: Path, value: Any, *, dataset: str, key: str) -> Path:
    """A folder or file named by an option: absolute as given, relative ones
    inside ``root`` (``..`` refused)."""
    text = str(value)
    if os.path.isabs(text):
        return Path(text)
    check_relative(text, f"dataset {dataset!r} option {key}", root)
    return root / text


def canonical_name(name: str) -> str:
    """One spelling for the ways toolkits write the same file: without the
    audio suffix, with ``-`` for ``/`` (FFSVC's VoxCeleb lists) and for ``_``
    (Kaldi's HI-MIA ids)."""
    for suffix in AUDIO_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("/", "-").replace("_", "-")


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    more = f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return shown + more


class PathMaker:
    """``path string -> Path`` for lists of a million entries: every folder
    is built once, from its parent with the cheap bare-name joiner, and its
    files joined the same way; several times faster than ``root / location``
    per line.  Relative strings are joined to ``root``; the caller has
    checked that they stay inside it."""

    def __init__(self, root: Path):
        self.root = root
        self.fast = path_joiner(root) != root.joinpath  # the private joiner passed its probe
        self.folders: dict[str, Path] = {"": root}

    def folder(self, head: str) -> Path:
        found = self.folders.get(head)
        if found is None:
            parent, _sep, last = head.rpartition("/")
            if head.startswith("/") or not self.fast or last in ("", ".", ".."):
                found = Path(head) if head.startswith("/") else self.root / head
            else:
                found = self.folder(parent)._make_child_relpath(last)  # type: ignore[attr-defined]
            self.folders[head] = found
        return found

    def __call__(self, location: str) -> Path:
        head, _sep, name = location.rpartition("/")
        if not head and location.startswith("/"):
            return Path(location)  # a file in the filesystem root: rare enough to parse
        if not self.fast or not name:
            return self.folder(head) / name if head else self.root / location
        return self.folder(head)._make_child_relpath(name)  # type: ignore[attr-defined]


def may_escape(location: str) -> bool:
    """Cheap pre-test for :func:`check_relative`: only an absolute-looking
    string or one holding ``..`` can leave the root."""
    return ".." in location or location[:1] in ("/", "\\") or location[1:2] == ":"


# --------------------------------------------------------------------------- Kaldi tables


def kaldi_table(path: Path, what: str, *, min_fields: int = 2, max_fields: int | None = None
                ) -> Iterator[tuple[int, list[str]]]:
    """``(line_number, fields)`` of a Kaldi table (``<key> <value> ...``)."""
    require_file(path, what)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as err:
        line = text_line_of(path, err.start)
        raise DataError(f"{path}:{line}: not UTF-8 text ({err.reason}); expected a Kaldi {what}") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < min_fields or (max_fields is not None and len(fields) > max_fields):
            expected = (f"{min_fields}" if max_fields == min_fields else
                        f"at least {min_fields}" if max_fields is None else f"{min_fields}-{max_fields}")
            raise DataError(f"{path}:{number}: expected {expected} fields, found {len(fields)}: {line.strip()!r}")
        yield number, fields


def text_line_of(path: Path, byte_offset: int) -> int:
    with open(path, "rb") as handle:
        return handle.read(byte_offset).count(b"\n") + 1


_ARCHIVE = re.compile(r"\.ark:\d+$")


def read_wav_scp(path: Path, root: Path) -> tuple[list[str], list[Path], list[int]]:
    """Utterance ids, audio paths and line numbers of a ``wav.scp``.

    Relative paths are joined to ``root`` and may not leave it; absolute paths
    are taken as they are.  Command pipes and archive offsets are refused:
    audio is read with soundfile, never through a shell."""
    ids: list[str] = []
    paths: list[Path] = []
    lines: list[int] = []
    make_path = PathMaker(root)
    for number, fields in kaldi_table(path, "wav.scp"):
        # the common line is two fields and a plain path; messages are built only for the others
        if len(fields) != 2 or fields[1].endswith("|"):
            text = " ".join(fields)
            if fields[-1].endswith("|"):
                raise DataError(
                    f"{path}:{number}: {text!r} is a command pipe ('... |'); benchsuite reads audio files with "
                    f"soundfile and runs no commands: write the audio to .wav/.flac files once (e.g. with sox or "
                    f"ffmpeg) and list their paths in wav.scp"
                )
            raise DataError(f"{path}:{number}: expected '<utterance-id> <audio path>', found {len(fields)} fields: "
                            f"{text!r}")
        utt_id, location = fields
        if "ark:" in location and (_ARCHIVE.search(location) or location.startswith("ark:")):
            raise DataError(f"{path}:{number}: {location!r} points into a Kaldi archive; expected an audio file "
                            f"(.wav/.flac)")
        if may_escape(location) and not location.startswith("/"):
            check_relative(location, f"{path}:{number}", root)
        ids.append(utt_id)
        paths.append(make_path(location))
        lines.append(number)
    if not ids:
        raise DataError(f"{path}: the wav.scp lists no utterances")
    check_unique(ids, str(path), lines)
    return ids, paths, lines


def read_utt2x(path: Path, what: str) -> dict[str, str]:
    """A two-column table such as ``utt2spk`` or ``utt2label``; duplicates refused."""
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, (key, value) in kaldi_table(path, what, min_fields=2, max_fields=2):
        if key in out:
            raise DataError(f"{path}:{number}: {key!r} listed twice (first on line {first_line[key]})")
        out[key] = value
        first_line[key] = number
    return out


def read_spk2utt(path: Path, what: str = "spk2utt") -> tuple[dict[str, list[str]], dict[str, int]]:
    out: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    for number, fields in kaldi_table(path, what, min_fields=2):
        key = fields[0]
        if key in out:
            raise DataError(f"{path}:{number}: {key!r} listed twice (first on line {lines[key]})")
        out[key] = fields[1:]
        lines[key] = number
    return out, lines


def check_same_utterances(wav_ids: Sequence[str], table: Mapping[str, str], wav_scp: Path, table_path: Path) -> None:
    """Kaldi's rule: every wav.scp utterance has an entry and vice versa."""
    wav_set = set(wav_ids)
    missing = [u for u in wav_ids if u not in table]
    if missing:
        raise DataError(f"{table_path}: {len(missing)} utterance(s) of {wav_scp} have no entry: {_listing(missing)}")
    extra = [u for u in table if u not in wav_set]
    if extra:
        raise DataError(f"{table_path}: {len(extra)} utterance(s) are not in {wav_scp}: {_listing(extra)}")


# --------------------------------------------------------------------------- trials


def read_trial_lines(path: Path) -> list[tuple[int, str, str, bool]]:
    """``(line, enrol, test, is_target)`` of a trial list.

    The key column is found on the first line: last (Kaldi, WeSpeaker,
    ``ENROL TEST target``) or first (VoxCeleb and FFSVC 2022, ``1 ENROL TEST``);
    every later line must follow the same order."""
    out: list[tuple[int, str, str, bool]] = []
    key_first: bool | None = None
    first_line = 0
    for number, fields in protocol_lines(require_file(path, "trial list"), columns=(2, 3)):
        where = f"{path}:{number}"
        if len(fields) == 2:
            raise DataError(f"{where}: trial without a key: {' '.join(fields)!r}; expected '<enrol> <test> "
                            f"target|nontarget' (or 1/0, or 'LABEL ENROL TEST')")
        if key_first is None:
            first_line = number
            if fields[2].lower() in TRIAL_KEYS:
                key_first = False
            elif fields[0].lower() in TRIAL_KEYS:
                key_first = True
            else:
                raise DataError(f"{where}: no target/nontarget (or 1/0) key in the first or last column: "
                                f"{' '.join(fields)!r}")
        key, enrol, test = (fields[0], fields[1], fields[2]) if key_first else (fields[2], fields[0], fields[1])
        flag = TRIAL_KEYS.get(key.lower())
        if flag is None:
            column = "first" if key_first else "last"
            raise DataError(f"{where}: key {key!r} in the {column} column (the order set by line {first_line}); "
                            f"expected target/nontarget or 1/0: {' '.join(fields)!r}")
        out.append((number, enrol, test, flag))
    if not out:
        raise DataError(f"{path}: the trial list holds no trials")
    return out


class NameIndex:
    """Finds the utterance a trial entry names: its id exactly, else the same
    name up to the audio suffix and the ``/``, ``_`` -> ``-`` spellings of
    FFSVC and Kaldi (``id10270-x6uYqmx31kE-00001`` for
    ``id10270/x6uYqmx31kE/00001.wav``), matched against ids and file names."""

    def __init__(self, utterances: Sequence[Utterance]):
        self.exact = {u.utt_id for u in utterances}
        self.alias: dict[str, str | None] = {}  # None: two utterances share the spelling
        for utt in utterances:
            for alias in {canonical_name(utt.utt_id), canonical_name(utt.path.name)}:
                previous = self.alias.get(alias, "")
                if previous == "":
                    self.alias[alias] = utt.utt_id
                elif previous != utt.utt_id:
                    self.alias[alias] = None

    def find(self, name: str, where: str) -> str | None:
        if name in self.exact:
            return name
        alias = canonical_name(name)
        if alias not in self.alias:
            return None
        found = self.alias[alias]
        if found is None:
            raise DataError(f"{where}: {name!r} matches several utterances once suffixes and '-'/'_'/'/' are "
                            f"ignored; give the exact utterance id")
        return found


def resolve_trials(lines: Sequence[tuple[int, str, str, bool]], utterances: Sequence[Utterance], path: Path, *,
                   models: Mapping[str, Sequence[str]] | None = None,
                   ) -> tuple[list[Trial], list[Utterance], dict[str, list[str]] | None]:
    """Trials with utterance (or enrolment model) ids, the utterances they
    need in the order of ``utterances``, and the enrolment models used.
    Names found nowhere are listed (first ten and the count), never dropped."""
    index = NameIndex(utterances)
    trials: list[Trial] = []
    unknown: list[str] = []
    used: set[str] = set()
    used_models: dict[str, list[str]] = {}
    for number, enrol, test, is_target in lines:
        where = f"{path}:{number}"
        enrol_id = index.find(enrol, where)
        if enrol_id is None and models is not None and enrol in models:
            enrol_id = enrol
            if enrol not in used_models:
                members = []
                for name in models[enrol]:
                    member = index.find(name, f"enrolment model {enrol!r}")
                    if member is None:
                        unknown.append(f"{name} (enrolment model {enrol})")
                    else:
                        members.append(member)
                        used.add(member)
                used_models[enrol] = members
        elif enrol_id is not None:
            used.add(enrol_id)
        else:
            unknown.append(f"{enrol} (line {number})")
        test_id = index.find(test, where)
        if test_id is None:
            unknown.append(f"{test} (line {number})")
        else:
            used.add(test_id)
        if enrol_id is not None and test_id is not None:
            trials.append(Trial(enrol_id, test_id, is_target))
    if unknown:
        raise DataError(f"{path}: {len(unknown)} trial entries name no utterance of the split "
                        f"(wav.scp / audio folder): {_listing(unknown)}")
    needed = [u for u in utterances if u.utt_id in used]
    return trials, needed, (used_models or None)


def trial_counts(trials: Sequence[Trial]) -> dict[str, int]:
    target = sum(1 for t in trials if t.is_target)
    return {"trials": len(trials), "target": target, "nontarget": len(trials) - target}


def generate_trials(utterances: Sequence[Utterance], count: int, seed: int) -> list[Trial]:
    """A seeded trial list over ``utterances`` (label = speaker): about half
    target and half nontarget pairs, no pair twice, never an utterance against
    itself.  Fewer trials when the utterances do not allow ``count``."""
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[str]] = {}
    for utt in utterances:
        by_speaker.setdefault(utt.label, []).append(utt.utt_id)
    speakers = sorted(by_speaker)
    multi = [s for s in speakers if len(by_speaker[s]) >= 2]
    if len(speakers) < 2 or not multi:
        raise DataError(f"cannot build trials from {len(utterances)} utterances of {len(speakers)} speaker(s): "
                        f"needs two speakers and one with two utterances")
    trials: list[Trial] = []
    seen: set[tuple[str, str]] = set()
    wanted_target = count // 2
    for is_target, wanted in ((True, wanted_target), (False, count - wanted_target)):
        made, attempts = 0, 0
        while made < wanted and attempts < 20 * wanted + 100:
            attempts += 1
            if is_target:
                pool = by_speaker[multi[int(rng.integers(len(multi)))]]
                i, j = rng.choice(len(pool), size=2, replace=False)
                pair = (pool[int(i)], pool[int(j)])
            else:
                a, b = rng.choice(len(speakers), size=2, replace=False)
                first, second = by_speaker[speakers[int(a)]], by_speaker[speakers[int(b)]]
                pair = (first[int(rng.integers(len(first)))], second[int(rng.integers(len(second)))])
            if pair in seen:
                continue
            seen.add(pair)
            trials.append(Trial(pair[0], pair[1], is_target))
            made += 1
    return trials


def hold_out_speakers(utterances: Sequence[Utterance], count: int, seed: int
                      ) -> tuple[list[Utterance], list[Utterance]]:
    """Split off ``count`` whole speakers (seeded) as a dev set: returns
    ``(kept, held_out)`` in the original order."""
    speakers = sorted({u.label for u in utterances})
    if count >= len(speakers):
        raise ConfigError(f"dev_speakers={count} would leave no training speaker (the training split has "
                          f"{len(speakers)})")
    rng = np.random.default_rng(seed)
    chosen = {speakers[int(i)] for i in rng.choice(len(speakers), size=count, replace=False)}
    kept = [u for u in utterances if u.label not in chosen]
    held = [u for u in utterances if u.label in chosen]
    return kept, held


# --------------------------------------------------------------------------- base class


class SpeakerCorpus(CachedSplitsDataset):
    """A verify or classify corpus: reading with a selected channel, class
    names from the training split, statistics with trial counts, and the
    check that dev/eval labels are known (classify) or that training and
    scored speakers are disjoint (verify)."""

    sample_rate = 16000

    def __init__(self, root: Path, options: Mapping[str, Any] | None, *, name: str, task: Task):
        super().__init__(Path(root), options)
        self.name = name
        self.task = task
        self.channel = int_option(self.options, "channel", None, name)

    def read(self, utt: Utterance) -> np.ndarray:
        """Mono float32 audio at 16 kHz (resampled with a notice once per dataset)."""
        from benchsuite.api import read_audio

        return read_audio(utt.path, self.sample_rate, channel=self.channel, notice_key=self.name)

    def class_names(self) -> tuple[str, ...]:
        if self.task != Task.CLASSIFY:
            return ()
        return tuple(sorted({u.label for u in self.load_split("train").utterances}))

    def check_labels_known(self, split: str, utterances: Sequence[Utterance], where: str) -> None:
        if self.task != Task.CLASSIFY or split == "train":
            return
        known = set(self.class_names())
        unknown = sorted({u.label for u in utterances if u.label not in known})
        if unknown:
            examples = [f"{u.utt_id}={u.label}" for u in utterances if u.label in unknown][:MAX_LISTED]
            raise DataError(f"{where}: unknown label(s) {', '.join(unknown)} never seen in the training split "
                            f"(classes: {', '.join(sorted(known))}); e.g. {', '.join(examples)}")

    def validate(self, check_audio: bool = True) -> None:
        super().validate(check_audio)
        if self.task == Task.VERIFY and "train" in self.split_names():
            train_speakers = {u.label for u in self.load_split("train").utterances}
            for split in self.split_names():
                if split == "train":
                    continue
                scored = {u.speaker for u in self.load_split(split).utterances if u.speaker}
                shared = sorted(scored & train_speakers)
                if shared:
                    raise DataError(f"{self.name}: {len(shared)} speaker(s) of the {split} split are also training "
                                    f"speakers, so the {split} EER would be optimistic: {_listing(shared)}")

    def statistics(self, check_audio: bool = False) -> dict:
        self.validate(check_audio=check_audio)
        out: dict[str, Any] = {"dataset": self.name, "task": self.task.value, "root": str(self.root), "splits": {}}
        fingerprint = self.fingerprint()
        if fingerprint:
            out["fingerprint"] = fingerprint
        for split in self.split_names():
            data = self.load_split(split)
            per_speaker: dict[str, int] = {}
            labels: dict[str, int] = {}
            for utt in data.utterances:
                if utt.speaker:
                    per_speaker[utt.speaker] = per_speaker.get(utt.speaker, 0) + 1
                labels[utt.label] = labels.get(utt.label, 0) + 1
            entry: dict[str, Any] = {"utterances": len(data.utterances), "speakers": len(per_speaker)}
            if per_speaker:
                counts = list(per_speaker.values())
                entry["utterances_per_speaker"] = {"min": min(counts), "mean": round(sum(counts) / len(counts), 2),
                                                   "max": max(counts)}
            if self.task == Task.CLASSIFY:
                entry["labels"] = dict(sorted(labels.items()))
            if data.trials is not None:
                entry.update(trial_counts(data.trials))
            if data.enrolments:
                entry["enrolment_models"] = len(data.enrolments)
            if data.source:
                entry["source"] = data.source
            if check_audio:
                entry["duration_seconds"] = round(audio_duration_seconds(data.utterances, f"{self.name} {split}"), 3)
            out["splits"][split] = entry
        return out


# --------------------------------------------------------------------------- kaldi-dir


class KaldiDataset(SpeakerCorpus):
    """A root holding Kaldi data dirs ``train/``, ``dev/`` (optional) and
    ``eval/`` (or ``test/``).

    Verify: ``train`` utterances are labelled with their ``utt2spk`` speaker;
    ``dev``/``eval`` keep the utterances their ``trials`` need.  Classify:
    every split needs ``utt2label`` (option ``label_file``).  Without a dev
    dir, option ``dev_speakers: N`` holds out N training speakers (seeded by
    ``seed``) as a dev split with ``dev_trials`` generated trials."""

    OPTIONS = ("task", "train_dir", "dev_dir", "eval_dir", "trials", "label_file", "channel", "dev_speakers",
               "dev_trials", "seed")
    EVAL_DIRS = ("eval", "test")

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, *, name: str = "kaldi-dir",
                 task: Task | str = Task.VERIFY):
        options = dict(options or {})
        known_options(options, self.OPTIONS, name)
        chosen = parse_task(options.get("task", task), name, (Task.VERIFY, Task.CLASSIFY))
        super().__init__(Path(root), options, name=name, task=chosen)
        if not self.root.is_dir():
            raise DataError(f"dataset {name!r}: data root {self.root} is not a folder")
        self.label_file = str(self.options.get("label_file", "utt2label"))
        self.dev_speakers = int_option(self.options, "dev_speakers", 0, name)
        self.dev_trials = int_option(self.options, "dev_trials", 2000, name, minimum=2)
        self.seed = int_option(self.options, "seed", 0, name)
        self.dirs = self.find_dirs()
        if self.dev_speakers and "dev" in self.dirs:
            raise ConfigError(f"dataset {name!r}: option dev_speakers holds out training speakers as a dev split, "
                              f"but {self.dirs['dev']} already is one; drop one of them")
        if self.dev_speakers and self.task != Task.VERIFY:
            raise ConfigError(f"dataset {name!r}: option dev_speakers applies to task verify only")

    # ---------------------------------------------------------------- layout

    def find_dirs(self) -> dict[str, Path]:
        dirs: dict[str, Path] = {}
        train = option_path(self.root, self.options.get("train_dir", "train"), dataset=self.name, key="train_dir")
        dirs["train"] = self._require_data_dir(train, "train")
        if "dev_dir" in self.options:
            dev = option_path(self.root, self.options["dev_dir"], dataset=self.name, key="dev_dir")
            dirs["dev"] = self._require_data_dir(dev, "dev")
        elif (self.root / "dev" / "wav.scp").is_file():
            dirs["dev"] = self.root / "dev"
        if "eval_dir" in self.options:
            evaluation = option_path(self.root, self.options["eval_dir"], dataset=self.name, key="eval_dir")
        else:
            candidates = [self.root / d for d in self.EVAL_DIRS if (self.root / d / "wav.scp").is_file()]
            evaluation = candidates[0] if candidates else self.root / self.EVAL_DIRS[0]
        dirs["eval"] = self._require_data_dir(evaluation, "eval")
        return dirs

    def _require_data_dir(self, folder: Path, split: str) -> Path:
        if not (folder / "wav.scp").is_file():
            raise DataError(
                f"dataset {self.name!r}: no Kaldi data dir for the {split} split at {folder} (no wav.scp); expected "
                f"{self.root} to hold train/, dev/ (optional) and eval/ or test/, each with wav.scp, utt2spk"
                + (", utt2label" if self.task == Task.CLASSIFY else " and, for dev/eval, trials")
            )
        return folder

    def split_names(self) -> list[str]:
        has_dev = "dev" in self.dirs or bool(self.dev_speakers)
        return ["train"] + (["dev"] if has_dev else []) + ["eval"]

    def trials_path(self, split: str) -> Path:
        return self.dirs[split] / str(self.options.get("trials", "trials"))

    def protocol_files(self) -> list[Path]:
        files: list[Path] = []
        for split, folder in self.dirs.items():
            for name in ("wav.scp", "utt2spk", "spk2utt", self.label_file, "model2utt"):
                files.append(folder / name)
            if split != "train" and self.task == Task.VERIFY:
                files.append(self.trials_path(split))
        return files

    # ---------------------------------------------------------------- parsing

    @gc_paused()
    def read_data_dir(self, folder: Path, split: str, *, need_speakers: bool) -> list[Utterance]:
        """Utterances of one data dir in wav.scp order."""
        wav_scp = folder / "wav.scp"
        ids, paths, _lines = read_wav_scp(wav_scp, self.root)
        utt2spk = self._speakers(folder, ids, wav_scp, required=need_speakers)
        labels: dict[str, str] | None = None
        if self.task == Task.CLASSIFY:
            label_path = folder / self.label_file
            if not label_path.is_file():
                raise DataError(f"dataset {self.name!r}: {label_path} not found; a classify corpus needs a "
                                f"'<utt> <class>' file in every split (option label_file names it)")
            labels = read_utt2x(label_path, self.label_file)
            check_same_utterances(ids, labels, wav_scp, label_path)
        utterances = []
        for utt_id, audio in zip(ids, paths):
            speaker = utt2spk.get(utt_id) if utt2spk else None
            label = labels[utt_id] if labels is not None else (speaker or NO_SPEAKER)
            utterances.append(Utterance(utt_id, audio, label, speaker))
        return utterances

    def _speakers(self, folder: Path, ids: Sequence[str], wav_scp: Path, *, required: bool) -> dict[str, str]:
        utt2spk_path, spk2utt_path = folder / "utt2spk", folder / "spk2utt"
        utt2spk: dict[str, str] = {}
        if utt2spk_path.is_file():
            utt2spk = read_utt2x(utt2spk_path, "utt2spk")
            check_same_utterances(ids, utt2spk, wav_scp, utt2spk_path)
        if spk2utt_path.is_file():
            spk2utt, lines = read_spk2utt(spk2utt_path)
            derived: dict[str, str] = {}
            for speaker, members in spk2utt.items():
                for utt in members:
                    where = f"{spk2utt_path}:{lines[speaker]}"
                    if utt in derived:
                        raise DataError(f"{where}: utterance {utt!r} listed under {speaker!r} and under {derived[utt]!r}")
                    if utt2spk and utt2spk.get(utt) != speaker:
                        raise DataError(f"{where}: utterance {utt!r} listed under speaker {speaker!r}, but "
                                        f"{utt2spk_path} says {utt2spk.get(utt)!r}")
                    derived[utt] = speaker
            if utt2spk and len(derived) != len(utt2spk):
                missing = [u for u in utt2spk if u not in derived]
                raise DataError(f"{spk2utt_path}: {len(missing)} utterance(s) of utt2spk are missing: "
                                f"{_listing(missing)}")
            if not utt2spk:
                check_same_utterances(ids, derived, wav_scp, spk2utt_path)
                utt2spk = derived
        if required and not utt2spk:
            raise DataError(f"dataset {self.name!r}: {utt2spk_path} not found; the training split of a verify corpus "
                            f"needs '<utt> <speaker>' lines (utt2spk or spk2utt)")
        return utt2spk

    def enrolment_models(self, folder: Path) -> dict[str, list[str]] | None:
        path = folder / "model2utt"
        if not path.is_file():
            return None
        return read_spk2utt(path, "model2utt")[0]

    def scored_split(self, split: str) -> SplitData:
        """A dev/eval split read from its data dir (with trials when verifying)."""
        folder = self.dirs[split]
        utterances = self.read_data_dir(folder, split, need_speakers=False)
        if self.task == Task.CLASSIFY:
            self.check_labels_known(split, utterances, str(folder / self.label_file))
            return SplitData(split, utterances, source=str(folder))
        path = self.trials_path(split)
        if not path.is_file():
            raise DataError(f"dataset {self.name!r}: {path} not found; the {split} split of a verify corpus needs a "
                            f"trial list ('<enrol> <test> target|nontarget' lines; option trials names the file)")
        lines = self.trial_lines(path, utterances)
        trials, needed, models = resolve_trials(lines, utterances, path, models=self.enrolment_models(folder))
        return SplitData(split, needed, trials=trials, enrolments=models,
                         source=f"{path} ({len(lines)} trials)")

    def trial_lines(self, path: Path, utterances: Sequence[Utterance]) -> list[tuple[int, str, str, bool]]:
        return read_trial_lines(path)

    def train_utterances(self) -> list[Utterance]:
        if "_train_all" not in self.__dict__:
            folder = self.dirs["train"]
            self._train_all = self.read_data_dir(folder, "train", need_speakers=self.task == Task.VERIFY)
        return self._train_all

    def _parse_split(self, split: str) -> SplitData:
        if split == "train":
            utterances = self.train_utterances()
            source = str(self.dirs["train"])
            if self.dev_speakers:
                utterances, _held = hold_out_speakers(utterances, self.dev_speakers, self.seed)
                source += f" without {self.dev_speakers} held-out dev speakers (seed {self.seed})"
            return SplitData("train", utterances, source=source)
        if split == "dev" and "dev" not in self.dirs:
            _kept, held = hold_out_speakers(self.train_utterances(), self.dev_speakers, self.seed)
            trials = generate_trials(held, self.dev_trials, self.seed)
            used = {t.enrol for t in trials} | {t.test for t in trials}
            return SplitData("dev", [u for u in held if u.utt_id in used], trials=trials,
                             source=f"{self.dev_speakers} training speakers held out of {self.dirs['train']} "
                                    f"(seed {self.seed}), {len(trials)} generated trials")
        return self.scored_split(split)


# --------------------------------------------------------------------------- HI-MIA


class HiMia(KaldiDataset):
    """HI-MIA (OpenSLR 85) as Kaldi data dirs ``train/``, ``dev/`` (optional)
    and ``test/`` (or ``eval/``) with the distribution's trial lists.

    Trial entries hold a ``{}`` placeholder for the microphone-array channel
    (``SV0299_7_01_S0096.wav SV0333_2_{}_N0124.wav 0``); each line expands to
    every channel whose files are present, as Kaldi's ``egs/hi_mia`` does
    (mode ``sc``, the default for ``trials_1m``: the channel is substituted on
    both sides; mode ``mc``, the default for ``trials_mic``: the enrolment name
    is kept as it is).  A line that matches no file is an error."""

    OPTIONS = KaldiDataset.OPTIONS + ("trials_mode",)
    TRIAL_FILES = {"1m": "trials_1m", "mic": "trials_mic"}

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, *, name: str = "himia"):
        options = dict(options or {})
        if options.get("task", "verify") != "verify":
            raise ConfigError(f"dataset {name!r} is a verify corpus; option task={options['task']!r} is not available")
        trials = str(options.get("trials", "1m"))
        self.trial_file = self.TRIAL_FILES.get(trials, trials)
        mode = options.get("trials_mode", "mc" if self.trial_file.endswith("trials_mic") else "sc")
        if mode not in ("sc", "mc"):
            raise ConfigError(f"dataset {name!r}: option trials_mode={mode!r}; expected sc (substitute the channel "
                              f"on both sides) or mc (enrolment name unchanged)")
        self.trials_mode = str(mode)
        super().__init__(root, options, name=name, task=Task.VERIFY)

    def trials_path(self, split: str) -> Path:
        return self.dirs[split] / self.trial_file

    def find_dirs(self) -> dict[str, Path]:
        dirs = super().find_dirs()
        # HI-MIA's dev set ships no trial list; a dev dir without one is not a scored split here
        if "dev" in dirs and "dev_dir" not in self.options and not (dirs["dev"] / self.trial_file).is_file():
            del dirs["dev"]
        return dirs

    def trial_lines(self, path: Path, utterances: Sequence[Utterance]) -> list[tuple[int, str, str, bool]]:
        raw = read_trial_lines(path)
        if not any("{}" in enrol or "{}" in test for _n, enrol, test, _t in raw):
            return raw
        return expand_channel_trials(raw, utterances, path, self.trials_mode)

    def _parse_split(self, split: str) -> SplitData:
        data = super()._parse_split(split)
        if split != "train" and data.trials is not None:
            data.source += f", channel placeholders expanded in mode {self.trials_mode}"
        return data


def _channel_templates(utterances: Sequence[Utterance]) -> dict[str, dict[str, str]]:
    """``template -> {channel: canonical name}`` where a template is a
    canonical name with one ``-``-separated field replaced by ``{}``."""
    index: dict[str, dict[str, str]] = {}
    for utt in utterances:
        for name in {canonical_name(utt.utt_id), canonical_name(utt.path.name)}:
            fields = name.split("-")
            for position, value in enumerate(fields):
                template = "-".join(fields[:position] + ["{}"] + fields[position + 1:])
                index.setdefault(template, {})[value] = name
    return index


def expand_channel_trials(lines: Sequence[tuple[int, str, str, bool]], utterances: Sequence[Utterance], path: Path,
                          mode: str) -> list[tuple[int, str, str, bool]]:
    """Expand HI-MIA ``{}`` entries to every channel present (see :class:`HiMia`)."""
    templates = _channel_templates(utterances)
    out: list[tuple[int, str, str, bool]] = []
    for number, enrol, test, is_target in lines:
        where = f"{path}:{number}"
        test_channels = templates.get(canonical_name(test), {}) if "{}" in test else None
        if test_channels is None:
            out.append((number, enrol, test, is_target))
            continue
        if "{}" in enrol and mode == "sc":
            enrol_channels = templates.get(canonical_name(enrol), {})
            channels = sorted(set(enrol_channels) & set(test_channels))
            pairs = [(enrol_channels[c], test_channels[c]) for c in channels]
        else:
            pairs = [(enrol, test_channels[c]) for c in sorted(test_channels)]
        if not pairs:
            raise DataError(f"{where}: no channel of {enrol} {test} is present in the split's wav.scp; expected "
                            f"files with the '{{}}' field filled in (e.g. 01..15)")
        out.extend((number, e, t, is_target) for e, t in pairs)
    return out


# --------------------------------------------------------------------------- FFSVC 2022


class Ffsvc2022(KaldiDataset):
    """FFSVC 2022 in the baseline system's ``data/`` layout
    (``FFSVC/FFSVC2022_Baseline_System`` README): ``FFSVC2022/dev`` and
    ``FFSVC2022/eval`` (``wav.scp`` + ``trials``; dev keys ``label utt1 utt2``
    as downloaded, ``trials_dev_keys`` also found), training on
    ``FFSVC2022/Vox2dev_FFSVC22`` (option ``stage: finetune``, the far-field
    fine-tuning mix of VoxCeleb2 dev and the FFSVC 2020 supplement) or on
    ``Vox2dev`` (``stage: pretrain``, close-talk).  A flat ``train/ dev/ eval/``
    root is read too.  Trials pair close-talk enrolment with far-field test
    utterances as the organisers list them.  The eval trials were published
    without keys: option ``eval_on: dev`` scores the dev keys instead (then
    there is no separate dev split)."""

    OPTIONS = KaldiDataset.OPTIONS + ("stage", "eval_on")
    STAGES = {"finetune": "FFSVC2022/Vox2dev_FFSVC22", "pretrain": "Vox2dev"}

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, *, name: str = "ffsvc2022"):
        options = dict(options or {})
        if options.get("task", "verify") != "verify":
            raise ConfigError(f"dataset {name!r} is a verify corpus; option task={options['task']!r} is not available")
        stage = options.get("stage", "finetune")
        if stage not in self.STAGES:
            raise ConfigError(f"dataset {name!r}: option stage={stage!r}; expected finetune (Vox2dev + FFSVC 2020 "
                              f"supplement, far-field) or pretrain (Vox2dev, close-talk)")
        eval_on = options.get("eval_on", "eval")
        if eval_on not in ("eval", "dev"):
            raise ConfigError(f"dataset {name!r}: option eval_on={eval_on!r}; expected eval or dev")
        self.stage, self.eval_on = str(stage), str(eval_on)
        super().__init__(root, options, name=name, task=Task.VERIFY)

    def find_dirs(self) -> dict[str, Path]:
        base = self.root / "FFSVC2022"
        flat = not (base / "dev").is_dir() and (self.root / "dev").is_dir()
        dev_dir = self.root / "dev" if flat else base / "dev"
        eval_dir = self.root / "eval" if flat else base / "eval"
        train_default = "train" if flat else self.STAGES[self.stage]
        train = option_path(self.root, self.options.get("train_dir", train_default), dataset=self.name, key="train_dir")
        if "dev_dir" in self.options:
            dev_dir = option_path(self.root, self.options["dev_dir"], dataset=self.name, key="dev_dir")
        if "eval_dir" in self.options:
            eval_dir = option_path(self.root, self.options["eval_dir"], dataset=self.name, key="eval_dir")
        dirs = {"train": self._require_data_dir(train, "train")}
        if self.eval_on == "dev":
            dirs["eval"] = self._require_data_dir(dev_dir, "dev (scored as eval)")
        else:
            dirs["dev"] = self._require_data_dir(dev_dir, "dev")
            dirs["eval"] = self._require_data_dir(eval_dir, "eval")
        return dirs

    def trials_path(self, split: str) -> Path:
        folder = self.dirs[split]
        if "trials" in self.options:
            return folder / str(self.options["trials"])
        for name in ("trials", "trials_dev_keys", "trials_eval_keys"):
            if (folder / name).is_file():
                return folder / name
        return folder / "trials"

    def trial_lines(self, path: Path, utterances: Sequence[Utterance]) -> list[tuple[int, str, str, bool]]:
        first = next(iter(protocol_lines(require_file(path, "trial list"), columns=(2, 3))), None)
        if first is not None and len(first[1]) == 2:
            raise DataError(f"{path}:{first[0]}: trials without keys ('utt1 utt2'; the FFSVC 2022 eval trials were "
                            f"released without keys); score the dev keys with option eval_on: dev, or point eval_dir "
                            f"at a keyed copy")
        return read_trial_lines(path)


# --------------------------------------------------------------------------- registration

_KALDI_DESCRIPTION = (
    "Any Kaldi data-dir corpus: ROOT/{train,dev?,eval|test}/ with wav.scp (file paths; relative ones under ROOT), "
    "utt2spk/spk2utt, utt2label (classify), trials (verify: 'enrol test target|nontarget' or 1/0) and optional "
    "model2utt enrolment models. Options: task verify|classify; train_dir/dev_dir/eval_dir; trials (file name); "
    "label_file (default utt2label); channel (index for multi-channel audio); dev_speakers N + dev_trials + seed "
    "(held-out dev speakers when there is no dev dir)."
)
_HIMIA_DESCRIPTION = (
    "HI-MIA (OpenSLR 85) as Kaldi data dirs train/, test/ (or eval/) with trials_1m / trials_mic; '{}' channel "
    "placeholders expand to every channel present. Options: trials 1m|mic|FILE; trials_mode sc|mc; channel; "
    "dev_speakers/dev_trials/seed."
)
_FFSVC_DESCRIPTION = (
    "FFSVC 2022 in the baseline's data/ layout (FFSVC2022/dev, FFSVC2022/eval, Vox2dev, FFSVC2022/Vox2dev_FFSVC22) "
    "or flat train/dev/eval; close-talk enrolment vs far-field test trials 'label utt1 utt2'. Options: stage "
    "finetune|pretrain; eval_on eval|dev; trials; train_dir/dev_dir/eval_dir; channel."
)


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="kaldi-dir", task=Task.VERIFY, description=_KALDI_DESCRIPTION,
        open=lambda root, options: KaldiDataset(require_data_root(root, "kaldi-dir"), options),
    ))
    register(DatasetSpec(
        name="himia", task=Task.VERIFY, description=_HIMIA_DESCRIPTION,
        open=lambda root, options: HiMia(require_data_root(root, "himia"), options),
    ))
    register(DatasetSpec(
        name="ffsvc2022", task=Task.VERIFY, description=_FFSVC_DESCRIPTION,
        open=lambda root, options: Ffsvc2022(require_data_root(root, "ffsvc2022"), options),
    ))


_FFSVC_SOURCE = ("FFSVC/FFSVC2022_Baseline_System:README.md; FFSVC/ffsvc.github.io:"
                 "assets/pdf/ffsvc2022_summary.pdf")
_HIMIA_SOURCE = "kaldi-asr/kaldi:egs/hi_mia/v1/local/run_text_independent.sh"


@hookimpl
def benchsuite_register_baselines(register: Any) -> None:
    ffsvc_eval = {"1": (0.07021, 0.681), "2": (0.07644, 0.739)}
    for task_number, (eer, min_dcf) in ffsvc_eval.items():
        conditions = {"task": task_number, "system": "ResNet34-C32 pre-train + far-field fine-tune"}
        register(Baseline("FFSVC 2022 baseline", "ffsvc2022", "eval", "eer", eer, _FFSVC_SOURCE, year=2022,
                          conditions=conditions, kind="official"))
        register(Baseline("FFSVC 2022 baseline", "ffsvc2022", "eval", "min_dcf_p0.01", min_dcf, _FFSVC_SOURCE,
                          year=2022, formulation="p_target=0.01, Cmiss=Cfa=1, normalised",
                          conditions=conditions, kind="official"))
    for task_number, eer in (("1", 0.067), ("2", 0.072)):
        register(Baseline("FFSVC 2022 baseline", "ffsvc2022", "dev", "eer", eer,
                          "FFSVC/FFSVC2022_Baseline_System:README.md", year=2022,
                          conditions={"task": task_number}, kind="official"))
    himia = {"1m": ("single-channel", 0.08086, 0.6328), "mic": ("multi-channel", 0.09742, 0.7512)}
    for trials, (label, eer, min_dcf) in himia.items():
        conditions = {"trials": trials, "condition": label, "backend": "PLDA"}
        register(Baseline("Kaldi x-vector + PLDA", "himia", "eval", "eer", eer, _HIMIA_SOURCE, conditions=conditions))
        register(Baseline("Kaldi x-vector + PLDA", "himia", "eval", "min_dcf_p0.01", min_dcf, _HIMIA_SOURCE,
                          formulation="p_target=0.01, Cmiss=Cfa=1, normalised", conditions=conditions))
