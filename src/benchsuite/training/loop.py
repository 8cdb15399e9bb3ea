"""Training one model on one split, with checkpoints every epoch, resume,
dev-only model selection and reproducible randomness.

The trainer owns everything device- and optimisation-related: models never
call ``.cuda()``, set seeds or build optimisers themselves.
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from benchsuite.training import distributed
from benchsuite.contract import CellFailure, ConfigError, Estimator, Recipe, TaskInfo
from benchsuite.contract.streams import RandomStreams
from benchsuite.common.progress import Progress
from benchsuite.common.files import atomic_write_text

from benchsuite.training.averaging import WeightAverage, update_batch_norm
from benchsuite.training.checkpoints import BEST, LAST, load_checkpoint, load_resume_checkpoint, save_checkpoint
from benchsuite.training.device import autocast_dtype
from benchsuite.training.optim import build_optimizer, lr_factor, make_loss, make_sample_loss, parameter_groups
from benchsuite.training.seeding import seed_everything
from benchsuite.training.timing import EpochTiming, StepTimer


# --------------------------------------------------------------------------- the trainer


@dataclass
class EpochRecord:
    epoch: int
    steps: int
    train_loss: float
    dev_value: float | None
    lr: float
    seconds: float
    # where the training steps' time went (training/timing.py); checkpoints written before
    # these fields existed resume with them empty
    data_wait_seconds: float | None = None
    host_to_device_seconds: float | None = None
    compute_seconds: float | None = None
    samples_per_second: float | None = None

    def row(self) -> dict[str, Any]:
        def optional(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return {"epoch": self.epoch, "steps": self.steps, "train_loss": f"{self.train_loss:.6f}",
                "dev_value": "" if self.dev_value is None else f"{self.dev_value:.6f}", "lr": f"{self.lr:.3e}",
                "seconds": f"{self.seconds:.2f}", "data_wait_s": optional(self.data_wait_seconds, 3),
                "host_to_device_s": optional(self.host_to_device_seconds, 3),
                "compute_s": optional(self.compute_seconds, 3),
                "samples_per_s": optional(self.samples_per_second, 2)}


LOG_FIELDS = ["epoch", "steps", "train_loss", "dev_value", "lr", "seconds", "data_wait_s", "host_to_device_s",
              "compute_s", "samples_per_s"]


def log_text(history: list[EpochRecord]) -> str:
    """train_log.csv: one row per epoch."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LOG_FIELDS)
    writer.writeheader()
    for record in history:
        writer.writerow(record.row())
    return out.getvalue()


@dataclass
class TrainSummary:
    epochs_run: int
    best_epoch: int | None
    best_value: float | None
    resumed_from_epoch: int | None
    train_seconds: float
    history: list[EpochRecord] = field(default_factory=list)
    averaged_epochs: list[int] | None = None  # the epochs whose weights the trained model averages


@dataclass
class _RunState:
    """Where a training run is: the epochs finished, optimiser steps, the best epoch, the log, the average."""

    epoch: int = 0
    step: int = 0
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": None, "value": None})
    history: list[EpochRecord] = field(default_factory=list)
    resumed_from: int | None = None
    stale_epochs: int = 0
    average: WeightAverage | None = None


class _ModelWithHead(torch.nn.Module):
    """Model and head as one module, so DistributedDataParallel syncs both."""

    def __init__(self, model: torch.nn.Module, head: torch.nn.Module | None):
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, waves: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = self.model(waves)
        return self.head(out, labels) if self.head is not None else out


