"""lfcc-gmm / cqcc-gmm: EM, streaming statistics, scoring, registration."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from benchsuite.api import DataError, Estimator, Task, TaskInfo
from benchsuite.plugins.registry import get_registry
from benchsuite_models.gmm import (
    CqccGmmConfig, DiagonalGMM, FrameReservoir, GmmConfig, GmmCountermeasure, LfccGmmConfig, SPECS,
    count_parameters, initial_mixture,
)
from builders_models_feat import two_class_batch

TRUE_MEANS = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])


def _toy_frames(seed: int = 0, per_cluster: int = 500) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    scales = np.array([[0.5, 0.5], [1.0, 0.3], [0.3, 1.0], [0.7, 0.7]])
    frames = np.concatenate([m + s * rng.standard_normal((per_cluster, 2)) for m, s in zip(TRUE_MEANS, scales)])
    return torch.from_numpy(rng.permutation(frames))


def _initial(frames: torch.Tensor, components: int, init: str = "kmeans++", seed: int = 0) -> DiagonalGMM:
    rng = np.random.default_rng(seed)
    reservoir = FrameReservoir(10_000, rng)
    reservoir.add(frames)
    floor = torch.full((frames.shape[1],), 1e-6, dtype=torch.float64)
    config = GmmConfig(components=components, init=init)
    return initial_mixture(reservoir, config, rng, floor, torch.float64, "toy")


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_em_increases_likelihood_monotonically_and_recovers_clusters(init: str) -> None:
    frames = _toy_frames()
    gmm = _initial(frames, 4, init)
    floor = torch.full((2,), 1e-6, dtype=torch.float64)
    history = []
    for _ in range(15):
        stats = gmm.new_statistics()
        gmm.accumulate(frames, stats, chunk_frames=256)
        history.append(stats["log_likelihood"] / stats["frames"])
        gmm.maximize(stats, floor)
    assert all(b >= a - 1e-9 for a, b in zip(history, history[1:])), history
    assert history[-1] > history[0]
    if init == "kmeans++":  # well-separated clusters: k-means++ seeds one per cluster
        found = gmm.means.numpy()
        distances = np.linalg.norm(found[:, None] - TRUE_MEANS[None], axis=-1)
        assert sorted(distances.argmin(axis=1).tolist()) == [0, 1, 2, 3]
        assert distances.min(axis=1).max() < 0.2
        np.testing.assert_allclose(gmm.weights.numpy(), 0.25, atol=0.02)


def test_streaming_statistics_equal_one_full_batch() -> None:
    frames = _toy_frames(seed=1)
    gmm = _initial(frames, 6)
    streamed, whole = gmm.new_statistics(), gmm.new_statistics()
    for part in frames.split(77):  # uneven batches, small chunks
        gmm.accumulate(part, streamed, chunk_frames=13)
    gmm.accumulate(frames, whole, chunk_frames=len(frames))
    for key in ("zeroth", "first", "second"):
        torch.testing.assert_close(streamed[key], whole[key], rtol=1e-10, atol=1e-9)
    assert streamed["frames"] == whole["frames"] == len(frames)
    assert streamed["log_likelihood"] == pytest.approx(whole["log_likelihood"], rel=1e-12)
    # and they are the textbook posteriors, computed independently with scipy
    x = frames.numpy()
    log_joint = np.stack([np.log(w) + multivariate_normal(m, np.diag(v)).logpdf(x) for w, m, v in
                          zip(gmm.weights.numpy(), gmm.means.numpy(), gmm.variances.numpy())], axis=1)
    resp = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    np.testing.assert_allclose(whole["zeroth"].numpy(), resp.sum(0), rtol=1e-9)
    np.testing.assert_allclose(whole["second"].numpy(), resp.T @ x**2, rtol=1e-9)
    np.testing.assert_allclose(gmm.frame_log_likelihood(frames).numpy(), logsumexp(log_joint, axis=1), rtol=1e-10)


def test_float32_e_step_stays_close_to_float64() -> None:
    frames = _toy_frames(seed=2)
    gmm = _initial(frames, 4)
    single = DiagonalGMM(gmm.weights, gmm.means, gmm.variances, compute_dtype=torch.float32)
    np.testing.assert_allclose(single.frame_log_likelihood(frames).numpy(), gmm.frame_log_likelihood(frames).numpy(),
                               atol=1e-3)


def _batches(waves, labels, size=8):
    return lambda: iter([(waves[i:i + size], labels[i:i + size], torch.arange(i, min(i + size, len(waves))))
                         for i in range(0, len(waves), size)])


@pytest.mark.parametrize("name,config", [("lfcc-gmm", LfccGmmConfig(components=8, em_iterations=3)),
                                         ("cqcc-gmm", CqccGmmConfig(components=8, em_iterations=2))])
def test_fit_and_score_separate_two_synthetic_classes(name: str, config: GmmConfig) -> None:
    torch.manual_seed(0)
    train_waves, train_labels = two_class_batch(24, (6000, 12000), seed=2)
    test_waves, test_labels = two_class_batch(12, (6000, 12000), seed=3)
    spec = {s.name: s for s in SPECS}[name]
    model = spec.build(config, TaskInfo(Task.SPOOF))
    assert isinstance(model, Estimator) and not isinstance(model, torch.nn.Module)
    reports = []
    model.fit(_batches(train_waves, train_labels), device="cpu", progress=reports.append, seed=0)
    assert [r["em_iteration"] for r in reports if "em_iteration" in r] == list(range(1, config.em_iterations + 1))
    scores = model.score(test_waves)
    assert scores.shape == (12,) and torch.isfinite(scores).all()
    assert scores[test_labels == 1].min() > scores[test_labels == 0].max()

    reloaded = spec.build(config, TaskInfo(Task.SPOOF)).load_state_dict(model.state_dict()).to("cpu")
    torch.testing.assert_close(reloaded.score(test_waves), scores)


def test_fit_needs_both_classes_and_enough_frames() -> None:
    waves, labels = two_class_batch(4, 4000, seed=4)
    model = GmmCountermeasure(LfccGmmConfig(components=8, em_iterations=1), "lfcc-gmm")
    with pytest.raises(DataError, match="no spoof utterances"):
        model.fit(_batches(waves, torch.ones(4, dtype=torch.long)), device="cpu", seed=0)
    big = GmmCountermeasure(LfccGmmConfig(components=512, em_iterations=1), "lfcc-gmm")
    with pytest.raises(DataError, match="fewer than the 512 GMM components"):
        big.fit(_batches(waves, labels), device="cpu", seed=0)
    with pytest.raises(DataError, match="too short"):
        model.features(torch.zeros(100))


def test_registration_and_mixture_parameter_counts() -> None:
    registry = get_registry()
    lfcc, cqcc = registry.models.get("lfcc-gmm").spec, registry.models.get("cqcc-gmm").spec
    assert lfcc.count_parameters(lfcc.config_class()) == 2 * 512 * (1 + 2 * 57) == 117_760
    assert cqcc.count_parameters(cqcc.config_class()) == 2 * 512 * (1 + 2 * 60) == 123_904
    for spec in (lfcc, cqcc):
        paper = spec.recipe("paper")
        assert (paper.loss, paper.epochs, paper.train_crop, paper.eval_crop) == ("none", 1, "full", "full")
        assert spec.config_class().components == 512 and spec.config_class().em_iterations == 10
        assert spec.recipe("quick").max_train_utterances <= 1000
    assert count_parameters(CqccGmmConfig(components=4)) == 2 * 4 * 121


def test_feature_cache_and_streaming_fit_the_same_mixtures() -> None:
    waves, labels = two_class_batch(16, (5000, 9000), seed=6)
    states = []
    for budget in (512, 0):  # cached in memory / re-read on every EM pass
        torch.manual_seed(1)
        reads = []

        def batches():
            reads.append(1)
            return _batches(waves, labels)()

        model = GmmCountermeasure(LfccGmmConfig(components=4, em_iterations=3, feature_cache_mb=budget), "lfcc-gmm")
        model.fit(batches, device="cpu", seed=0)
        assert len(reads) == (1 if budget else 4)
        states.append(model.state_dict()["mixtures"])
    for name in ("bonafide", "spoof"):
        for key in ("weights", "means", "variances"):
            torch.testing.assert_close(states[0][name][key], states[1][name][key], rtol=1e-9, atol=1e-12)


def test_kmeans_plus_plus_picks_distinct_frames_spread_over_clusters() -> None:
    from benchsuite_models.gmm import kmeans_plus_plus

    frames = _toy_frames(seed=4)
    centres = kmeans_plus_plus(frames, 4, np.random.default_rng(0))
    assert all(any(torch.equal(c, f) for f in frames) for c in centres)
    nearest_true = np.linalg.norm(centres.numpy()[:, None] - TRUE_MEANS[None], axis=-1).argmin(axis=1)
    assert sorted(nearest_true.tolist()) == [0, 1, 2, 3]


def test_config_fields_do_not_shadow_recipe_fields() -> None:
    import dataclasses

    from benchsuite.api import Recipe
    from benchsuite_models.lfcc_lcnn import LfccLcnnConfig

    recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
    for config_class in (LfccGmmConfig, CqccGmmConfig, LfccLcnnConfig):
        assert not recipe_fields & {f.name for f in dataclasses.fields(config_class)}, config_class
