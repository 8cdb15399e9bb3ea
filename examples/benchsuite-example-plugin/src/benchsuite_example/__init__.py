"""An example third-party benchsuite plugin: a model, a dataset and a metric."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from benchsuite.api import (
    BONAFIDE, SPOOF, Dataset, DatasetSpec, MetricOptions, MetricOutput, MetricSpec, MetricValueInfo, ModelSpec, Recipe,
    SplitData, SpoofScores, Task, TaskInfo, Utterance, hookimpl,
)

SAMPLE_RATE = 16000


# --------------------------------------------------------------------------- model


@dataclass
class MfccMlpConfig:
    n_mfcc: int = 20
    hidden: int = 64


def build_mfcc_mlp(config: MfccMlpConfig, task_info: TaskInfo) -> Any:
    import torch
    import torchaudio

    class MfccMlp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mfcc = torchaudio.transforms.MFCC(sample_rate=task_info.sample_rate, n_mfcc=config.n_mfcc,
                                                   melkwargs={"n_fft": 512, "hop_length": 160, "n_mels": 40})
            self.mlp = torch.nn.Sequential(torch.nn.Linear(2 * config.n_mfcc, config.hidden), torch.nn.ReLU(),
                                           torch.nn.Linear(config.hidden, task_info.num_classes))

        def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
            coefficients = self.mfcc(waveforms)  # [batch, n_mfcc, frames]
            pooled = torch.cat([coefficients.mean(-1), coefficients.std(-1)], dim=1)
            return self.mlp(pooled)

    return MfccMlp()


@hookimpl
def benchsuite_register_models(register):
    recipe = Recipe(epochs=4, batch_size=16, lr=1e-3, loss="weighted_ce", class_weights=(0.5, 0.5),
                    crop_samples=8000, train_crop="random", eval_crop="first")
    register(ModelSpec(
        name="example-mfcc-mlp", tasks=(Task.SPOOF,), build=build_mfcc_mlp, config_class=MfccMlpConfig,
        recipes={"paper": recipe, "quick": recipe.replace(epochs=2)},
        description="20 MFCCs, mean and std over time, a two-layer MLP (example plugin)",
    ))


# --------------------------------------------------------------------------- dataset

SPLIT_SIZES = {"train": 48, "dev": 24, "eval": 32}


def _voice(rng: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = rng.uniform(100, 220) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


def generate_tones(out_dir: Path, seed: int = 0) -> Path:
    """Write the corpus: ``<split>/<utt>.wav`` and ``<split>.txt`` lines ``UTT LABEL ATTACK``."""
    import soundfile

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    for split, size in SPLIT_SIZES.items():
        lines = []
        for i in range(size):
            utt = f"{split}_{i:03d}"
            wave = _voice(rng, rng.uniform(0.6, 1.0))
            if i % 2:
                attack = "N1" if split != "eval" or i % 4 == 1 else "N2"
                level = 0.05 if attack == "N1" else 0.02
                wave = np.round((wave + level * rng.standard_normal(len(wave))) * 64) / 64
                lines.append(f"{utt} {SPOOF} {attack}")
            else:
                lines.append(f"{utt} {BONAFIDE} -")
            (out_dir / split).mkdir(parents=True, exist_ok=True)
            soundfile.write(str(out_dir / split / f"{utt}.wav"), wave.astype(np.float32), SAMPLE_RATE)
        (out_dir / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return out_dir


class TonesDataset(Dataset):
    name = "example-tones"
    task = Task.SPOOF

    def __init__(self, root: Path):
        self.root = root

    def split_names(self) -> list[str]:
        return list(SPLIT_SIZES)

    def load_split(self, split: str) -> SplitData:
        protocol = self.root / f"{split}.txt"
        utterances = []
        for line in protocol.read_text().splitlines():
            utt, label, attack = line.split()
            utterances.append(Utterance(utt, self.root / split / f"{utt}.wav", label, attack=attack))
        return SplitData(split, utterances, source=str(protocol))


def default_root() -> Path:
    cache = Path(os.environ.get("BENCHSUITE_CACHE_DIR", Path.home() / ".cache" / "benchsuite"))
    return cache / "example-tones-v1"


def open_tones(root: Path | None, options: Mapping[str, Any]) -> Dataset:
    root = root or default_root()
    if not (root / "eval.txt").exists():
        generate_tones(root)
    return TonesDataset(root)


@hookimpl
def benchsuite_register_datasets(register):
    register(DatasetSpec(name="example-tones", task=Task.SPOOF, open=open_tones, embedded=True,
                         default_root=default_root, generate=lambda out, seed=0: generate_tones(out, seed),
                         description="tiny generated corpus: harmonic tones vs. noisy re-syntheses (example plugin)"))


# --------------------------------------------------------------------------- metric


def auc(scores: SpoofScores, options: MetricOptions) -> MetricOutput:
    bonafide = scores.scores[scores.is_bonafide]
    spoof = scores.scores[~scores.is_bonafide]
    # Mann-Whitney U with average ranks for ties
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([bonafide, spoof]))
    u = ranks[: len(bonafide)].sum() - len(bonafide) * (len(bonafide) + 1) / 2
    return MetricOutput(values={"auc": float(u / (len(bonafide) * len(spoof)))})


@hookimpl
def benchsuite_register_metrics(register):
    register(MetricSpec(name="example-auc", task=Task.SPOOF, compute=auc,
                        outputs=(MetricValueInfo("auc", "ROC AUC", lower_is_better=False),),
                        description="area under the ROC curve, bona fide vs spoof (example plugin)"))
