"""The pool executor: cells in worker processes on this machine.

One fresh process (``multiprocessing`` spawn context) per cell, or N per
data-parallel cell, started by a small scheduler loop.  A process that dies —
SIGKILL, the OOM killer, a segfault — takes only its cell down: the scheduler
stores that cell as failed with the cause and goes on, and the next run
resumes it from its last checkpoint.  (A ``ProcessPoolExecutor`` would not do:
one dead worker breaks the whole pool.)

With GPUs each cell gets its own device(s) through ``CUDA_VISIBLE_DEVICES``
(``cells_per_gpu`` > 1 packs several small cells on one device); on CPU the
cores are split between the processes running at the same time.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_sentinels
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchsuite.contract import ConfigError
from benchsuite.execution.base import Executor, record_lost_cell, write_executor_record
from benchsuite.execution.worker import RankTask, run_cell_in_process
from benchsuite.planning.plan import Cell
from benchsuite.common.progress import Progress
from benchsuite.common.provenance import now_iso
from benchsuite.cell.directory import CellDirectories, running_elsewhere

if TYPE_CHECKING:  # torch is imported in the workers only, not by the scheduler
    pass

# After rank 0 of a data-parallel cell ends, or any rank fails, the other ranks
# get this long to notice (a broken collective) and exit before being stopped.
RANK_GRACE_SECONDS = 30.0
TERMINATE_SECONDS = 5.0


def available_cores() -> int:
    """Cores this process may run on (affinity / cgroup aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker_main(task: RankTask) -> None:
    run_cell_in_process(task)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def describe_exit(exitcode: int, pid: int | None, rank: int, world_size: int) -> str:
    who = f"worker process {pid}" + (f" (rank {rank} of {world_size})" if world_size > 1 else "")
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = (" (out of memory — the kernel's OOM killer sends SIGKILL — or killed from outside)"
                if -exitcode == signal.SIGKILL else "")
        return f"{who} was killed by {name}{hint}; the next identical run resumes the cell from its last checkpoint"
    return f"{who} exited with code {exitcode} without writing a result (its traceback is in the log above)"


# --------------------------------------------------------------------------- the scheduler


@dataclass
class _Launch:
    cell: Cell
    position: int
    processes: list[Any]  # multiprocessing.Process, one per rank
    gpus: tuple[int, ...]
    start: str
    started: float = field(default_factory=time.monotonic)
    first_failure: tuple[int, int, int | None] | None = None  # (rank, exitcode, pid)
    stop_after: float | None = None
    terminated_at: float | None = None

    def alive(self) -> list[Any]:
        return [p for p in self.processes if p.exitcode is None]

    def observe(self, now: float) -> None:
        """Note exits; schedule stopping the other ranks after a failure or after rank 0 ended."""
        for rank, process in enumerate(self.processes):
            code = process.exitcode
            if code is None:
                continue
            # a rank killed by a signal is the cause even when the poll sees the ranks its death broke first
            killed_first = code < 0 and self.first_failure is not None and self.first_failure[1] >= 0
            if code != 0 and (self.first_failure is None or killed_first):
                self.first_failure = (rank, code, process.pid)
            if (code != 0 or rank == 0) and self.stop_after is None and self.alive():
                self.stop_after = now + RANK_GRACE_SECONDS

    def stop_stragglers(self, now: float) -> None:
        if self.stop_after is None or now < self.stop_after:
            return
        alive = self.alive()
        if self.terminated_at is None:
            for process in alive:
                process.terminate()
            self.terminated_at = now
        elif now - self.terminated_at > TERMINATE_SECONDS:
            for process in alive:
                process.kill()

    @property
    def finished(self) -> bool:
        return not self.alive()


class PoolExecutor(Executor):
    """Cells in parallel worker processes on this machine (``--executor pool``)."""

    name = "pool"

    def __init__(self, jobs: int | None = None, gpus: list[int] | None = None, cells_per_gpu: int = 1,
                 ddp: int = 1, threads: int | None = None, quiet: bool = False):
        if jobs is not None and jobs < 1:
            raise ConfigError(f"--jobs {jobs}: expected 1 or more worker processes")
        if cells_per_gpu < 1:
            raise ConfigError(f"--cells-per-gpu {cells_per_gpu}: expected 1 or more")
        if ddp < 1:
            raise ConfigError(f"--ddp {ddp}: expected 1 or more processes per cell")
        if threads is not None and threads < 1:
            raise ConfigError(f"--threads {threads}: expected 1 or more")
        if gpus is not None and len(set(gpus)) != len(gpus):
            raise ConfigError(f"--gpus {','.join(map(str, gpus))}: a GPU is listed twice")
        self.jobs = jobs
        self.gpus = gpus
        self.cells_per_gpu = cells_per_gpu
        self.ddp = ddp
        self.threads = threads
        self.quiet = quiet
        self.context = multiprocessing.get_context("spawn")

    # ---------------------------------------------------------------- planning

    def _devices(self, cells: list[Cell]) -> list[int] | None:
        """The GPUs to hand out, or None for CPU cells."""
        devices = {c.config.runtime.device for c in cells}
        explicit = sorted(d for d in devices if d.startswith("cuda:"))
        if explicit:
            raise ConfigError(f"--device {explicit[0]} with --executor pool: the pool hands out devices itself; "
                              f"use --device cuda (or auto) with --gpus {explicit[0].split(':')[1]}")
        if devices <= {"cpu"}:
            if self.gpus:
                raise ConfigError("--gpus with --device cpu: drop one of them")
            return None
        import torch

        if not torch.cuda.is_available():
            if self.gpus or "cuda" in devices:
                raise ConfigError("--gpus / --device cuda: CUDA is not available on this machine")
            return None
        count = torch.cuda.device_count()
        gpus = list(self.gpus) if self.gpus is not None else list(range(count))
        missing = [g for g in gpus if not 0 <= g < count]
        if missing:
            raise ConfigError(f"--gpus: GPU {missing[0]} does not exist ({count} visible)")
        if self.ddp > len(gpus):
            raise ConfigError(f"--ddp {self.ddp}: each rank needs its own GPU and only {len(gpus)} are given")
        return gpus

    def _check_batches(self, cells: list[Cell]) -> None:
        if self.ddp == 1:
            return
        from benchsuite.training.distributed import per_process_batch

        for cell in cells:
            per_process_batch(int(cell.identity.recipe["batch_size"]), self.ddp, where=f"cell {cell.label}")

    # ---------------------------------------------------------------- running

    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        out_root = Path(out_root).resolve()
        gpus = self._devices(cells)
        self._check_batches(cells)
        if gpus is not None:
            jobs = self.jobs or max(1, len(gpus) * self.cells_per_gpu // self.ddp)
        else:
            jobs = self.jobs or max(1, min(4, available_cores() // self.ddp))
        threads = self.threads or max(1, available_cores() // (jobs * self.ddp))
        free_slots = {g: self.cells_per_gpu for g in gpus} if gpus is not None else {}
        where = (f"GPUs {','.join(map(str, gpus))} x {self.cells_per_gpu} cell(s) each" if gpus is not None
                 else f"CPU, {threads} thread(s) per process")
        progress.message(f"pool: {len(cells)} cell(s), up to {jobs} at a time"
                         f"{f', {self.ddp} processes per cell' if self.ddp > 1 else ''}; {where}")
        waiting = deque(enumerate(cells, start=1))
        running: list[_Launch] = []
        results: dict[str, dict[str, Any]] = {}
        try:
            while waiting or running:
                while waiting and len(running) < jobs:
                    chosen = self._take_gpus(free_slots) if gpus is not None else ()
                    if chosen is None:
                        break
                    position, cell = waiting.popleft()
                    running.append(self._launch(cell, position, len(cells), out_root, chosen, threads, progress))
                wait_for_sentinels([p.sentinel for launch in running for p in launch.alive()], timeout=0.5)
                now = time.monotonic()
                for launch in list(running):
                    launch.observe(now)
                    launch.stop_stragglers(now)
                    if launch.finished:
                        running.remove(launch)
                        for gpu in launch.gpus:
                            free_slots[gpu] += 1
                        results[launch.cell.cell_id] = self._collect(launch, out_root, progress)
        except BaseException:
            # Ctrl-C or an error here: stop the workers; their cells resume from checkpoints next time
            for launch in running:
                for process in launch.alive():
                    process.terminate()
            for launch in running:
                for process in launch.processes:
                    process.join(TERMINATE_SECONDS)
                    if process.exitcode is None:
                        process.kill()
            raise
        return [results[cell.cell_id] for cell in cells]

    def _take_gpus(self, free_slots: dict[int, int]) -> tuple[int, ...] | None:
        """``ddp`` distinct GPUs with a free slot (the emptiest first), or None to wait."""
        candidates = sorted((g for g, n in free_slots.items() if n > 0), key=lambda g: (-free_slots[g], g))
        if len(candidates) < self.ddp:
            return None
        chosen = tuple(sorted(candidates[:self.ddp]))
        for gpu in chosen:
            free_slots[gpu] -= 1
        return chosen

    def _launch(self, cell: Cell, position: int, total: int, out_root: Path, gpus: tuple[int, ...], threads: int,
                progress: Progress) -> _Launch:
        config = cell.config.with_runtime(executor="pool", ddp=self.ddp, threads=threads, gpus=list(gpus) or None)
        env = {"OMP_NUM_THREADS": str(threads)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        from benchsuite.training.distributed import Rendezvous

        port = free_port() if self.ddp > 1 else 0
        processes = []
        for rank in range(self.ddp):
            rendezvous = Rendezvous(rank, self.ddp, rank, "127.0.0.1", port) if self.ddp > 1 else None
            task = RankTask(config, str(out_root), position, total, self.quiet, threads, env, rendezvous)
            process = self.context.Process(target=_worker_main, args=(task,), name=f"benchsuite-{cell.cell_id}-{rank}")
            process.start()
            processes.append(process)
        write_executor_record(out_root, cell.cell_id, {
            "executor": "pool", "host": socket.gethostname(), "pids": [p.pid for p in processes],
            "gpus": list(gpus) or None, "ddp": self.ddp, "threads": threads, "started": now_iso(),
        })
        progress.message(f"pool: started {cell.label} (pid {', '.join(str(p.pid) for p in processes)}"
                         f"{f', GPU {gpus}' if gpus else ''})")
        return _Launch(cell, position, processes, gpus, now_iso())

    def _collect(self, launch: _Launch, out_root: Path, progress: Progress) -> dict[str, Any]:
        cell = launch.cell
        # a rank that exited between observe() and the finished check has not had its exit code noted
        launch.observe(time.monotonic())
        result = CellDirectories(out_root).read_result(cell.cell_id)
        failure = launch.first_failure
        cause = describe_exit(failure[1], failure[2], failure[0], self.ddp) if failure is not None else None
        holder = CellDirectories(out_root).lease_holder(cell.cell_id) if result is None else None
        if holder is not None:
            # the worker found the cell leased by another live run and left it to that run
            progress.message(f"pool: {cell.label}: left to the run training it ({holder})")
            return running_elsewhere(cell.cell_id, holder)
        if result is None:
            cause = cause or "the worker processes ended without writing a result"
            result = record_lost_cell(cell.config, out_root, "WorkerDied", cause, start=launch.start,
                                      wall_seconds=time.monotonic() - launch.started)
        elif result.get("status") == "failed" and failure is not None and failure[0] > 0 and failure[1] < 0:
            # a rank killed by a signal breaks rank 0's collectives: name the cause, keep rank 0's error as detail
            store = CellDirectories(out_root)
            result["error"] = {**result["error"], "type": "WorkerDied",
                               "message": f"{cause} (rank 0 then failed: {result['error']['message']})"}
            store.write_result(cell.cell_id, {k: v for k, v in result.items() if k not in ("schema_version", "cell_id")})
        status = result.get("status")
        message = "done" if status == "done" else f"FAILED: {(result.get('error') or {}).get('message')}"
        progress.message(f"pool: {cell.label}: {message}")
        return result
