"""ASVspoof corpora read from a user's copy in the layout the organisers ship.

- ``asvspoof2019-la``: ``LA/ASVspoof2019_LA_{train,dev,eval}/flac/``, CM protocols
  ``SPEAKER UTT - SYSTEM KEY`` and the organisers' ASV scores for the t-DCF.
- ``asvspoof2021-la`` / ``asvspoof2021-df``: train and dev are the 2019 LA
  splits; eval is ``ASVspoof2021_{LA,DF}_eval/flac/`` keyed by the full keys
  (``keys/{LA,DF}/CM/trial_metadata.txt``), restricted to one subset.
- ``asvspoof5``: ``flac_T/``, ``flac_D/``, ``flac_E_*/`` with the challenge's
  ``ASVspoof5.{train,dev}.metainfor.txt`` lists or the public release's
  ``ASVspoof5.*.tsv`` files, and a CM key for eval.

The official challenge baselines are registered here too, so the leaderboard
shows them beside reproduced numbers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchsuite.api import (
    BONAFIDE, SPOOF, AsvScores, Baseline, ConfigError, DataError, DatasetSpec, ScoreFileError, SplitData, Task,
    Utterance,
)
from benchsuite.api import hookimpl

from ._toolkit import (
    DataProblems, SpoofDataset, check_file_name, checked_index, gc_paused, is_bare_name, known_options, path_joiner, protocol_lines,
    require_data_root, require_dir, require_file, resolve_under,
)

SPOOF_LABELS = (BONAFIDE, SPOOF)
NO_ATTACK = "-"  # Utterance.attack of bona fide speech

# --------------------------------------------------------------------------- 2019 LA

LA2019_PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
LA2019_PROTOCOLS = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}
LA2019_ASV_SCORE_DIR = "ASVspoof2019_LA_asv_scores"
# each split's t-DCF uses its own split's ASV scores: the dev t-DCF computed
# with the eval ASV scores is a known mistake of public recipes
LA2019_ASV_SCORES = {
    "dev": "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt",
    "eval": "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
}
LA2019_OPTIONS = ("asv_scores",)


def find_la2019_folder(root: Path) -> Path:
    """The ``LA/`` folder: ``root`` itself or ``root/LA``."""
    root = Path(root)
    for candidate in (root, root / "LA"):
        if (candidate / LA2019_PROTOCOL_DIR).is_dir():
            return candidate
    raise DataError(
        f"ASVspoof 2019 LA not found under {root}: expected {root / LA2019_PROTOCOL_DIR} "
        f"or {root / 'LA' / LA2019_PROTOCOL_DIR} (the LA/ folder of LA.zip, or its parent)"
    )


@gc_paused()
def parse_cm_protocol(path: Path, audio_dir: Path, root: Path, *, extension: str = ".flac") -> list[Utterance]:
    """An ASVspoof 2019 CM protocol, ``SPEAKER UTT - SYSTEM KEY`` per line.

    Bona fide lines carry SYSTEM ``-``, spoofed ones a system id (A01–A19); a
    line whose key and system disagree is refused because it means the
    columns are shifted or the file is not a CM protocol."""
    require_file(path, "CM protocol")
    audio_path = path_joiner(audio_dir)
    utterances: list[Utterance] = []
    line_numbers: list[int] = []
    for number, fields in protocol_lines(path, columns=5):
        speaker, utt_id, _unused, system, key = fields
        if key != BONAFIDE and key != SPOOF:
            raise DataError(f"{path}:{number}: unknown label {key!r}; expected bonafide or spoof "
                            f"(line: {' '.join(fields)!r})")
        if (key == BONAFIDE) != (system == NO_ATTACK):
            raise DataError(
                f"{path}:{number}: key {key!r} with system {system!r}; expected system '-' exactly for bonafide "
                f"lines (line: {' '.join(fields)!r})"
            )
        if not is_bare_name(utt_id):
            check_file_name(utt_id, f"{path}:{number}", root)
        utterances.append(Utterance(utt_id, audio_path(utt_id + extension), key, speaker, system))
        line_numbers.append(number)
    return checked_index(utterances, line_numbers, path, "the protocol holds no utterances")


def load_asv_scores(path: Path) -> AsvScores:
    """The organisers' 3-column ASV scores, with their errors reported as data errors."""
    from benchsuite.api import read_asv_scores

    try:
        return read_asv_scores(path)
    except ScoreFileError as err:
        raise DataError(str(err)) from None


