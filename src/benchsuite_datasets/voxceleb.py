"""VoxCeleb1 speaker verification (``voxceleb1``) read from the distributor's
layout: ``ROOT/wav/idXXXXX/VIDEO/NNNNN.wav`` (the dev and test zips extracted
into the same ``wav/``; ``ROOT/{dev,test}/wav`` is read too) and the trial
lists ``veri_test2.txt`` (O, cleaned), ``list_test_all2.txt`` (E) and
``list_test_hard2.txt`` (H) in ``ROOT`` or ``ROOT/meta``, lines ``LABEL ENROL
TEST``.

Training is on the VoxCeleb1 dev speakers (every speaker of ``wav/`` not in
the chosen trial list) or, with option ``train_root``, on a VoxCeleb2 dev copy
(``dev/aac/idXXXXX/VIDEO/NNNNN.{wav,flac}``).  The E and H lists draw on the
VoxCeleb1 dev speakers, so training there while reporting E/H is refused.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from benchsuite.api import ConfigError, DataError, DatasetSpec, SplitData, Task, Trial, Utterance, hookimpl

from ._toolkit import (
    MAX_LISTED, check_relative, gc_paused, known_options, protocol_lines, require_data_root, require_file,
)
from ._speakers import PathMaker, SpeakerCorpus, generate_trials, hold_out_speakers, int_option, may_escape, option_path

TRIAL_LISTS = {
    "O": "veri_test2.txt", "E": "list_test_all2.txt", "H": "list_test_hard2.txt",
    "O-original": "veri_test.txt", "E-original": "list_test_all.txt", "H-original": "list_test_hard.txt",
}
# line counts of the published lists (PaddleSpeech examples/voxceleb/README.md), so the
# source names which list was read: cleaned and original lists are easy to confuse
KNOWN_LIST_SIZES = {
    37611: "VoxCeleb1-O cleaned", 37720: "VoxCeleb1-O original (uncleaned)",
    579818: "VoxCeleb1-E cleaned", 581480: "VoxCeleb1-E original (uncleaned)",
    550894: "VoxCeleb1-H cleaned", 552536: "VoxCeleb1-H original (uncleaned)",
}
DEV_SPEAKER_LISTS = {"list_test_all2.txt", "list_test_hard2.txt", "list_test_all.txt", "list_test_hard.txt"}
DECODABLE = (".wav", ".flac")
OPTIONS = ("trials", "train_root", "channel", "dev_speakers", "dev_trials", "seed")
FFMPEG_HINT = ("convert them to 16 kHz mono WAV or FLAC first, keeping the idXXXXX/VIDEO/NNNNN layout, e.g. "
               "'ffmpeg -i NNNNN.m4a -ac 1 -ar 16000 NNNNN.wav' (as WeSpeaker's and other VoxCeleb2 recipes do)")


def scan_speaker_tree(folder: Path, *, skip: set[str] = frozenset()) -> tuple[list[Utterance], list[Path]]:
    """``speaker/video/file`` audio under ``folder`` (ids ``spk/video/file``),
    sorted, plus the files soundfile cannot decode (.m4a)."""
    utterances: list[Utterance] = []
    undecodable: list[Path] = []
    for speaker in sorted(os.listdir(folder)):
        if speaker in skip or speaker.startswith("."):
            continue
        speaker_dir = folder / speaker
        if not speaker_dir.is_dir():
            continue
        for video in sorted(os.listdir(speaker_dir)):
            video_dir = speaker_dir / video
            if not video_dir.is_dir():
                continue
            names = sorted(os.listdir(video_dir))
            stems = {os.path.splitext(n)[0] for n in names if n.endswith(DECODABLE)}
            for name in names:
                if name.endswith(DECODABLE):
                    utterances.append(Utterance(f"{speaker}/{video}/{name}", video_dir / name, speaker, speaker))
                elif name.endswith(".m4a") and os.path.splitext(name)[0] not in stems:
                    undecodable.append(video_dir / name)
    return utterances, undecodable


class VoxCeleb1(SpeakerCorpus):
    """VoxCeleb1 verification with the O/E/H trial lists (see the module doc).

    Options: ``trials`` O (default), E, H, O-original, E-original,
    H-original or a file name in the root; ``train_root`` (VoxCeleb2 dev
    copy); ``channel``; ``dev_speakers`` N (hold out N training speakers as a
    dev split with ``dev_trials`` generated trials, seeded by ``seed``)."""

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, name: str = "voxceleb1"):
        options = dict(options or {})
        known_options(options, OPTIONS, name)
        super().__init__(Path(root), options, name=name, task=Task.VERIFY)
        choice = str(self.options.get("trials", "O"))
        self.trial_name = TRIAL_LISTS.get(choice, choice)
        self.trial_path = self._find_trial_list(self.trial_name)
        self.audio_dirs = [d for d in (self.root / "wav", self.root / "dev" / "wav", self.root / "test" / "wav")
                           if d.is_dir()]
        if not self.audio_dirs:
            raise DataError(f"VoxCeleb1 audio not found under {self.root}: expected {self.root / 'wav'} "
                            f"(idXXXXX/VIDEO/NNNNN.wav, the dev and test zips extracted together)")
        self.train_root = (option_path(self.root, self.options["train_root"], dataset=name, key="train_root")
                           if "train_root" in self.options else None)
        if self.train_root is None and self.trial_path.name in DEV_SPEAKER_LISTS:
            raise ConfigError(
                f"dataset {name!r}: the {choice} trial list ({self.trial_path.name}) draws on the VoxCeleb1 dev "
                f"speakers, so training on VoxCeleb1 dev would test on training speakers; set option train_root to "
                f"a VoxCeleb2 dev copy (as the published E/H results do) or use trials O"
            )
        self.dev_speakers = int_option(self.options, "dev_speakers", 0, name)
        self.dev_trials = int_option(self.options, "dev_trials", 2000, name, minimum=2)
        self.seed = int_option(self.options, "seed", 0, name)
        self._speaker_dirs: dict[str, Path] | None = None
        self._path_makers: dict[Path, PathMaker] = {}

    def _find_trial_list(self, name: str) -> Path:
        check_relative(name, f"dataset {self.name!r} option trials", self.root)
        candidates = [self.root / name, self.root / "meta" / name]
        for path in candidates:
            if path.is_file():
                return path
        raise DataError(f"VoxCeleb1 trial list {name} not found: looked for {candidates[0]} and {candidates[1]} "
                        f"(download it from the VoxCeleb site's meta/ folder)")

    def split_names(self) -> list[str]:
        return ["train"] + (["dev"] if self.dev_speakers else []) + ["eval"]

    def protocol_files(self) -> list[Path]:
        return [self.trial_path]

    def speaker_dirs(self) -> dict[str, Path]:
        """Speaker id -> the audio folder holding it (first of wav/, dev/wav, test/wav)."""
        if self._speaker_dirs is None:
            found: dict[str, Path] = {}
            for folder in self.audio_dirs:
                for speaker in os.listdir(folder):
                    found.setdefault(speaker, folder)
            self._speaker_dirs = found
        return self._speaker_dirs

    # ---------------------------------------------------------------- eval

    @gc_paused()
    def _eval_split(self) -> SplitData:
        path = self.trial_path
        trials: list[Trial] = []
        utterances: dict[str, Utterance] = {}
        speaker_dirs = self.speaker_dirs()
        for number, (label, enrol, test) in protocol_lines(require_file(path, "VoxCeleb trial list"), columns=3):
            where = f"{path}:{number}"
            if label not in ("0", "1"):
                raise DataError(f"{where}: label {label!r}; expected 1 (same speaker) or 0 in the first column "
                                f"('LABEL ENROL TEST'): {' '.join((label, enrol, test))!r}")
            for name in (enrol, test):
                if name not in utterances:
                    utterances[name] = self._trial_utterance(name, where, speaker_dirs)
            trials.append(Trial(enrol, test, label == "1"))
        if not trials:
            raise DataError(f"{path}: the trial list holds no trials")
        described = KNOWN_LIST_SIZES.get(len(trials), "not a published list size")
        source = f"{path.name} ({len(trials):,} lines, {described})"
        if "original" in described and path.name.endswith("2.txt"):
            source += "; note: that is the line count of the original (uncleaned) list"
        return SplitData("eval", sorted(utterances.values(), key=lambda u: u.utt_id), trials=trials, source=source)

    def _trial_utterance(self, name: str, where: str, speaker_dirs: Mapping[str, Path]) -> Utterance:
        if may_escape(name):
            check_relative(name, where, self.root)
        parts = name.split("/")
        if len(parts) != 3 or not parts[2].endswith(DECODABLE):
            raise DataError(f"{where}: {name!r} is not a VoxCeleb utterance name; expected idXXXXX/VIDEO/NNNNN.wav")
        speaker = parts[0]
        folder = speaker_dirs.get(speaker, self.audio_dirs[0])
        if folder not in self._path_makers:
            self._path_makers[folder] = PathMaker(folder)
        return Utterance(name, self._path_makers[folder](name), speaker, speaker)

    def test_speakers(self) -> set[str]:
        return {u.speaker for u in self.load_split("eval").utterances if u.speaker}

    # ---------------------------------------------------------------- train

    def _train_all(self) -> tuple[list[Utterance], str]:
        if "_train_cache" in self.__dict__:
            return self._train_cache
        test_speakers = self.test_speakers()
        if self.train_root is None:
            utterances: list[Utterance] = []
            seen: set[str] = set()
            for folder in self.audio_dirs:
                found, undecodable = scan_speaker_tree(folder, skip=test_speakers | seen)
                self._refuse_undecodable(undecodable, folder)
                utterances.extend(found)
                seen |= {u.speaker for u in found if u.speaker}
            source = f"VoxCeleb1 dev speakers under {self.root} (speakers of {self.trial_path.name} excluded)"
        else:
            folder = self._vox2_audio_dir(self.train_root)
            utterances, undecodable = scan_speaker_tree(folder)
            self._refuse_undecodable(undecodable, folder)
            shared = sorted({u.speaker for u in utterances if u.speaker} & test_speakers)
            if shared:
                raise DataError(f"{folder}: {len(shared)} training speaker(s) also appear in {self.trial_path.name}: "
                                f"{', '.join(shared[:MAX_LISTED])}; expected a VoxCeleb2 dev copy")
            source = f"VoxCeleb2 dev at {folder}"
        if not utterances:
            raise DataError(f"dataset {self.name!r}: no training audio found ({source})")
        self._train_cache = (utterances, source)
        return self._train_cache

    @staticmethod
    def _vox2_audio_dir(train_root: Path) -> Path:
        for candidate in (train_root / "dev" / "aac", train_root / "dev" / "wav", train_root / "aac",
                          train_root / "wav"):
            if candidate.is_dir():
                return candidate
        raise DataError(f"VoxCeleb2 dev not found under {train_root}: expected dev/aac/idXXXXX/VIDEO/NNNNN.wav "
                        f"(or dev/wav/, aac/, wav/)")

    @staticmethod
    def _refuse_undecodable(undecodable: list[Path], folder: Path) -> None:
        if undecodable:
            shown = "\n  ".join(str(p) for p in undecodable[:MAX_LISTED])
            raise DataError(f"{folder}: {len(undecodable)} AAC (.m4a) files, which soundfile cannot decode; "
                            f"{FFMPEG_HINT}:\n  {shown}")

    def _parse_split(self, split: str) -> SplitData:
        if split == "eval":
            return self._eval_split()
        utterances, source = self._train_all()
        if self.dev_speakers:
            kept, held = hold_out_speakers(utterances, self.dev_speakers, self.seed)
            if split == "dev":
                trials = generate_trials(held, self.dev_trials, self.seed)
                used = {t.enrol for t in trials} | {t.test for t in trials}
                return SplitData("dev", [u for u in held if u.utt_id in used], trials=trials,
                                 source=f"{self.dev_speakers} speakers held out of the training data (seed "
                                        f"{self.seed}), {len(trials)} generated trials")
            utterances = kept
            source += f", {self.dev_speakers} speakers held out for dev"
        return SplitData("train", utterances, source=source)


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="voxceleb1", task=Task.VERIFY,
        open=lambda root, options: VoxCeleb1(require_data_root(root, "voxceleb1"), options), splits=("train", "eval"),
        description=("VoxCeleb1 verification: ROOT/wav/idXXXXX/VIDEO/NNNNN.wav and the O/E/H trial lists "
                     "(veri_test2.txt, list_test_all2.txt, list_test_hard2.txt; 'LABEL ENROL TEST'). Options: "
                     "trials O|E|H|O-original|E-original|H-original|FILE (default O, cleaned); train_root (VoxCeleb2 "
                     "dev copy, dev/aac/... as wav/flac; required for E/H); channel; dev_speakers N + dev_trials + "
                     "seed (held-out dev speakers for model selection)."),
    ))
