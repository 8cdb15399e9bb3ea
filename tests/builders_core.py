"""A tiny corpus in the ASVspoof 2019 LA layout with a learnable difference:
bona fide = harmonic tones with vibrato, spoof = the same re-quantised with noise.
Read by the real ``asvspoof2019-la`` plugin."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
TESTPLUGIN = REPO / "tests" / "testplugin"
SR = 16000
PROTOCOLS = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
             "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}


def write_tiny_la(root: Path, sizes: dict[str, int] | None = None, seconds: float = 0.4, seed: int = 0) -> Path:
    sizes = sizes or {"train": 32, "dev": 16, "eval": 24}
    rng = np.random.default_rng(seed)
    prefix = {"train": "LA_T", "dev": "LA_D", "eval": "LA_E"}
    attacks = {"train": ["A01", "A02"], "dev": ["A01", "A02"], "eval": ["A07", "A08", "A09"]}
    (root / "ASVspoof2019_LA_cm_protocols").mkdir(parents=True, exist_ok=True)
    for s_index, (split, size) in enumerate(sizes.items()):
        folder = root / f"ASVspoof2019_LA_{split}" / "flac"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(size):
            utt = f"{prefix[split]}_{1000000 + 1000 * s_index + i}"
            speaker = f"LA_{s_index * 10 + i % 3:04d}"
            t = np.arange(int(seconds * SR * rng.uniform(0.8, 1.2))) / SR
            f0 = rng.uniform(90, 240) * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
            phase = 2 * np.pi * np.cumsum(f0) / SR
            wave = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 6)) / 2.3
            if i % 2:
                attack = attacks[split][(i // 2) % len(attacks[split])]
                wave = np.round((wave + 0.03 * rng.standard_normal(len(wave))) * 48) / 48
                lines.append(f"{speaker} {utt} - {attack} spoof")
            else:
                lines.append(f"{speaker} {utt} - - bonafide")
            soundfile.write(str(folder / f"{utt}.flac"), wave.astype(np.float32), SR)
        (root / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS[split]).write_text("\n".join(lines) + "\n")
    return root


def env_with_testplugin(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a subprocess that sees the test plugin's entry points."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTPLUGIN), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


def benchsuite_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchsuite", *args]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(benchsuite_cmd(*args), env=env or env_with_testplugin(), capture_output=True, text=True,
                          timeout=timeout)