class ASVspoof2019LA(SpoofDataset):
    """ASVspoof 2019 logical access (or a corpus generated in the same layout).

    ``root`` is the ``LA/`` folder or its parent.  ``dev`` and ``eval`` carry
    the organisers' ASV scores when their files exist (``asv_scores`` is None
    otherwise, e.g. for a generated corpus); option ``asv_scores: false``
    ignores them."""

    task = Task.SPOOF
    sample_rate = 16000

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, name: str = "asvspoof2019-la"):
        options = dict(options or {})
        known_options(options, LA2019_OPTIONS, name)
        super().__init__(find_la2019_folder(Path(root)), options)
        self.name = name
        self.use_asv_scores = _bool_option(options, "asv_scores", True, name)

    def split_names(self) -> list[str]:
        return ["train", "dev", "eval"]

    def protocol_path(self, split: str) -> Path:
        return self.root / LA2019_PROTOCOL_DIR / LA2019_PROTOCOLS[split]

    def asv_score_path(self, split: str) -> Path | None:
        if not self.use_asv_scores or split not in LA2019_ASV_SCORES:
            return None
        path = self.root / LA2019_ASV_SCORE_DIR / LA2019_ASV_SCORES[split]
        return path if path.is_file() else None

    def audio_dir(self, split: str) -> Path:
        return self.root / f"ASVspoof2019_LA_{split}" / "flac"

    def protocol_files(self) -> list[Path]:
        files = [self.protocol_path(split) for split in self.split_names()]
        files += [p for p in (self.asv_score_path(s) for s in self.split_names()) if p is not None]
        return files

    def _parse_split(self, split: str) -> SplitData:
        protocol = self.protocol_path(split)
        utterances = parse_cm_protocol(protocol, self.audio_dir(split), self.root)
        asv_path = self.asv_score_path(split)
        asv = load_asv_scores(asv_path) if asv_path is not None else None
        return SplitData(split, utterances, asv_scores=asv, source=str(protocol))

    def collect_problems(self, problems: DataProblems, check_audio: bool) -> None:
        if check_audio:
            missing = [split for split in self.split_names() if not self.audio_dir(split).is_dir()]
            for split in missing:
                problems.add("audio folder missing", f"{self.name} {split} audio folder not found: {self.audio_dir(split)}")
            if missing:  # every file of those splits would be listed as missing too
                check_audio = False
        super().collect_problems(problems, check_audio)


def _bool_option(options: Mapping[str, Any], key: str, default: bool, dataset: str) -> bool:
    value = options.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ConfigError(f"dataset {dataset!r}: option {key}={value!r}; expected true or false")


# --------------------------------------------------------------------------- 2021 LA / DF

SUBSETS_2021 = ("eval", "progress", "hidden")
# column names as the 2021 evaluation package's config.py names them, with the
# breakdown columns renamed to what the leaderboard shows
LA2021_KEY_COLUMNS = ("speaker", "trial", "codec", "transmission", "attack", "key", "trim", "subset")
DF2021_KEY_COLUMNS = ("speaker", "trial", "codec", "source", "attack", "key", "trim", "subset", "vocoder", "task",
                      "team", "gender_pair", "language")
TRACKS_2021 = {
    "LA": {"columns": LA2021_KEY_COLUMNS, "conditions": ("codec", "transmission")},
    "DF": {"columns": DF2021_KEY_COLUMNS, "conditions": ("codec", "vocoder", "source")},
}
ASV2021_KEYS = ("target", "nontarget", "spoof")
# the evaluation package's config.py and its README spell this folder differently
ASV2021_SCORE_DIRS = ("ASVTorch_Kaldi", "ASVtorch_kaldi")
OPTIONS_2021 = ("subset", "la2019_root", "keys_root", "asv_scores")


