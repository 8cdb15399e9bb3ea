"""What the device this plan is made on can do, for the run options that say ``auto``.

Only the precision is resolved here, before the cell identity is hashed: a cell
that trained in bf16 and one that trained in fp32 are different results, so the
identity names the concrete precision (``auto`` never reaches a cell id, and the
ids of cells planned with an explicit precision do not change).  Loader settings
depend on the process a cell runs in and are resolved there
(:mod:`benchsuite.training.loading`).
"""
from __future__ import annotations

# bf16 tensor cores arrived with compute capability 8.0 (A100); older GPUs emulate
# bf16 slowly, so ``auto`` keeps fp32 there.
BF16_MIN_CAPABILITY = (8, 0)


def cuda_index(device: str) -> int | None:
    """The CUDA device a ``--device`` value names (``auto`` and ``cuda`` mean the first), None for others."""
    if device in ("auto", "cuda"):
        return 0
    if device.startswith("cuda:"):
        return int(device.split(":", 1)[1])
    return None


def bf16_supported(device: str) -> bool:
    """Whether ``device`` (a ``--device`` value) is a CUDA GPU with bf16 tensor cores.

    Asking for the capability initialises CUDA in this process; it is asked only
    for ``--precision auto`` on a machine that has a GPU."""
    index = cuda_index(device)
    if index is None:
        return False
    import torch

    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        return False
    return tuple(torch.cuda.get_device_capability(index)) >= BF16_MIN_CAPABILITY


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> ``bf16`` where :func:`bf16_supported`, else ``fp32``; other values unchanged."""
    if precision != "auto":
        return precision
    return "bf16" if bf16_supported(device) else "fp32"
