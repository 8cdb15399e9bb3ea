"""Every random stream of a cell comes from its seed through benchsuite.contract.streams,
with the formulas cells were stored with (the values below were printed by the flat
layout's code at commit 79313f2: integer algorithms, the same on every machine)."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from benchsuite.contract import RandomStreams, Task, TaskInfo
from benchsuite.plugins.registry import get_registry


def test_the_formulas_are_those_cells_were_stored_with():
    streams = RandomStreams(3)
    assert streams.initialisation() == 3
    assert [streams.epoch(1), streams.epoch(2)] == [5469030406943368454, 7562829715384370081]
    assert streams.epoch(2, rank=1) == 8464596527379864114
    assert streams.item(2, 5).integers(0, 1000, 3).tolist() == [417, 189, 307]
    assert streams.order(2, 6).tolist() == [5, 1, 4, 0, 2, 3]
    assert streams.estimator() == 680438156858824884


def test_an_estimator_draws_only_from_the_seed_it_is_handed():
    spec = get_registry().models.get("lfcc-gmm").spec
    config = dataclasses.replace(spec.config_class(), components=4, em_iterations=2, init_frames=500)
    rng = np.random.default_rng(0)
    waves = [torch.from_numpy(rng.standard_normal(4000).astype(np.float32)) for _ in range(6)]
    labels = torch.tensor([1, 0, 1, 0, 1, 0])

    def fitted_means(seed: int, global_seed: int) -> torch.Tensor:
        torch.manual_seed(global_seed)  # the global RNG's state must not matter
        model = spec.build(config, TaskInfo(Task.SPOOF))
        model.fit(lambda: [(waves, labels)], device="cpu", progress=lambda info: None, seed=seed)
        return torch.as_tensor(model.state_dict()["mixtures"]["bonafide"]["means"])

    first, again, other = fitted_means(7, 0), fitted_means(7, 999), fitted_means(8, 0)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
