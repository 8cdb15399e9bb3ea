"""Builds results stores for report tests: real cell directories (config.yaml,
result.json following docs/results-schema.md, score files in the official
formats, train logs), an invocation record, failed and incomplete cells.

Scores are drawn from seeded normal distributions; the stored metrics are
computed from those very scores with the metrics plugin's functions (EER, legacy
and revised min t-DCF at the 2019 LA eval ASV operating point, minDCF at
p_target 0.01, accuracy) under the keys and labels the plugins register, so
plots and numbers agree as they would in a real run.
"""
from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchsuite.api import Baseline
from benchsuite.storage.store import ResultsStore
from benchsuite.scoring.det import AsvOperatingPoint, DetSweep, min_dcf, min_tdcf_legacy, min_tdcf_revised
from benchsuite_metrics.bootstrap import bootstrap_eer_interval

# the organisers' ASV operating point on 2019 LA eval (FACTS 1.3), so no ASV score file is needed
ASV_2019_EVAL = AsvOperatingPoint(threshold=-5.68005, eer=0.0245778, pfa=0.024605, pmiss=0.024581,
                                  pmiss_spoof=1 - 0.760652, pfa_spoof=0.760652)
START = "2026-01-10T09:00:00+00:00"
END = "2026-01-10T17:30:00+00:00"
RUN_COMMAND = "benchsuite run --models aasist,aasist-l,rawgat-st --seeds 3 --out runs"

METRIC_INFO = {  # as the metric plugins register them
    "eer": {"metric": "eer", "label": "EER", "lower_is_better": True, "percent": True, "formulation": None},
    "min_tdcf_legacy": {"metric": "tdcf", "label": "min t-DCF (legacy)", "lower_is_better": True,
                        "percent": False, "formulation": "legacy"},
    "min_tdcf_revised": {"metric": "tdcf", "label": "min t-DCF (revised)", "lower_is_better": True,
                         "percent": False, "formulation": "revised"},
    "min_dcf_p0.01": {"metric": "min-dcf", "label": "minDCF (p=0.01)", "lower_is_better": True, "percent": False,
                      "formulation": "p_target=0.01, Cmiss=Cfa=1, normalised"},
    "accuracy": {"metric": "accuracy", "label": "accuracy", "lower_is_better": False, "percent": True,
                 "formulation": None},
}


@dataclass
class CellPlan:
    """One cell to write.  ``separation`` is the distance between the means of the
    positive and negative score distributions (larger = better system)."""

    dataset: str = "asvspoof2019-la"
    task: str = "spoof"
    model: str = "aasist"
    profile: str = "paper"
    seed: int = 1
    params: int = 297866
    separation: float = 4.0
    status: str = "done"
    train_dataset: str | None = None
    attacks: tuple[str, ...] = ("A07", "A08", "A17")
    classes: tuple[str, ...] = ("speech", "music", "noise")
    n_positive: int = 200
    n_negative_per_attack: int = 100
    with_tdcf: bool = True  # False: the dataset ships no ASV scores; both t-DCFs stored as null with a note
    error: dict[str, str] | None = None
    wall_seconds: float = 600.0

    @property
    def cell_id(self) -> str:
        digest = zlib.crc32(json.dumps(self.__dict__, sort_keys=True, default=str).encode()) & 0xFFFFFFFF
        # names come from plugins and may hold any character; a cell id is a directory name
        readable = re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.dataset}.{self.model}.{self.profile}.s{self.seed}")
        return f"{readable}.{digest:08x}"