@gc_paused()
def parse_2021_key(path: Path, track: str, audio_dir: Path, root: Path, subset: str) -> list[Utterance]:
    """``keys/{LA,DF}/CM/trial_metadata.txt`` restricted to ``subset`` (or ``all``).

    The attack column reads ``bonafide`` (LA) or ``-``/``bonafide`` (DF) for
    bona fide trials; it becomes ``Utterance.attack == "-"`` as in 2019."""
    layout = TRACKS_2021[track]
    columns: tuple[str, ...] = layout["columns"]
    index = {name: i for i, name in enumerate(columns)}
    i_speaker, i_trial, i_attack, i_key, i_subset = (index[c] for c in ("speaker", "trial", "attack", "key", "subset"))
    condition_index = [(c, index[c]) for c in layout["conditions"]]
    keep_subset = None if subset == "all" else subset
    # breakdown values repeat across hundreds of thousands of lines: share one string each
    shared: dict[str, str] = {}
    audio_path = path_joiner(audio_dir)
    utterances: list[Utterance] = []
    line_numbers: list[int] = []
    for number, fields in protocol_lines(require_file(path, f"ASVspoof 2021 {track} CM key"), columns=len(columns)):
        key, line_subset = fields[i_key], fields[i_subset]
        if key != BONAFIDE and key != SPOOF:
            raise DataError(f"{path}:{number}: unknown label {key!r} in column {i_key + 1} (key); expected "
                            f"bonafide or spoof (line: {' '.join(fields)!r})")
        if line_subset not in SUBSETS_2021:
            raise DataError(f"{path}:{number}: unknown subset {line_subset!r} in column {i_subset + 1}; expected "
                            f"one of {', '.join(SUBSETS_2021)} (line: {' '.join(fields)!r})")
        if keep_subset is not None and line_subset != keep_subset:
            continue
        attack = fields[i_attack]
        if key == BONAFIDE:
            if attack not in (BONAFIDE, NO_ATTACK):
                raise DataError(f"{path}:{number}: bonafide trial with attack {attack!r}; expected 'bonafide' or "
                                f"'-' (line: {' '.join(fields)!r})")
            attack = NO_ATTACK
        elif attack in (BONAFIDE, NO_ATTACK):
            raise DataError(f"{path}:{number}: spoof trial without an attack id (attack {attack!r}) "
                            f"(line: {' '.join(fields)!r})")
        trial = fields[i_trial]
        if not is_bare_name(trial):
            check_file_name(trial, f"{path}:{number}", root)
        conditions = {name: shared.setdefault(fields[i], fields[i]) for name, i in condition_index}
        if keep_subset is None:
            conditions["subset"] = shared.setdefault(line_subset, line_subset)
        utterances.append(Utterance(trial, audio_path(trial + ".flac"), key,
                                    shared.setdefault(fields[i_speaker], fields[i_speaker]),
                                    shared.setdefault(attack, attack), conditions))
        line_numbers.append(number)
    return checked_index(utterances, line_numbers, path,
                         f"no trials of subset {subset!r}; expected lines whose column {i_subset + 1} reads "
                         f"{' or '.join(SUBSETS_2021) if keep_subset is None else subset}")


