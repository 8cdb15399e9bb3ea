"""Measure how many optimiser steps each learning check needs, over seeds and thread counts.

    .venv/bin/python tests/measure_learning.py [--seeds 0,1,2,3,4] [--threads 1,2] [--only NAME,...]

Prints one line per check: the steps needed to reach its criterion for every (threads, seed),
the largest, and the cap the test uses.  A cap is sized at least 2.5 times the largest count, so
the check holds on a CPU whose rounding sends training along another trajectory.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_models_lcnn  # noqa: E402
import test_models_on_synth_la  # noqa: E402
import test_models_raw  # noqa: E402
import test_models_speaker  # noqa: E402
from benchsuite.plugins.registry import get_registry  # noqa: E402
from benchsuite_synth.corpora import open_synth_la  # noqa: E402
from benchsuite_synth.la import generate_synth_la  # noqa: E402

UNCAPPED = 400


def checks(scratch: Path) -> dict[str, tuple[Callable[[int], object], int]]:
    """name -> (run(seed) returning a LearningTrace, the cap the test uses)."""
    registry = get_registry()
    found: dict[str, tuple[Callable[[int], object], int]] = {}
    for name, changes, lr, cap in _params(test_models_raw.test_loss_decreases_on_a_fixed_batch):
        found[f"fixed-batch/{name}"] = (
            lambda seed, n=name, c=changes, r=lr: test_models_raw.learn_fixed_batch(registry, n, c, r, UNCAPPED, seed),
            cap)
    sizes = test_models_on_synth_la.SIZES
    root = generate_synth_la(scratch / "LA", seed=5, workers=1, **sizes)
    utterances = list(open_synth_la(root, {"seed": 5, **sizes}).load_split("train").utterances)
    synth_la_test = test_models_on_synth_la.test_neural_countermeasures_lower_their_loss_on_synth_la
    for name, samples, changes, lr in _params(synth_la_test):
        found[f"synth-la/{name}"] = (
            lambda seed, n=name, s=samples, c=changes, r=lr: test_models_on_synth_la.learn_synth_la_batch(
                utterances, n, s, c, r, UNCAPPED, seed),
            test_models_on_synth_la.MAX_STEPS[name])
    found["lcnn/two-class"] = (lambda seed: test_models_lcnn.learn_two_class_batch(UNCAPPED, seed),
                               test_models_lcnn.MAX_STEPS)
    specs = {name: registry.models.get(name).spec for name in test_models_speaker.SPEAKER_MODELS}
    for name in test_models_speaker.SPEAKER_MODELS:
        found[f"speaker/{name}"] = (lambda seed, n=name: test_models_speaker.learn_speakers(specs, n, UNCAPPED, seed),
                                    test_models_speaker.MAX_STEPS[name])
    return found


def _params(test: Callable) -> list[tuple]:
    """The argument tuples of ``test``'s one ``parametrize`` mark."""
    (mark,) = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    return list(mark.args[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    only = {o for o in args.only.split(",") if o}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (run, cap) in checks(Path(scratch)).items():
            if only and not any(o in name for o in only):
                continue
            steps = {}
            for count in threads:
                torch.set_num_threads(count)
                for seed in seeds:
                    steps[(count, seed)] = run(seed).steps
            worst = max(steps.values())
            listing = " ".join(f"t{t}s{s}={n}" for (t, s), n in sorted(steps.items()))
            verdict = "ok" if cap >= 2.5 * worst else "CAP TOO SMALL"
            print(f"{name:<24} max {worst:>3}  cap {cap:>3}  {verdict:<13} {listing}", flush=True)


if __name__ == "__main__":
    main()
