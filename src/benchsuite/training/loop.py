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

from benchsuite.training.checkpoints import BEST, LAST, load_checkpoint, save_checkpoint
from benchsuite.training.device import autocast_dtype
from benchsuite.training.optim import build_optimizer, lr_factor, make_loss, make_sample_loss, parameter_groups
from benchsuite.training.seeding import seed_everything


# --------------------------------------------------------------------------- the trainer


@dataclass
class EpochRecord:
    epoch: int
    steps: int
    train_loss: float
    dev_value: float | None
    lr: float
    seconds: float

    def row(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "steps": self.steps, "train_loss": f"{self.train_loss:.6f}",
                "dev_value": "" if self.dev_value is None else f"{self.dev_value:.6f}", "lr": f"{self.lr:.3e}",
                "seconds": f"{self.seconds:.2f}"}


@dataclass
class TrainSummary:
    epochs_run: int
    best_epoch: int | None
    best_value: float | None
    resumed_from_epoch: int | None
    train_seconds: float
    history: list[EpochRecord] = field(default_factory=list)


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

    def _state(self, epoch: int, step: int, best: dict[str, Any], history: list[EpochRecord]) -> dict[str, Any]:
        return {
            "model": self.model_name, "model_config": self.model_config,
            "model_state": self.model.state_dict(),
            "head_state": self.head.state_dict() if self.head is not None else None,
            "optimizer_state": self.optimizer.state_dict(),
            "scaler_state": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch, "step": step, "best": best,
            "history": [r.__dict__ for r in history],
        }

    def _save_best(self, epoch: int) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(self.checkpoint_dir / BEST, {
            "model": self.model_name, "model_config": self.model_config, "epoch": epoch,
            "model_state": self.model.state_dict(),
            "head_state": self.head.state_dict() if self.head is not None else None,
        })

    def load_best(self) -> int | None:
        path = self.checkpoint_dir / BEST
        if not path.exists():
            return None
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model_state"])
        if self.head is not None and state.get("head_state") is not None:
            self.head.load_state_dict(state["head_state"])
        return state.get("epoch")

    # ---------------------------------------------------------------- loop

    def fit(self, loader: torch.utils.data.DataLoader, dev_value: Callable[[], float | None],
            on_best: Callable[[int], None]) -> TrainSummary:
        recipe = self.recipe
        steps_per_epoch = len(loader)
        if steps_per_epoch == 0:
            raise CellFailure("the training split is empty after subsetting; nothing to train on")
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(recipe, s, steps_per_epoch))
        start_epoch, step = 0, 0
        best: dict[str, Any] = {"epoch": None, "value": None}
        history: list[EpochRecord] = []
        resumed_from = None
        last_path = self.checkpoint_dir / LAST
        if last_path.exists():
            state = load_checkpoint(last_path)
            self.model.load_state_dict(state["model_state"])
            if self.head is not None and state.get("head_state") is not None:
                self.head.load_state_dict(state["head_state"])
            self.optimizer.load_state_dict(state["optimizer_state"])
            if self.scaler is not None and state.get("scaler_state"):
                self.scaler.load_state_dict(state["scaler_state"])
            start_epoch, step, best = state["epoch"], state["step"], state["best"]
            history = [EpochRecord(**r) for r in state["history"]]
            resumed_from = start_epoch
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, lambda s: lr_factor(recipe, s, steps_per_epoch), last_epoch=step - 1)
            self.progress.message(f"resuming after epoch {start_epoch} (step {step})")
        self.progress.plan_steps(recipe.epochs * steps_per_epoch, start_epoch * steps_per_epoch)
        started = time.monotonic()
        stale_epochs = 0 if best["epoch"] is None else start_epoch - best["epoch"]

        for epoch in range(start_epoch, recipe.epochs):
            if recipe.patience is not None and stale_epochs >= recipe.patience:
                self.progress.message(f"stopping: no dev improvement for {stale_epochs} epochs")
                break
            epoch_start = time.monotonic()
            # Reseeding from (seed, epoch) makes dropout and any global-RNG use
            # identical whether or not the run was interrupted before this epoch.
            # Other ranks get their own stream so their dropout masks do not copy rank 0's.
            seed_everything(RandomStreams(self.seed).epoch(epoch, self.dist.rank))
            loader.sampler.set_epoch(epoch)
            ramp_margin = self.head is not None and hasattr(self.head, "set_epoch")
            self.model.train()
            if self.head is not None:
                self.head.train()
            total_loss, count = 0.0, 0
            # train_log's lr is the one the epoch's last step used, not the next epoch's
            epoch_lr = self.optimizer.param_groups[0]["lr"]
            for batch_index, (waves, labels, _) in enumerate(loader):
                if ramp_margin:  # per iteration, as WeSpeaker's margin scheduler
                    self.head.set_epoch(epoch + batch_index / steps_per_epoch)
                waves = waves.to(self.device, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
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
                step += 1
                total_loss += value
                count += 1
                self.progress.step(epoch, recipe.epochs, batch_index, steps_per_epoch, value)
            if self.dist.active:
                # one rank scores the dev split; every rank takes the same selection decisions
                value = distributed.broadcast_value(dev_value() if self.dist.is_main else None, self.dist)
            else:
                value = dev_value()
            record = EpochRecord(epoch + 1, step, total_loss / max(1, count), value, epoch_lr,
                                 time.monotonic() - epoch_start)
            history.append(record)
            improved = value is None or best["value"] is None or value < best["value"]
            if improved:
                best = {"epoch": epoch + 1, "value": value}
                self._save_best(epoch + 1)
                if self.dist.is_main:
                    on_best(epoch + 1)
                stale_epochs = 0
            else:
                stale_epochs += 1
            dev_text = "" if value is None else f", dev {value:.4f}{' (best)' if improved else ''}"
            self.progress.message(f"epoch {epoch + 1}/{recipe.epochs}: train loss {record.train_loss:.4f}{dev_text}")
            if self.dist.is_main:
                save_checkpoint(last_path, self._state(epoch + 1, step, best, history))
                self.write_log(history)

        return TrainSummary(len(history), best["epoch"], best["value"], resumed_from,
                            time.monotonic() - started, history)

    def write_log(self, history: list[EpochRecord]) -> None:
        out = io.StringIO()
        fields = ["epoch", "steps", "train_loss", "dev_value", "lr", "seconds"]
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for record in history:
            writer.writerow(record.row())
        atomic_write_text(self.checkpoint_dir.parent / "train_log.csv", out.getvalue())


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
        if best_path.exists():
            self.estimator.load_state_dict(load_checkpoint(best_path)["model_state"])
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
        atomic_write_text(self.checkpoint_dir.parent / "train_log.csv",
                          "epoch,steps,train_loss,dev_value,lr,seconds\n" + ",".join(str(v) for v in record.row().values()) + "\n")
        return TrainSummary(1, 1, None, None, seconds, [record])


def is_estimator(model: Any) -> bool:
    return not isinstance(model, torch.nn.Module) and isinstance(model, Estimator)
