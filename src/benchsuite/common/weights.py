"""How a set of weights fails to fit a model, said once for the core and the plugins."""
from __future__ import annotations

from typing import Sequence


def key_problems(missing: Sequence[str], unexpected: Sequence[str], shown: int) -> list[str]:
    """``["missing a, b and 3 more", "unexpected c"]`` for the tensor names a state dict lacks or adds,
    at most ``shown`` names of each."""
    def first(keys: Sequence[str]) -> str:
        more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
        return ", ".join(keys[:shown]) + more

    problems = []
    if missing:
        problems.append(f"missing {first(list(missing))}")
    if unexpected:
        problems.append(f"unexpected {first(list(unexpected))}")
    return problems
