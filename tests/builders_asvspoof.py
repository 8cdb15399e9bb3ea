"""Fixture corpora in the organisers' exact layouts and line formats, tiny:
each utterance is 50 ms of deterministic noise written with soundfile.

The row tables are module constants so tests derive their expectations from
the same data the builders write."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile

SAMPLE_RATE = 16000
CLIP_SECONDS = 0.05


def write_audio(path: Path, *, seed: int = 0, seconds: float = CLIP_SECONDS, sample_rate: int = SAMPLE_RATE,
                channels: int = 1) -> Path:
    """A short noise clip; the format follows the extension (.flac/.wav)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = int(round(seconds * sample_rate))
    shape = (frames, channels) if channels > 1 else (frames,)
    soundfile.write(str(path), (0.1 * rng.standard_normal(shape)).astype(np.float32), sample_rate)
    return path


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- ASVspoof 2019 LA

LA2019_SPEAKERS = {"train": ("LA_0079", "LA_0080"), "dev": ("LA_0069", "LA_0070"), "eval": ("LA_0039", "LA_0040")}
LA2019_ATTACKS = {"train": [f"A{i:02d}" for i in range(1, 7)], "dev": [f"A{i:02d}" for i in range(1, 7)],
                  "eval": [f"A{i:02d}" for i in range(7, 20)]}
LA2019_BONAFIDE_PER_SPLIT = 2
LA2019_PREFIX = {"train": "LA_T", "dev": "LA_D", "eval": "LA_E"}
LA2019_PROTOCOL_NAMES = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
                         "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}
# ASV score lines per split: (target, nontarget, spoof) counts and their values
LA2019_ASV = {
    "dev": {"target": (7.5, 6.1, 8.2), "nontarget": (-3.1, -4.0), "spoof": (1.5, 0.5, -0.5, 2.5)},
    "eval": {"target": (9.0, 8.0), "nontarget": (-6.0, -5.5, -7.0), "spoof": (0.25, -1.0)},
}


def la2019_rows(split: str) -> list[tuple[str, str, str, str]]:
    """``(speaker, utt_id, system, key)`` of every protocol line of a split."""
    speakers = LA2019_SPEAKERS[split]
    rows: list[tuple[str, str, str, str]] = []
    number = 1000001 + {"train": 0, "dev": 100, "eval": 200}[split]
    for i in range(LA2019_BONAFIDE_PER_SPLIT):
        rows.append((speakers[i % 2], f"{LA2019_PREFIX[split]}_{number}", "-", "bonafide"))
        number += 1
    for i, attack in enumerate(LA2019_ATTACKS[split]):
        rows.append((speakers[i % 2], f"{LA2019_PREFIX[split]}_{number}", attack, "spoof"))
        number += 1
    return rows


