"""`benchsuite run`: plan -> executor -> results store -> report."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchsuite.planning.options import RunOptions
from benchsuite.execution.base import Executor, LocalExecutor
from benchsuite.planning.plan import Cell, build_plan, describe
from benchsuite.common.progress import Progress, format_duration
from benchsuite.common.provenance import now_iso
from benchsuite.plugins.registry import Registry, get_registry
from benchsuite.storage.store import ResultsStore


@dataclass
class RunSummary:
    out: Path
    cells: list[Cell]
    reused: list[str] = field(default_factory=list)  # cell ids already done before this run
    results: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") != "done"]


def run_benchmark(options: RunOptions, *, registry: Registry | None = None, executor: Executor | None = None,
                  progress: Progress | None = None) -> RunSummary:
    started = time.monotonic()
    progress = progress or Progress()
    registry = registry or get_registry()
    executor = executor or LocalExecutor(registry)
    cells = build_plan(registry, options)
    out = Path(options.out)
    store = ResultsStore(out)
    summary = RunSummary(out, cells)
    pending = []
    for cell in cells:
        previous = store.read_result(cell.cell_id)
        if previous is not None and previous.get("status") == "done":
            summary.reused.append(cell.cell_id)
            summary.results.append(previous)
        else:
            pending.append(cell)
    progress.message(f"plan: {describe(cells)}; {len(summary.reused)} already done, {len(pending)} to run")
    invocation = {"command": options.command, "start": now_iso(), "cells": [c.cell_id for c in cells],
                  "pending": [c.cell_id for c in pending], "executor": executor.name}
    if pending:
        results = executor.run(pending, out, progress)
        summary.results.extend(results)
    invocation["end"] = now_iso()
    invocation["failed"] = [r["cell_id"] for r in summary.failed]
    store.record_invocation(invocation)
    store.ensure_index()
    if options.render_report:
        summary.reports = render(out, options.report_dir, options.command)
    summary.seconds = time.monotonic() - started
    if getattr(executor, "detached", False) and pending:
        progress.end_run(f"submitted {len(pending)} cell(s); nothing has run here yet")
        return summary
    progress.end_run(f"finished in {format_duration(summary.seconds)}: {len(summary.results) - len(summary.failed)} "
                     f"done, {len(summary.failed)} failed")
    return summary


def render(out: Path, report_dir: Path, command: str) -> dict[str, Path]:
    from benchsuite.reporting import render_report

    return render_report(out, report_dir, formats=("html", "md", "csv", "json"), command=command)
