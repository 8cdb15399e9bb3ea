"""What the speaker and classification readers share (``kaldi-dir``, ``himia``, ``ffsvc2022``,
``voxceleb1``, ``csv-manifest``): Kaldi table parsing, :class:`SpeakerCorpus` (reading with
a channel, statistics, class names), trial-file parsing, the name index that maps trial
entries to utterances, seeded trial generation and speaker hold-out.  A library module,
not a plugin."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from benchsuite.api import (
    ConfigError, DataError, Task, Trial, Utterance,
)

from ._toolkit import (
    MAX_LISTED, CachedSplitsDataset, audio_duration_seconds, check_relative, check_unique, path_joiner, protocol_lines,
    require_file,
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