def build_la2019(base: Path, *, inside_la: bool = True, asv_scores: bool = True, audio: bool = True) -> Path:
    """``LA.zip`` unpacked under ``base`` (as ``base/LA/...`` when ``inside_la``).
    Returns the ``LA`` folder."""
    la = base / "LA" if inside_la else base
    for split in ("train", "dev", "eval"):
        rows = la2019_rows(split)
        write_lines(la / "ASVspoof2019_LA_cm_protocols" / LA2019_PROTOCOL_NAMES[split],
                    (f"{spk} {utt} - {system} {key}" for spk, utt, system, key in rows))
        if audio:
            for seed, (_spk, utt, _system, _key) in enumerate(rows):
                write_audio(la / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac", seed=seed)
    if asv_scores:
        for split, by_key in LA2019_ASV.items():
            lines = []
            for key, values in by_key.items():
                for i, value in enumerate(values):
                    source = "bonafide" if key != "spoof" else LA2019_ATTACKS[split][i % len(LA2019_ATTACKS[split])]
                    lines.append(f"{source} {key} {value:.6f}")
            write_lines(la / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt", lines)
    return la


def reference_la2019_layout(reference: Path, base: Path) -> Path:
    """The official protocol and ASV score files from the flat reference folder,
    symlinked into the 2019 LA layout (no audio).  Returns the ``LA`` folder."""
    la = base / "LA"
    (la / "ASVspoof2019_LA_cm_protocols").mkdir(parents=True)
    (la / "ASVspoof2019_LA_asv_scores").mkdir(parents=True)
    source = reference / "asvspoof2019_la"
    for name in LA2019_PROTOCOL_NAMES.values():
        os.symlink(source / name, la / "ASVspoof2019_LA_cm_protocols" / name)
    for split in ("dev", "eval"):
        name = f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
        os.symlink(source / name, la / "ASVspoof2019_LA_asv_scores" / name)
    return la


# --------------------------------------------------------------------------- ASVspoof 2021 LA / DF

# LA CM key: spk trial codec trans attack key trim subset
LA2021_KEY_ROWS = (
    ("LA_0009", "LA_E_9332881", "alaw", "ita_tx", "A07", "spoof", "notrim", "eval"),
    ("LA_0009", "LA_E_9332882", "none", "loc_tx", "bonafide", "bonafide", "notrim", "eval"),
    ("LA_0010", "LA_E_9332883", "gsm", "sin_tx", "A19", "spoof", "notrim", "eval"),
    ("LA_0010", "LA_E_9332884", "opus", "mad_tx", "bonafide", "bonafide", "notrim", "eval"),
    ("LA_0011", "LA_E_9332885", "pstn", "ita_tx", "A16", "spoof", "notrim", "progress"),
    ("LA_0011", "LA_E_9332886", "g722", "loc_tx", "bonafide", "bonafide", "notrim", "progress"),
    ("LA_0012", "LA_E_9332887", "ulaw", "sin_tx", "A10", "spoof", "trim", "hidden"),
    ("LA_0012", "LA_E_9332888", "none", "loc_tx", "bonafide", "bonafide", "trim", "hidden"),
)
# LA ASV key (same 8 columns; key target|nontarget|spoof) and the organisers' scores, row-aligned
LA2021_ASV_ROWS = (
    ("LA_0009", "LA_E_5013670", "alaw", "ita_tx", "bonafide", "target", "notrim", "eval", 9.5),
    ("LA_0009", "LA_E_5013671", "alaw", "ita_tx", "bonafide", "target", "notrim", "eval", 7.25),
    ("LA_0010", "LA_E_5013672", "none", "loc_tx", "bonafide", "nontarget", "notrim", "eval", -9.836706),
    ("LA_0010", "LA_E_9332881", "alaw", "ita_tx", "A07", "spoof", "notrim", "eval", 1.5),
    ("LA_0011", "LA_E_5013673", "pstn", "ita_tx", "bonafide", "target", "notrim", "progress", 6.0),
    ("LA_0011", "LA_E_5013674", "pstn", "ita_tx", "bonafide", "nontarget", "notrim", "progress", -4.0),
    ("LA_0011", "LA_E_9332885", "pstn", "ita_tx", "A16", "spoof", "notrim", "progress", 0.5),
    ("LA_0012", "LA_E_5013675", "ulaw", "sin_tx", "bonafide", "target", "trim", "hidden", 5.0),
    ("LA_0012", "LA_E_5013676", "ulaw", "sin_tx", "bonafide", "nontarget", "trim", "hidden", -2.0),
    ("LA_0012", "LA_E_9332887", "ulaw", "sin_tx", "A10", "spoof", "trim", "hidden", 0.0),
)
# DF CM key: speaker trial compr source attack label trim subset vocoder task team gender-pair language
DF2021_KEY_ROWS = (
    ("LA_0023", "DF_E_2000011", "nocodec", "asvspoof", "A14", "spoof", "notrim", "progress",
     "traditional_vocoder", "-", "-", "-", "-"),
    ("LA_0023", "DF_E_2000012", "low_mp3", "asvspoof", "bonafide", "bonafide", "notrim", "eval",
     "bonafide", "-", "-", "-", "-"),
    ("TEF1", "DF_E_2000013", "high_m4a", "vcc2018", "Task1-team01", "spoof", "notrim", "eval",
     "neural_vocoder_autoregressive", "HUB", "T01", "F-F", "eng"),
    ("TEF2", "DF_E_2000014", "oggm4a", "vcc2020", "bonafide", "bonafide", "notrim", "eval",
     "bonafide", "-", "-", "-", "-"),
    ("LA_0024", "DF_E_2000015", "mp3m4a", "asvspoof", "A09", "spoof", "trim", "hidden",
     "unknown", "-", "-", "-", "-"),
)


def build_la2021(base: Path, track: str = "LA", *, asv: bool = True, audio: bool = True, la2019: bool = True,
                 asv_folder: str = "ASVTorch_Kaldi") -> Path:
    """The 2021 eval package for ``track`` under ``base`` (eval audio, the
    organisers' eval list and the full keys in ``keys/``), with the 2019 LA
    copy beside it when ``la2019``.  Returns ``base``."""
    rows = LA2021_KEY_ROWS if track == "LA" else DF2021_KEY_ROWS
    eval_dir = base / f"ASVspoof2021_{track}_eval"
    write_lines(eval_dir / f"ASVspoof2021.{track}.cm.eval.trl.txt", (row[1] for row in rows))
    if audio:
        for seed, row in enumerate(rows):
            write_audio(eval_dir / "flac" / f"{row[1]}.flac", seed=seed)
    write_lines(base / "keys" / track / "CM" / "trial_metadata.txt", (" ".join(row) for row in rows))
    if track == "LA" and asv:
        write_lines(base / "keys" / "LA" / "ASV" / "trial_metadata.txt",
                    (" ".join(row[:8]) for row in LA2021_ASV_ROWS))
        write_lines(base / "keys" / "LA" / "ASV" / asv_folder / "score.txt",
                    (f"{row[0]} {row[1]} {row[8]:.6f}" for row in LA2021_ASV_ROWS))
    if la2019:
        build_la2019(base, audio=audio)
    return base


# --------------------------------------------------------------------------- ASVspoof 5

# (speaker, file, gender, codec, attack, key) of the challenge-phase metainfor lists
ASV5_CHALLENGE_ROWS = {
    "train": (("T_4850", "T_0000000000", "F", "-", "-", "bonafide"),
              ("T_4850", "T_0000000001", "F", "-", "A01", "spoof"),
              ("T_1138", "T_0000000002", "M", "-", "A05", "spoof")),
    "dev": (("D_0062", "D_0000000000", "M", "-", "-", "bonafide"),
            ("D_0062", "D_0000000001", "M", "-", "A11", "spoof"),
            ("D_0755", "D_0000000002", "F", "-", "A16", "spoof")),
}
# the evaluation package's tab-separated key with a header
ASV5_EVAL_KEY = (("filename", "cm-label"),
                 ("E_000001", "bonafide"), ("E_000002", "spoof"), ("E_000003", "spoof"), ("E_000004", "bonafide"))
# the public release's 10-column lists:
# SPEAKER FILE GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY TMP
ASV5_RELEASE_ROWS = {
    "train": (("T_4850", "T_0000000000", "F", "-", "-", "-", "-", "bonafide", "bonafide", "-"),
              ("T_4850", "T_0000000001", "F", "-", "-", "-", "AC3", "A01", "spoof", "-")),
    "dev": (("D_0062", "D_0000000000", "M", "-", "-", "-", "-", "bonafide", "bonafide", "-"),
            ("D_0062", "D_0000000001", "M", "C03", "2", "D_0000000000", "AC1", "A11", "spoof", "-")),
    "eval": (("E_0101", "E_0000000001", "F", "C08", "1", "E_0000000003", "AC2", "A23", "spoof", "-"),
             ("E_0101", "E_0000000002", "F", "-", "-", "-", "-", "bonafide", "bonafide", "-"),
             ("E_0203", "E_0000000003", "M", "-", "-", "-", "-", "bonafide", "bonafide", "-"),
             ("E_0203", "E_0000000004", "M", "C11", "3", "E_0000000003", "AC3", "A32", "spoof", "-")),
}


def build_asvspoof5(base: Path, form: str = "challenge", *, eval_folders: Sequence[str] = ("flac_E_eval",),
                    audio: bool = True) -> Path:
    """``form="challenge"``: ``ASVspoof5.{train,dev}.metainfor.txt`` in ``base``
    plus ``eval_key.tsv`` (tab-separated, header); ``form="release"``: the
    public release's ``ASVspoof5_protocols/*.tsv``.  Eval audio is spread
    round-robin over ``eval_folders``.  Returns ``base``."""
    if form == "challenge":
        lists = {split: [" ".join(row) for row in rows] for split, rows in ASV5_CHALLENGE_ROWS.items()}
        write_lines(base / "ASVspoof5.train.metainfor.txt", lists["train"])
        write_lines(base / "ASVspoof5.dev.metainfor.txt", lists["dev"])
        write_lines(base / "eval_key.tsv", ("\t".join(row) for row in ASV5_EVAL_KEY))
        ids = {split: [row[1] for row in rows] for split, rows in ASV5_CHALLENGE_ROWS.items()}
        ids["eval"] = [row[0] for row in ASV5_EVAL_KEY[1:]]
    else:
        names = {"train": "ASVspoof5.train.tsv", "dev": "ASVspoof5.dev.track_1.tsv",
                 "eval": "ASVspoof5.eval.track_1.tsv"}
        for split, rows in ASV5_RELEASE_ROWS.items():
            write_lines(base / "ASVspoof5_protocols" / names[split], (" ".join(row) for row in rows))
        ids = {split: [row[1] for row in rows] for split, rows in ASV5_RELEASE_ROWS.items()}
    if audio:
        for seed, utt in enumerate(ids["train"]):
            write_audio(base / "flac_T" / f"{utt}.flac", seed=seed)
        for seed, utt in enumerate(ids["dev"]):
            write_audio(base / "flac_D" / f"{utt}.flac", seed=seed)
        for seed, utt in enumerate(ids["eval"]):
            write_audio(base / eval_folders[seed % len(eval_folders)] / f"{utt}.flac", seed=seed)
    return base


# --------------------------------------------------------------------------- In-the-Wild

ITW_ROWS = (
    ("0.wav", "Alec Guinness", "spoof"),
    ("1.wav", "Alec Guinness", "bona-fide"),
    ("2.wav", "Barack Obama", "spoof"),
    ("3.wav", "Barack Obama", "bona-fide"),
    ("4.wav", "Barack Obama", "bona-fide"),
    ("5.wav", "Ayn Rand", "spoof"),
)


def build_in_the_wild(base: Path, *, rows: Sequence[tuple[str, str, str]] = ITW_ROWS, audio: bool = True) -> Path:
    """``release_in_the_wild/`` with ``meta.csv`` and its wav files.  Returns that folder."""
    release = base / "release_in_the_wild"
    write_lines(release / "meta.csv", ["file,speaker,label"] + [",".join(row) for row in rows])
    if audio:
        for seed, (name, _speaker, _label) in enumerate(rows):
            write_audio(release / name, seed=seed)
    return release
