"""Tiny score, protocol, ASV-score and trial files for the metric and
score-file tests, plus an independent, deliberately plain implementation of
the official ASVspoof metrics (written from FACTS.md §1.1-1.7, pure Python, one
item at a time) that the fast numeric core is checked against."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

# --------------------------------------------------------------------------- slow reference metrics

P_SPOOF = 0.05
P_TARGET = (1 - P_SPOOF) * 0.99
P_NONTARGET = (1 - P_SPOOF) * 0.01
C_MISS, C_FA, C_FA_SPOOF = 1, 10, 10


def reference_det(positive: Sequence[float], negative: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
    """The official sweep, one item at a time: positives listed first, a stable
    sort on the score, then reject the k lowest for k = 0..n."""
    items = [(float(s), True) for s in positive] + [(float(s), False) for s in negative]
    items.sort(key=lambda item: item[0])  # Python's sort is stable
    n_pos, n_neg = len(positive), len(negative)
    frr, far, thresholds = [0.0], [1.0], [items[0][0] - 0.001]
    rejected_pos = rejected_neg = 0
    for score, is_positive in items:
        if is_positive:
            rejected_pos += 1
        else:
            rejected_neg += 1
        frr.append(rejected_pos / n_pos)
        far.append((n_neg - rejected_neg) / n_neg)
        thresholds.append(score)
    return frr, far, thresholds


def reference_eer(positive: Sequence[float], negative: Sequence[float]) -> tuple[float, float]:
    frr, far, thresholds = reference_det(positive, negative)
    gaps = [abs(a - b) for a, b in zip(frr, far)]
    best = gaps.index(min(gaps))  # the first minimum
    return (frr[best] + far[best]) / 2, thresholds[best]


@dataclass
class ReferenceAsv:
    threshold: float
    pfa: float
    pmiss: float
    pmiss_spoof: float
    pfa_spoof: float


def reference_asv(target: Sequence[float], nontarget: Sequence[float], spoof: Sequence[float]) -> ReferenceAsv:
    _, threshold = reference_eer(target, nontarget)
    return ReferenceAsv(
        threshold=threshold,
        pfa=sum(1 for s in nontarget if s >= threshold) / len(nontarget),
        pmiss=sum(1 for s in target if s < threshold) / len(target),
        pmiss_spoof=sum(1 for s in spoof if s < threshold) / len(spoof),
        pfa_spoof=sum(1 for s in spoof if s >= threshold) / len(spoof),
    )


def reference_tdcf_legacy(positive: Sequence[float], negative: Sequence[float], asv: ReferenceAsv) -> float:
    c1 = P_TARGET * (C_MISS - C_MISS * asv.pmiss) - P_NONTARGET * C_FA * asv.pfa
    c2 = C_FA_SPOOF * P_SPOOF * (1 - asv.pmiss_spoof)
    frr, far, _ = reference_det(positive, negative)
    return min((c1 * m + c2 * f) / min(c1, c2) for m, f in zip(frr, far))


def reference_tdcf_revised(positive: Sequence[float], negative: Sequence[float], asv: ReferenceAsv) -> float:
    c0 = P_TARGET * C_MISS * asv.pmiss + P_NONTARGET * C_FA * asv.pfa
    c1 = P_TARGET * C_MISS - c0
    c2 = P_SPOOF * C_FA_SPOOF * asv.pfa_spoof
    frr, far, _ = reference_det(positive, negative)
    return min((c0 + c1 * m + c2 * f) / (c0 + min(c1, c2)) for m, f in zip(frr, far))


def reference_min_dcf(positive: Sequence[float], negative: Sequence[float], p_target: float, c_miss: float = 1,
                      c_fa: float = 1) -> float:
    frr, far, _ = reference_det(positive, negative)
    best = min(c_miss * m * p_target + c_fa * f * (1 - p_target) for m, f in zip(frr, far))
    return best / min(c_miss * p_target, c_fa * (1 - p_target))


def reference_act_dcf(positive: Sequence[float], negative: Sequence[float]) -> float:
    threshold = -np.log(C_MISS * (1 - P_SPOOF) / (C_FA * P_SPOOF))
    miss = sum(1 for s in positive if s < threshold) / len(positive)
    fa = sum(1 for s in negative if s >= threshold) / len(negative)
    return (C_MISS * (1 - P_SPOOF) * miss + C_FA * P_SPOOF * fa) / min(C_FA * P_SPOOF, C_MISS * (1 - P_SPOOF))


def reference_cllr(positive: Sequence[float], negative: Sequence[float]) -> float:
    def bits(x: float) -> float:
        return float(np.log1p(np.exp(x)) / np.log(2))

    return 0.5 * (sum(bits(-s) for s in positive) / len(positive) + sum(bits(s) for s in negative) / len(negative))


# --------------------------------------------------------------------------- files


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@dataclass
class SpoofSet:
    """A small labelled CM evaluation set."""

    utt_ids: list[str]
    attacks: list[str]  # "-" for bona fide
    is_bonafide: list[bool]
    scores: list[float]

    def protocol_lines(self) -> list[str]:
        return [f"LA_00{i % 3 + 10} {u} - {a} {'bonafide' if b else 'spoof'}"
                for i, (u, a, b) in enumerate(zip(self.utt_ids, self.attacks, self.is_bonafide))]

    def four_column_lines(self) -> list[str]:
        return [f"{u} {a} {'bonafide' if b else 'spoof'} {s!r}"
                for u, a, b, s in zip(self.utt_ids, self.attacks, self.is_bonafide, self.scores)]

    def two_column_lines(self) -> list[str]:
        return [f"{u} {s!r}" for u, s in zip(self.utt_ids, self.scores)]


def spoof_set(n_bonafide: int = 12, attacks: Sequence[str] = ("A07", "A08", "A09"), per_attack: int = 10,
              seed: int = 0) -> SpoofSet:
    """Bona fide around +2, each attack a little harder than the previous one."""
    rng = np.random.default_rng(seed)
    ids, labels, bona, scores = [], [], [], []
    for i in range(n_bonafide):
        ids.append(f"LA_E_{1000000 + i}")
        labels.append("-")
        bona.append(True)
        scores.append(round(float(rng.normal(2.0, 1.0)), 6))
    for k, attack in enumerate(attacks):
        for i in range(per_attack):
            ids.append(f"LA_E_{2000000 + 100 * k + i}")
            labels.append(attack)
            bona.append(False)
            scores.append(round(float(rng.normal(-2.0 + k, 1.0)), 6))
    return SpoofSet(ids, labels, bona, scores)


def write_asv_scores(path: Path, target: Sequence[float], nontarget: Sequence[float],
                     spoof: dict[str, Sequence[float]]) -> Path:
    lines = [f"bonafide target {v:.6f}" for v in target] + [f"bonafide nontarget {v:.6f}" for v in nontarget]
    lines += [f"{attack} spoof {v:.6f}" for attack, values in spoof.items() for v in values]
    return write_lines(path, lines)


ASV_TARGET = (9.0, 8.0, 7.5, 6.0, 3.0)
ASV_NONTARGET = (-6.0, -5.5, -7.0, 4.0, -1.0, -2.0)
ASV_SPOOF = {"A07": (5.0, 0.25, -1.0, 6.5), "A08": (8.5, 7.0, 2.0), "A09": (-3.0, 6.2, 7.7)}


@dataclass
class SvSet:
    enrol: list[str]
    test: list[str]
    is_target: list[bool]
    scores: list[float]


def sv_set(n_target: int = 10, n_nontarget: int = 14, seed: int = 0) -> SvSet:
    rng = np.random.default_rng(seed)
    enrol, test, target, scores = [], [], [], []
    for i in range(n_target + n_nontarget):
        is_target = i < n_target
        enrol.append(f"id100{i % 4}/a/0000{i % 3}.wav")
        test.append(f"id100{i % 4 if is_target else (i + 1) % 4}/b/{i:05d}.wav")
        target.append(is_target)
        scores.append(round(float(rng.normal(0.6 if is_target else 0.1, 0.2)), 6))
    return SvSet(enrol, test, target, scores)
