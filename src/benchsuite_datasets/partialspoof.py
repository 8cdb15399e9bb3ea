"""PartialSpoof (Zhang et al., Interspeech 2021; IEEE/ACM TASLP 31:813-825, 2023), read from a
user's copy in the layout of its Zenodo release (record 5766198, v1.2), whose archives unpack
into one ``database/`` folder (``nii-yamagishilab/PartialSpoof:01_download_database.sh``; the same
paths in ``zlin0/wedefense:egs/detection/partialspoof/v01_lcnnlstm/local/prepare_data.sh``):

- ``{train,dev,eval}/con_wav/*.wav``: 16 kHz audio; ``{split}/{split}.lst``: the utterance ids
  (``config_ps/config_test_on_eval.py``);
- ``protocols/PartialSpoof_LA_cm_protocols/PartialSpoof.LA.cm.{split}.trl.txt``: the utterance
  labels, ASVspoof 2019 columns ``SPEAKER UTT - SYSTEM KEY``.  Bona fide lines are the 2019 LA
  ones (``LA_0098 LA_T_9497115 - - bonafide``); every partially spoofed utterance reads
  ``SPEAKER CON_T_0000029 - CON spoof`` (``zlin0/partialspoof-audio:egs/toy_example/00_run.sh``
  stage 99 writes them; ``metric/cal_EER.sh`` reads column 2 and 5);
- ``protocols/PartialSpoof_LA_asv_scores/``: ASV scores, **not read**: ``metric/UtteranceEER.py``
  takes spoof ASV trials from lines whose key is ``nontarget`` and whose first column is ``spoof``,
  which the 2019 three-column reader would count as nontarget trials, and the authors advise against
  the t-DCF for PartialSpoof (``metric/README.md``).  The metric here is the utterance EER;
- ``segment_labels/{split}_seglab_{0.01,0.02,...,0.64}.npy``: ``np.save`` of a dict, utterance
  id -> array of ``'0'``/``'1'`` strings, one per segment of that many seconds, ``'1'`` = bona fide,
  ``'0'`` = the segment holds a spoofed sample (``03multireso/model.py::protocol_parse_con`` and
  ``_get_con_target``: an utterance with a ``'0'`` is spoof; ``zlin0/partialspoof-audio:local/
  seglab_extraction_spfin.py`` counts ceil(duration / resolution) segments, the last one partial).

Training and scoring use the utterance labels of the protocols; :meth:`PartialSpoof.segment_labels`
gives the segment labels of a split for localisation work, and ``validate`` checks them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from benchsuite.api import BONAFIDE, DataError, DatasetSpec, SplitData, Task, hookimpl

from ._toolkit import SpoofDataset, check_unique, known_options, protocol_lines, require_data_root, require_dir
from .asvspoof import parse_cm_protocol

NAME = "partialspoof"
SPLITS = ("train", "dev", "eval")
PROTOCOL_DIR = Path("protocols") / "PartialSpoof_LA_cm_protocols"
SEGMENT_DIR = "segment_labels"
# the release's resolutions in seconds (TASLP 2023: 20 ms to 640 ms, and the 10 ms of v1.2)
SEGMENT_RESOLUTIONS = ("0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64")
_SEGLAB_NAME = re.compile(r"^(train|dev|eval)_seglab_(\d+\.\d+)\.npy$")


def find_database_folder(root: Path) -> Path:
    """The ``database/`` folder: ``root`` itself or ``root/database``."""
    root = Path(root)
    for candidate in (root, root / "database"):
        if (candidate / PROTOCOL_DIR).is_dir():
            return candidate
    raise DataError(f"PartialSpoof not found under {root}: expected {root / PROTOCOL_DIR} or "
                    f"{root / 'database' / PROTOCOL_DIR} (the database/ folder of the Zenodo archives, or its parent)")


def read_segment_labels(path: Path) -> dict[str, Any]:
    """One ``{split}_seglab_{resolution}.npy``: utterance id -> int8 array (1 bona fide, 0 spoof)."""
    import pickle

    import numpy as np

    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
        if magic != b"\x93NUMPY":  # np.load would try anything else as a bare pickle
            raise ValueError("not a .npy file")
        # the release stores a pickled dict (np.save of a Python dict), so pickle must be allowed:
        # read only segment-label files of a copy you trust
        loaded = np.load(path, allow_pickle=True)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise DataError(f"{path}: cannot read segment labels ({err}); expected the release's .npy file") from None
    if not (isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.shape == ()
            and isinstance(loaded.item(), dict)):
        raise DataError(f"{path}: holds {type(loaded).__name__} {getattr(loaded, 'shape', '')}; expected a saved "
                        "dict of utterance id -> segment labels")
    labels: dict[str, Any] = {}
    for utt_id, raw in loaded.item().items():
        values = np.asarray(raw).reshape(-1)
        if values.dtype.kind in "US":
            bad = sorted({str(v) for v in values.tolist()} - {"0", "1"})
            ints = (values == values.dtype.type("1")).astype(np.int8)
        elif values.dtype.kind in "iub":
            bad = sorted({int(v) for v in values.tolist()} - {0, 1})
            ints = values.astype(np.int8)
        else:
            bad = [f"values of type {values.dtype}"]
            ints = None
        if bad or ints is None or not len(values):
            shown = ", ".join(map(repr, bad[:5])) if bad else "no segments"
            raise DataError(f"{path}: utterance {utt_id!r} has {shown}; expected one '1' (bona fide) or '0' (spoof) "
                            "per segment")
        labels[str(utt_id)] = ints
    if not labels:
        raise DataError(f"{path}: no utterances; expected segment labels for every utterance of the split")
    return labels


class PartialSpoof(SpoofDataset):
    """PartialSpoof v1.2: train/dev/eval utterances labelled by the CM protocols.

    ``root`` is the ``database/`` folder or its parent; no options.  Every spoofed utterance is
    partially spoofed (attack ``CON``)."""

    task = Task.SPOOF
    sample_rate = 16000

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, name: str = NAME):
        options = dict(options or {})
        known_options(options, (), name)
        super().__init__(find_database_folder(Path(root)), options)
        self.name = name

    def split_names(self) -> list[str]:
        return list(SPLITS)

    def protocol_path(self, split: str) -> Path:
        return self.root / PROTOCOL_DIR / f"PartialSpoof.LA.cm.{split}.trl.txt"

    def audio_dir(self, split: str) -> Path:
        return self.root / split / "con_wav"

    def list_path(self, split: str) -> Path:
        return self.root / split / f"{split}.lst"

    def protocol_files(self) -> list[Path]:
        return [self.protocol_path(split) for split in SPLITS]

    def _parse_split(self, split: str) -> SplitData:
        protocol = self.protocol_path(split)
        utterances = parse_cm_protocol(protocol, self.audio_dir(split), self.root, extension=".wav")
        if self.list_path(split).is_file():
            _check_list_matches(self.list_path(split), protocol, [u.utt_id for u in utterances])
        return SplitData(split, utterances, source=str(protocol))

    # ------------------------------------------------------------------ segment labels

    def segment_label_paths(self, split: str) -> dict[str, Path]:
        """Resolution (as the file name spells it, e.g. ``"0.02"``) -> file, for the files present."""
        folder = self.root / SEGMENT_DIR
        found: dict[str, Path] = {}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                match = _SEGLAB_NAME.match(path.name)
                if match and match.group(1) == split and match.group(2) in SEGMENT_RESOLUTIONS:
                    found[match.group(2)] = path
        return found

    def segment_labels(self, split: str, resolution: str | float = "0.02") -> dict[str, Any]:
        """Segment labels of ``split`` at ``resolution`` seconds: utterance id -> int8 array, 1 where
        the segment is bona fide, 0 where it holds spoofed speech."""
        if split not in SPLITS:
            raise DataError(f"dataset {self.name!r} has no split {split!r}; splits: {', '.join(SPLITS)}")
        key = _resolution_key(resolution)
        paths = self.segment_label_paths(split)
        if key not in paths:
            present = ", ".join(paths) or "none"
            raise DataError(f"{self.name} {split}: no segment labels at {key} s "
                            f"({self.root / SEGMENT_DIR / f'{split}_seglab_{key}.npy'} not found; present: {present})")
        return read_segment_labels(paths[key])

    def segment_label_summary(self, split: str, resolution: str) -> dict[str, int]:
        """How the segment labels of one file relate to the protocol: utterances covered, and
        those whose segment labels disagree with the utterance label (a protocol bona fide
        utterance with a spoofed segment, or a spoof one with none)."""
        labels = self.segment_labels(split, resolution)
        utterances = self.load_split(split).utterances
        missing = [u.utt_id for u in utterances if u.utt_id not in labels]
        if missing:
            shown = ", ".join(missing[:10])
            raise DataError(f"{self.segment_label_paths(split)[resolution]}: no segment labels for {len(missing)} of "
                            f"the {len(utterances)} utterances of {self.protocol_path(split)}: {shown}")
        disagree = sum(1 for u in utterances if (u.label == BONAFIDE) != bool(labels[u.utt_id].all()))
        return {"utterances": len(utterances), "label_disagreements": disagree,
                "segments": int(sum(len(labels[u.utt_id]) for u in utterances))}

    def statistics(self, check_audio: bool = False) -> dict:
        out = super().statistics(check_audio)
        for split in SPLITS:
            summaries = {res: self.segment_label_summary(split, res) for res in self.segment_label_paths(split)}
            if summaries:
                out["splits"][split]["segment_labels"] = summaries
        return out

    def validate(self, check_audio: bool = True) -> None:
        if check_audio:
            for split in SPLITS:
                require_dir(self.audio_dir(split), f"{self.name} {split} audio folder")
        super().validate(check_audio)
        for split in SPLITS:
            for resolution in self.segment_label_paths(split):
                self.segment_label_summary(split, resolution)


def _resolution_key(resolution: str | float) -> str:
    text = resolution if isinstance(resolution, str) else f"{resolution:g}"
    if text not in SEGMENT_RESOLUTIONS:
        raise DataError(f"segment resolution {resolution!r}: expected one of {', '.join(SEGMENT_RESOLUTIONS)} seconds")
    return text


def _check_list_matches(list_path: Path, protocol: Path, protocol_ids: list[str]) -> None:
    """``{split}.lst`` names exactly the protocol's utterances (a mismatch means a mixed-up copy)."""
    known = set(protocol_ids)
    listed: list[str] = []
    lines: list[int] = []
    for number, (utt_id,) in protocol_lines(list_path, columns=1):
        if utt_id not in known:
            raise DataError(f"{list_path}:{number}: utterance {utt_id!r} is not in {protocol}; expected the list and "
                            "the protocol of a split to name the same utterances")
        listed.append(utt_id)
        lines.append(number)
    check_unique(listed, str(list_path), lines)
    if len(listed) != len(known):
        absent = [u for u in protocol_ids if u not in set(listed)]
        raise DataError(f"{list_path}: lacks {len(absent)} utterance(s) of {protocol}: {', '.join(absent[:10])}")


@hookimpl
def benchsuite_register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name=NAME, task=Task.SPOOF,
        open=lambda root, options: PartialSpoof(require_data_root(root, NAME), options),
        description="PartialSpoof v1.2 (database/ of the Zenodo release; utterance labels from the CM protocols, "
                    "segment labels at 10-640 ms checked when present)",
    ))
