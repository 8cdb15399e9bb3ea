"""Scoring a split with a trained model, and computing the registered metrics.

Turns model outputs into the task's score container (spoof scores per
utterance, verification scores per trial, class predictions), which the score
files and every metric are computed from.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from benchsuite.contract import BenchsuiteError, ClassifyScores, Recipe, SplitData, SpoofScores, VerifyScores, Task


# --------------------------------------------------------------------------- inference


def output_scores(out: torch.Tensor, task: Task) -> torch.Tensor:
    """Spoof: the bona fide output (index 1 of two logits, or the single logit)."""
    out = out.float()
    if task == Task.SPOOF:
        return out[:, 1] if out.shape[1] >= 2 else out[:, 0]
    raise ValueError(f"output_scores is for spoof models, not {task}")


def _batches_outputs(model: Any, loader: torch.utils.data.DataLoader, device: torch.device, autocast: torch.dtype | None,
                     forward: Callable[[Any], torch.Tensor]) -> tuple[np.ndarray, torch.Tensor]:
    """Run ``forward`` over a loader in eval mode; returns (indices, stacked outputs) in loader order."""
    indices, outputs = [], []
    with torch.no_grad():
        for waves, _labels, index in loader:
            if isinstance(waves, torch.Tensor):
                waves = waves.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None and isinstance(waves, torch.Tensor)):
                out = forward(waves)
            outputs.append(out.detach().float().cpu())
            indices.append(index.numpy())
    return np.concatenate(indices), torch.cat(outputs)


def _in_order(indices: np.ndarray, values: torch.Tensor, size: int) -> torch.Tensor:
    ordered = torch.empty((size,) + tuple(values.shape[1:]), dtype=values.dtype)
    ordered[torch.from_numpy(indices)] = values
    return ordered


def spoof_outputs(model: Any, loader: torch.utils.data.DataLoader, device: torch.device,
                  autocast: torch.dtype | None, is_estimator: bool, *, train_mode: bool = False) -> torch.Tensor:
    """Raw model outputs ([N, K]) or estimator scores ([N, 1]) in utterance order (modules in eval mode,
    or in train mode when ``train_mode``: a validation pass as some reference recipes run it)."""
    if is_estimator:
        indices, out = _batches_outputs(model, loader, device, None, lambda w: torch.as_tensor(model.score(w)).reshape(-1, 1))
    else:
        model.train(train_mode)
        indices, out = _batches_outputs(model, loader, device, autocast, model)
    return _in_order(indices, out, len(loader.dataset))


def spoof_scores(split: SplitData, outputs: torch.Tensor, asv: bool = True) -> SpoofScores:
    utts = split.utterances
    columns = sorted({c for u in utts for c in u.conditions})
    return SpoofScores(
        utt_ids=np.array([u.utt_id for u in utts]),
        scores=output_scores(outputs, Task.SPOOF).double().numpy(),
        is_bonafide=np.array([u.label == "bonafide" for u in utts]),
        attacks=np.array([u.attack or "-" for u in utts]),
        conditions={c: np.array([u.conditions.get(c, "") for u in utts]) for c in columns},
        asv=split.asv_scores if asv else None,
        source=split.source,
    )


def _utterance_forward(model: Any, recipe: Recipe) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model over whole files, or its outputs averaged over chunks (``eval_crop: chunked``)."""
    if recipe.eval_crop != "chunked":
        return model
    from benchsuite.scoring.sv import extract_embedding

    def forward(waves: torch.Tensor) -> torch.Tensor:
        return torch.stack([extract_embedding(model, w, chunk_samples=recipe.crop_samples,
                                              hop_samples=recipe.crop_samples // 2) for w in waves])

    return forward


def classify_outputs(model: Any, head: Any, loader: torch.utils.data.DataLoader, device: torch.device,
                     autocast: torch.dtype | None, recipe: Recipe, *, train_mode: bool = False) -> torch.Tensor:
    model.train(train_mode)
    if head is not None:
        head.train(train_mode)
    base = _utterance_forward(model, recipe)
    forward = (lambda w: head(base(w), None)) if head is not None else base
    indices, out = _batches_outputs(model, loader, device, autocast, forward)
    return _in_order(indices, out, len(loader.dataset))


def classify_scores(split: SplitData, logits: torch.Tensor, class_names: Sequence[str]) -> ClassifyScores:
    index = {name: i for i, name in enumerate(class_names)}
    return ClassifyScores(
        utt_ids=np.array([u.utt_id for u in split.utterances]),
        true=np.array([index[u.label] for u in split.utterances], dtype=np.int64),
        predicted=logits.argmax(dim=1).numpy().astype(np.int64),
        class_names=tuple(class_names),
        source=split.source,
    )


def embeddings(model: Any, loader: torch.utils.data.DataLoader, device: torch.device, autocast: torch.dtype | None,
               recipe: Recipe, *, train_mode: bool = False) -> torch.Tensor:
    """One embedding per utterance: whole file, or chunks averaged (``eval_crop: chunked``)."""
    model.train(train_mode)
    indices, out = _batches_outputs(model, loader, device, autocast, _utterance_forward(model, recipe))
    return _in_order(indices, out, len(loader.dataset))


def verify_scores(split: SplitData, split_embeddings: torch.Tensor, *, recipe: Recipe,
                  cohort: np.ndarray | None = None, mean_vector: np.ndarray | None = None) -> VerifyScores:
    """Cosine scores of the split's trials, after subtracting ``mean_vector`` (the
    mean training embedding) when given, then AS-Norm against ``cohort`` when the recipe asks."""
    from benchsuite.scoring.sv import as_norm, cosine_score_trials

    if not split.trials:
        raise BenchsuiteError(f"split {split.name!r} has no trial list to score ({split.source})")
    by_id = {u.utt_id: split_embeddings[i].numpy() for i, u in enumerate(split.utterances)}
    scores = cosine_score_trials(by_id, split.trials, split.enrolments, mean_vector=mean_vector)
    if recipe.score_norm == "asnorm":
        if cohort is None:
            raise BenchsuiteError("AS-Norm needs a cohort of training-speaker embeddings")
        scores = as_norm(scores, by_id, split.trials, split.enrolments, cohort, top_n=recipe.asnorm_top_n,
                         mean_vector=mean_vector)
    elif recipe.score_norm != "none":
        raise BenchsuiteError(f"recipe score_norm {recipe.score_norm!r}: expected none or asnorm")
    return VerifyScores(
        enrol=np.array([t.enrol for t in split.trials]),
        test=np.array([t.test for t in split.trials]),
        scores=np.asarray(scores, dtype=np.float64),
        is_target=np.array([t.is_target for t in split.trials]),
        source=split.source,
    )
