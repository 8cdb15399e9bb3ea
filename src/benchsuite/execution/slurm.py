"""The Slurm executor: the pending cells of a matrix as one Slurm job array, through submitit.

Each array task runs one cell (a data-parallel cell runs as N tasks of its
job).  The callable follows submitit's checkpointing protocol: on time-out or
preemption submitit calls ``checkpoint()``, which resubmits the same cell, and
requeues the job; the requeued task resumes from the cell's ``last.pt``.  Cell
directories in the shared output directory stay the source of truth; the job
ids are noted per cell (``executor.json``) for ``benchsuite status``.

submitit is an optional extra (``pip install benchsuite[slurm]``); this module
imports it only when a job is submitted or run.
"""
from __future__ import annotations

import getpass
import math
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from benchsuite.contract import ConfigError
from benchsuite.execution.base import Executor, read_executor_record, record_lost_cell, write_executor_record
from benchsuite.planning.cell_config import CellConfig
from benchsuite.planning.plan import Cell
from benchsuite.common.progress import Progress
from benchsuite.common.provenance import now_iso
from benchsuite.cell.directory import RESULT_FILE, CellDirectories, running_elsewhere

LOG_DIR = "slurm"
# --slurm-time bounds one attempt; a cell needing longer is requeued on time-out
# and resumes from its last checkpoint, as often as this.
MAX_REQUEUES = 100
QUEUED_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED",
                 "PREEMPTED"}
RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}
_TIME_RE = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?")


def parse_slurm_time(text: str) -> int:
    """A Slurm ``--time`` value (``90``, ``1:30:00``, ``2-00:00:00``, ...) in whole minutes."""
    match = _TIME_RE.fullmatch(str(text).strip())
    if match:
        days, first, second, third = match.groups()
        if days is None:  # minutes | minutes:seconds | hours:minutes:seconds
            numbers = [int(first)] + [int(x) for x in (second, third) if x is not None]
            hours, minutes, seconds = {1: (0, numbers[0], 0), 2: (0, numbers[0], numbers[-1]),
                                       3: tuple(numbers)}[len(numbers)]
        else:  # days-hours | days-hours:minutes | days-hours:minutes:seconds
            hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
        total = 1440 * int(days or 0) + 60 * hours + minutes + seconds / 60
        if total > 0:
            return max(1, math.ceil(total))
    raise ConfigError(f"--slurm-time {text!r}: expected minutes or a Slurm time such as 90, 4:00:00 or 1-12:00:00")


def check_slurm_mem(text: str) -> str:
    value = str(text).strip().upper()
    if not re.match(r"^\d+[KMGT]?$", value):
        raise ConfigError(f"--slurm-mem {text!r}: expected a Slurm memory size such as 16G or 32000M")
    return value


def _require_submitit() -> Any:
    try:
        import submitit
    except ImportError as exc:
        raise ConfigError("--executor slurm needs submitit: pip install 'benchsuite[slurm]'") from exc
    return submitit


# --------------------------------------------------------------------------- the job


class CellJob:
    """One cell as a submitit job (one task, or one task per rank).  Checkpointable:
    on time-out or preemption the same cell is resubmitted and resumes from its
    last checkpoint, so nothing but the cell config needs saving."""

    def __init__(self, config: CellConfig, out_root: str, position: int = 1, total: int = 1,
                 quiet: bool = False):
        self.config = config
        self.out_root = out_root
        self.position = position
        self.total = total
        self.quiet = quiet

    def __call__(self) -> dict[str, Any]:
        import submitit

        from benchsuite.training.distributed import Rendezvous
        from benchsuite.execution.worker import RankTask, run_cell_in_process

        environment = submitit.JobEnvironment()
        rendezvous = None
        if environment.num_tasks > 1:
            torch_env = submitit.helpers.TorchDistributedEnvironment()
            rendezvous = Rendezvous(torch_env.rank, torch_env.world_size, torch_env.local_rank,
                                    torch_env.master_addr, torch_env.master_port)
        if environment.global_rank == 0:
            self._note_attempt(environment.job_id)
        result = run_cell_in_process(RankTask(self.config, self.out_root, self.position, self.total, self.quiet,
                                              rendezvous=rendezvous))
        return {"cell_id": result.get("cell_id"), "status": result.get("status")}

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        from submitit.helpers import DelayedSubmission

        # the cell's own last.pt is the checkpoint: resubmitting the same cell resumes it
        return DelayedSubmission(CellJob(self.config, self.out_root, self.position, self.total, self.quiet))

    def _note_attempt(self, job_id: str) -> None:

        out_root = Path(self.out_root)
        cell_id = self.config.cell_id
        record = read_executor_record(out_root, cell_id) or {"executor": "slurm", "job_id": job_id}
        record["attempts"] = int(record.get("attempts", 0)) + 1
        record["running"] = {"host": socket.gethostname(), "pid": os.getpid(), "job_id": job_id,
                             "started": now_iso()}
        write_executor_record(out_root, cell_id, record)


# --------------------------------------------------------------------------- scheduler queries


