"""What ``benchsuite status`` shows: each cell's state, from its result, its executor record,
and the scheduler where one is reachable."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from benchsuite.cell.directory import CellDirectories
from benchsuite.execution.base import read_executor_record
from benchsuite.execution.slurm import QUEUED_STATES, RUNNING_STATES, queue_states
from benchsuite.execution.worker import pool_record_is_live


def cell_states(out_root: Path) -> list[dict[str, Any]]:
    """Every cell of a results store with its state: done / failed (from
    result.json), unreadable (a result.json that is not one: the next run re-runs it),
    running (a live process holds the cell's lease, or the scheduler says so), pending
    (queued), or incomplete (started, no result, not known to run: killed or lost — the
    next run resumes it)."""
    store = CellDirectories(out_root)
    rows: list[dict[str, Any]] = []
    for cell_id in store.cell_ids():
        result = store.read_result(cell_id)
        record = read_executor_record(out_root, cell_id) or {}
        row = {"cell_id": cell_id, "status": None, "error": None, "executor": record.get("executor"),
               "job_id": record.get("job_id"), "where": None}
        holder = store.lease_holder(cell_id) if result is None else None
        if result is not None:
            row["status"] = result.get("status")
            row["error"] = (result.get("error") or {}).get("message")
        elif holder is not None:  # a live process holds the cell's lease, whichever executor started it
            row["status"], row["where"] = "running", holder
        elif record.get("executor") == "pool":
            row["status"] = "running" if pool_record_is_live(record) else "incomplete"
            row["where"] = f"{record.get('host')} pid {','.join(str(p) for p in record.get('pids') or [])}"
        rows.append(row)
    queued = [r for r in rows if r["status"] is None and r["executor"] == "slurm" and r["job_id"]]
    states = queue_states([r["job_id"] for r in queued]) if queued else {}
    for row in queued:
        if states is None:
            # no squeue here (not the cluster's login node): judge from the cell directory
            started = (store.cell_dir(row["cell_id"]) / "config.yaml").exists()
            row["status"] = "running" if started else "pending"
            continue
        state = states.get(str(row["job_id"]))
        if state in RUNNING_STATES:
            row["status"], row["where"] = "running", state
        elif state in QUEUED_STATES:
            row["status"], row["where"] = "pending", state
        else:
            row["status"], row["where"] = "incomplete", "no longer queued"
    for row in rows:
        if row["status"] is None:
            row["status"] = "incomplete"
    return rows
