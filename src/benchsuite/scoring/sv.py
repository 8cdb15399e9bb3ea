"""Speaker-verification back end: embedding extraction, cosine scoring of a trial
list, and adaptive symmetric score normalisation (AS-Norm).

The conventions follow WeSpeaker's VoxCeleb recipe (``wenet-e2e/wespeaker:
wespeaker/bin/score.py``, ``wespeaker/bin/score_norm.py``, ``tools/vector_mean.py``):

- an optional mean vector (the mean of the training utterances' embeddings) is
  subtracted from every embedding before cosine scoring and normalisation;
- an enrolment model made of several utterances is the average of their
  L2-normalised embeddings;
- the AS-Norm cohort is one mean embedding per training speaker; each side of a
  trial is scored against the whole cohort, the top-N scores give a mean and a
  population (ddof 0) standard deviation, and
  ``s' = ((s - mu_e) / sigma_e + (s - mu_t) / sigma_t) / 2``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from benchsuite.contract import ConfigError, DataError, Trial

SCORE_NORMS = ("none", "asnorm", "snorm")


# --------------------------------------------------------------------------- extraction


def _model_device(model: torch.nn.Module, fallback: torch.device) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    for buffer in model.buffers():
        return buffer.device
    return fallback


def chunk_starts(num_samples: int, chunk_samples: int, hop_samples: int) -> list[int]:
    """Window starts every ``hop_samples``, plus one window flush with the end so the tail is covered."""
    if num_samples <= chunk_samples:
        return [0]
    starts = list(range(0, num_samples - chunk_samples + 1, hop_samples))
    if starts[-1] != num_samples - chunk_samples:
        starts.append(num_samples - chunk_samples)
    return starts


def extract_embedding(model: torch.nn.Module, waveform: torch.Tensor, *, chunk_samples: int | None = None,
                      hop_samples: int | None = None) -> torch.Tensor:
    """Embedding(s) of ``waveform`` (``[samples]`` -> ``[D]``, ``[batch, samples]`` -> ``[batch, D]``).

    Without ``chunk_samples`` the whole waveform goes through the model at once
    (WeSpeaker's full-length evaluation).  With it, the waveform is cut into
    windows of ``chunk_samples`` every ``hop_samples`` (default: no overlap, the
    last window aligned with the end) and the window embeddings are averaged; a
    waveform no longer than one window is used whole.  The model should already
    be in eval mode; gradients are not tracked.  The result is on the model's device.
    """
    if chunk_samples is not None and chunk_samples < 1:
        raise ConfigError(f"chunk_samples must be a positive number of samples, got {chunk_samples}")
    if hop_samples is not None and hop_samples < 1:
        raise ConfigError(f"hop_samples must be a positive number of samples, got {hop_samples}")
    if waveform.dim() not in (1, 2) or waveform.shape[-1] == 0:
        raise DataError(f"extract_embedding expects [samples] or [batch, samples] audio with samples > 0, "
                        f"got shape {tuple(waveform.shape)}")
    single = waveform.dim() == 1
    batch = waveform.unsqueeze(0) if single else waveform
    batch = batch.to(_model_device(model, batch.device), dtype=torch.float32)
    with torch.no_grad():
        if chunk_samples is None or batch.shape[1] <= chunk_samples:
            embeddings = model(batch)
        else:
            starts = chunk_starts(batch.shape[1], chunk_samples, hop_samples or chunk_samples)
            windows = torch.stack([batch[:, s:s + chunk_samples] for s in starts], dim=1)  # [B, W, chunk]
            flat = model(windows.reshape(-1, chunk_samples))
            embeddings = flat.reshape(batch.shape[0], len(starts), -1).mean(dim=1)
    return embeddings[0] if single else embeddings


# --------------------------------------------------------------------------- embedding sets


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, np.finfo(np.float64).tiny)


def embedding_mean(embeddings: Mapping[str, np.ndarray]) -> np.ndarray:
    """The mean embedding of a set (WeSpeaker subtracts the training-set mean before scoring)."""
    if not embeddings:
        raise DataError("cannot take the mean of an empty embedding set")
    return np.mean(np.stack([np.asarray(v, dtype=np.float64) for v in embeddings.values()]), axis=0)


def speaker_mean_embeddings(embeddings: Mapping[str, np.ndarray] | np.ndarray,
                            speakers: Mapping[str, str] | Sequence[str]) -> np.ndarray:
    """One mean embedding per speaker, ``[speakers, D]`` in sorted speaker-id order (the AS-Norm cohort).

    Either ``embeddings`` maps utterance id -> vector and ``speakers`` maps
    utterance id -> speaker id, or ``embeddings`` is an ``[utterances, D]`` array
    and ``speakers`` the speaker of each row.  The raw embeddings are averaged,
    as WeSpeaker's ``tools/vector_mean.py`` does; mean subtraction and L2
    normalisation happen later, in :func:`as_norm`.
    """
    members: dict[str, list[np.ndarray]] = {}
    if isinstance(embeddings, Mapping):
        if not isinstance(speakers, Mapping):
            raise DataError("speaker_mean_embeddings: with embeddings keyed by utterance id, speakers must map "
                            "utterance id -> speaker id")
        for utt_id, speaker in speakers.items():
            if utt_id not in embeddings:
                raise DataError(f"utterance {utt_id!r} of speaker {speaker!r} has no embedding")
            members.setdefault(speaker, []).append(np.asarray(embeddings[utt_id], dtype=np.float64))
    else:
        matrix = np.asarray(embeddings, dtype=np.float64)
        labels = list(speakers.values()) if isinstance(speakers, Mapping) else list(speakers)
        if matrix.ndim != 2 or matrix.shape[0] != len(labels):
            raise DataError(f"speaker_mean_embeddings: {len(labels)} speaker labels for embeddings of shape "
                            f"{matrix.shape}; expected one label per row")
        for row, speaker in zip(matrix, labels):
            members.setdefault(speaker, []).append(row)
    if not members:
        raise DataError("no utterances to build speaker mean embeddings from")
    return np.stack([np.mean(np.stack(members[speaker]), axis=0) for speaker in sorted(members)])


def _lookup(embeddings: Mapping[str, np.ndarray], utt_id: str, role: str, where: str) -> np.ndarray:
    if utt_id not in embeddings:
        raise DataError(f"{where}: {role} utterance {utt_id!r} has no embedding")
    return np.asarray(embeddings[utt_id], dtype=np.float64)


def _side_vectors(trials: Sequence[Trial], embeddings: Mapping[str, np.ndarray],
                  enrolments: Mapping[str, Sequence[str]] | None, mean_vector: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit-length enrolment and test vectors and, per trial, the row of each side."""
    if not trials:
        raise DataError("the trial list is empty")
    shift = 0.0 if mean_vector is None else np.asarray(mean_vector, dtype=np.float64)
    enrol_rows: dict[str, int] = {}
    test_rows: dict[str, int] = {}
    enrol_vectors: list[np.ndarray] = []
    test_vectors: list[np.ndarray] = []
    enrol_index = np.empty(len(trials), dtype=np.int64)
    test_index = np.empty(len(trials), dtype=np.int64)
    for number, trial in enumerate(trials, start=1):
        where = f"trial {number} ({trial.enrol} {trial.test})"
        if trial.enrol not in enrol_rows:
            if enrolments is not None and trial.enrol in enrolments:
                utterances = list(enrolments[trial.enrol])
                if not utterances:
                    raise DataError(f"{where}: enrolment model {trial.enrol!r} lists no utterances")
                members = np.stack([_lookup(embeddings, u, "enrolment", where) for u in utterances]) - shift
                vector = _normalise_rows(members).mean(axis=0)
            else:
                vector = _lookup(embeddings, trial.enrol, "enrolment", where) - shift
            enrol_rows[trial.enrol] = len(enrol_vectors)
            enrol_vectors.append(vector)
        if trial.test not in test_rows:
            test_rows[trial.test] = len(test_vectors)
            test_vectors.append(_lookup(embeddings, trial.test, "test", where) - shift)
        enrol_index[number - 1] = enrol_rows[trial.enrol]
        test_index[number - 1] = test_rows[trial.test]
    return (_normalise_rows(np.stack(enrol_vectors)), _normalise_rows(np.stack(test_vectors)),
            enrol_index, test_index)


# --------------------------------------------------------------------------- scoring


def cosine_score_trials(embeddings: Mapping[str, np.ndarray], trials: Sequence[Trial],
                        enrolments: Mapping[str, Sequence[str]] | None = None, *,
                        mean_vector: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of every trial, in trial order (float64, higher = same speaker).

    ``trial.enrol`` names an enrolment model of ``enrolments`` when present there
    (its utterances' L2-normalised embeddings are averaged), else an utterance.
    """
    enrol_vectors, test_vectors, enrol_index, test_index = _side_vectors(trials, embeddings, enrolments, mean_vector)
    return np.einsum("ij,ij->i", enrol_vectors[enrol_index], test_vectors[test_index])


def cohort_statistics(vectors: np.ndarray, cohort: np.ndarray, top_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of each vector's ``top_n`` highest cosine scores against the cohort."""
    scores = _normalise_rows(np.atleast_2d(vectors)) @ _normalise_rows(cohort).T
    top_n = min(top_n, cohort.shape[0])
    top = -np.sort(-scores, axis=1)[:, :top_n]
    return top.mean(axis=1), top.std(axis=1, ddof=0)


def as_norm(scores: np.ndarray, embeddings: Mapping[str, np.ndarray], trials: Sequence[Trial],
            enrolments: Mapping[str, Sequence[str]] | None, cohort: np.ndarray | Mapping[str, np.ndarray], *,
            top_n: int = 300, mean_vector: np.ndarray | None = None) -> np.ndarray:
    """Adaptive s-norm of raw trial ``scores`` (one per trial, in order).

    ``cohort`` is ``[speakers, D]`` (e.g. from :func:`speaker_mean_embeddings`)
    or speaker id -> vector.  ``mean_vector`` is subtracted from the
    cohort and from both trial sides before they are L2-normalised; enrolment
    models are built as in :func:`cosine_score_trials`.  ``top_n`` larger than
    the cohort uses the whole cohort (plain s-norm).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(trials),):
        raise DataError(f"AS-Norm got scores of shape {scores.shape} for {len(trials)} trials; "
                        f"expected one score per trial")
    cohort_matrix = np.stack(list(cohort.values())) if isinstance(cohort, Mapping) else np.asarray(cohort)
    cohort_matrix = np.asarray(cohort_matrix, dtype=np.float64)
    if cohort_matrix.ndim != 2 or cohort_matrix.shape[0] < 2:
        raise ConfigError(f"AS-Norm needs a cohort of at least 2 speaker embeddings, got shape {cohort_matrix.shape}")
    if top_n < 2:
        raise ConfigError(f"asnorm_top_n must be at least 2 (a standard deviation of one score is 0), got {top_n}")
    if mean_vector is not None:
        cohort_matrix = cohort_matrix - np.asarray(mean_vector, dtype=np.float64)
    enrol_vectors, test_vectors, enrol_index, test_index = _side_vectors(trials, embeddings, enrolments, mean_vector)
    enrol_mean, enrol_std = cohort_statistics(enrol_vectors, cohort_matrix, top_n)
    test_mean, test_std = cohort_statistics(test_vectors, cohort_matrix, top_n)
    if np.any(enrol_std == 0) or np.any(test_std == 0):
        raise DataError("AS-Norm: a trial side has identical scores against every cohort member in its top-N "
                        "(degenerate cohort: duplicate speaker embeddings?)")
    return 0.5 * ((scores - enrol_mean[enrol_index]) / enrol_std[enrol_index]
                  + (scores - test_mean[test_index]) / test_std[test_index])


def score_verification(eval_embeddings: Mapping[str, np.ndarray], trials: Sequence[Trial],
                       enrolments: Mapping[str, Sequence[str]] | None = None, *,
                       train_embeddings: Mapping[str, np.ndarray] | None = None,
                       train_speakers: Mapping[str, str] | None = None,
                       score_norm: str = "none", top_n: int = 300, subtract_mean: bool = True) -> np.ndarray:
    """The whole WeSpeaker back end in one call: cosine scores, optionally AS-Norm'ed.

    With ``subtract_mean`` and ``train_embeddings`` the training-set mean
    embedding is subtracted first.  ``score_norm`` is ``none``, ``asnorm``
    (top ``top_n`` cohort scores) or ``snorm`` (the whole cohort); the cohort is
    the per-speaker mean of ``train_embeddings`` grouped by ``train_speakers``
    (utterance id -> speaker id).
    """
    if score_norm not in SCORE_NORMS:
        raise ConfigError(f"score_norm {score_norm!r}; expected one of {', '.join(SCORE_NORMS)}")
    mean_vector = embedding_mean(train_embeddings) if subtract_mean and train_embeddings else None
    scores = cosine_score_trials(eval_embeddings, trials, enrolments, mean_vector=mean_vector)
    if score_norm == "none":
        return scores
    if not train_embeddings or not train_speakers:
        raise ConfigError(f"score_norm {score_norm!r} needs training-speaker embeddings for its cohort")
    cohort = speaker_mean_embeddings(train_embeddings, train_speakers)
    cohort_size = len(cohort) if score_norm == "snorm" else top_n
    return as_norm(scores, eval_embeddings, trials, enrolments, cohort, top_n=cohort_size, mean_vector=mean_vector)
