"""What every built-in dataset reader shares: protocol-line parsing with
file:line errors, path containment, duplicate and missing-file checks, option
checks, a fingerprint of the protocol files, a base class that caches parsed
splits and one that adds countermeasure statistics.  The per-line helpers
avoid Path arithmetic and system calls, so a 10^5-line protocol indexes in a
fraction of a second."""
from __future__ import annotations

import gc
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from benchsuite.api import ConfigError, DataError, Dataset, SplitData, Utterance

MAX_LISTED = 10


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector while a protocol is indexed.

    Building ~10^5 Utterance objects triggers many full collections that scan
    everything allocated so far and roughly double the parse time; the
    objects form no cycles, so nothing is lost by collecting afterwards.
    Usable as a ``with`` block or a decorator; nesting is harmless."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    return path


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{what} not found: {path}")
    return path


def protocol_lines(path: Path, *, columns: int | Sequence[int], sep: str | None = None,
                   skip_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a whitespace- (or ``sep``-) separated
    file, refusing a line with the wrong number of columns as ``file:line``.
    Blank lines are skipped; line numbers are 1-based as editors show them."""
    allowed = (columns,) if isinstance(columns, int) else tuple(columns)
    expected = " or ".join(str(c) for c in allowed)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # a binary or mis-encoded file would otherwise surface as a bare traceback
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({err.reason}); expected a plain-text protocol") from None
    # one read and one split of the whole file: per-line file iteration costs
    # a large share of a 71k-line parse
    for number, line in enumerate(text.split("\n"), start=1):
        if sep is None:
            fields = line.split()
            if not fields:
                continue
        else:
            line = line.rstrip("\r")
            if not line.strip():
                continue
            fields = line.split(sep)
        if skip_header and number == 1:
            continue
        if len(fields) not in allowed:
            raise DataError(f"{path}:{number}: expected {expected} columns, found {len(fields)}: {line.strip()!r}")
        yield number, fields


def resolve_under(root: Path, relative: str, *, where: str) -> Path:
    """Join ``relative`` to ``root`` and refuse anything that escapes ``root``
    (``../``, absolute paths, symlinked parents are resolved first)."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise DataError(f"{where}: path {relative!r} escapes the data root {root}; expected a path inside it")
    joined = root / candidate
    resolved_root = root.resolve()
    resolved = joined.resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise DataError(f"{where}: path {relative!r} resolves to {resolved}, outside the data root {root}")
    return joined


def check_unique(ids: Sequence[str], where: str, lines: Sequence[int] | None = None) -> None:
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    for index, utt_id in enumerate(ids):
        if utt_id in seen:
            line = f" (lines {lines[seen[utt_id]]} and {lines[index]})" if lines is not None else ""
            duplicates.append(f"{utt_id}{line}")
        else:
            seen[utt_id] = index
    if duplicates:
        shown = ", ".join(duplicates[:MAX_LISTED])
        raise DataError(f"{where}: {len(duplicates)} duplicate utterance id(s): {shown}")


def checked_index(utterances: list[Utterance], line_numbers: Sequence[int], path: Path, empty: str) -> list[Utterance]:
    """The end of every protocol parse: refuse a list with no utterances
    (``empty`` says what was expected) and duplicate ids, naming both lines."""
    if not utterances:
        raise DataError(f"{path}: {empty}")
    check_unique([u.utt_id for u in utterances], str(path), line_numbers)
    return utterances


def require_data_root(root: Path | None, dataset: str) -> Path:
    """``DatasetSpec.open`` of a corpus the user supplies: ``--data-root`` is required."""
    if root is None:
        raise DataError(f"dataset {dataset!r} needs --data-root pointing at your copy of the corpus")
    return Path(root)


def check_labels(labels: Sequence[str], allowed: Sequence[str], where: str, lines: Sequence[int] | None = None) -> None:
    for index, label in enumerate(labels):
        if label not in allowed:
            line = f":{lines[index]}" if lines is not None else ""
            raise DataError(f"{where}{line}: unknown label {label!r}; expected one of {', '.join(allowed)}")


class DataProblems:
    """Every problem a validation finds, grouped by kind and capped at MAX_LISTED lines per
    kind, raised at the end as one DataError: the user sees all of them in one go."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.by_kind: dict[str, list[str]] = {}
        self.advice: dict[str, str] = {}

    def add(self, kind: str, line: str, advice: str = "") -> None:
        self.by_kind.setdefault(kind, []).append(line)
        if advice:
            self.advice.setdefault(kind, advice)

    def raise_if_any(self) -> None:
        if not self.by_kind:
            return
        if sum(len(lines) for lines in self.by_kind.values()) == 1:
            (kind, (line,)), = self.by_kind.items()
            advice = f"\n{self.advice[kind]}" if kind in self.advice else ""
            raise DataError(line + advice)  # one problem reads as it always has (file:line, missing files)
        total = sum(len(lines) for lines in self.by_kind.values())
        parts = [f"dataset {self.dataset!r}: {total} problem(s) found before training"]
        for kind, lines in self.by_kind.items():
            advice = f" {self.advice[kind]}" if kind in self.advice else ""
            parts.append(f"  {kind} ({len(lines)}):{advice}")
            parts += ["    " + line.replace("\n", "\n    ") for line in lines[:MAX_LISTED]]
            if len(lines) > MAX_LISTED:
                parts.append(f"    ... and {len(lines) - MAX_LISTED} more")
        raise DataError("\n".join(parts))


_EMPTY_ADVICE = "Replace these files with the corpus's own, or remove their protocol lines."


def audio_header_problems(utterances: Sequence[Utterance], where: str, problems: DataProblems, *,
                          channel: int | None, multichannel_advice: str) -> None:
    """Add each missing, unreadable, empty or multi-channel audio file to ``problems``, from
    the file headers (``soundfile.info``; nothing decoded): what would otherwise stop a cell
    in the middle of an epoch."""
    import soundfile

    missing = []
    for utt in utterances:
        path = str(utt.path)
        try:
            channels, frames = _fast_header(path) or _soundfile_header(soundfile, path)
        except Exception as exc:  # LibsndfileError, RuntimeError, OSError depending on the version
            if not os.path.isfile(path):
                missing.append(utt)
            elif os.path.getsize(path) == 0:
                problems.add("audio without samples", f"{where}: {path} is an empty file (0 bytes)", _EMPTY_ADVICE)
            else:
                problems.add("unreadable audio", f"{where}: {path} ({exc})")
            continue
        if frames == 0:
            problems.add("audio without samples", f"{where}: {path} holds 0 samples", _EMPTY_ADVICE)
        if channel is None and channels > 1:
            problems.add("multi-channel audio", f"{where}: {path} has {channels} channels", multichannel_advice)
        elif channel is not None and not 0 <= channel < channels:
            problems.add("channel out of range", f"{where}: {path} has {channels} channel(s), "
                                                 f"channel {channel} was asked for")
    if missing:  # one entry per split, the first ten files and the count: never skipped silently
        shown = "\n  ".join(f"{u.utt_id}: {u.path}" for u in missing[:MAX_LISTED])
        more = f"\n  ... and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        problems.add("missing audio", f"{where}: {len(missing)} of {len(utterances)} audio files are missing:\n  "
                                      f"{shown}{more}")


def _soundfile_header(soundfile: Any, path: str) -> tuple[int, int]:
    info = soundfile.info(path)
    return info.channels, info.frames


def _fast_header(path: str) -> tuple[int, int] | None:
    """(channels, frames) from a FLAC STREAMINFO or a plain WAV header, reading a few bytes:
    soundfile.info costs about 0.35 ms a file, which is 40 s over ASVspoof 2019 LA on every run.
    None when the file is neither (or its header leaves a doubt): soundfile decides then."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head[:4] == b"fLaC" and len(head) >= 42 and head[4] & 0x7F == 0:  # STREAMINFO comes first
        info = int.from_bytes(head[18:26], "big")  # rate 20 bits, channels-1 3, bits-1 5, samples 36
        channels = ((info >> 41) & 0x7) + 1
        frames = info & ((1 << 36) - 1)
        return (channels, frames) if frames else None  # 0 means "unknown" in FLAC: let soundfile count
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        offset, channels, block = 12, None, None
        while offset + 8 <= len(head):
            chunk, size = head[offset:offset + 4], int.from_bytes(head[offset + 4:offset + 8], "little")
            if chunk == b"fmt " and offset + 22 <= len(head):
                channels = int.from_bytes(head[offset + 10:offset + 12], "little")
                block = int.from_bytes(head[offset + 20:offset + 22], "little")
            elif chunk == b"data":
                return (channels, size // block) if channels and block else None
            offset += 8 + size + (size & 1)
    return None


def fingerprint_files(paths: Sequence[Path]) -> str:
    """SHA-256 over the named files' bytes (protocols and keys), 16 hex digits."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=str):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class CachedSplitsDataset(Dataset):
    """Parses each split once; ``validate`` parses all and checks the audio."""

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None):
        self.root = Path(root)
        self.options = dict(options or {})
        self._splits: dict[str, SplitData] = {}

    def load_split(self, split: str) -> SplitData:
        if split not in self.split_names():
            raise DataError(f"dataset {self.name!r} has no split {split!r}; splits: {', '.join(self.split_names())}")
        if split not in self._splits:
            with gc_paused():
                self._splits[split] = self._parse_split(split)
        return self._splits[split]

    def _parse_split(self, split: str) -> SplitData:  # pragma: no cover - abstract
        raise NotImplementedError

    def protocol_files(self) -> list[Path]:
        return []

    def fingerprint(self) -> str:
        files = [p for p in self.protocol_files() if p.is_file()]
        return fingerprint_files(files) if files else ""

    # what a multi-channel file calls for; corpora read with a `channel` option say so instead
    multichannel_advice = ("Expected mono audio: convert these files to mono (e.g. `sox IN.flac -c 1 OUT.flac`), "
                           "or pick one channel with the dataset's 'channel' option where it has one.")

    def validate(self, check_audio: bool = True) -> None:
        problems = DataProblems(self.name)
        self.collect_problems(problems, check_audio)
        problems.raise_if_any()

    def collect_problems(self, problems: DataProblems, check_audio: bool) -> None:
        """Add every problem of the protocols (per split) and, with ``check_audio``, of the audio
        files' headers to ``problems``; subclasses add their layout checks first."""
        for split in self.split_names():
            try:
                data = self.load_split(split)
            except DataError as err:
                problems.add("protocol", str(err))
                continue
            if check_audio:
                audio_header_problems(data.utterances, f"{self.name} {split} ({data.source or self.root})", problems,
                                      channel=getattr(self, "channel", None),
                                      multichannel_advice=self.multichannel_advice)


def path_joiner(folder: Path) -> Callable[[str], Path]:
    """A function ``name -> folder / name`` for bare file names, about three
    times faster than the ``/`` operator on CPython 3.11-3.13 because it does
    not re-parse ``folder``; that is what keeps a 71k-line protocol parse well
    under a second.  Falls back on ``joinpath`` if the private helper it uses
    is absent or behaves differently."""
    make_child = getattr(folder, "_make_child_relpath", None)
    if make_child is not None:
        try:
            if make_child("probe.flac") == folder / "probe.flac":
                return make_child
        except Exception:  # a private helper: any change of its contract means "do not use"
            pass
    return folder.joinpath


def is_bare_name(name: str) -> bool:
    """True for a name that stays inside the folder it is joined to.  An
    absolute POSIX or Windows path always holds a separator or a drive colon,
    so string tests suffice: no system call per protocol line."""
    return bool(name) and "/" not in name and "\\" not in name and ":" not in name and name not in (".", "..")


def check_file_name(name: str, where: str, root: Path) -> None:
    """Refuse an id that is joined to a folder as a bare file name but would
    leave that folder (``../x``, ``a/b``, an absolute path)."""
    if not is_bare_name(name):
        raise DataError(
            f"{where}: utterance id {name!r} would escape the data root {root}; expected a bare file name"
        )


def check_relative(relative: str, where: str, root: Path) -> None:
    """The string half of :func:`resolve_under` (absolute paths and ``..``),
    cheap enough to run on every line of a large list: no Path objects."""
    parts = relative.replace("\\", "/").split("/")
    absolute = relative.startswith(("/", "\\")) or (len(relative) > 2 and relative[1] == ":" and relative[2] in "/\\")
    if not relative or absolute or ".." in parts:
        raise DataError(f"{where}: path {relative!r} escapes the data root {root}; expected a path inside it")


def known_options(options: Mapping[str, Any], allowed: Sequence[str], dataset: str) -> None:
    """Refuse misspelt dataset options instead of silently using defaults."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"dataset {dataset!r}: unknown option(s) {', '.join(unknown)}; "
            f"known options: {', '.join(sorted(allowed)) or 'none'}"
        )


def audio_duration_seconds(utterances: Sequence[Utterance], where: str) -> float:
    """Total duration from the file headers (``soundfile.info``; nothing decoded)."""
    import soundfile

    total = 0.0
    for utt in utterances:
        try:
            info = soundfile.info(str(utt.path))
        except Exception as exc:  # LibsndfileError, RuntimeError, OSError depending on the version
            raise DataError(f"{where}: cannot read the header of {utt.path} ({exc})") from exc
        total += info.frames / info.samplerate
    return round(total, 3)


class SpoofDataset(CachedSplitsDataset):
    """A countermeasure corpus: statistics per label, speaker and attack."""

    multichannel_advice = ("This corpus is read as mono and has no 'channel' option; the ASVspoof and In-the-Wild "
                           "releases are mono 16 kHz, so these files are not the distributed audio: convert them to "
                           "mono (e.g. `sox IN.flac -c 1 OUT.flac`) or restore the originals.")

    def statistics(self, check_audio: bool = False) -> dict:
        out: dict[str, Any] = {"dataset": self.name, "root": str(self.root), "splits": {}}
        fingerprint = self.fingerprint()
        if fingerprint:
            out["fingerprint"] = fingerprint
        for split in self.split_names():
            data = self.load_split(split)
            bonafide = sum(1 for u in data.utterances if u.label == "bonafide")
            attacks: dict[str, int] = {}
            conditions: dict[str, dict[str, int]] = {}
            for utt in data.utterances:
                if utt.label != "bonafide" and utt.attack is not None:
                    attacks[utt.attack] = attacks.get(utt.attack, 0) + 1
                for column, value in utt.conditions.items():
                    counts = conditions.setdefault(column, {})
                    counts[value] = counts.get(value, 0) + 1
            entry: dict[str, Any] = {
                "utterances": len(data.utterances),
                "bonafide": bonafide,
                "spoof": len(data.utterances) - bonafide,
                "speakers": len({u.speaker for u in data.utterances if u.speaker}),
                "attacks": dict(sorted(attacks.items())),
            }
            if conditions:
                entry["conditions"] = {c: dict(sorted(v.items())) for c, v in sorted(conditions.items())}
            if data.asv_scores is not None:
                entry["asv_scores"] = {
                    "target": int(len(data.asv_scores.target)),
                    "nontarget": int(len(data.asv_scores.nontarget)),
                    "spoof": int(len(data.asv_scores.spoof)),
                    "source": data.asv_scores.source,
                }
            if data.source:
                entry["source"] = data.source
            if check_audio:
                entry["duration_seconds"] = audio_duration_seconds(data.utterances, f"{self.name} {split}")
            out["splits"][split] = entry
        return out