def parse_2021_asv(metadata_path: Path, score_path: Path, subset: str) -> AsvScores:
    """The organisers' 2021 LA ASV scores for one subset.

    ``LA/ASV/trial_metadata.txt`` (8 columns, key target|nontarget|spoof) and
    ``score.txt`` (``asv_spk trial score``) are aligned line by line, as the
    evaluation package aligns them; a trial id that differs between the two
    lines is refused, so a shuffled or truncated score file cannot be paired
    silently with the wrong key."""
    require_file(metadata_path, "ASVspoof 2021 LA ASV key")
    require_file(score_path, "ASVspoof 2021 LA ASV score file")
    by_key: dict[str, list[float]] = {k: [] for k in ASV2021_KEYS}
    spoof_attacks: list[str] = []
    keys = protocol_lines(metadata_path, columns=8)
    scores = protocol_lines(score_path, columns=3)
    for (key_line, key_fields), (score_line, score_fields) in _zip_strict(keys, scores, metadata_path, score_path):
        trial, key, line_subset = key_fields[1], key_fields[5], key_fields[7]
        if score_fields[1] != trial:
            raise DataError(
                f"{score_path}:{score_line}: trial {score_fields[1]!r} where {metadata_path}:{key_line} has "
                f"{trial!r}; expected the score file in the key file's order"
            )
        if key not in by_key:
            raise DataError(f"{metadata_path}:{key_line}: unknown ASV key {key!r}; expected one of "
                            f"{', '.join(ASV2021_KEYS)} (line: {' '.join(key_fields)!r})")
        if subset != "all" and line_subset != subset:
            continue
        try:
            value = float(score_fields[2])
        except ValueError:
            raise DataError(f"{score_path}:{score_line}: score {score_fields[2]!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise DataError(f"{score_path}:{score_line}: score {score_fields[2]!r} is not finite")
        by_key[key].append(value)
        if key == SPOOF:
            spoof_attacks.append(key_fields[4])
    empty = [k for k in ASV2021_KEYS if not by_key[k]]
    if empty:
        raise DataError(f"{metadata_path}: no {' / '.join(empty)} ASV trials in subset {subset!r}; the t-DCF needs "
                        "target, nontarget and spoof ASV scores")
    import numpy as np

    # the attack of each spoof score lets a per-attack t-DCF use that attack's
    # ASV spoof scores, as the 2021 package's per-condition C012 do
    return AsvScores(target=np.asarray(by_key["target"]), nontarget=np.asarray(by_key["nontarget"]),
                     spoof=np.asarray(by_key["spoof"]), source=f"{score_path} (subset {subset})",
                     spoof_attacks=np.asarray(spoof_attacks))


def _zip_strict(first: Any, second: Any, first_path: Path, second_path: Path) -> Any:
    sentinel = object()
    first_iter, second_iter = iter(first), iter(second)
    count = 0
    while True:
        a = next(first_iter, sentinel)
        b = next(second_iter, sentinel)
        if a is sentinel and b is sentinel:
            return
        if a is sentinel or b is sentinel:
            longer, shorter = (second_path, first_path) if a is sentinel else (first_path, second_path)
            raise DataError(f"{shorter} has {count} lines but {longer} has more; expected one score line per "
                            f"ASV trial")
        count += 1
        yield a, b


class ASVspoof2021(SpoofDataset):
    """ASVspoof 2021 LA or DF: 2019 LA train/dev, 2021 eval keyed by the full keys.

    ``root`` holds ``ASVspoof2021_{track}_eval/`` and ``keys/`` (option
    ``keys_root`` elsewhere); the 2019 LA copy is found under ``root`` or at
    option ``la2019_root``.  Option ``subset`` picks eval (default), progress,
    hidden or all.  LA eval carries the organisers' pooled ASV scores of the
    subset for the revised t-DCF; DF has no t-DCF."""

    task = Task.SPOOF
    sample_rate = 16000

    def __init__(self, root: Path, options: Mapping[str, Any] | None, track: str, name: str):
        options = dict(options or {})
        known_options(options, OPTIONS_2021, name)
        subset = str(options.get("subset", "eval"))
        if subset not in SUBSETS_2021 + ("all",):
            raise ConfigError(f"dataset {name!r}: option subset={subset!r}; expected eval, progress, hidden or all")
        super().__init__(require_dir(Path(root), f"{name} data root"), options)
        self.name = name
        self.track = track
        self.subset = subset
        self.use_asv_scores = _bool_option(options, "asv_scores", True, name) and track == "LA"
        self._la2019: ASVspoof2019LA | None = None

    def split_names(self) -> list[str]:
        return ["train", "dev", "eval"]

    def condition_columns(self) -> tuple[str, ...]:
        columns: tuple[str, ...] = TRACKS_2021[self.track]["conditions"]
        return columns + ("subset",) if self.subset == "all" else columns

    @property
    def la2019(self) -> ASVspoof2019LA:
        if self._la2019 is None:
            la_root = Path(self.options.get("la2019_root") or self.root)
            try:
                self._la2019 = ASVspoof2019LA(la_root, {}, name=self.name)
            except DataError as err:
                raise DataError(f"{self.name} trains and validates on ASVspoof 2019 LA train/dev: {err}. "
                                f"Point option la2019_root at your 2019 LA copy") from None
        return self._la2019

    def keys_dir(self) -> Path:
        explicit = self.options.get("keys_root")
        candidates = [Path(explicit)] if explicit else [self.root / "keys", self.root]
        for base in candidates:
            if (base / self.track / "CM" / "trial_metadata.txt").is_file():
                return base / self.track
        expected = " or ".join(str(b / self.track / "CM" / "trial_metadata.txt") for b in candidates)
        raise DataError(f"ASVspoof 2021 {self.track} keys not found: expected {expected} (unpack "
                        f"{self.track}-keys-full.tar.gz from asvspoof.org there, or set option keys_root)")

    def key_path(self) -> Path:
        return self.keys_dir() / "CM" / "trial_metadata.txt"

    def asv_paths(self) -> tuple[Path, Path] | None:
        if not self.use_asv_scores:
            return None
        asv_dir = self.keys_dir() / "ASV"
        for folder in ASV2021_SCORE_DIRS:
            score = asv_dir / folder / "score.txt"
            if (asv_dir / "trial_metadata.txt").is_file() and score.is_file():
                return asv_dir / "trial_metadata.txt", score
        return None

    def audio_dir(self) -> Path:
        return self.root / f"ASVspoof2021_{self.track}_eval" / "flac"

    def protocol_files(self) -> list[Path]:
        files = [self.key_path()]
        asv = self.asv_paths()
        if asv is not None:
            files += list(asv)
        try:
            files += [self.la2019.protocol_path(s) for s in ("train", "dev")]
        except DataError:
            pass  # an eval-only copy still gets a fingerprint of what it has
        return files

    def _parse_split(self, split: str) -> SplitData:
        if split in ("train", "dev"):
            data = self.la2019.load_split(split)
            return SplitData(split, data.utterances, asv_scores=data.asv_scores, source=data.source)
        key = self.key_path()
        utterances = parse_2021_key(key, self.track, self.audio_dir(), self.root, self.subset)
        asv_paths = self.asv_paths()
        asv = parse_2021_asv(*asv_paths, self.subset) if asv_paths is not None else None
        return SplitData(split, utterances, asv_scores=asv, source=f"{key} (subset {self.subset})")

    def collect_problems(self, problems: DataProblems, check_audio: bool) -> None:
        if check_audio and not self.audio_dir().is_dir():
            problems.add("audio folder missing", f"{self.name} eval audio folder not found: {self.audio_dir()}")
            check_audio = False
        super().collect_problems(problems, check_audio)


# --------------------------------------------------------------------------- ASVspoof 5

# the challenge-phase lists (Baseline-AASIST/data_utils.py) and the public
# release's protocol files (database README), per split
ASV5_LISTS = {
    "train": ("ASVspoof5.train.metainfor.txt", "ASVspoof5.train.tsv"),
    "dev": ("ASVspoof5.dev.metainfor.txt", "ASVspoof5.dev.track_1.tsv"),
    "eval": ("ASVspoof5.eval.track_1.tsv",),
}
ASV5_PROTOCOL_DIRS = ("", "ASVspoof5_protocols")
ASV5_AUDIO = {"train": "flac_T", "dev": "flac_D"}
ASV5_OPTIONS = ("eval_key",)
# header names of the evaluation package's tab-separated keys, and the names
# its util.py maps them to
ASV5_HEADER_ALIASES = {"filename": "filename", "trial_anon": "filename", "cm-label": "cm_label",
                       "cm_label": "cm_label", "spk": "speaker", "speaker": "speaker", "attack": "attack",
                       "attack_anon": "attack", "codec": "codec"}


def _asv5_codec(value: str) -> str:
    return "none" if value == "-" else value


@gc_paused()
def parse_asvspoof5_list(path: Path, audio_dirs: Sequence[Path], root: Path,
                         locate: Mapping[str, Path] | None = None) -> list[Utterance]:
    """One ASVspoof 5 list, whichever of its three published forms it has:

    - 6 space-separated columns (challenge ``*.metainfor.txt``): the
      organisers' baseline reads column 2 as the utterance id, column 5 as the
      attack ("src") and column 6 as the label; columns 3-4 are not documented
      by the organisers, so no breakdown column is taken from them;
    - 10 space-separated columns (public release ``*.tsv``): ``SPEAKER FILE
      GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY TMP``;
    - a tab-separated key with a header naming ``filename`` and ``cm-label``
      (evaluation package), optionally ``spk``, ``attack``/``attack_anon``, ``codec``.
    """
    require_file(path, "ASVspoof 5 list")
    first = _first_line(path)
    header_names = {name.strip() for name in first.split("\t")} if "\t" in first else set()
    if header_names & {"filename", "trial_anon"}:
        return _parse_asv5_header_key(path, audio_dirs[0], root, locate)
    audio_path = path_joiner(audio_dirs[0])
    utterances: list[Utterance] = []
    line_numbers: list[int] = []
    for number, fields in protocol_lines(path, columns=(6, 10)):
        if len(fields) == 6:
            speaker, utt_id, _third, _fourth, attack, key = fields
            conditions: dict[str, str] = {}
        else:
            speaker, utt_id, _gender, codec, _q, _seed, _tag, attack, key, _tmp = fields
            conditions = {"codec": _asv5_codec(codec)}
        _check_label(key, path, number, fields, column=len(fields) if len(fields) == 6 else 9)
        if key == BONAFIDE:
            attack = NO_ATTACK
        if not is_bare_name(utt_id):
            check_file_name(utt_id, f"{path}:{number}", root)
        audio = locate.get(utt_id) if locate else None
        utterances.append(Utterance(utt_id, audio or audio_path(utt_id + ".flac"), key, speaker,
                                    attack, conditions))
        line_numbers.append(number)
    return checked_index(utterances, line_numbers, path, "the list holds no utterances")


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return line.rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}:1: not UTF-8 text ({err.reason}); expected a plain-text list") from None
    return ""


