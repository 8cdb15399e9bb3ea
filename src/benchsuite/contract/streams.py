"""Every random stream of a cell, derived from its seed in one place.

The cell's seed is the only source of randomness.  Each stream below is a fixed
function of it, so a cell reproduces its scores byte for byte on the same
machine, and none of these formulas may change: a stored cell would no longer
reproduce.  Estimators and augmentations receive their streams through the
contract (``Estimator.fit(..., seed=...)``, the per-item generator handed to an
augmentation), never from a global RNG.

=====================  ===============================================  =============================
stream                 formula                                          used for
=====================  ===============================================  =============================
initialisation         ``seed`` (Python, NumPy and torch global RNGs)   model weights
epoch ``e`` (rank r)   ``derive_seed(seed, e, 1[, r])``, the same RNGs  dropout and masks in epoch e
item ``i``, epoch e    ``default_rng([seed mod 2^32, e, i])``           crop, then augmentations
order of epoch e       ``default_rng([seed mod 2^32, e, 7])``           shuffling
estimator              63-bit draw of torch's generator seeded with     GMM initialisation
                       ``derive_seed(seed, 0, 1)``
quick-run subsets      ``default_rng(12345)``, not the seed              every seed sees the same data
=====================  ===============================================  =============================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# quick profiles train on a fixed subset: the same utterances for every seed of a model
SUBSET_SEED = 12345
_ORDER_STREAM = 7
_EPOCH_STREAM = 1


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across processes and platforms."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, dtype=np.uint32)
               .astype(np.uint64).dot(np.array([1 << 32, 1], dtype=np.uint64)) & ((1 << 63) - 1))


@dataclass(frozen=True)
class RandomStreams:
    """The random streams of the cell whose seed is ``seed``."""

    seed: int

    def initialisation(self) -> int:
        return self.seed

    def epoch(self, epoch: int, rank: int = 0) -> int:
        """Seed of the global RNGs while epoch ``epoch`` trains on data-parallel rank ``rank``."""
        return derive_seed(self.seed, epoch, _EPOCH_STREAM) if rank == 0 else derive_seed(
            self.seed, epoch, _EPOCH_STREAM, rank)

    def item(self, epoch: int, index: int) -> np.random.Generator:
        """The generator of item ``index`` in epoch ``epoch``: its crop, then each augmentation."""
        return np.random.default_rng([self.seed & 0xFFFFFFFF, epoch, index])

    def order(self, epoch: int, size: int) -> np.ndarray:
        """The shuffled order of ``size`` items in epoch ``epoch``."""
        return np.random.default_rng([self.seed & 0xFFFFFFFF, epoch, _ORDER_STREAM]).permutation(size)

    def estimator_global_seed(self) -> int:
        """Seed of the global RNGs while an estimator fits."""
        return derive_seed(self.seed, 0, _EPOCH_STREAM)

    def estimator(self) -> int:
        """The seed handed to ``Estimator.fit``: the 63-bit number torch's generator draws first when
        seeded with :meth:`estimator_global_seed` (the value estimators drew from torch's global
        RNG before this was part of the contract)."""
        import torch

        generator = torch.Generator().manual_seed(self.estimator_global_seed())
        return int(torch.randint(0, 2**62, (1,), generator=generator).item())
