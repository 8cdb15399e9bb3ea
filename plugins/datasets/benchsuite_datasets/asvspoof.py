"""ASVspoof corpora read from a user's copy in the layout the organisers ship.

- ``asvspoof2019-la``: ``LA/ASVspoof2019_LA_{train,dev,eval}/flac/``, CM protocols
  ``SPEAKER UTT - SYSTEM KEY`` and the organisers' ASV scores for the t-DCF.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from benchsuite.api import BONAFIDE, SPOOF, AsvScores, DataError, ScoreFileError, SplitData, Task, Utterance

from .common import SpoofDataset, check_file_name, check_unique, known_options, protocol_lines, require_dir, require_file

SPOOF_LABELS = (BONAFIDE, SPOOF)

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


def parse_cm_protocol(path: Path, audio_dir: Path, root: Path, *, extension: str = ".flac") -> list[Utterance]:
    """An ASVspoof 2019 CM protocol, ``SPEAKER UTT - SYSTEM KEY`` per line.

    Bona fide lines carry SYSTEM ``-``, spoofed ones a system id (A01–A19); a
    line whose key and system disagree is refused because it means the
    columns are shifted or the file is not a CM protocol."""
    require_file(path, "CM protocol")
    utterances: list[Utterance] = []
    line_numbers: list[int] = []
    audio_prefix = str(audio_dir)
    for number, (speaker, utt_id, _unused, system, key) in protocol_lines(path, columns=5):
        where = f"{path}:{number}"
        if key != BONAFIDE and key != SPOOF:
            raise DataError(f"{where}: unknown label {key!r}; expected bonafide or spoof (line: "
                            f"{' '.join((speaker, utt_id, _unused, system, key))!r})")
        if (key == BONAFIDE) != (system == "-"):
            raise DataError(
                f"{where}: key {key!r} with system {system!r}; expected system '-' exactly for bonafide lines "
                f"(line: {' '.join((speaker, utt_id, _unused, system, key))!r})"
            )
        check_file_name(utt_id, where, root)
        # a plain string join: Path arithmetic per line would dominate the parse time
        utterances.append(Utterance(utt_id, Path(f"{audio_prefix}/{utt_id}{extension}"), key, speaker, system))
        line_numbers.append(number)
    if not utterances:
        raise DataError(f"{path}: the protocol holds no utterances")
    check_unique([u.utt_id for u in utterances], str(path), line_numbers)
    return utterances


def load_asv_scores(path: Path) -> AsvScores:
    from benchsuite.scorefiles import read_asv_scores

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
        self.use_asv_scores = bool(options.get("asv_scores", True))

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

    def validate(self, check_audio: bool = True) -> None:
        if check_audio:
            for split in self.split_names():
                require_dir(self.audio_dir(split), f"{self.name} {split} audio folder")
        super().validate(check_audio)


# --------------------------------------------------------------------------- registration

from benchsuite.api import DatasetSpec  # noqa: E402
from benchsuite.hookspecs import hookimpl  # noqa: E402


def _require_root(root: Path | None, name: str) -> Path:
    if root is None:
        raise DataError(f"dataset {name!r} needs --data-root pointing at your copy of the corpus")
    return Path(root)


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="asvspoof2019-la", task=Task.SPOOF,
        open=lambda root, options: ASVspoof2019LA(_require_root(root, "asvspoof2019-la"), options),
        description="ASVspoof 2019 logical access (LA.zip layout; legacy t-DCF with the organisers' ASV scores)",
    ))
