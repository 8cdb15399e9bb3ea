"""``benchsuite score``: evaluate an existing score file, without training.

    benchsuite score --scores FILE (--dataset NAME [--data-root DIR] [--split eval]
                                    | --protocol FILE) [--asv-scores FILE] [--json]
    benchsuite score --scores FILE --trials FILE [--json]

Countermeasure score files (``UTT SCORE``, ``UTT SRC KEY SCORE``, ASVspoof 5
``filename<TAB>cm-score``) are joined to the labels on utterance id, never on
row order; a 4-column file may be scored on its own labels.  Speaker
verification scores (``ENROL TEST SCORE``) are joined to a trial list on the
(enrol, test) pair.  The numbers are the registered metrics of the task, the
same code that fills the leaderboard.  Rates are fractions in ``--json`` and
percent in the table.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click

from benchsuite.contract import BenchsuiteError, ConfigError, MetricOptions, ScoreSet, SpoofScores, Task, VerifyScores
from benchsuite.scoring.metrics import run_metrics


@click.command("score")
@click.option("--scores", "scores_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Score file: CM (UTT SCORE | UTT SRC KEY SCORE | ASVspoof 5 TSV) or SV (ENROL TEST SCORE).")
@click.option("--dataset", help="Registered dataset whose split provides the labels (and ASV scores), e.g. asvspoof2019-la.")
@click.option("--data-root", type=click.Path(path_type=Path, file_okay=False), help="Where the dataset lives.")
@click.option("--split", default="eval", show_default=True, help="Split of --dataset the scores belong to.")
@click.option("--protocol", type=click.Path(path_type=Path, dir_okay=False),
              help="CM protocol/key: ASVspoof 2019 (5 columns), 2021 trial_metadata (8 or 13), ASVspoof 5 TSV.")
@click.option("--asv-scores", type=click.Path(path_type=Path, dir_okay=False),
              help="Organisers' ASV scores (SOURCE KEY SCORE) for the t-DCF; overrides the dataset's.")
@click.option("--trials", type=click.Path(path_type=Path, dir_okay=False),
              help="SV trial list (LABEL ENROL TEST or ENROL TEST LABEL); scores are then ENROL TEST SCORE.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None,
              help="Resamples of the EER bootstrap interval (default 1000; 0 turns it off).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (rates as fractions).")
def score(scores_path: Path, dataset: str | None, data_root: Path | None, split: str, protocol: Path | None,
          asv_scores: Path | None, trials: Path | None, bootstrap: int | None, as_json: bool) -> None:
    """Compute EER, min t-DCF (legacy and revised) and the other metrics of an existing score file."""
    from benchsuite.cli._context import UserError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = evaluate_score_file(scores_path, dataset=dataset, data_root=data_root, split=split,
                                         protocol=protocol, asv_scores=asv_scores, trials=trials, bootstrap=bootstrap)
        report["warnings"] = [str(w.message) for w in caught]
    except BenchsuiteError as err:
        raise UserError(str(err)) from err
    for message in report["warnings"]:
        click.echo(f"warning: {message}", err=True)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=False))
    else:
        click.echo(format_report(report))


def evaluate_score_file(scores_path: Path, *, dataset: str | None = None, data_root: Path | None = None,
                        split: str = "eval", protocol: Path | None = None, asv_scores: Path | None = None,
                        trials: Path | None = None, bootstrap: int | None = None) -> dict[str, Any]:
    """The ``--json`` report of one score file (see the module docstring)."""
    from benchsuite.scoring import files as scorefiles
    from benchsuite.plugins.registry import get_registry

    if trials is not None and (dataset or protocol or asv_scores):
        raise ConfigError("--trials scores speaker verification; it cannot be combined with --dataset, --protocol "
                          "or --asv-scores")
    if dataset and protocol:
        raise ConfigError("give either --dataset (with --data-root) or --protocol, not both")
    if data_root is not None and not dataset:
        raise ConfigError("--data-root needs --dataset NAME")
    registry = get_registry(kinds=("metrics", "datasets") if dataset else ("metrics",))
    labels_from: str
    if trials is not None:
        scores: ScoreSet = scorefiles.verify_scores_from_files(scores_path, trials)
        labels_from = str(trials)
    elif dataset:
        spec = registry.datasets.get(dataset).spec
        root = data_root
        if root is None and spec.default_root is not None:
            root = spec.default_root()
        if root is None:
            raise ConfigError(f"dataset {dataset!r} needs --data-root DIR")
        data = spec.open(Path(root), {}).load_split(split)
        labels_from = f"{dataset} {split} ({data.source or root})"
        if spec.task == Task.SPOOF:
            scores = scorefiles.spoof_scores_from_split(scores_path, data)
            if asv_scores is not None:
                scores.asv = scorefiles.read_asv_scores(asv_scores)
        elif spec.task == Task.VERIFY:
            if not data.trials:
                raise ConfigError(f"dataset {dataset!r} split {split!r} has no trial list to score against")
            trial_list = scorefiles.SvTrials(Path(data.source or dataset), "dataset", [t.enrol for t in data.trials],
                                             [t.test for t in data.trials],
                                             _bools([t.is_target for t in data.trials]), list(range(1, len(data.trials) + 1)))
            scores = scorefiles.join_verify_scores(scorefiles.read_sv_scores(scores_path), trial_list)
        else:
            raise ConfigError(f"benchsuite score evaluates spoof and verify score files; dataset {dataset!r} is a "
                              f"{spec.task} dataset")
    else:
        scores = scorefiles.spoof_scores_from_files(scores_path, protocol, asv_scores)
        labels_from = str(protocol) if protocol is not None else f"{scores_path} (its own KEY column)"
    task = Task.SPOOF if isinstance(scores, SpoofScores) else Task.VERIFY
    metrics = registry.metrics_for(task)
    if not metrics:
        raise ConfigError(f"no {task} metrics are registered (check `benchsuite plugins` for metric plugins that "
                          "failed to load)")
    options = MetricOptions() if bootstrap is None else MetricOptions(bootstrap_resamples=bootstrap)
    merged = _run_metrics(metrics, scores, options)
    report: dict[str, Any] = {"task": str(task), "scores": str(scores_path), "labels": labels_from}
    report.update(merged["values"])
    if task == Task.SPOOF:
        _spoof_report(report, merged, scores)  # type: ignore[arg-type]
    else:
        _verify_report(report, merged, scores)  # type: ignore[arg-type]
    report["metrics"] = merged["info"]
    report["notes"] = merged["notes"]
    return report


def _bools(values: list[bool]):
    import numpy as np

    return np.asarray(values, dtype=bool)


def _run_metrics(metrics: list, scores: ScoreSet, options: MetricOptions) -> dict[str, Any]:
    results = run_metrics(metrics, scores, options)
    if results.errors:
        raise BenchsuiteError("; ".join(f"metric {name!r}: {error}" for name, error in results.errors.items()))
    return {"values": results.values, "info": results.info, "breakdown": results.breakdown, "notes": results.notes,
            "extra": results.extra}


def _spoof_report(report: dict[str, Any], merged: dict[str, Any], scores: SpoofScores) -> None:
    extra = merged["extra"]
    counts = extra.get("counts", {})
    for key in ("eer_ci95", "eer_threshold", "asv_operating_point"):
        if key in extra:
            report[key] = extra[key]
    per_attack = merged["breakdown"].get("attack", {})
    attack_counts = counts.get("attack", {})
    report["per_attack"] = {name: {**values, "spoof": attack_counts.get(name)} for name, values in per_attack.items()}
    report["per_condition"] = {column: groups for column, groups in merged["breakdown"].items() if column != "attack"}
    n_bonafide = int(scores.is_bonafide.sum())
    report["counts"] = {"total": int(len(scores.scores)), "bonafide": n_bonafide,
                        "spoof": int(len(scores.scores)) - n_bonafide, "attacks": len(per_attack)}
    report["asv_scores"] = scores.asv.source if scores.asv is not None else None


def _verify_report(report: dict[str, Any], merged: dict[str, Any], scores: VerifyScores) -> None:
    if "eer_threshold" in merged["extra"]:
        report["eer_threshold"] = merged["extra"]["eer_threshold"]
    n_target = int(scores.is_target.sum())
    report["counts"] = {"total": int(len(scores.scores)), "target": n_target,
                        "nontarget": int(len(scores.scores)) - n_target}


# --------------------------------------------------------------------------- human-readable output


def _number(value: float | None, percent: bool) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.4f} %" if percent else f"{value:.5f}"


# the challenge metrics first, the rest in registry order
_HEADLINE = ("eer", "min_tdcf_legacy", "min_tdcf_revised", "min_dcf_p0.01", "min_dcf_p0.05")


def _display_rank(key: str) -> int:
    return _HEADLINE.index(key) if key in _HEADLINE else len(_HEADLINE)


def format_report(report: dict[str, Any]) -> str:
    info = report.get("metrics", {})
    counts = report["counts"]
    lines = []
    if report["task"] == "spoof":
        lines.append(f"{report['scores']}: {counts['total']:,} utterances ({counts['bonafide']:,} bona fide, "
                     f"{counts['spoof']:,} spoof, {counts['attacks']} attack(s)); labels from {report['labels']}")
        asv = report.get("asv_operating_point")
        if asv:
            lines.append(f"ASV operating point: {asv['source']} (ASV EER {asv['asv_eer'] * 100:.4f} %, "
                         f"threshold {asv['threshold']:.6g})")
    else:
        lines.append(f"{report['scores']}: {counts['total']:,} trials ({counts['target']:,} target, "
                     f"{counts['nontarget']:,} nontarget); labels from {report['labels']}")
    lines.append("")
    width = max((len(meta["label"]) for meta in info.values()), default=10) + 2
    for key, meta in sorted(info.items(), key=lambda item: _display_rank(item[0])):
        text = _number(report.get(key), meta["percent"])
        if key == "eer" and report.get("eer_ci95"):
            low, high = report["eer_ci95"]
            text += f"   (95 % CI {low * 100:.4f} - {high * 100:.4f} %)"
        lines.append(f"  {meta['label']:<{width}} {text}")
    per_attack = report.get("per_attack") or {}
    if per_attack:
        columns = [key for key in ("eer", "min_tdcf_legacy", "min_tdcf_revised") if key in info]
        header = "".join(f"{info[key]['label']:>22}" for key in columns)
        lines += ["", f"  {'attack':<10}{header}{'spoofs':>10}"]
        for name, values in per_attack.items():
            cells = "".join(f"{_number(values.get(key), info[key]['percent']):>22}" for key in columns)
            lines.append(f"  {name:<10}{cells}{values.get('spoof') or '':>10}")
    for column, groups in (report.get("per_condition") or {}).items():
        lines += ["", f"  {column:<18}{'EER':>14}"]
        for value, values in groups.items():
            lines.append(f"  {value:<18}{_number(values.get('eer'), True):>14}")
    notes = report.get("notes") or {}
    if notes:
        lines += ["", "notes:"] + [f"  {key}: {text}" for key, text in notes.items()]
    return "\n".join(lines)
