"""One process running (one rank of) one cell: what pool workers and Slurm tasks execute."""
from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from benchsuite.common.progress import Progress
from benchsuite.planning.cell_config import CellConfig

if TYPE_CHECKING:
    from benchsuite.training.distributed import Rendezvous


@dataclass(frozen=True)
class RankTask:
    """Everything a process needs to run (one rank of) one cell."""

    config: CellConfig
    out_root: str
    position: int = 1
    total: int = 1
    quiet: bool = False
    threads: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    rendezvous: Rendezvous | None = None


class _LogLines:
    """stderr as a log: processes sharing a terminal must not rewrite each other's status line."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def run_cell_in_process(task: RankTask) -> dict[str, Any]:
    """Run one rank of a cell in this (fresh) process: environment, CPU threads,
    process group, then :func:`benchsuite.cell.run_cell`.  Used by pool workers
    and by Slurm tasks."""
    os.environ.update(task.env)
    if task.config.runtime.deterministic:
        # before any CUDA work in this process: cuBLAS reads it when its first handle is made
        from benchsuite.training.seeding import CUBLAS_WORKSPACE

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    import torch

    from benchsuite.training import distributed
    from benchsuite.cell.run import run_cell
    from benchsuite.training.device import resolve_device

    if task.threads:
        torch.set_num_threads(task.threads)
    secondary = task.rendezvous is not None and task.rendezvous.rank > 0
    progress = Progress(stream=_LogLines(sys.stderr), quiet=task.quiet or secondary)
    out_root = Path(task.out_root)
    if task.rendezvous is None or task.rendezvous.world_size == 1:
        return run_cell(task.config, out_root, progress=progress, position=task.position, total=task.total)
    device = resolve_device(task.config.runtime.device)
    with distributed.process_group(task.rendezvous, device.type):
        return run_cell(task.config, out_root, progress=progress, position=task.position, total=task.total)


def pool_record_is_live(record: dict[str, Any]) -> bool:
    """Whether a pool record's processes still run (only knowable on the same host)."""
    if record.get("host") != socket.gethostname():
        return False
    for pid in record.get("pids") or []:
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            continue
        except PermissionError:  # alive, owned by someone else
            return True
        return True
    return False