def _check_label(key: str, path: Path, number: int, fields: Sequence[str], column: int) -> None:
    if key != BONAFIDE and key != SPOOF:
        raise DataError(f"{path}:{number}: unknown label {key!r} in column {column}; expected bonafide or spoof "
                        f"(line: {' '.join(fields)!r})")


def _parse_asv5_header_key(path: Path, audio_dir: Path, root: Path,
                           locate: Mapping[str, Path] | None) -> list[Utterance]:
    header = [ASV5_HEADER_ALIASES.get(name.strip(), name.strip()) for name in _first_line(path).split("\t")]
    if "filename" not in header or "cm_label" not in header:
        raise DataError(f"{path}:1: header {header!r}; expected tab-separated columns including filename and "
                        f"cm-label")
    index = {name: i for i, name in enumerate(header)}
    audio_path = path_joiner(audio_dir)
    utterances: list[Utterance] = []
    line_numbers: list[int] = []
    for number, raw in protocol_lines(path, columns=len(header), sep="\t", skip_header=True):
        fields = [f.strip() for f in raw]
        utt_id, key = fields[index["filename"]], fields[index["cm_label"]]
        _check_label(key, path, number, fields, column=index["cm_label"] + 1)
        if not is_bare_name(utt_id):
            check_file_name(utt_id, f"{path}:{number}", root)
        attack = fields[index["attack"]] if "attack" in index else "unknown"
        conditions = {"codec": _asv5_codec(fields[index["codec"]])} if "codec" in index else {}
        audio = locate.get(utt_id) if locate else None
        utterances.append(Utterance(utt_id, audio or audio_path(utt_id + ".flac"), key,
                                    fields[index["speaker"]] if "speaker" in index else None,
                                    NO_ATTACK if key == BONAFIDE else attack, conditions))
        line_numbers.append(number)
    return checked_index(utterances, line_numbers, path, "the key holds no trials")


