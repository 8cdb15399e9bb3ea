"""Kaldi-style data directories: ``kaldi-dir`` (any verify or classify
corpus), ``himia`` (HI-MIA, OpenSLR 85, with ``{}`` channel trials) and
``ffsvc2022`` (the FFSVC 2022 baseline's data layout).

A data directory holds ``wav.scp`` (``<utt> <audio path>``), ``utt2spk``,
``spk2utt`` (optional; checked against utt2spk), ``utt2label`` (classify) and,
for the scored splits of a verify corpus, ``trials`` (``<enrol> <test>
target|nontarget``, ``1/0`` accepted, and the ``LABEL ENROL TEST`` order of
VoxCeleb and FFSVC).  An optional ``model2utt`` (``<model> <utt> <utt> ...``)
defines multi-utterance enrolment models that trials may name.

What the speaker readers share lives in :mod:`benchsuite_datasets._speakers`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from benchsuite.api import (
    Baseline, ConfigError, DataError, DatasetSpec, SplitData, Task, Utterance,
)
from benchsuite.api import hookimpl

from ._toolkit import (
    gc_paused, known_options, protocol_lines, require_data_root, require_file,
)

from ._speakers import (
    _listing, NO_SPEAKER, SpeakerCorpus, canonical_name, check_same_utterances, generate_trials, hold_out_speakers, int_option, option_path, parse_task, read_spk2utt, read_trial_lines, read_utt2x, read_wav_scp, resolve_trials,
)


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
