"""Verification back end: cosine scoring with enrolment averaging and mean
subtraction, AS-Norm against a direct formula, cohort building and chunked
embedding extraction."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch

from benchsuite.api import ConfigError, DataError, Trial
from benchsuite.scoring.sv import (as_norm, chunk_starts, cohort_statistics, cosine_score_trials, embedding_mean,
                                   extract_embedding, score_verification, speaker_mean_embeddings)


def cos(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


EMBEDDINGS = {
    "a1": np.array([1.0, 0.0, 0.0]),
    "a2": np.array([3.0, 1.0, 0.0]),
    "b1": np.array([0.0, 2.0, 0.0]),
    "t1": np.array([1.0, 1.0, 0.0]),
    "t2": np.array([0.0, 0.0, 5.0]),
}


def test_cosine_scores_follow_trial_order() -> None:
    trials = [Trial("a1", "t1", True), Trial("b1", "t2", False), Trial("a2", "t1", True)]
    scores = cosine_score_trials(EMBEDDINGS, trials)
    expected = [cos(EMBEDDINGS["a1"], EMBEDDINGS["t1"]), 0.0, cos(EMBEDDINGS["a2"], EMBEDDINGS["t1"])]
    np.testing.assert_allclose(scores, expected, atol=1e-12)
    assert scores.dtype == np.float64


def test_enrolment_model_averages_normalised_utterance_embeddings() -> None:
    trials = [Trial("spkA", "t1", True), Trial("a1", "t1", True)]
    scores = cosine_score_trials(EMBEDDINGS, trials, {"spkA": ["a1", "a2"]})
    model = (unit(EMBEDDINGS["a1"]) + unit(EMBEDDINGS["a2"])) / 2
    assert scores[0] == pytest.approx(cos(model, EMBEDDINGS["t1"]), abs=1e-12)
    # averaging raw vectors would weigh the longer a2 more and give a different score
    assert scores[0] != pytest.approx(cos(EMBEDDINGS["a1"] + EMBEDDINGS["a2"], EMBEDDINGS["t1"]), abs=1e-6)
    assert scores[1] == pytest.approx(cos(EMBEDDINGS["a1"], EMBEDDINGS["t1"]), abs=1e-12)


def test_mean_vector_is_subtracted_before_cosine() -> None:
    mean = np.array([0.5, 0.5, 0.5])
    scores = cosine_score_trials(EMBEDDINGS, [Trial("a2", "t2", False)], mean_vector=mean)
    assert scores[0] == pytest.approx(cos(EMBEDDINGS["a2"] - mean, EMBEDDINGS["t2"] - mean), abs=1e-12)


def test_missing_embedding_names_the_trial() -> None:
    with pytest.raises(DataError, match=r"trial 2 \(a1 nope\): test utterance 'nope' has no embedding"):
        cosine_score_trials(EMBEDDINGS, [Trial("a1", "t1", True), Trial("a1", "nope", False)])
    with pytest.raises(DataError, match="enrolment model 'm' lists no utterances"):
        cosine_score_trials(EMBEDDINGS, [Trial("m", "t1", True)], {"m": []})
    with pytest.raises(DataError, match="empty"):
        cosine_score_trials(EMBEDDINGS, [])


# --------------------------------------------------------------------------- AS-Norm


def direct_asnorm(score: float, enrol: np.ndarray, test: np.ndarray, cohort: np.ndarray, top_n: int) -> float:
    """FACTS.md §1.8 written out one trial at a time."""
    def stats(vector: np.ndarray) -> tuple[float, float]:
        cohort_scores = sorted((cos(vector, c) for c in cohort), reverse=True)[:top_n]
        return statistics.fmean(cohort_scores), statistics.pstdev(cohort_scores)

    mu_e, sd_e = stats(enrol)
    mu_t, sd_t = stats(test)
    return 0.5 * ((score - mu_e) / sd_e + (score - mu_t) / sd_t)


@pytest.fixture
def cohort_case():
    rng = np.random.default_rng(7)
    embeddings = {f"u{i}": rng.normal(size=4) for i in range(6)}
    cohort = rng.normal(size=(7, 4))
    trials = [Trial("u0", "u1", True), Trial("u0", "u2", False), Trial("u3", "u4", False), Trial("u5", "u1", True)]
    return embeddings, cohort, trials


def test_asnorm_matches_the_direct_formula_on_a_small_cohort(cohort_case) -> None:
    embeddings, cohort, trials = cohort_case
    raw = cosine_score_trials(embeddings, trials)
    normed = as_norm(raw, embeddings, trials, None, cohort, top_n=3)
    expected = [direct_asnorm(raw[i], embeddings[t.enrol], embeddings[t.test], cohort, 3) for i, t in enumerate(trials)]
    np.testing.assert_allclose(normed, expected, rtol=1e-10)
    assert not np.allclose(normed, raw)


def test_asnorm_with_mean_subtraction_and_enrolment_models(cohort_case) -> None:
    embeddings, cohort, trials = cohort_case
    mean = np.array([0.3, -0.2, 0.1, 0.0])
    enrolments = {"u0": ["u0", "u3"]}
    raw = cosine_score_trials(embeddings, trials, enrolments, mean_vector=mean)
    normed = as_norm(raw, embeddings, trials, enrolments, cohort, top_n=4, mean_vector=mean)
    shifted = {k: v - mean for k, v in embeddings.items()}
    model = (unit(shifted["u0"]) + unit(shifted["u3"])) / 2
    enrol_vector = {"u0": model, "u3": shifted["u3"], "u5": shifted["u5"]}
    expected = [direct_asnorm(raw[i], enrol_vector[t.enrol], shifted[t.test], cohort - mean, 4)
                for i, t in enumerate(trials)]
    np.testing.assert_allclose(normed, expected, rtol=1e-10)


def test_top_n_beyond_the_cohort_is_snorm_over_the_whole_cohort(cohort_case) -> None:
    embeddings, cohort, trials = cohort_case
    raw = cosine_score_trials(embeddings, trials)
    np.testing.assert_allclose(as_norm(raw, embeddings, trials, None, cohort, top_n=300),
                               as_norm(raw, embeddings, trials, None, cohort, top_n=7))


def test_cohort_statistics_use_population_std() -> None:
    cohort = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    mean, std = cohort_statistics(np.array([[1.0, 0.0]]), cohort, top_n=2)
    # the top two cosines are 1 and 0
    assert mean[0] == pytest.approx(0.5) and std[0] == pytest.approx(0.5)


def test_asnorm_option_errors(cohort_case) -> None:
    embeddings, cohort, trials = cohort_case
    raw = cosine_score_trials(embeddings, trials)
    with pytest.raises(ConfigError, match="at least 2"):
        as_norm(raw, embeddings, trials, None, cohort, top_n=1)
    with pytest.raises(ConfigError, match="cohort of at least 2"):
        as_norm(raw, embeddings, trials, None, cohort[:1], top_n=3)
    with pytest.raises(DataError, match="one score per trial"):
        as_norm(raw[:2], embeddings, trials, None, cohort, top_n=3)


def test_speaker_mean_embeddings_from_mapping_and_from_rows() -> None:
    embeddings = {"x1": np.array([1.0, 1.0]), "x2": np.array([3.0, 1.0]), "y1": np.array([0.0, 4.0])}
    by_mapping = speaker_mean_embeddings(embeddings, {"x1": "spkX", "x2": "spkX", "y1": "spkY"})
    np.testing.assert_allclose(by_mapping, [[2.0, 1.0], [0.0, 4.0]])
    rows = np.stack([embeddings["y1"], embeddings["x1"], embeddings["x2"]])
    np.testing.assert_allclose(speaker_mean_embeddings(rows, ["spkY", "spkX", "spkX"]), by_mapping)
    with pytest.raises(DataError, match="one label per row"):
        speaker_mean_embeddings(rows, ["spkY"])
    with pytest.raises(DataError, match="'z1' of speaker 'spkZ' has no embedding"):
        speaker_mean_embeddings(embeddings, {"z1": "spkZ"})


def test_score_verification_pipeline(cohort_case) -> None:
    embeddings, cohort, trials = cohort_case
    rng = np.random.default_rng(3)
    train = {f"tr{i}": rng.normal(size=4) for i in range(12)}
    speakers = {f"tr{i}": f"s{i % 4}" for i in range(12)}
    mean = embedding_mean(train)
    plain = score_verification(embeddings, trials, train_embeddings=train, train_speakers=speakers)
    np.testing.assert_allclose(plain, cosine_score_trials(embeddings, trials, mean_vector=mean))
    normed = score_verification(embeddings, trials, train_embeddings=train, train_speakers=speakers,
                                score_norm="asnorm", top_n=3)
    cohort_matrix = speaker_mean_embeddings(train, speakers)
    np.testing.assert_allclose(normed, as_norm(plain, embeddings, trials, None, cohort_matrix, top_n=3,
                                               mean_vector=mean))
    snorm = score_verification(embeddings, trials, train_embeddings=train, train_speakers=speakers,
                               score_norm="snorm")
    np.testing.assert_allclose(snorm, as_norm(plain, embeddings, trials, None, cohort_matrix, top_n=4,
                                              mean_vector=mean))
    with pytest.raises(ConfigError, match="needs training-speaker embeddings"):
        score_verification(embeddings, trials, score_norm="asnorm")
    with pytest.raises(ConfigError, match="score_norm 'znorm'"):
        score_verification(embeddings, trials, score_norm="znorm")


# --------------------------------------------------------------------------- extraction


class SummaryModel(torch.nn.Module):
    """A stand-in embedding model: (mean, max, length) of each waveform."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.calls: list[tuple[int, ...]] = []

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(waves.shape))
        length = torch.full((waves.shape[0],), float(waves.shape[1]))
        return torch.stack([waves.mean(dim=1), waves.amax(dim=1), length], dim=1) + self.anchor