def queue_states(job_ids: list[str]) -> dict[str, str] | None:
    """Array-task id ("4242_3") or job id -> Slurm state, for jobs still queued or
    running (``squeue``); None when squeue is not available."""
    if shutil.which("squeue") is None:
        return None
    base_ids = sorted({str(j).split("_")[0] for j in job_ids})
    if not base_ids:
        return {}
    states: dict[str, str] = {}
    # squeue fails on an id it no longer knows; ask again one by one when a batch fails
    for batch in ([base_ids], [[i] for i in base_ids]):
        ok = True
        for ids in batch:
            done = subprocess.run(["squeue", "--noheader", "--array", "--format=%i|%T", "--jobs", ",".join(ids)],
                                  capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                ok = False
                continue
            for line in done.stdout.splitlines():
                if "|" in line:
                    job, state = line.split("|", 1)
                    states[job.strip()] = state.strip().upper()
        if ok:
            break
    return states


# --------------------------------------------------------------------------- the executor


class SlurmExecutor(Executor):
    """Pending cells as one Slurm job array (``--executor slurm``)."""

    name = "slurm"

    def __init__(self, *, partition: str | None = None, time: str | int = 240, gpus_per_task: int | None = None,
                 cpus_per_task: int | None = None, mem: str | None = None, array_parallelism: int | None = None,
                 account: str | None = None, qos: str | None = None, setup: list[str] | tuple[str, ...] = (),
                 wait: bool = False, ddp: int = 1, quiet: bool = False, cluster: str = "slurm",
                 poll_seconds: float | None = None):
        if cluster not in ("slurm", "local"):
            raise ConfigError(f"slurm executor cluster {cluster!r}: expected slurm or local")
        if ddp < 1:
            raise ConfigError(f"--ddp {ddp}: expected 1 or more processes per cell")
        if array_parallelism is not None and array_parallelism < 1:
            raise ConfigError(f"--slurm-array-parallelism {array_parallelism}: expected 1 or more")
        self.time_minutes = parse_slurm_time(str(time))
        self.partition = partition
        self.gpus_per_task = gpus_per_task
        self.cpus_per_task = cpus_per_task
        self.mem = check_slurm_mem(mem) if mem else None
        self.array_parallelism = array_parallelism
        self.account = account
        self.qos = qos
        self.setup = [line for line in setup if line.strip()]
        self.wait = wait
        self.ddp = ddp
        self.quiet = quiet
        self.cluster = cluster
        self.poll_seconds = poll_seconds if poll_seconds is not None else (30.0 if cluster == "slurm" else 1.0)
        self.submitted: list[str] = []  # job ids of this submission
        self.detached = not wait  # `run` returns right after submitting
        if cluster == "slurm":
            self._check_environment()  # before any planning or data validation

    def check_device(self, device: str) -> None:
        """The cells run on the cluster's nodes, not here: CUDA needs GPUs requested per task."""
        if self.cluster == "local":
            super().check_device(device)
        elif device.startswith("cuda") and not self.gpus_per_task:
            raise ConfigError(f"--device {device} with --executor slurm: request GPUs with --slurm-gpus-per-task N, or use "
                              f"--device auto")

    @staticmethod
    def _check_environment() -> None:
        _require_submitit()
        missing = [cmd for cmd in ("sbatch", "srun") if shutil.which(cmd) is None]
        if missing:
            raise ConfigError(f"--executor slurm: {' and '.join(missing)} not found on PATH; submit from a Slurm "
                              f"login node (or use --executor pool on this machine)")

    # ---------------------------------------------------------------- submission

    def _submitit_executor(self, out_root: Path) -> Any:
        submitit = _require_submitit()
        folder = out_root / LOG_DIR / "%j"
        if self.cluster == "local":
            executor = submitit.LocalExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
            executor.update_parameters(timeout_min=self.time_minutes, tasks_per_node=self.ddp,
                                       gpus_per_node=self.ddp if self.gpus_per_task else 0,
                                       **({"setup": self.setup} if self.setup else {}))
            return executor
        self._check_environment()
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
        parameters: dict[str, Any] = {"job_name": "benchsuite", "time": self.time_minutes, "nodes": 1,
                                      "ntasks_per_node": self.ddp,
                                      "additional_parameters": {"requeue": True, **({"mem": self.mem} if self.mem else {})}}
        for key, value in (("partition", self.partition), ("gpus_per_task", self.gpus_per_task),
                           ("cpus_per_task", self.cpus_per_task), ("array_parallelism", self.array_parallelism),
                           ("account", self.account), ("qos", self.qos)):
            if value is not None:
                parameters[key] = value
        if self.setup:
            parameters["setup"] = list(self.setup)
        executor.update_parameters(**parameters)
        return executor

    def run(self, cells: list[Cell], out_root: Path, progress: Progress) -> list[dict[str, Any]]:
        out_root = Path(out_root).resolve()
        if self.ddp > 1:
            from benchsuite.training.distributed import per_process_batch

            for cell in cells:
                per_process_batch(int(cell.identity.recipe["batch_size"]), self.ddp, where=f"cell {cell.label}")
        executor = self._submitit_executor(out_root)
        store = CellDirectories(out_root)
        queued = self._already_queued(cells, out_root) if self.cluster == "slurm" else {}
        to_submit = [c for c in cells if c.cell_id not in queued]
        for cell in to_submit:
            # a failed attempt waiting for its retry is pending, not failed: keep it aside as run_cell would
            previous = store.result_path(cell.cell_id)
            if previous.exists():
                previous.rename(previous.with_name(f"result.failed-{int(time.time())}.json"))
        jobs = []
        if to_submit:
            jobs = executor.submit_array([
                CellJob(c.config.with_runtime(executor="slurm", ddp=self.ddp),
                        str(out_root), i, len(cells), self.quiet)
                for i, c in enumerate(to_submit, start=1)])
        submitted_at = now_iso()
        for cell, job in zip(to_submit, jobs):
            write_executor_record(out_root, cell.cell_id, {
                "executor": "slurm" if self.cluster == "slurm" else "submitit-local", "job_id": str(job.job_id),
                "submitted": submitted_at, "user": _user(), "logs": str(out_root / LOG_DIR / str(job.job_id)),
                "ddp": self.ddp})
        self.submitted = sorted({str(j.job_id).split("_")[0] for j in jobs})
        if jobs:
            first, last = jobs[0].job_id, jobs[-1].job_id
            span = first if len(jobs) == 1 else f"{first} .. {last}"
            progress.message(f"slurm: submitted {len(jobs)} cell(s) as job {', '.join(self.submitted)} ({span}); "
                             f"logs in {out_root / LOG_DIR}")
        if queued:
            progress.message(f"slurm: {len(queued)} cell(s) already queued or running, not submitted again: "
                             + ", ".join(sorted(set(queued.values()))))
        if not self.wait:
            return []
        waiting = {c.cell_id: (c, job) for c, job in zip(to_submit, jobs)}
        if queued:
            submitit = _require_submitit()
            for cell in cells:
                if cell.cell_id in queued:
                    waiting[cell.cell_id] = (cell, submitit.SlurmJob(folder=out_root / LOG_DIR / "%j",
                                                                     job_id=queued[cell.cell_id]))
        return self._wait(cells, waiting, out_root, progress)

    def _already_queued(self, cells: list[Cell], out_root: Path) -> dict[str, str]:
        """Cells whose earlier job is still pending or running: submitting them
        again would train one cell twice into the same directory."""
        recorded = {}
        for cell in cells:
            record = read_executor_record(out_root, cell.cell_id) or {}
            if record.get("executor") == "slurm" and record.get("job_id"):
                recorded[cell.cell_id] = str(record["job_id"])
        if not recorded:
            return {}
        states = queue_states(list(recorded.values())) or {}
        return {cell_id: job for cell_id, job in recorded.items()
                if states.get(job) in QUEUED_STATES | RUNNING_STATES}

    # ---------------------------------------------------------------- waiting

    def _wait(self, cells: list[Cell], waiting: dict[str, tuple[Cell, Any]], out_root: Path,
              progress: Progress) -> list[dict[str, Any]]:
        store = CellDirectories(out_root)
        results: dict[str, dict[str, Any]] = {}
        started = time.monotonic()
        shown = ""
        while waiting:
            if self.cluster == "slurm":
                _require_submitit().SlurmJob.watcher.update()  # one sacct call for all jobs
            for cell_id, (cell, job) in list(waiting.items()):
                if not job.done():
                    continue
                result = store.read_result(cell_id)
                holder = store.lease_holder(cell_id) if result is None else None
                if holder is not None:  # the job left the cell to the live run that holds its lease
                    result = running_elsewhere(cell_id, holder)
                elif result is None:
                    result = record_lost_cell(cell.config, out_root, "JobLost", _lost_message(job), start=now_iso(),
                                              wall_seconds=time.monotonic() - started)
                results[cell_id] = result
                del waiting[cell_id]
                if result.get("status") not in ("done", "running"):
                    progress.message(f"slurm: {cell.label} FAILED: {(result.get('error') or {}).get('message')}")
            failed = sum(1 for r in results.values() if r.get("status") not in ("done", "running"))
            text = f"slurm: {len(results) - failed} done, {failed} failed, {len(waiting)} pending or running"
            if text != shown:
                progress.message(text)
                shown = text
            if waiting:
                time.sleep(self.poll_seconds)
        return [results[c.cell_id] for c in cells if c.cell_id in results]


def _lost_message(job: Any) -> str:
    """Why a finished job left no result: its exception, or its final scheduler state."""
    try:
        error = job.exception()
    except Exception as exc:  # the job never wrote an outcome (killed, cancelled, node failure)
        error = exc
    state = getattr(job, "state", "UNKNOWN")
    detail = str(error).strip().splitlines()[-1] if error else ""
    return (f"job {job.job_id} ended (state {state}) without writing {RESULT_FILE}"
            + (f": {detail}" if detail else "") + f"; logs: {job.paths.stderr}")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