class ASVspoof5(SpoofDataset):
    """ASVspoof 5 track 1 (stand-alone countermeasure; no t-DCF here).

    Train/dev lists are the challenge ``ASVspoof5.{train,dev}.metainfor.txt``
    or the release ``ASVspoof5.train.tsv`` / ``ASVspoof5.dev.track_1.tsv``
    (in ``root`` or ``root/ASVspoof5_protocols``); eval is
    ``ASVspoof5.eval.track_1.tsv`` or the key named by option ``eval_key``.
    Eval audio may be spread over several ``flac_E_*`` folders."""

    task = Task.SPOOF
    sample_rate = 16000

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, name: str = "asvspoof5"):
        options = dict(options or {})
        known_options(options, ASV5_OPTIONS, name)
        super().__init__(require_dir(Path(root), f"{name} data root"), options)
        self.name = name

    def split_names(self) -> list[str]:
        return ["train", "dev", "eval"]

    def condition_columns(self) -> tuple[str, ...]:
        # a bare two-column eval key carries no codec column
        utterances = self.load_split("eval").utterances
        return tuple(utterances[0].conditions) if utterances else ()

    def list_path(self, split: str) -> Path:
        if split == "eval" and self.options.get("eval_key"):
            key = str(self.options["eval_key"])
            path = Path(key) if os.path.isabs(key) else resolve_under(self.root, key, where="option eval_key")
            return require_file(path, f"{self.name} eval key (option eval_key)")
        candidates = [self.root / folder / name if folder else self.root / name
                      for name in ASV5_LISTS[split] for folder in ASV5_PROTOCOL_DIRS]
        for path in candidates:
            if path.is_file():
                return path
        hint = " (or set option eval_key to the CM key file)" if split == "eval" else ""
        raise DataError(f"{self.name} {split} list not found: expected one of "
                        f"{', '.join(str(p) for p in candidates)}{hint}")

    def eval_audio_dirs(self) -> list[Path]:
        found = sorted(p for p in self.root.glob("flac_E*") if p.is_dir())
        return found or [self.root / "flac_E_eval"]

    def audio_dirs(self, split: str) -> list[Path]:
        return self.eval_audio_dirs() if split == "eval" else [self.root / ASV5_AUDIO[split]]

    def protocol_files(self) -> list[Path]:
        files = []
        for split in self.split_names():
            try:
                files.append(self.list_path(split))
            except DataError:
                pass
        return files

    def _parse_split(self, split: str) -> SplitData:
        path = self.list_path(split)
        folders = self.audio_dirs(split)
        locate = _index_audio(folders) if len(folders) > 1 else None
        return SplitData(split, parse_asvspoof5_list(path, folders, self.root, locate), source=str(path))

    def collect_problems(self, problems: DataProblems, check_audio: bool) -> None:
        if check_audio:
            missing = [(split, folder) for split in self.split_names() for folder in self.audio_dirs(split)
                       if not folder.is_dir()]
            for split, folder in missing:
                problems.add("audio folder missing", f"{self.name} {split} audio folder not found: {folder}")
            if missing:
                check_audio = False
        super().collect_problems(problems, check_audio)


