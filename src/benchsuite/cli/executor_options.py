"""The ``benchsuite run`` options saying how cells run (``--executor``, ``--jobs``,
``--gpus``, ``--ddp``, ``--slurm-*``) and the executor built from them."""
from __future__ import annotations

from typing import Any, Callable

import click

from benchsuite.contract import ConfigError
from benchsuite.execution.base import Executor, LocalExecutor
from benchsuite.execution.executors import make_executor

POOL_OPTIONS = ("jobs", "gpus", "cells_per_gpu")
SLURM_OPTIONS = ("slurm_partition", "slurm_time", "slurm_gpus_per_task", "slurm_cpus_per_task", "slurm_mem",
                 "slurm_array_parallelism", "slurm_account", "slurm_qos", "slurm_setup", "wait")

_OPTIONS = [
    click.option("--executor", type=click.Choice(["local", "pool", "slurm"]), default="local", show_default=True,
                 help="How cells run: local (in this process, one after another), pool (parallel worker processes "
                      "on this machine), slurm (one Slurm job array; needs benchsuite[slurm])."),
    click.option("--jobs", type=click.IntRange(min=1), help="pool: cells running at once (default: GPUs x "
                 "--cells-per-gpu / --ddp; on CPU min(4, cores / --ddp))."),
    click.option("--gpus", help="pool: GPU indices to use, e.g. 0,1,2,3 (default: every visible GPU); each worker "
                 "owns its device(s)."),
    click.option("--cells-per-gpu", type=click.IntRange(min=1), help="pool: cells packed on one GPU (small models).",
                 default=None),
    click.option("--threads", type=click.IntRange(min=1), help="CPU threads per cell process (default: local = "
                 "torch's default; pool = cores / (jobs x ddp)). CPU results are bit-identical only at equal "
                 "thread counts."),
    click.option("--ddp", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Train each cell on N data-parallel processes (gloo on CPU, NCCL on GPUs); the recipe's "
                      "batch is the global batch (must divide by N). Started by the pool executor (--executor "
                      "local becomes pool --jobs 1) or as N tasks of one Slurm job."),
    click.option("--slurm-partition", help="slurm: partition."),
    click.option("--slurm-time", help="slurm: time limit of one attempt, e.g. 240 or 4:00:00 (default 4:00:00); "
                 "a cell needing longer is requeued and resumes from its checkpoint."),
    click.option("--slurm-gpus-per-task", type=click.IntRange(min=0), help="slurm: GPUs per task (per rank with --ddp)."),
    click.option("--slurm-cpus-per-task", type=click.IntRange(min=1), help="slurm: CPUs per task."),
    click.option("--slurm-mem", help="slurm: memory per node, e.g. 32G."),
    click.option("--slurm-array-parallelism", type=click.IntRange(min=1), help="slurm: array tasks running at once."),
    click.option("--slurm-account", help="slurm: account to charge."),
    click.option("--slurm-qos", help="slurm: quality of service."),
    click.option("--slurm-setup", multiple=True, metavar="LINE",
                 help="slurm: a shell line run before the job, e.g. 'module load cuda'. Repeatable."),
    click.option("--wait", is_flag=True, help="slurm: block until every job ends, then render the report "
                 "(default: submit, print the job id and return)."),
]


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a click command with the executor options."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def parse_gpus(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(f"--gpus {text!r}: expected comma-separated GPU indices, e.g. 0,1,2,3") from exc
    if not gpus or any(g < 0 for g in gpus):
        raise ConfigError(f"--gpus {text!r}: expected comma-separated GPU indices, e.g. 0,1,2,3")
    return gpus


def _given(kw: dict[str, Any], name: str) -> bool:
    value = kw.get(name)
    return value not in (None, False, ())


def build_executor(kw: dict[str, Any]) -> Executor:
    """The executor the options ask for; a ConfigError names an option that does not fit it."""
    name = kw.get("executor") or "local"
    ddp = int(kw.get("ddp") or 1)
    quiet = bool(kw.get("quiet"))
    if name != "slurm":
        stray = [n for n in SLURM_OPTIONS if _given(kw, n)]
        if stray:
            raise ConfigError(f"--{stray[0].replace('_', '-')} applies to --executor slurm (not {name})")
    if name != "pool" and not (name == "local" and ddp > 1):
        stray = [n for n in POOL_OPTIONS if _given(kw, n)]
        if stray:
            raise ConfigError(f"--{stray[0].replace('_', '-')} applies to --executor pool (not {name})")
    if name == "local" and ddp > 1:
        name = "pool"  # the cell's ranks need processes of their own
        kw = {**kw, "jobs": kw.get("jobs") or 1}
    if name == "local":
        if kw.get("threads"):
            import torch

            torch.set_num_threads(int(kw["threads"]))
        return LocalExecutor()
    if name == "pool":
        return make_executor("pool", jobs=kw.get("jobs"), gpus=parse_gpus(kw.get("gpus")),
                             cells_per_gpu=kw.get("cells_per_gpu") or 1, ddp=ddp, threads=kw.get("threads"),
                             quiet=quiet)
    if kw.get("threads"):
        raise ConfigError("--threads applies to --executor local or pool; on Slurm set --slurm-cpus-per-task")
    return make_executor("slurm", partition=kw.get("slurm_partition"), time=kw.get("slurm_time") or 240,
                         gpus_per_task=kw.get("slurm_gpus_per_task"), cpus_per_task=kw.get("slurm_cpus_per_task"),
                         mem=kw.get("slurm_mem"), array_parallelism=kw.get("slurm_array_parallelism"),
                         account=kw.get("slurm_account"), qos=kw.get("slurm_qos"),
                         setup=tuple(kw.get("slurm_setup") or ()), wait=bool(kw.get("wait")), ddp=ddp, quiet=quiet)
