"""The one module a plugin imports.

Everything a model, dataset, metric or augmentation plugin needs from benchsuite
is here: the contract (specs, recipe, tasks, data and score containers, errors,
``hookimpl``) and, exported on purpose, the core helpers that plugins share with
the core (audio reading, score-file validation, the DET sweep, the cache folder).
Importing it does not import torch, so listing plugins and reading results stays fast.
"""
from __future__ import annotations

from benchsuite.common.audio import read_audio, repeat_to, resample
from benchsuite.common.files import cache_dir_default
from benchsuite.common.weights import key_problems
from benchsuite.contract import *  # noqa: F401,F403  (the contract is the bulk of this surface)
from benchsuite.contract import __all__ as _contract
from benchsuite.scoring import det
from benchsuite.scoring.det import DetSweep, IdentityCache, eer_cut
from benchsuite.scoring.files import (
    read_asv_scores, string_keys, validate_classify_scores, validate_spoof_scores, validate_verify_scores,
)

__all__ = [*_contract, "DetSweep", "IdentityCache", "cache_dir_default", "det", "eer_cut", "key_problems",
           "read_asv_scores",
           "read_audio", "repeat_to", "resample", "string_keys", "validate_classify_scores",
           "validate_spoof_scores", "validate_verify_scores"]