def _index_audio(folders: Sequence[Path]) -> dict[str, Path]:
    """Utterance id -> file over several folders (eval audio unpacked one tar
    per folder).  One directory listing each, no per-file stat."""
    located: dict[str, Path] = {}
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        join = path_joiner(folder)
        for name in names:
            if name.endswith(".flac"):
                located.setdefault(name[:-5], join(name))
    return located


# --------------------------------------------------------------------------- registration


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="asvspoof2019-la", task=Task.SPOOF,
        open=lambda root, options: ASVspoof2019LA(require_data_root(root, "asvspoof2019-la"), options),
        description="ASVspoof 2019 logical access (LA.zip layout; legacy t-DCF with the organisers' ASV scores)",
    ))
    for track, breakdown in (("LA", "revised t-DCF; breakdown by codec and transmission"),
                             ("DF", "EER only; breakdown by codec, vocoder and source corpus")):
        name = f"asvspoof2021-{track.lower()}"
        register(DatasetSpec(
            name=name, task=Task.SPOOF,
            open=lambda root, options, _track=track, _name=name: ASVspoof2021(
                require_data_root(root, _name), options, _track, _name),
            description=f"ASVspoof 2021 {track} eval (train/dev = 2019 LA; full keys; subset "
                        f"eval|progress|hidden|all; {breakdown})",
        ))
    register(DatasetSpec(
        name="asvspoof5", task=Task.SPOOF,
        open=lambda root, options: ASVspoof5(require_data_root(root, "asvspoof5"), options),
        description="ASVspoof 5 track 1 (flac_T / flac_D / flac_E_*; challenge or release protocol files)",
    ))


