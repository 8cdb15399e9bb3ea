"""``benchsuite compare ROW_A ROW_B``: is the difference between two leaderboard rows real or seed noise?

Rows are named ``DATASET/MODEL/PROFILE`` with a fourth part when that is ambiguous (the swept
values of a sweep's row, else ``config-HASH``); ``dev:`` before the name picks the dev split's
table.  ``--list`` prints every name.  See :mod:`benchsuite.reporting.compare` for the tests."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from benchsuite.reporting import formatting as fmt
from benchsuite.reporting.compare import (
    BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, compare_rows, describe_tests, find_row, row_names, seed_values,
    trial_bootstrap,
)


def _p(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3g}"


@click.command("compare")
@click.argument("row_a", required=False)
@click.argument("row_b", required=False)
@click.option("--runs", "runs_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
              show_default=True, help="Results store to read (the --out of `benchsuite run`).")
@click.option("--metric", help="Metric key to compare (default: the table's first column, e.g. eer or accuracy).")
@click.option("--resamples", type=click.IntRange(min=0), default=BOOTSTRAP_RESAMPLES, show_default=True,
              help="Trial bootstrap resamples (0: no bootstrap).")
@click.option("--seed", "bootstrap_seed", type=int, default=BOOTSTRAP_SEED, show_default=True,
              help="Seed of the bootstrap's resampling.")
@click.option("--list", "list_rows", is_flag=True, help="Print the name of every row and exit.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compare(row_a: str | None, row_b: str | None, runs_dir: Path, metric: str | None, resamples: int,
            bootstrap_seed: int, list_rows: bool, as_json: bool) -> None:
    """Compare two leaderboard rows: a seed-level test and a paired trial bootstrap."""
    from benchsuite.contract import ConfigError
    from benchsuite.reporting.collect import build_report
    from benchsuite.reporting.sweeps import sweep_cells, sweep_records
    from benchsuite.storage.store import ResultsStore

    report = build_report(runs_dir, baselines=[])
    names = row_names(report.tables, sweep_cells(sweep_records(ResultsStore(runs_dir).invocations())))
    if list_rows:
        for name in sorted(names):
            click.echo(name)
        return
    if not row_a or not row_b:
        raise ConfigError("give two row names, e.g. benchsuite compare synth-emo/cnn-bilstm/quick/lr=0.001 "
                          "synth-emo/cnn-bilstm/quick/lr=0.003 (see --list)")
    table_a, a = find_row(names, row_a)
    table_b, b = find_row(names, row_b)
    if a is b:
        raise ConfigError(f"{row_a!r} and {row_b!r} are the same row")
    comparison = compare_rows(row_a, table_a, a, row_b, table_b, b, metric)
    if resamples:
        trial_bootstrap(report.runs_dir, comparison, table_a, a, table_b, b, resamples=resamples, seed=bootstrap_seed)
    column = comparison.column
    values_a = seed_values(table_a, a, column.key)
    values_b = seed_values(table_b, b, column.key)
    if as_json:
        click.echo(json.dumps({
            "a": row_a, "b": row_b, "metric": column.key, "seeds_a": values_a, "seeds_b": values_b,
            "mean_a": comparison.mean_a, "mean_b": comparison.mean_b, "difference": comparison.difference,
            "seed_test": comparison.test.as_dict(), "why": comparison.why,
            "wilcoxon": comparison.wilcoxon.as_dict() if comparison.wilcoxon else None,
            "bootstrap": comparison.bootstrap.as_dict() if comparison.bootstrap else None,
            "bootstrap_note": comparison.bootstrap_note, "verdict": comparison.verdict(),
        }, indent=2, default=str))
        return
    click.echo(f"{column.label} on {table_a.dataset} {table_a.split}, B - A")
    for label, name, values, mean in (("A", row_a, values_a, comparison.mean_a), ("B", row_b, values_b, comparison.mean_b)):
        per_seed = ", ".join(f"seed {s}: {fmt.fmt_value(v, column)}" for s, v in sorted(values.items()))
        click.echo(f"  {label} {name}: mean {fmt.fmt_value(mean, column)} ({per_seed})")
    test = comparison.test
    df = f", df {test.df:.3g}" if test.df is not None else ""
    click.echo(f"seed level: {test.test}, statistic {test.statistic:.4g}{df}, p = {_p(test.p_value)}, n = {test.n}"
               + (f" ({test.detail})" if test.detail else ""))
    click.echo(f"  why: {comparison.why}")
    if comparison.wilcoxon:
        w = comparison.wilcoxon
        click.echo(f"  {w.test} ({w.detail}): statistic {w.statistic:g}, p = {_p(w.p_value)}")
    if comparison.bootstrap:
        boot = comparison.bootstrap
        click.echo(f"trial level, pooled over seeds (paired bootstrap): difference {fmt.fmt_delta(boot.observed, column)} "
                   f"[{fmt.fmt_delta(boot.low, column)}, {fmt.fmt_delta(boot.high, column)}] "
                   f"({boot.level:.0%} interval), p {boot.p_text()}; {comparison.bootstrap_note}")
    elif comparison.bootstrap_note or not resamples:
        click.echo(f"trial level: {comparison.bootstrap_note or 'skipped (--resamples 0)'}")
    click.echo(f"verdict: {comparison.verdict()}")
    click.echo(f"tests: {describe_tests()}")
