"""Weight averaging over epochs (SWA, checkpoint averaging) and the batch-norm statistics update after it.

:class:`WeightAverage` keeps the running mean of the weights of the epochs that enter the average, so it
needs one copy of the model however many epochs are averaged, and it is saved in ``last.pt`` so a resumed
run averages the same epochs.  Floating-point tensors are averaged; integer buffers (batch norm's
``num_batches_tracked``) keep the latest epoch's value.

- clovaai/aasist ``main.py``:115,177-179,185-187: torchcontrib ``SWA.update_swa()`` on every epoch whose dev EER
  is a new best or ties it, ``swap_swa_sgd()`` then ``bn_update(trn_loader, model)`` at the end;
- wenet-e2e/wespeaker ``wespeaker/bin/average_model.py``:56-70: the mean of the last ``num_avg`` epochs'
  state dicts.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import torch


class WeightAverage:
    """The running mean of state dicts (model and head) added with :meth:`add`."""

    def __init__(self) -> None:
        self.count = 0
        self.epochs: list[int] = []
        self.mean: dict[str, dict[str, torch.Tensor]] = {}

    def add(self, epoch: int, states: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Add one epoch's state dicts (``{"model": ..., "head": ...}``) to the mean."""
        self.count += 1
        self.epochs.append(epoch)
        for part, state in states.items():
            mean = self.mean.setdefault(part, {})
            for key, value in state.items():
                value = value.detach().to("cpu")
                if key not in mean or not value.is_floating_point():
                    mean[key] = value.clone()
                else:  # mean_n = mean_{n-1} + (x - mean_{n-1}) / n, in float64 to keep n small terms exact
                    mean[key] = (mean[key].double() + (value.double() - mean[key].double()) / self.count
                                 ).to(value.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "epochs": list(self.epochs), "mean": self.mean}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.count = int(state["count"])
        self.epochs = list(state["epochs"])
        self.mean = {part: dict(values) for part, values in state["mean"].items()}


def average_state_dicts(states: Iterable[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of several state dicts of one model (floating tensors averaged, others from the last)."""
    average = WeightAverage()
    for index, state in enumerate(states):
        average.add(index, {"model": state})
    if not average.count:
        raise ValueError("average_state_dicts needs at least one state dict")
    return average.mean["model"]


def _batch_norms(module: torch.nn.Module) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


def update_batch_norm(module: torch.nn.Module, batches: Iterable[Any], forward: Callable[[Any], Any]) -> int:
    """Recompute every batch-norm layer's running mean and variance as the cumulative average over
    ``batches`` (``forward(batch)`` runs the module on one), as torchcontrib's ``SWA.bn_update`` does:
    running statistics reset, momentum None, the module in train mode without gradients.  Parameters are
    untouched; dropout draws do not matter because nothing is learnt.  Returns the number of batches
    (0 when the module has no batch norm, which is then not run at all)."""
    norms = _batch_norms(module)
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    was_training = module.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches
    module.train()
    count = 0
    with torch.no_grad():
        for batch in batches:
            forward(batch)
            count += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    module.train(was_training)
    return count
