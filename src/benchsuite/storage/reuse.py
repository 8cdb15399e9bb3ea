"""Which planned cells a run reuses, which it runs, and which it leaves to another run.

A cell is reused when its stored result is done and the audio it was trained and scored on is
the audio there now.  The cell id covers the protocol files (their hash) but not the audio, so
the cell config records an **audio fingerprint** per dataset and split, outside the hashed
identity (``runtime.audio_fingerprints``, computed by the plan from the splits it parsed with
``common.files.stat_fingerprint``): SHA-256 over every listed file's name, size and
modification time (``os.stat``, nothing read).  A content hash would also survive a copy that
resets modification times, but it reads the whole corpus (tens of GB for ASVspoof) on every run;
size and mtime cost one ``stat`` per file (see docs/results-schema.md for the measurement).

- a stored cell whose fingerprint differs from the current one is run again, with a notice; its
  earlier files move to ``superseded-<time>/`` in the cell directory and are never mixed in;
- a cell stored before fingerprints were recorded is reused, with one notice for all of them;
- a cell whose lease a live process holds (another ``benchsuite run``) is left to it.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchsuite.cell.directory import EXECUTOR_RECORD, LEASE_FILE, CellDirectories, running_elsewhere
from benchsuite.common.progress import Progress
from benchsuite.planning.plan import Cell

FINGERPRINT_KEY = "audio_fingerprints"


@dataclass
class Partition:
    reused: list[dict[str, Any]] = field(default_factory=list)  # stored done results
    running: list[dict[str, Any]] = field(default_factory=list)  # {"cell_id", "status": "running", "held_by"}
    pending: list[Cell] = field(default_factory=list)

    @property
    def reused_ids(self) -> list[str]:
        return [r["cell_id"] for r in self.reused]


def partition_cells(store: CellDirectories, cells: list[Cell], progress: Progress) -> Partition:
    """Sort the planned cells into reused, left to another run, and to run (see the module doc).
    The plan put each cell's audio fingerprint in ``runtime``, so its config.yaml records it."""
    partition = Partition()
    unchecked = 0
    for cell in cells:
        holder = store.lease_holder(cell.cell_id)
        if holder is not None:
            progress.message(f"{cell.label}: another run is training it ({holder}); left to it")
            partition.running.append(running_elsewhere(cell.cell_id, holder))
            continue
        current = cell.config.runtime.audio_fingerprints
        stored_config = store.read_config(cell.cell_id)
        stored = ((stored_config or {}).get("runtime") or {}).get(FINGERPRINT_KEY)
        if stored is not None and current is not None and stored != current:
            changed = ", ".join(f"{name} {split}" for name in sorted(current) for split in sorted(current[name])
                                if (stored.get(name) or {}).get(split) != current[name][split])
            kept = supersede(store, cell.cell_id)
            progress.message(f"{cell.label}: the audio changed since it ran ({changed or 'datasets differ'}: file "
                             f"sizes or modification times); running it again, its earlier files are in {kept}")
            partition.pending.append(cell)
            continue
        previous = store.read_result(cell.cell_id)
        if previous is not None and previous.get("status") == "done":
            if stored is None:
                unchecked += 1
            partition.reused.append(previous)
        else:
            partition.pending.append(cell)
    if unchecked:
        progress.message(f"notice: {unchecked} done cell(s) were stored before audio fingerprints were recorded; "
                         f"reused without checking that their audio is unchanged")
    return partition


def supersede(store: CellDirectories, cell_id: str) -> Path:
    """Move every output of a cell (result, scores, log, checkpoints, config) into
    ``superseded-<time>/`` inside its directory, so the cell runs from scratch."""
    cell_dir = store.cell_dir(cell_id)
    kept = cell_dir / f"superseded-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    kept.mkdir()
    for entry in cell_dir.iterdir():
        if entry.name in (LEASE_FILE, EXECUTOR_RECORD) or entry.name.startswith("superseded-"):
            continue
        os.replace(entry, kept / entry.name)
    return kept

