"""The parts of a cell's ``result.json`` that do not need the cell to have run: what the
cell is (from its identity), and the result of a cell that failed."""
from __future__ import annotations

from typing import Any

from benchsuite.planning.cell_config import CellIdentity


def failed_result(identity: CellIdentity, error_type: str, message: str, traceback: str = "") -> dict[str, Any]:
    """The stored result of a failed cell (the executor or the cell adds provenance)."""
    return {
        "status": "failed",
        "error": {"type": error_type, "message": message, "traceback": traceback},
        **describe_identity(identity),
        "metrics": {}, "metric_info": {}, "breakdown": {}, "notes": {}, "extra": {},
    }


def describe_identity(identity: CellIdentity) -> dict[str, Any]:
    """The descriptive part of a result (task, dataset, model, recipe) from a cell identity."""
    model = {"name": identity.model, "config": identity.model_config, "params": None,
             "plugin": identity.plugins["model"].to_plain()}
    if identity.released is not None:
        model["released_weights"] = dict(identity.released)  # an eval-only cell: {sha256, file}
    return {
        "task": identity.task,
        "profile": identity.profile,
        "seed": identity.seed,
        "dataset": {"name": identity.dataset, "train_dataset": identity.train_dataset, "task": identity.task,
                    "eval_split": "eval", "dev_split": "dev",
                    "options": identity.dataset_options, "fingerprint": identity.dataset_fingerprint,
                    "plugin": identity.plugins["dataset"].to_plain()},
        "model": model,
        "recipe": identity.recipe,
    }
