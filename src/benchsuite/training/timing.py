"""Where a training step's time goes: waiting for the loader, copying to the
device, and the model's forward/backward/optimiser step.

``data wait`` is host time blocked in ``next(loader)``: when it is a large share
the loader, not the model, sets the pace (more workers, the audio cache).  The
host-to-device copy is asynchronous on CUDA (pinned memory, ``non_blocking``), so
it is timed with CUDA events around it and read only after the step's own
synchronisation (the loss is read back every step), adding no synchronisation
of its own; on CPU it is host time.  ``compute`` is the rest of the step.

On CUDA the host synchronises once a step, when it reads the loss after the
forward pass; the backward pass and optimiser step then run while the host
already waits for the next batch.  So ``data wait`` is the host's wait, an upper
bound on the time the GPU stood idle for data, and ``compute`` holds the GPU work
the host waited for at the next step's loss.  The per-epoch totals are exact.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Iterator, TypeVar

import torch

T = TypeVar("T")


@dataclass
class EpochTiming:
    steps: int = 0
    samples: int = 0
    data_wait: float = 0.0
    host_to_device: float = 0.0
    compute: float = 0.0

    @property
    def total(self) -> float:
        return self.data_wait + self.host_to_device + self.compute

    def share(self, part: float) -> float:
        return part / self.total if self.total > 0 else 0.0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.total if self.total > 0 else 0.0

    def note(self) -> str:
        """For the progress line: ``data wait 3 %``."""
        return f"data wait {100 * self.share(self.data_wait):.0f} %"


class StepTimer:
    """Times the steps of one epoch::

        timer = StepTimer(device)
        for waves, labels, _ in timer.batches(loader):
            waves, labels = timer.to_device(waves, labels)
            ...  # forward, backward, step, and reading the loss back
            timer.end_step(len(labels))
        timer.epoch  # EpochTiming
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.epoch = EpochTiming()
        self._cuda = device.type == "cuda"
        self._step_start = 0.0
        self._copy_host = 0.0
        self._events: tuple[torch.cuda.Event, torch.cuda.Event] | None = None

    def batches(self, loader: Iterable[T]) -> Iterator[T]:
        iterator = iter(loader)
        while True:
            waited = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            self._step_start = time.perf_counter()
            self.epoch.data_wait += self._step_start - waited
            yield batch

    def to_device(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        started = time.perf_counter()
        if self._cuda:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            moved = tuple(t.to(self.device, non_blocking=True) for t in tensors)
            end.record()
            self._events = (begin, end)
        else:
            moved = tuple(t.to(self.device) for t in tensors)
        self._copy_host = time.perf_counter() - started
        return moved

    def end_step(self, samples: int) -> None:
        """After the step's result has been read back (so the device has finished it)."""
        step = time.perf_counter() - self._step_start
        copy = self._copy_host
        if self._events is not None:
            begin, end = self._events
            end.synchronize()  # already complete: the step read its loss back after the copy
            copy = max(copy, begin.elapsed_time(end) / 1000.0)
            self._events = None
        copy = min(copy, step)
        self.epoch.host_to_device += copy
        self.epoch.compute += step - copy
        self.epoch.steps += 1
        self.epoch.samples += samples
