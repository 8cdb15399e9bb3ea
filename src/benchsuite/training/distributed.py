"""Data-parallel cells: one cell trained on N processes with ``torch.distributed``.

The global batch stays the recipe's: each process takes ``batch / N`` items of
every global batch (the same items, in the same order, as a single-process run),
gradients are averaged by DistributedDataParallel, the loss is normalised over
the whole global batch, and batch-norm statistics are synchronised across the
processes, so a DDP cell follows the single-process loss curve up to
floating-point summation order and dropout masks.  Only rank 0 writes
checkpoints, scores and results.

Launching (which processes, which rendezvous address) belongs to the executors
(``benchsuite.pool`` locally, ``benchsuite.slurm`` as N tasks of one job); this
module only knows about one rank.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from benchsuite.contract import CellFailure, ConfigError

TIMEOUT_ENV = "BENCHSUITE_DDP_TIMEOUT_MIN"
# Ranks > 0 wait in a collective while rank 0 scores the dev split after each
# epoch, so the timeout must cover a full dev pass, not only a training step.
DEFAULT_TIMEOUT_MIN = 60.0


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def collective_device(self) -> torch.device:
        """NCCL collectives need CUDA tensors; gloo works on CPU tensors."""
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def describe(self, per_process_batch: int | None = None) -> dict[str, Any]:
        return {"world_size": self.world_size, "backend": self.backend, "per_process_batch": per_process_batch,
                "sync_batchnorm": True}


SINGLE_PROCESS = DistributedContext()


def current() -> DistributedContext:
    """This process's place in the cell's process group (one process when none is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE_PROCESS
    return DistributedContext(dist.get_rank(), dist.get_world_size(),
                              int(os.environ.get("LOCAL_RANK", dist.get_rank())), dist.get_backend())


@dataclass(frozen=True)
class Rendezvous:
    """Where the ranks of one cell meet (a TCP store on rank 0's host)."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


@contextmanager
def process_group(rendezvous: Rendezvous, device_type: str) -> Iterator[DistributedContext]:
    """Join the cell's process group: NCCL on GPUs, gloo on CPU."""
    backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(rendezvous.local_rank % torch.cuda.device_count())
    os.environ["LOCAL_RANK"] = str(rendezvous.local_rank)
    timeout = timedelta(minutes=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_MIN)))
    dist.init_process_group(backend, init_method=f"tcp://{rendezvous.master_addr}:{rendezvous.master_port}",
                            rank=rendezvous.rank, world_size=rendezvous.world_size, timeout=timeout)
    try:
        yield current()
        # Leave together: rank 0 hosts the rendezvous store, and a rank that tears gloo down
        # after rank 0 has exited can die in C++ ("terminate called") with its work already done.
        dist.barrier()
    finally:
        dist.destroy_process_group()


# --------------------------------------------------------------------------- batches


def per_process_batch(global_batch: int, world_size: int, where: str = "the recipe") -> int:
    if global_batch % world_size:
        raise ConfigError(
            f"--ddp {world_size}: {where}'s batch size {global_batch} is not divisible by {world_size} processes "
            f"(the global batch stays the recipe's); choose --ddp dividing {global_batch} or change batch_size "
            f"with --set model.NAME.batch_size=...")
    return global_batch // world_size