# --------------------------------------------------------------------------- official baselines

_UNCONFIRMED = " (unconfirmed: secondary source, not checked against the organisers' own release)"
_SOURCE_2021 = "Yamagishi et al., ASVspoof 2021 challenge summary (2021); Liu et al., arXiv 2210.02437 (2023)"
_SOURCE_2021_B02 = ("asvspoof-challenge/2021:eval-package/ASVspoof2021_eval_notebook.ipynb (pooled result on the "
                    "B02 scores shipped with the keys)")
_SOURCE_2021_B04_LA = "asvspoof-challenge/2021 issue #4 (baseline author)"
_SOURCE_2019 = "Todisco et al., ASVspoof 2019: future horizons in spoofed and fake audio detection, Interspeech 2019"

# (system, model, LA EER, LA min t-DCF (revised), DF EER, which of the three the primary source confirms)
_BASELINES_2021 = (
    ("B01 CQCC-GMM", "cqcc-gmm", 0.1562, 0.4974, 0.2556, ()),
    ("B02 LFCC-GMM", "lfcc-gmm", 0.1930, 0.5758, 0.2525, ("la_eer", "la_tdcf", "df_eer")),
    ("B03 LFCC-LCNN", "lfcc-lcnn", 0.0926, 0.3445, 0.2348, ()),
    ("B04 RawNet2", "rawnet2", 0.0950, 0.4257, 0.2238, ("la_eer",)),
)
# (system, model, EER, min t-DCF (legacy))
_BASELINES_2019 = (
    ("B01 CQCC-GMM", "cqcc-gmm", 0.0957, 0.2366),
    ("B02 LFCC-GMM", "lfcc-gmm", 0.0809, 0.2116),
)


def official_baselines() -> list[Baseline]:
    """The challenges' own baseline results (rates as fractions)."""
    out: list[Baseline] = []
    subset = {"subset": "eval", "training": "2019 LA train"}
    for system, model, la_eer, la_tdcf, df_eer, confirmed in _BASELINES_2021:
        def source(cell: str, primary: str = "") -> str:
            if cell in confirmed:
                return primary or _SOURCE_2021_B02
            return _SOURCE_2021 + _UNCONFIRMED

        la_eer_source = _SOURCE_2021_B04_LA if model == "rawnet2" and "la_eer" in confirmed else source("la_eer")
        out += [
            Baseline(system, "asvspoof2021-la", "eval", "eer", la_eer, la_eer_source, 2021, model,
                     conditions=subset, kind="official"),
            Baseline(system, "asvspoof2021-la", "eval", "min_tdcf_revised", la_tdcf, source("la_tdcf"), 2021, model,
                     formulation="revised", conditions=subset, kind="official"),
            Baseline(system, "asvspoof2021-df", "eval", "eer", df_eer, source("df_eer"), 2021, model,
                     conditions=subset, kind="official"),
        ]
    for system, model, eer, tdcf in _BASELINES_2019:
        source_2019 = _SOURCE_2019 + " (unconfirmed: one third-party table swaps the B01 and B02 rows)"
        out += [
            Baseline(system, "asvspoof2019-la", "eval", "eer", eer, source_2019, 2019, model, kind="official"),
            Baseline(system, "asvspoof2019-la", "eval", "min_tdcf_legacy", tdcf, source_2019, 2019, model,
                     formulation="legacy", kind="official"),
        ]
    return out


@hookimpl
def benchsuite_register_baselines(register: Any) -> None:
    for baseline in official_baselines():
        register(baseline)
