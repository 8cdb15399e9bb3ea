"""``benchsuite index`` and ``benchsuite status``: the results store."""
from __future__ import annotations

import json
from pathlib import Path

import click

from benchsuite.contract import ConfigError


# --------------------------------------------------------------------------- store


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True, help="Results store.")
@click.option("--rebuild", is_flag=True, help="Recreate runs.sqlite from the cell directories.")
def index(out: Path, rebuild: bool) -> None:
    """Show or rebuild the SQLite index of a results store."""
    from benchsuite.storage.store import ResultsStore

    store = ResultsStore(out)
    if not store.cells_dir.is_dir():
        raise ConfigError(f"--out {out}: no results store here (no cells/ directory)")
    if rebuild:
        count = store.rebuild_index()
        click.echo(f"indexed {count} cell(s) into {store.index_path}")
        return
    store.ensure_index()
    rows = store.query("SELECT status, COUNT(*) FROM cells GROUP BY status ORDER BY status")
    click.echo(f"{store.index_path}: " + ", ".join(f"{n} {s}" for s, n in rows) if rows else "no finished cells")


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True, help="Results store.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(out: Path, as_json: bool) -> None:
    """Cells of a results store: done, failed, pending or running (with their Slurm
    job ids or pool processes), incomplete (killed or lost: the next run resumes them)."""
    from benchsuite.execution.status import cell_states

    rows = cell_states(out)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        detail = ", ".join(str(d) for d in (row["executor"], row["job_id"] and f"job {row['job_id']}", row["where"]) if d)
        click.echo(f"{row['status']:<11} {row['cell_id']}" + (f"  ({detail})" if detail else "")
                   + (f"  {row['error']}" if row["error"] else ""))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no cells")