def test_chunk_starts_cover_the_tail() -> None:
    assert chunk_starts(100, 40, 40) == [0, 40, 60]
    assert chunk_starts(120, 40, 40) == [0, 40, 80]
    assert chunk_starts(100, 40, 20) == [0, 20, 40, 60]
    assert chunk_starts(30, 40, 20) == [0]


def test_full_length_extraction_runs_the_whole_waveform_once() -> None:
    model = SummaryModel()
    wave = torch.arange(10, dtype=torch.float32)
    embedding = extract_embedding(model, wave)
    assert model.calls == [(1, 10)]
    torch.testing.assert_close(embedding, torch.tensor([4.5, 9.0, 10.0]))


def test_chunked_extraction_averages_window_embeddings() -> None:
    model = SummaryModel()
    wave = torch.arange(10, dtype=torch.float32)
    embedding = extract_embedding(model, wave, chunk_samples=4, hop_samples=3)
    # windows start at 0, 3 and 6 (the last flush with the end)
    assert model.calls == [(3, 4)]
    windows = [wave[s:s + 4] for s in (0, 3, 6)]
    expected = torch.tensor([np.mean([w.mean() for w in windows]), np.mean([w.max() for w in windows]), 4.0])
    torch.testing.assert_close(embedding, expected.float())
    batch = torch.stack([wave, wave * 2])
    assert extract_embedding(model, batch, chunk_samples=4, hop_samples=3).shape == (2, 3)
    # no longer than one window: the whole waveform
    torch.testing.assert_close(extract_embedding(model, wave[:4], chunk_samples=8), torch.tensor([1.5, 3.0, 4.0]))


def test_extraction_option_errors() -> None:
    model = SummaryModel()
    with pytest.raises(ConfigError, match="chunk_samples"):
        extract_embedding(model, torch.zeros(10), chunk_samples=0)
    with pytest.raises(ConfigError, match="hop_samples"):
        extract_embedding(model, torch.zeros(10), chunk_samples=4, hop_samples=0)
    with pytest.raises(DataError, match="samples > 0"):
        extract_embedding(model, torch.zeros(0))


def test_extraction_does_not_track_gradients() -> None:
    embedding = extract_embedding(SummaryModel(), torch.randn(20), chunk_samples=8)
    assert not embedding.requires_grad and math.isfinite(float(embedding.sum()))
