"""Tiny corpora in the official layouts of the speaker and classification
readers (VoxCeleb1/2, Kaldi data dirs, HI-MIA, FFSVC 2022, CSV manifests) and
noise/RIR lists for the augmentation tests.  Audio is a fraction of a second
of a speaker-specific tone so the files are unique and fast to write."""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile

RATE = 16000


def write_audio(path: Path, *, seconds: float = 0.1, rate: int = RATE, channels: int = 1, seed: str = "",
                amplitude: float = 0.3) -> Path:
    """A short tone plus a little noise, deterministic from ``seed`` (default: the path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32((seed or str(path)).encode()))
    t = np.arange(int(seconds * rate)) / rate
    freq = 100 + 400 * rng.random()
    mono = amplitude * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    data = np.stack([mono * (1 - 0.2 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    soundfile.write(str(path), data.astype(np.float32), rate, subtype="PCM_16")
    return path


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- Kaldi


def write_kaldi_dir(folder: Path, root: Path, utts: Sequence[tuple[str, str]], *, labels: dict[str, str] | None = None,
                    trials: Sequence[str] | None = None, spk2utt: bool = True, audio: bool = True,
                    absolute: bool = False) -> Path:
    """A data dir for ``(utt_id, speaker)`` pairs, audio in ``root/audio/<utt>.wav``."""
    scp, u2s, s2u = [], [], {}
    for utt, speaker in utts:
        wav = root / "audio" / f"{utt}.wav"
        if audio:
            write_audio(wav)
        scp.append(f"{utt} {wav if absolute else wav.relative_to(root)}")
        u2s.append(f"{utt} {speaker}")
        s2u.setdefault(speaker, []).append(utt)
    write_lines(folder / "wav.scp", scp)
    write_lines(folder / "utt2spk", u2s)
    if spk2utt:
        write_lines(folder / "spk2utt", [f"{s} {' '.join(us)}" for s, us in s2u.items()])
    if labels is not None:
        write_lines(folder / "utt2label", [f"{u} {labels[u]}" for u, _s in utts])
    if trials is not None:
        write_lines(folder / "trials", trials)
    return folder


def speaker_utts(speakers: Sequence[str], per_speaker: int, prefix: str = "") -> list[tuple[str, str]]:
    return [(f"{s}-{prefix}{i:03d}", s) for s in speakers for i in range(per_speaker)]


def all_pairs_trials(utts: Sequence[tuple[str, str]], *, style: str = "kaldi") -> list[str]:
    """Every ordered pair of distinct utterances: kaldi ``enrol test target``,
    binary ``enrol test 1`` or vox ``1 enrol test``."""
    lines = []
    for i, (a, sa) in enumerate(utts):
        for b, sb in utts[i + 1:]:
            same = sa == sb
            if style == "kaldi":
                lines.append(f"{a} {b} {'target' if same else 'nontarget'}")
            elif style == "binary":
                lines.append(f"{a} {b} {int(same)}")
            else:
                lines.append(f"{int(same)} {a} {b}")
    return lines


def make_kaldi_corpus(root: Path, *, task: str = "verify", train_speakers: int = 3, eval_speakers: int = 2,
                      per_speaker: int = 3, dev: bool = False, eval_name: str = "eval") -> Path:
    """``root/{train,dev?,eval}`` Kaldi dirs; classify labels are ``happy``/``sad``
    by utterance parity, verify dev/eval get all-pairs trials."""
    train = speaker_utts([f"spk{i}" for i in range(train_speakers)], per_speaker)
    scored = {"eval": speaker_utts([f"tst{i}" for i in range(eval_speakers)], per_speaker)}
    if dev:
        scored["dev"] = speaker_utts([f"dev{i}" for i in range(eval_speakers)], per_speaker)
    names = {"eval": eval_name, "dev": "dev"}

    def labels_of(utts: Sequence[tuple[str, str]]) -> dict[str, str] | None:
        return {u: ("happy" if int(u[-1]) % 2 else "sad") for u, _s in utts} if task == "classify" else None

    write_kaldi_dir(root / "train", root, train, labels=labels_of(train))
    for split, utts in scored.items():
        trials = all_pairs_trials(utts) if task == "verify" else None
        write_kaldi_dir(root / names[split], root, utts, labels=labels_of(utts), trials=trials)
    return root


# --------------------------------------------------------------------------- VoxCeleb


def vox_name(speaker: str, video: str, index: int) -> str:
    return f"{speaker}/{video}/{index:05d}.wav"


def make_voxceleb1(root: Path, *, test_speakers: Sequence[str] = ("id10270", "id10271", "id10272"),
                   dev_speakers: Sequence[str] = ("id10001", "id10002", "id10003"), videos: int = 2,
                   per_video: int = 2) -> Path:
    """``root/wav/idXXXXX/VIDEO/NNNNN.wav`` for test and dev speakers, an O list
    ``veri_test2.txt`` over the test speakers and an E list over everyone."""
    names: dict[str, list[str]] = {}
    for speaker in list(test_speakers) + list(dev_speakers):
        for v in range(videos):
            for i in range(1, per_video + 1):
                name = vox_name(speaker, f"vid{v}{speaker[-2:]}x-Y_", i)
                write_audio(root / "wav" / name)
                names.setdefault(speaker, []).append(name)

    def trial_list(speakers: Sequence[str]) -> list[str]:
        lines = []
        for s in speakers:
            others = [o for o in speakers if o != s]
            for k, enrol in enumerate(names[s]):
                lines.append(f"1 {enrol} {names[s][(k + 1) % len(names[s])]}")
                other = others[k % len(others)]
                lines.append(f"0 {enrol} {names[other][k % len(names[other])]}")
        return lines

    write_lines(root / "veri_test2.txt", trial_list(test_speakers))
    write_lines(root / "list_test_all2.txt", trial_list(list(test_speakers) + list(dev_speakers)))
    return root


def make_voxceleb2_dev(root: Path, *, speakers: Sequence[str] = ("id00012", "id00015", "id00017"),
                       suffix: str = ".wav", per_speaker: int = 2) -> Path:
    for speaker in speakers:
        for i in range(1, per_speaker + 1):
            path = root / "dev" / "aac" / speaker / "21Uxsk56VDQ" / f"{i:05d}{suffix}"
            if suffix == ".m4a":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"\0\0\0\x20ftypM4A ")  # an AAC container soundfile cannot open
            else:
                write_audio(path)
    return root


# --------------------------------------------------------------------------- HI-MIA / FFSVC


def make_himia(root: Path, *, channels: Sequence[str] = ("01", "02", "03")) -> Path:
    """HI-MIA names ``SVxxxx_<distance>_<channel>_<Sxxxx>`` as Kaldi dirs
    ``train/`` and ``test/`` (ids with '-' as Kaldi's recipe writes them) and
    the distribution's ``trials_1m`` / ``trials_mic`` with ``{}`` placeholders."""
    train = [(f"SV0001-1-00-S{i:04d}", "SV0001") for i in range(2)] + [(f"SV0002-1-00-S{i:04d}", "SV0002")
                                                                     for i in range(2)]
    write_kaldi_dir(root / "train", root, train)
    test: list[tuple[str, str]] = []
    for speaker, utt in (("SV0299", "S0096"), ("SV0333", "N0124"), ("SV0299", "N0125")):
        for channel in channels:
            test.append((f"{speaker}-7-{channel}-{utt}", speaker))
    test.append(("SV0299-7-01-S0097", "SV0299"))  # a close-talk enrolment without channel variants
    write_kaldi_dir(root / "test", root, test)
    write_lines(root / "test" / "trials_1m", [
        "SV0299_7_{}_S0096.wav SV0333_7_{}_N0124.wav 0",
        "SV0299_7_{}_S0096.wav SV0299_7_{}_N0125.wav 1",
    ])
    write_lines(root / "test" / "trials_mic", [
        "SV0299_7_01_S0097.wav SV0333_7_{}_N0124.wav 0",
        "SV0299_7_01_S0097.wav SV0299_7_{}_N0125.wav 1",
    ])
    return root


def make_ffsvc2022(root: Path) -> Path:
    """The FFSVC 2022 baseline's ``data/`` layout with tiny dirs: Vox2dev
    (close-talk pre-training), FFSVC2022/Vox2dev_FFSVC22 (fine-tuning mix),
    FFSVC2022/dev with keys ``label utt1 utt2`` and FFSVC2022/eval without keys."""
    vox = speaker_utts(["id00012", "id00015"], 2)
    write_kaldi_dir(root / "Vox2dev", root, vox)
    write_kaldi_dir(root / "FFSVC2022" / "Vox2dev_FFSVC22", root, vox + speaker_utts(["ffsvc0001", "ffsvc0002"], 2))
    dev_utts = [(f"ffsvc22_dev_{i:06d}.wav", f"dev{i // 3}") for i in range(6)]
    write_kaldi_dir(root / "FFSVC2022" / "dev", root, dev_utts)
    (root / "FFSVC2022" / "dev" / "utt2spk").unlink()  # the organisers ship wav.scp and trials only
    (root / "FFSVC2022" / "dev" / "spk2utt").unlink()
    write_lines(root / "FFSVC2022" / "dev" / "trials", [
        "1 ffsvc22_dev_000000.wav ffsvc22_dev_000001.wav",
        "0 ffsvc22_dev_000000.wav ffsvc22_dev_000004.wav",
        "1 ffsvc22_dev_000003.wav ffsvc22_dev_000005.wav",
        "0 ffsvc22_dev_000002.wav ffsvc22_dev_000003.wav",
    ])
    eval_utts = [(f"ffsvc22_eval_{i:06d}.wav", "unknown") for i in range(3)]
    write_kaldi_dir(root / "FFSVC2022" / "eval", root, eval_utts)
    for name in ("utt2spk", "spk2utt"):
        (root / "FFSVC2022" / "eval" / name).unlink()
    write_lines(root / "FFSVC2022" / "eval" / "trials", [
        "ffsvc22_eval_000000.wav ffsvc22_eval_000001.wav",
        "ffsvc22_eval_000000.wav ffsvc22_eval_000002.wav",
    ])
    return root


# --------------------------------------------------------------------------- CSV and augmentation lists


def make_emotion_csv(root: Path, *, speakers: int = 6, per_speaker: int = 4, split_column: bool = True,
                     classes: Sequence[str] = ("ang", "hap", "neu", "sad")) -> Path:
    """A 4-class emotion manifest ``path,label,speaker[,split],session``."""
    header = "path,label,speaker" + (",split" if split_column else "") + ",session"
    rows = [header]
    for s in range(speakers):
        split = "train" if s < speakers - 2 else ("dev" if s == speakers - 2 else "eval")
        for i in range(per_speaker):
            rel = f"clips/spk{s}/utt{i}.wav"
            write_audio(root / rel)
            label = classes[(s + i) % len(classes)]
            rows.append(f"{rel},{label},spk{s}" + (f",{split}" if split_column else "") + f",Ses0{s % 2 + 1}")
    write_lines(root / "manifest.csv", rows)
    return root


def make_file_list(folder: Path, name: str, count: int, *, seconds: float = 0.5, rate: int = RATE,
                   kind: str = "noise") -> Path:
    """``count`` audio files and a list naming them (relative paths)."""
    paths = []
    for i in range(count):
        path = folder / kind / f"{kind}-{i:04d}.wav"
        write_audio(path, seconds=seconds, rate=rate, seed=f"{kind}{i}", amplitude=0.5)
        paths.append(str(path.relative_to(folder)))
    return write_lines(folder / name, paths)


def make_rir_list(folder: Path, *, delay: int = 40, decay: float = 0.02, length: int = 800) -> Path:
    """One exponentially decaying RIR whose direct path is ``delay`` samples in."""
    rng = np.random.default_rng(3)
    rir = np.zeros(length, dtype=np.float64)
    tail = np.arange(length - delay - 1)
    rir[delay + 1:] = 0.3 * rng.standard_normal(len(tail)) * np.exp(-decay * tail)
    rir[delay] = 1.0
    path = folder / "rirs" / "rir-0000.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), (rir / np.max(np.abs(rir)) * 0.9).astype(np.float32), RATE, subtype="FLOAT")
    return write_lines(folder / "rir_list", [str(path)])

