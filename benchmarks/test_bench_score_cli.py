"""``benchsuite score`` end to end on 1,000,000 lines, side by side with an
official-style pipeline, each run as its own process (wall time and peak RSS
from ``/usr/bin/time -v``, median of 3, the two interleaved so machine load
hits both alike).

The official-style pipeline is written below (``official_pipeline``): pandas
``read_csv(sep=" ", header=None)`` of the key, the scores and the ASV scores
as the ASVspoof 2021 evaluation package reads them, an inner join on the
utterance id with the package's length check, then EER, revised and legacy
min t-DCF computed the official way (``/work/shared/notes/FACTS.md`` 1.1 to
1.5: a stable-sorted DET sweep, the ASV operating point at the ASV EER
threshold).  It does no validation beyond the join check and no bootstrap;
benchsuite does both (1000 resamples).

    .venv/bin/python -m pytest benchmarks/test_bench_score_cli.py --benchmark-only --benchmark-enable -s
    BENCHSUITE_BEFORE=/work/main/.venv/bin/benchsuite ...   # adds a third column: another install's CLI

The 1 M-line protocol (2019 LA layout) and 2-column score file are generated
(fixed seed); the ASV scores are the official 2019 LA eval file from
../shared/reference (skipped when absent).  Run as a script, this file is the
official-style pipeline: ``python test_bench_score_cli.py KEY SCORES ASV``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

N_LINES = 1_000_000
N_BONAFIDE = 100_000
REFERENCE_DIR = Path(os.environ.get("BENCHSUITE_REFERENCE_DIR",
                                    Path(__file__).resolve().parents[1].parent / "shared" / "reference"))
ASV_EVAL = "asvspoof2019_la/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"
ROUNDS = 3


# --------------------------------------------------------------------------- the official-style pipeline


def _det_curve(target: np.ndarray, nontarget: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FRR, FAR and thresholds of the stable-sorted sweep (FACTS 1.1)."""
    scores = np.concatenate((target, nontarget))
    labels = np.concatenate((np.ones(target.size), np.zeros(nontarget.size)))
    order = np.argsort(scores, kind="mergesort")
    labels = labels[order]
    rejected_targets = np.cumsum(labels)
    accepted_nontargets = nontarget.size - (np.arange(1, scores.size + 1) - rejected_targets)
    frr = np.concatenate(([0.0], rejected_targets / target.size))
    far = np.concatenate(([1.0], accepted_nontargets / nontarget.size))
    thresholds = np.concatenate(([scores[order[0]] - 0.001], scores[order]))
    return frr, far, thresholds


def _eer(target: np.ndarray, nontarget: np.ndarray) -> tuple[float, float]:
    frr, far, thresholds = _det_curve(target, nontarget)
    best = int(np.argmin(np.abs(frr - far)))
    return float((frr[best] + far[best]) / 2), float(thresholds[best])


def _min_tdcfs(bona: np.ndarray, spoof: np.ndarray, asv_target: np.ndarray, asv_nontarget: np.ndarray,
               asv_spoof: np.ndarray) -> tuple[float, float]:
    """(revised, legacy) min t-DCF with the 2019/2021 cost model (FACTS 1.3 to 1.5)."""
    p_spoof, p_tar, p_non = 0.05, 0.95 * 0.99, 0.95 * 0.01
    c_miss, c_fa, c_fa_spoof = 1.0, 10.0, 10.0
    _, threshold = _eer(asv_target, asv_nontarget)
    p_fa_asv = float(np.mean(asv_nontarget >= threshold))
    p_miss_asv = float(np.mean(asv_target < threshold))
    p_fa_spoof_asv = float(np.mean(asv_spoof >= threshold))
    miss_cm, fa_cm, _ = _det_curve(bona, spoof)
    c0 = p_tar * c_miss * p_miss_asv + p_non * c_fa * p_fa_asv
    c1 = p_tar * c_miss - c0
    c2 = p_spoof * c_fa_spoof * p_fa_spoof_asv
    revised = (c0 + c1 * miss_cm + c2 * fa_cm) / (c0 + min(c1, c2))
    legacy_c1 = p_tar * (c_miss - c_miss * p_miss_asv) - p_non * c_fa * p_fa_asv
    legacy_c2 = c_fa * p_spoof * (1 - (1 - p_fa_spoof_asv))
    legacy = (legacy_c1 * miss_cm + legacy_c2 * fa_cm) / min(legacy_c1, legacy_c2)
    return float(revised.min()), float(legacy.min())


def official_pipeline(key_path: str, scores_path: str, asv_path: str) -> dict:
    import pandas

    key = pandas.read_csv(key_path, sep=" ", header=None, names=["speaker", "utt", "env", "attack", "key"])
    scores = pandas.read_csv(scores_path, sep=" ", header=None, names=["utt", "score"])
    asv = pandas.read_csv(asv_path, sep=" ", header=None, names=["source", "key", "score"])
    joined = key.merge(scores, on="utt", how="inner")
    if len(joined) != len(key):
        raise SystemExit("protocol and score seem to mismatch")
    cm = joined["score"].to_numpy()
    is_bona = (joined["key"] == "bonafide").to_numpy()
    asv_score = asv["score"].to_numpy()
    asv_target = asv_score[(asv["key"] == "target").to_numpy()]
    asv_nontarget = asv_score[(asv["key"] == "nontarget").to_numpy()]
    asv_spoof = asv_score[(asv["key"] == "spoof").to_numpy()]
    eer, _ = _eer(cm[is_bona], cm[~is_bona])
    revised, legacy = _min_tdcfs(cm[is_bona], cm[~is_bona], asv_target, asv_nontarget, asv_spoof)
    return {"eer": eer, "min_tdcf_revised": revised, "min_tdcf_legacy": legacy}