def _rng(plan: CellPlan, split: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{plan.dataset}|{plan.model}|{plan.profile}|{plan.seed}|{split}".encode()))


def _spoof_split(plan: CellPlan, split: str, attacks: Sequence[str], path: Path) -> dict[str, Any]:
    rng = _rng(plan, split)
    half = plan.separation / 2
    bonafide = rng.normal(half, 1.0, plan.n_positive)
    by_attack = {}
    for number, attack in enumerate(attacks):
        # the last attack is the hard one (as A17 is on 2019 LA)
        shift = 0.8 if number == len(attacks) - 1 else 0.2 * number
        by_attack[attack] = rng.normal(-half + shift, 1.0, plan.n_negative_per_attack)
    lines = [f"LA_{split[0].upper()}_{i:07d} - bonafide {s:.6f}" for i, s in enumerate(bonafide)]
    offset = len(lines)
    for attack, scores in by_attack.items():
        for s in scores:
            lines.append(f"LA_{split[0].upper()}_{offset:07d} {attack} spoof {s:.6f}")
            offset += 1
    path.write_text("\n".join(lines) + "\n")
    # the metrics are computed from the values as written (rounded to 6 decimals)
    bonafide = np.round(bonafide, 6)
    sweep = DetSweep.from_scores(bonafide, np.round(np.concatenate(list(by_attack.values())), 6))
    breakdown = {"attack": {a: {"eer": DetSweep.from_scores(bonafide, np.round(s, 6)).eer()}
                            for a, s in by_attack.items()}}
    interval = bootstrap_eer_interval(sweep, resamples=200, seed=0)
    return {"eer": sweep.eer(), "min_tdcf_legacy": min_tdcf_legacy(sweep, ASV_2019_EVAL),
            "min_tdcf_revised": min_tdcf_revised(sweep, ASV_2019_EVAL), "breakdown": breakdown,
            "eer_ci95": [interval.low, interval.high]}


def _verify_split(plan: CellPlan, split: str, path: Path) -> dict[str, Any]:
    rng = _rng(plan, split)
    half = plan.separation / 2
    target = np.round(rng.normal(half, 1.0, plan.n_positive), 6)
    nontarget = np.round(rng.normal(-half, 1.0, plan.n_negative_per_attack * 3), 6)
    lines = [f"id{10000 + i % 7}/a{i}.wav id{10000 + i % 7}/b{i}.wav {s:.6f} target" for i, s in enumerate(target)]
    lines += [f"id{10000 + i % 7}/a{i}.wav id{20000 + i % 5}/c{i}.wav {s:.6f} nontarget" for i, s in enumerate(nontarget)]
    path.write_text("\n".join(lines) + "\n")
    sweep = DetSweep.from_scores(target, nontarget)
    return {"eer": sweep.eer(), "min_dcf_p0.01": min_dcf(sweep, 0.01)}


def _classify_split(plan: CellPlan, split: str, path: Path) -> dict[str, Any]:
    rng = _rng(plan, split)
    classes = plan.classes
    true = rng.integers(0, len(classes), plan.n_positive)
    correct = rng.random(plan.n_positive) < min(0.95, 0.4 + plan.separation / 10)
    predicted = np.where(correct, true, rng.integers(0, len(classes), plan.n_positive))
    path.write_text("".join(f"utt{i:05d} {classes[t]} {classes[p]}\n" for i, (t, p) in enumerate(zip(true, predicted))))
    return {"accuracy": float(np.mean(true == predicted))}


def write_cell(root: Path, plan: CellPlan) -> dict[str, Any]:
    """Write one finished (done or failed) cell; returns its result as stored."""
    store = ResultsStore(root)
    cell_id = plan.cell_id
    cell_dir = store.cell_dir(cell_id)
    cell_dir.mkdir(parents=True, exist_ok=True)
    store.write_config(cell_id, _config(plan))
    metrics: dict[str, dict[str, float | None]] = {}
    breakdown: dict[str, Any] = {}
    extra: dict[str, dict[str, Any]] = {}
    notes: dict[str, dict[str, str]] = {}
    keys: list[str] = []
    if plan.status == "done":
        for split, file_name in (("eval", "scores.txt"), ("dev", "dev_scores.txt")):
            path = cell_dir / file_name
            if plan.task == "spoof":
                attacks = plan.attacks if split == "eval" else ("A01", "A02")
                computed = _spoof_split(plan, split, attacks, path)
                metrics[split] = {"eer": computed["eer"]}
                extra[split] = {"eer_ci95": computed["eer_ci95"]}
                for key in ("min_tdcf_legacy", "min_tdcf_revised"):
                    metrics[split][key] = computed[key] if plan.with_tdcf else None
                if not plan.with_tdcf:
                    reason = f"not applicable: {plan.dataset} ships no ASV scores"
                    notes[split] = {"min_tdcf_legacy": reason, "min_tdcf_revised": reason}
                if split == "eval":
                    breakdown[split] = computed["breakdown"]
            elif plan.task == "verify":
                metrics[split] = _verify_split(plan, split, path)
            else:
                metrics[split] = _classify_split(plan, split, path)
            keys += [k for k in metrics[split] if k not in keys]
        (cell_dir / "train_log.csv").write_text(
            "epoch,step,train_loss,dev_loss,dev_eer,lr,seconds\n1,10,0.61,0.55,0.2,0.0001,30.0\n"
            "2,20,0.41,0.38,0.1,0.0001,30.5\n3,30,0.30,0.33,0.05,0.0001,30.2\n")
    data_plugin = {"name": "test-datasets", "distribution": "benchsuite", "version": "0.1.0"}
    model_plugin = {"name": f"{plan.model}-plugin", "distribution": "benchsuite", "version": "0.1.0"}
    result = {
        "status": plan.status,
        "error": plan.error if plan.status == "failed" else None,
        "task": plan.task,
        "profile": plan.profile,
        "seed": plan.seed,
        "dataset": {"name": plan.dataset, "train_dataset": plan.train_dataset or plan.dataset, "task": plan.task,
                    "eval_split": "eval", "dev_split": "dev", "options": {}, "fingerprint": "f00dfeed",
                    "plugin": data_plugin},
        "model": {"name": plan.model, "params": plan.params, "config": {"width": 64},
                  "plugin": model_plugin},
        "recipe": {"epochs": 100 if plan.profile == "paper" else 2, "batch_size": 24, "lr": 0.0001},
        "metrics": metrics,
        "metric_info": {k: METRIC_INFO[k] for k in keys},
        "breakdown": breakdown,
        "notes": notes,
        "extra": extra,
        "selection": {"rule": "dev_eer", "epoch": 3, "value": (metrics.get("dev") or {}).get("eer")},
        "training": {"epochs_run": 3 if plan.status == "done" else 1, "best_epoch": 3, "resumed_from_epoch": None,
                     "train_seconds": plan.wall_seconds * 0.9, "eval_seconds": plan.wall_seconds * 0.05,
                     "init_from": None},
        "artifacts": {"scores": "scores.txt", "dev_scores": "dev_scores.txt", "train_log": "train_log.csv",
                      "checkpoint": "checkpoints/best.pt"},
        "provenance": {"benchsuite_version": "0.1.0", "git_revision": "c91436fabc", "git_dirty": False,
                       "plugins": [data_plugin, model_plugin],
                       "versions": {"python": "3.11.7", "torch": "2.11.0", "torchaudio": "2.11.0", "numpy": "2.1.0"},
                       "device": "cpu", "device_name": "test CPU", "cuda": None, "precision": "fp32",
                       "hostname": "testhost", "start": START, "end": END, "wall_seconds": plan.wall_seconds,
                       "peak_memory_mb": 512.0, "command": RUN_COMMAND},
    }
    store.write_result(cell_id, result)
    return store.read_result(cell_id)


def _config(plan: CellPlan) -> dict[str, Any]:
    return {"identity": {"task": plan.task, "dataset": plan.dataset, "train_dataset": plan.train_dataset or plan.dataset,
                         "model": plan.model, "seed": plan.seed, "profile": plan.profile},
            "runtime": {"device": "cpu", "command": RUN_COMMAND}}


def write_incomplete_cell(root: Path, plan: CellPlan) -> str:
    """A cell that started (config and one epoch logged) but never wrote result.json."""
    store = ResultsStore(root)
    cell_id = plan.cell_id
    store.write_config(cell_id, _config(plan))
    (store.cell_dir(cell_id) / "train_log.csv").write_text(
        "epoch,step,train_loss,dev_loss,dev_eer,lr,seconds\n1,10,0.61,0.55,0.2,0.0001,30.0\n")
    return cell_id


def write_invocation(root: Path, cell_ids: Sequence[str], command: str = RUN_COMMAND) -> None:
    ResultsStore(root).record_invocation({"command": command, "argv": command.split(), "cells": list(cell_ids),
                                          "start": START, "end": END})


# --------------------------------------------------------------------------- the standard store

FAILED_ERROR = {"type": "CellFailure", "message": "non-finite training loss at epoch 2 (lr too high?)",
                "traceback": "Traceback (most recent call last):\n  ...\nCellFailure: non-finite training loss"}


@dataclass
class StandardStore:
    root: Path
    done: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


def standard_plans() -> tuple[list[CellPlan], list[CellPlan], list[CellPlan]]:
    """(done, failed, incomplete) plans: several models x seeds x datasets, both profiles."""
    done = []
    # separations chosen so that AASIST's seeds bracket the published numbers and RawGAT-ST's miss them
    for seed, sep in ((1, 5.2), (2, 5.6), (3, 4.8)):
        done.append(CellPlan(model="aasist", seed=seed, separation=sep))
    for seed, sep in ((1, 5.2), (2, 5.2)):
        done.append(CellPlan(model="rawgat-st", seed=seed, separation=sep, params=440810))
    for seed, sep in ((1, 2.0), (2, 2.3)):
        done.append(CellPlan(model="aasist-l", profile="quick", seed=seed, separation=sep, params=85306))
    done.append(CellPlan(model="aasist-l", profile="paper", seed=1, separation=4.6, params=85306))
    for seed, sep in ((1, 3.2), (2, 3.0)):  # cross-dataset: trained on 2019 LA, evaluated on 2021 LA
        done.append(CellPlan(dataset="asvspoof2021-la", train_dataset="asvspoof2019-la", model="aasist", seed=seed,
                             separation=sep, attacks=("A07", "A16", "A19"), with_tdcf=False))
    for seed, sep in ((1, 1.5), (2, 1.7)):
        done.append(CellPlan(dataset="synth-la", model="rawnet2", profile="quick", seed=seed, separation=sep,
                             params=17621410, with_tdcf=False))
    for seed, sep in ((1, 4.0), (2, 4.3)):
        done.append(CellPlan(dataset="vox-tiny", task="verify", model="ecapa-tdnn", seed=seed, separation=sep,
                             params=6190000))
        done.append(CellPlan(dataset="vox-tiny", task="verify", model="resnet", seed=seed, separation=sep - 0.4,
                             params=6630000))
    for seed, sep in ((1, 3.0), (2, 4.0)):
        done.append(CellPlan(dataset="synth-cls", task="classify", model="cnn-bilstm", profile="quick", seed=seed,
                             separation=sep, params=120000))
    failed = [CellPlan(model="rawgat-st", seed=3, params=440810, status="failed", error=FAILED_ERROR)]
    incomplete = [CellPlan(dataset="synth-la", model="rawnet2", profile="quick", seed=3)]
    return done, failed, incomplete


def build_standard_store(root: Path) -> StandardStore:
    done_plans, failed_plans, incomplete_plans = standard_plans()
    store = StandardStore(root=root)
    store.done = [write_cell(root, plan) for plan in done_plans]
    store.failed = [write_cell(root, plan) for plan in failed_plans]
    store.incomplete = [write_incomplete_cell(root, plan) for plan in incomplete_plans]
    write_invocation(root, [r["cell_id"] for r in store.done + store.failed] + store.incomplete)
    return store


def standard_baselines() -> list[Baseline]:
    """Published numbers (values from FACTS section 4) plus a few that must end up as context."""
    paper = "Jung et al., AASIST, ICASSP 2022"
    return [
        Baseline("AASIST", "asvspoof2019-la", "eval", "eer", 0.0083, paper, 2022, model="aasist",
                 conditions={"selection": "best of 3 seeds"}),
        Baseline("AASIST", "asvspoof2019-la", "eval", "min_tdcf_legacy", 0.0275, paper, 2022, model="aasist",
                 formulation="legacy"),
        Baseline("AASIST-L", "asvspoof2019-la", "eval", "eer", 0.0099, paper, 2022, model="aasist-l"),
        Baseline("RawGAT-ST (mul)", "asvspoof2019-la", "eval", "eer", 0.0106, "Tak et al., ASVspoof 2021 workshop",
                 2021, model="rawgat-st"),
        Baseline("RawGAT-ST (mul)", "asvspoof2019-la", "eval", "min_tdcf_legacy", 0.0335,
                 "Tak et al., ASVspoof 2021 workshop", 2021, model="rawgat-st", formulation="legacy"),
        # not run on this dataset: context, "no reproduced run of this system"
        Baseline("RawNet2", "asvspoof2019-la", "eval", "eer", 0.0423, "third-party re-run", 2023, model="rawnet2"),
        # the revised t-DCF is compared with the revised column only
        Baseline("AASIST", "asvspoof2019-la", "eval", "min_tdcf_revised", 0.0885, "derived from the legacy value",
                 2024, model="aasist", formulation="revised"),
        # a dev-split number is compared in the dev table only
        Baseline("AASIST", "asvspoof2019-la", "dev", "eer", 0.004, paper, 2022, model="aasist"),
        # official challenge baseline without a registered model: context
        Baseline("B01 CQCC-GMM", "asvspoof2021-la", "eval", "eer", 0.1562, "ASVspoof 2021 summary", 2021,
                 kind="official"),
        # the 2021 runs report no t-DCF (not applicable): context
        Baseline("B01 CQCC-GMM", "asvspoof2021-la", "eval", "min_tdcf_revised", 0.4974, "ASVspoof 2021 summary", 2021,
                 formulation="revised", kind="official"),
        # another minDCF formulation (SpeechBrain's un-normalised cost): context, never a difference
        Baseline("ECAPA (SpeechBrain)", "vox-tiny", "eval", "min_dcf_p0.01", 0.0011, "SpeechBrain VoxCeleb recipe",
                 2021, model="ecapa-tdnn", formulation="p_target=0.01, Cmiss=Cfa=1, un-normalised"),
        # a dataset absent from the store: not shown
        Baseline("ECAPA c512", "voxceleb1-o", "test", "eer", 0.01069, "WeSpeaker", 2023, model="ecapa-tdnn"),
    ]