class ShardedEpochSampler(Sampler):
    """Rank ``r``'s share of an :class:`~benchsuite.data.EpochSampler` order:
    the ``r``-th slice of every global batch.

    The union over ranks of step ``k`` is exactly the single-process batch ``k``,
    and every rank takes the same number of steps (a global batch that a
    single-process run would drop is dropped on every rank)."""

    def __init__(self, base: Sampler, global_batch: int, rank: int, world_size: int):
        self.base = base
        self.global_batch = global_batch
        self.rank = rank
        self.world_size = world_size
        self.local_batch = per_process_batch(global_batch, world_size)
        size = len(base)
        if size >= global_batch:
            self.steps, self.last_batch = size // global_batch, global_batch
        else:
            # the single-process loader keeps one partial batch; split what divides evenly
            self.steps, self.last_batch = 1, size - size % world_size
        if self.last_batch == 0:
            raise CellFailure(f"--ddp {world_size}: the training split has {size} item(s), fewer than the "
                              f"{world_size} processes")

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __iter__(self) -> Iterator[Any]:
        order = list(iter(self.base))
        share = self.local_batch if self.last_batch == self.global_batch else self.last_batch // self.world_size
        items = []
        for step in range(self.steps):
            start = step * self.global_batch + self.rank * share
            items.extend(order[start:start + share])
        return iter(items)

    def __len__(self) -> int:
        return self.steps * (self.local_batch if self.last_batch == self.global_batch
                             else self.last_batch // self.world_size)


def shard_loader(loader: DataLoader, context: DistributedContext) -> DataLoader:
    """The same loader (dataset, collate, workers) drawing this rank's share of each global batch."""
    sampler = ShardedEpochSampler(loader.sampler, loader.batch_size, context.rank, context.world_size)
    return DataLoader(
        loader.dataset, batch_size=sampler.local_batch, sampler=sampler, drop_last=False,
        collate_fn=loader.collate_fn, num_workers=loader.num_workers, pin_memory=loader.pin_memory,
        persistent_workers=loader.persistent_workers, worker_init_fn=loader.worker_init_fn,
        prefetch_factor=loader.prefetch_factor if loader.num_workers > 0 else None,
    )


# --------------------------------------------------------------------------- model


class _AllReducedBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics cover the whole global batch, for
    gloo (``torch.nn.SyncBatchNorm`` runs on CUDA only).  The all-reduce is the
    differentiable one, so gradients flow through the shared statistics."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(input)
        dims = [0] + list(range(2, input.dim()))
        shape = [1, -1] + [1] * (input.dim() - 2)
        local_count = torch.tensor([input.numel() / input.shape[1]], dtype=input.dtype, device=input.device)
        totals = all_reduce(torch.cat([input.sum(dims), local_count]))
        count = totals[-1]
        mean = totals[:-1] / count
        centred = input - mean.view(shape)
        # two passes (mean, then squared deviations) like the native kernel, not E[x^2] - E[x]^2
        var = all_reduce((centred * centred).sum(dims)) / count
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum)
                n = float(count)
                unbiased = var.detach() * (n / max(1.0, n - 1.0))
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
        return out


def _to_all_reduced(module: torch.nn.Module) -> torch.nn.Module:
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(
            module, (_AllReducedBatchNorm, torch.nn.SyncBatchNorm)):
        replacement = _AllReducedBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                           module.track_running_stats)
        replacement.load_state_dict(module.state_dict())
        if module.affine:
            replacement.weight.requires_grad_(module.weight.requires_grad)
            replacement.bias.requires_grad_(module.bias.requires_grad)
        replacement.train(module.training)
        return replacement
    for name, child in module.named_children():
        converted = _to_all_reduced(child)
        if converted is not child:
            setattr(module, name, converted)
    return module


def sync_batchnorm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Batch-norm layers computing their training statistics over all ranks
    (state-dict keys unchanged, so checkpoints load in a single process)."""
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_all_reduced(module)


# --------------------------------------------------------------------------- values


def global_loss(sample_losses: torch.Tensor, sample_weights: torch.Tensor,
                context: DistributedContext) -> tuple[torch.Tensor, float]:
    """(the loss this rank back-propagates, the global batch loss as a float).

    A mean over the whole global batch — weighted by the class weights when the
    loss has them — not a mean of per-rank means, which would differ when the
    ranks' class mixes (and so their weight sums) differ.  DDP averages the
    ranks' gradients, hence the factor N."""
    totals = torch.stack([sample_losses.detach().sum(), sample_weights.sum()]).to(
        context.collective_device, torch.float64)
    dist.all_reduce(totals)
    weight_total = float(totals[1])
    local = sample_losses.sum() * (context.world_size / weight_total)
    return local, float(totals[0]) / weight_total


def broadcast_value(value: float | None, context: DistributedContext) -> float | None:
    """Rank 0's value (None allowed) on every rank."""
    packed = torch.tensor([math.nan if value is None else float(value), 1.0 if value is None else 0.0],
                          dtype=torch.float64, device=context.collective_device)
    dist.broadcast(packed, src=0)
    return None if packed[1].item() else float(packed[0])