# --------------------------------------------------------------------------- data


def write_million(directory: Path) -> tuple[Path, Path]:
    """A 1 M-line 2019-LA-layout protocol and its 2-column score file, in another order."""
    rng = np.random.default_rng(20)
    attacks = np.array(["-"] + [f"A{i:02d}" for i in range(7, 20)])
    attack_code = np.concatenate([np.zeros(N_BONAFIDE, dtype=np.int64),
                                  rng.integers(1, attacks.size, N_LINES - N_BONAFIDE)])
    rng.shuffle(attack_code)
    is_bona = attack_code == 0
    scores = np.where(is_bona, 2.0, -2.0 + 0.15 * attack_code) + rng.normal(0, 1.5, N_LINES)
    scores = scores.astype(np.float32)  # a model's float32 logits: plenty of ties
    ids = np.char.add("LA_E_", np.char.zfill(np.arange(N_LINES).astype(str), 7))
    speakers = np.char.add("LA_", np.char.zfill((np.arange(N_LINES) % 67).astype(str), 4))
    protocol = directory / "protocol.txt"
    score_file = directory / "scores.txt"
    key = np.where(is_bona, "bonafide", "spoof")
    rows = np.char.add(np.char.add(np.char.add(speakers, " "), ids), " - ")
    rows = np.char.add(np.char.add(np.char.add(rows, attacks[attack_code]), " "), key)
    protocol.write_text("\n".join(rows.tolist()) + "\n", encoding="utf-8")
    order = rng.permutation(N_LINES)
    text = np.char.add(np.char.add(ids[order], " "), np.char.mod("%.6f", scores[order]))
    score_file.write_text("\n".join(text.tolist()) + "\n", encoding="utf-8")
    return protocol, score_file


# --------------------------------------------------------------------------- measuring processes


def timed(command: list[str]) -> tuple[float, float, float, str]:
    """(wall seconds, peak RSS MiB, CPU seconds (user + system), stdout) of one process under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise AssertionError(f"{command} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr).group(1)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr).group(1)) for kind in ("User", "System"))
    return seconds, rss_kib / 1024, cpu, done.stdout


def side_by_side(commands: dict[str, list[str]], rounds: int = ROUNDS) -> dict[str, dict]:
    runs: dict[str, list[tuple[float, float, float, str]]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            runs[name].append(timed(command))
    return {name: {"wall_s": statistics.median(r[0] for r in results),
                   "rss_mib": statistics.median(r[1] for r in results),
                   "cpu_s": statistics.median(r[2] for r in results),
                   "stdout": results[-1][3]} for name, results in runs.items()}


def test_score_cli_against_official_style(benchmark, tmp_path: Path) -> None:
    import pytest

    asv = REFERENCE_DIR / ASV_EVAL
    if not asv.is_file():
        pytest.skip(f"official 2019 LA eval ASV scores not found at {asv}")
    if not Path("/usr/bin/time").is_file():
        pytest.skip("/usr/bin/time is needed to measure peak memory")
    protocol, score_file = write_million(tmp_path)
    benchsuite = str(Path(sys.executable).with_name("benchsuite"))
    arguments = ["score", "--scores", str(score_file), "--protocol", str(protocol), "--asv-scores", str(asv), "--json"]
    commands = {"official-style": [sys.executable, __file__, str(protocol), str(score_file), str(asv)],
                "benchsuite score": [benchsuite, *arguments]}
    before = os.environ.get("BENCHSUITE_BEFORE")
    if before and shutil.which(before):
        commands["benchsuite score (BENCHSUITE_BEFORE)"] = [before, *arguments]
    results = benchmark.pedantic(side_by_side, args=(commands,), rounds=1, iterations=1)
    benchmark.extra_info.update({name: {k: v for k, v in r.items() if k != "stdout"} for name, r in results.items()})
    official = json.loads(results["official-style"]["stdout"])
    ours = json.loads(results["benchsuite score"]["stdout"])
    for name in ("eer", "min_tdcf_revised", "min_tdcf_legacy"):
        assert abs(ours[name] - official[name]) < 1e-12, name
    print()
    print(f"| {'command':<40} | wall (median of {ROUNDS}) | CPU user+sys | peak RSS |")
    for name, result in results.items():
        print(f"| {name:<40} | {result['wall_s']:>8.2f} s | {result['cpu_s']:>8.2f} s | {result['rss_mib']:>7.0f} MiB |")
    reference = results["official-style"]
    assert results["benchsuite score"]["wall_s"] <= reference["wall_s"] * 1.0 + 0.3  # the goal, with noise slack
    assert results["benchsuite score"]["rss_mib"] <= reference["rss_mib"]


if __name__ == "__main__":
    print(json.dumps(official_pipeline(*sys.argv[1:4])))