class Trainer:
    """Trains a ``torch.nn.Module`` (plus an optional head for embedding models).

    ``dev_value(model, head) -> float | None`` scores the dev split and returns
    the selection value (lower is better) or None when there is nothing to
    select on; ``on_best`` is called with the epoch when a new best is kept
    (the caller writes dev scores then).

    Under ``torch.distributed`` (a data-parallel cell) the loader must already
    be sharded (:func:`benchsuite.training.distributed.shard_loader`); the model is
    wrapped in DistributedDataParallel with synchronised batch norm, the loss
    is normalised over the global batch, and only rank 0 scores the dev split
    (its selection value is broadcast) and writes checkpoints and the log.
    """

    def __init__(self, *, model: torch.nn.Module, head: torch.nn.Module | None, recipe: Recipe, task_info: TaskInfo,
                 output: str, device: torch.device, precision: str, seed: int, checkpoint_dir: Path,
                 progress: Progress, model_name: str, model_config: dict[str, Any]):
        self.dist = distributed.current()
        if self.dist.active:
            model = distributed.sync_batchnorm(model, device)
            head = distributed.sync_batchnorm(head, device) if head is not None else None
        self.model = model.to(device)
        self.head = head.to(device) if head is not None else None
        self.recipe = recipe
        self.task_info = task_info
        self.output = output
        self.device = device
        self.precision = precision
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.model_name = model_name
        self.model_config = model_config
        self.loss_fn = make_loss(recipe, device)
        params = parameter_groups(recipe, [self.model, self.head])
        if not params:
            raise ConfigError(f"model {model_name!r} has no trainable parameters")
        self.optimizer = build_optimizer(recipe, params)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" and device.type == "cuda" else None
        self.autocast = autocast_dtype(precision)
        self.parallel: torch.nn.Module | None = None
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = None
            if device.type == "cuda":
                device_ids = [device.index if device.index is not None else torch.cuda.current_device()]
            # find_unused_parameters: plugin models may hold parameters a forward pass skips
            self.parallel = DistributedDataParallel(_ModelWithHead(self.model, self.head), device_ids=device_ids,
                                                    find_unused_parameters=True)
            self.sample_loss = make_sample_loss(recipe, device)

    # ---------------------------------------------------------------- forward

    def logits(self, waves: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            out = self.model(waves)
            if self.head is not None:
                out = self.head(out, labels)
        return out

    def _training_loss(self, waves: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(loss to back-propagate, the batch loss as a float) — of the global batch under DDP."""
        if self.parallel is None:
            loss = self.loss_fn(self.logits(waves, labels), labels)
            return loss, float(loss.detach())
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            out = self.parallel(waves, labels)
        losses, weights = self.sample_loss(out, labels)
        return distributed.global_loss(losses, weights, self.dist)

    # ---------------------------------------------------------------- state

    def _state(self, run: "_RunState") -> dict[str, Any]:
        return {
            "model": self.model_name, "model_config": self.model_config,
            "model_state": self.model.state_dict(),
            "head_state": self.head.state_dict() if self.head is not None else None,
            "optimizer_state": self.optimizer.state_dict(),
            "scaler_state": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": run.epoch, "step": run.step, "best": run.best,
            "history": [r.__dict__ for r in run.history],
            "average": run.average.state_dict() if run.average is not None else None,
        }

    def _save_best(self, epoch: int, averaged_epochs: list[int] | None = None) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(self.checkpoint_dir / BEST, {
            "model": self.model_name, "model_config": self.model_config, "epoch": epoch,
            "model_state": self.model.state_dict(),
            "head_state": self.head.state_dict() if self.head is not None else None,
            "averaged_epochs": averaged_epochs,
        })

    def load_best(self) -> int | None:
        path = self.checkpoint_dir / BEST
        if not path.exists():
            return None
        state = load_checkpoint(path)
        self._load_weights(state)
        return state.get("epoch")

    def _load_weights(self, state: dict[str, Any]) -> None:
        """The model's (and head's) weights from a checkpoint."""
        self.model.load_state_dict(state["model_state"])
        if self.head is not None and state.get("head_state") is not None:
            self.head.load_state_dict(state["head_state"])

    # ---------------------------------------------------------------- loop

    def fit(self, loader: torch.utils.data.DataLoader, dev_value: Callable[[], float | None],
            on_best: Callable[[int], None]) -> TrainSummary:
        """Train ``recipe.epochs`` epochs (or until ``patience``), each: one epoch of steps, validation,
        selection (and averaging), checkpoint; then the averaged model when the recipe averages."""
        recipe = self.recipe
        steps_per_epoch = recipe.steps_per_epoch or len(loader)
        if len(loader) == 0:
            raise CellFailure("the training split is empty after subsetting; nothing to train on")
        run = self._resume_or_start()
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(recipe, s, steps_per_epoch), last_epoch=run.step - 1)
        self.progress.plan_steps(recipe.epochs * steps_per_epoch, run.epoch * steps_per_epoch)
        started = time.monotonic()
        for epoch in range(run.epoch, recipe.epochs):
            if recipe.patience is not None and run.stale_epochs >= recipe.patience:
                self.progress.message(f"stopping: no dev improvement for {run.stale_epochs} epochs")
                break
            epoch_start = time.monotonic()
            train_loss, epoch_lr, steps, timing = self._train_epoch(loader, epoch, scheduler, steps_per_epoch)
            run.step += steps
            value = self._validate(dev_value)
            record = EpochRecord(epoch + 1, run.step, train_loss, value, epoch_lr, time.monotonic() - epoch_start,
                                 timing.data_wait, timing.host_to_device, timing.compute, timing.samples_per_second)
            run.history.append(record)
            improved = self._select(run, epoch + 1, value, on_best)
            dev_text = "" if value is None else f", dev {value:.4f}{' (best)' if improved else ''}"
            self.progress.message(f"epoch {epoch + 1}/{recipe.epochs}: train loss {record.train_loss:.4f}{dev_text}; "
                                  f"{timing.samples_per_second:.1f} samples/s, {timing.note()}")
            run.epoch = epoch + 1
            self._checkpoint(run)
        summary = TrainSummary(len(run.history), run.best["epoch"], run.best["value"], run.resumed_from,
                               time.monotonic() - started, run.history)
        if run.average is not None and run.average.count:
            summary.best_value = self._use_average(run, loader, dev_value, on_best)
            summary.best_epoch = run.epoch
            summary.averaged_epochs = list(run.average.epochs)
        return summary

    def _resume_or_start(self) -> "_RunState":
        """The state after the last finished epoch in ``last.pt``, or a fresh one."""
        run = _RunState(average=WeightAverage() if self.recipe.averaging != "none" else None)
        # a damaged last.pt falls back to the previous one, or the run starts over, with a notice naming it
        state = load_resume_checkpoint(self.checkpoint_dir / LAST, self.progress.message,
                                       selected=self.checkpoint_dir / BEST)
        if state is None:
            return run
        self._load_weights(state)
        self.optimizer.load_state_dict(state["optimizer_state"])
        if self.scaler is not None and state.get("scaler_state"):
            self.scaler.load_state_dict(state["scaler_state"])
        run.epoch, run.step, run.best = state["epoch"], state["step"], state["best"]
        run.history = [EpochRecord(**r) for r in state["history"]]
        run.resumed_from = run.epoch
        run.stale_epochs = 0 if run.best["epoch"] is None else run.epoch - run.best["epoch"]
        if run.average is not None and state.get("average"):
            run.average.load_state_dict(state["average"])
        self.progress.message(f"resuming after epoch {run.epoch} (step {run.step})")
        return run

    def _epoch_batches(self, loader: torch.utils.data.DataLoader, epoch: int, steps_per_epoch: int):
        """The batches of one epoch: one pass over the loader, or exactly ``recipe.steps_per_epoch`` batches
        taken from consecutive passes (pass ``p`` of epoch ``e`` shuffles as sampler epoch ``e * passes + p``),
        so an epoch's batches depend on the epoch alone, not on the corpus size or on resuming."""
        if self.recipe.steps_per_epoch is None:
            loader.sampler.set_epoch(epoch)
            yield from loader
            return
        passes = -(-steps_per_epoch // len(loader))
        taken = 0
        for index in range(passes):
            loader.sampler.set_epoch(epoch * passes + index)
            for batch in loader:
                if taken == steps_per_epoch:
                    return
                taken += 1
                yield batch

    def _train_epoch(self, loader: torch.utils.data.DataLoader, epoch: int,
                     scheduler: torch.optim.lr_scheduler.LRScheduler, steps_per_epoch: int
                     ) -> tuple[float, float, int, EpochTiming]:
        """One epoch of optimiser steps: (mean training loss, the lr of its last step, steps taken, where the
        steps' time went: data wait, host-to-device copies, compute)."""
        recipe = self.recipe
        # Reseeding from (seed, epoch) makes dropout and any global-RNG use
        # identical whether or not the run was interrupted before this epoch.
        # Other ranks get their own stream so their dropout masks do not copy rank 0's.
        seed_everything(RandomStreams(self.seed).epoch(epoch, self.dist.rank))
        ramp_margin = self.head is not None and hasattr(self.head, "set_epoch")
        self.model.train()
        if self.head is not None:
            self.head.train()
        total_loss, count = 0.0, 0
        # train_log's lr is the one the epoch's last step used, not the next epoch's
        epoch_lr = self.optimizer.param_groups[0]["lr"]
        timer = StepTimer(self.device)
        for batch_index, (waves, labels, _) in enumerate(timer.batches(self._epoch_batches(loader, epoch,
                                                                                           steps_per_epoch))):
            if ramp_margin:  # per iteration, as WeSpeaker's margin scheduler
                self.head.set_epoch(epoch + batch_index / steps_per_epoch)
            waves, labels = timer.to_device(waves, labels)
            loss, value = self._training_loss(waves, labels)
            if not math.isfinite(value):
                raise CellFailure(
                    f"non-finite training loss ({value}) at epoch {epoch + 1}, step {batch_index + 1}; "
                    f"the cell is stopped (lower the learning rate or check the data)")
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                loss.backward()
            if recipe.grad_clip:
                torch.nn.utils.clip_grad_norm_(
                    [p for g in self.optimizer.param_groups for p in g["params"]], recipe.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            epoch_lr = self.optimizer.param_groups[0]["lr"]
            scheduler.step()
            total_loss += value
            count += 1
            timer.end_step(len(labels))
            self.progress.step(epoch, recipe.epochs, batch_index, steps_per_epoch, value, timer.epoch.note())
        return total_loss / max(1, count), epoch_lr, count, timer.epoch

    def _validate(self, dev_value: Callable[[], float | None]) -> float | None:
        """The dev selection value (lower is better), or None when nothing is selected on."""
        if self.dist.active:
            # one rank scores the dev split; every rank takes the same selection decisions
            return distributed.broadcast_value(dev_value() if self.dist.is_main else None, self.dist)
        return dev_value()

    def _select(self, run: "_RunState", epoch: int, value: float | None, on_best: Callable[[int], None]) -> bool:
        """Keep ``epoch`` when its dev value is a new best (a tie counts with ``selection_ties: later``) and add
        it to the weight average when the recipe averages it.  Returns whether it was kept."""
        recipe, best = self.recipe, run.best["value"]
        ties_win = recipe.selection_ties == "later"
        improved = value is None or best is None or value < best or (ties_win and value == best)
        if improved:
            run.best = {"epoch": epoch, "value": value}
            self._save_best(epoch)
            if self.dist.is_main:
                on_best(epoch)
            run.stale_epochs = 0
        else:
            run.stale_epochs += 1
        if run.average is not None and (
                (recipe.averaging == "improving" and improved)
                or (recipe.averaging == "last_n" and epoch > recipe.epochs - recipe.average_epochs)):
            run.average.add(epoch, self._weights())
        return improved

    def _weights(self) -> dict[str, dict[str, torch.Tensor]]:
        weights = {"model": self.model.state_dict()}
        if self.head is not None:
            weights["head"] = self.head.state_dict()
        return weights

    def _checkpoint(self, run: "_RunState") -> None:
        """``last.pt`` (everything a resumed run needs) and ``train_log.csv``, written by rank 0."""
        if self.dist.is_main:
            save_checkpoint(self.checkpoint_dir / LAST, self._state(run), keep_previous=True)
            self.write_log(run.history)

    def _use_average(self, run: "_RunState", loader: torch.utils.data.DataLoader,
                     dev_value: Callable[[], float | None], on_best: Callable[[int], None]) -> float | None:
        """Make the averaged weights the trained model: load them, recompute batch-norm statistics on the
        training split when the recipe asks, score dev with it and save it as ``best.pt``."""
        average = run.average
        self._load_weights({"model_state": average.mean["model"], "head_state": average.mean.get("head")})
        if self.recipe.bn_update:
            # the training split as the last epoch saw it (same crops and order), as torchcontrib's bn_update
            # runs over the training loader; the seed makes dropout draws repeatable on a resumed run
            seed_everything(RandomStreams(self.seed).epoch(run.epoch, self.dist.rank))
            loader.sampler.set_epoch(max(0, run.epoch - 1))
            batches = update_batch_norm(self.model, (waves for waves, _, _ in loader),
                                        lambda waves: self.model(waves.to(self.device, non_blocking=True)))
            self.progress.message(f"batch-norm statistics recomputed over {batches} training batches")
        value = self._validate(dev_value)
        self._save_best(run.epoch, list(average.epochs))
        if self.dist.is_main:
            on_best(run.epoch)
        self.progress.message(f"averaged the weights of {average.count} epochs ({self.recipe.averaging}): "
                              f"epochs {', '.join(str(e) for e in average.epochs)}")
        return value

    def write_log(self, history: list[EpochRecord]) -> None:
        atomic_write_text(self.checkpoint_dir.parent / "train_log.csv", log_text(history))


class EstimatorTrainer:
    """Fits a non-neural :class:`Estimator` once and checkpoints its state."""

    def __init__(self, *, estimator: Estimator, device: torch.device, checkpoint_dir: Path, progress: Progress,
                 model_name: str, model_config: dict[str, Any], seed: int):
        self.estimator = estimator
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.model_name = model_name
        self.model_config = model_config
        self.seed = seed

    def fit(self, make_batches: Callable[[], Any]) -> TrainSummary:
        best_path = self.checkpoint_dir / BEST
        fitted = load_resume_checkpoint(best_path, self.progress.message)
        if fitted is not None:
            self.estimator.load_state_dict(fitted["model_state"])
            if hasattr(self.estimator, "to"):
                self.estimator.to(self.device)
            self.progress.message("fitted estimator found in the cell's checkpoint; not fitting again")
            return TrainSummary(1, 1, None, 1, 0.0)
        started = time.monotonic()
        streams = RandomStreams(self.seed)
        seed_everything(streams.estimator_global_seed())

        def report(info: dict) -> None:
            text = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items())
            self.progress.message(text)

        self.estimator.fit(make_batches, device=str(self.device), progress=report, seed=streams.estimator())
        state = {"model": self.model_name, "model_config": self.model_config, "epoch": 1,
                 "model_state": self.estimator.state_dict()}
        save_checkpoint(best_path, state)
        save_checkpoint(self.checkpoint_dir / LAST, state)
        seconds = time.monotonic() - started
        record = EpochRecord(1, 0, float("nan"), None, 0.0, seconds)
        atomic_write_text(self.checkpoint_dir.parent / "train_log.csv", log_text([record]))
        return TrainSummary(1, 1, None, None, seconds, [record])


def is_estimator(model: Any) -> bool:
    return not isinstance(model, torch.nn.Module) and isinstance(model, Estimator)
