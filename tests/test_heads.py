"""Embedding heads: which head each loss builds, the margin on the target logit only,
and WeSpeaker's margin ramp."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from benchsuite.api import ConfigError, Recipe
from benchsuite.training.heads import LinearHead, MarginHead, build_head, ramped_margin

SCALE = 32.0


def margin_head(loss: str, margin: float = 0.2, ramp: tuple[int, int] | None = None) -> MarginHead:
    torch.manual_seed(0)
    head = build_head(Recipe(loss=loss, margin=margin, scale=SCALE, margin_ramp_epochs=ramp), 8, 5)
    assert isinstance(head, MarginHead)
    return head


def test_each_loss_builds_its_head() -> None:
    assert isinstance(build_head(Recipe(loss="softmax"), 8, 5), LinearHead)
    assert isinstance(build_head(Recipe(loss="ce"), 8, 5), LinearHead)
    assert margin_head("am_softmax").kind == "additive"
    assert margin_head("aam_softmax").kind == "angular"


@pytest.mark.parametrize("recipe, message", [
    (Recipe(loss="weighted_ce"), "no embedding head"),
    (Recipe(loss="aam_softmax", scale=0.0), "scale must be positive"),
    (Recipe(loss="am_softmax", margin=-0.1), "margin must be in"),
    (Recipe(loss="aam_softmax", margin_ramp_epochs=(40, 20)), "margin_ramp_epochs"),
    (Recipe(loss="aam_softmax", margin_ramp_epochs=(0, 20)), "margin_ramp_epochs"),
])
def test_bad_head_options_are_config_errors(recipe: Recipe, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_head(recipe, 8, 5)


def test_one_class_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_head(Recipe(loss="aam_softmax"), 8, 1)


def _cosines(head: MarginHead, embeddings: torch.Tensor) -> torch.Tensor:
    return F.normalize(embeddings, dim=1) @ F.normalize(head.weight, dim=1).T


@pytest.mark.parametrize("loss", ["am_softmax", "aam_softmax"])
def test_margin_changes_only_the_target_logit(loss: str) -> None:
    head = margin_head(loss, margin=0.3)
    embeddings = torch.randn(6, 8)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    with torch.no_grad():
        plain = head(embeddings, None)
        trained = head(embeddings, labels)
    cosine = _cosines(head, embeddings)
    torch.testing.assert_close(plain, SCALE * cosine)
    target = torch.zeros_like(plain, dtype=torch.bool)
    target[torch.arange(6), labels] = True
    torch.testing.assert_close(trained[~target], plain[~target])
    target_cos = cosine[target]
    if loss == "am_softmax":
        expected = SCALE * (target_cos - 0.3)
    else:
        expected = SCALE * torch.cos(torch.acos(target_cos.clamp(-1, 1)) + 0.3)
    torch.testing.assert_close(trained[target], expected, atol=1e-4, rtol=1e-5)
    assert torch.all(trained[target] < plain[target])


def test_aam_continues_linearly_beyond_pi_minus_margin() -> None:
    head = margin_head("aam_softmax", margin=0.5)
    # an embedding opposite to class 2's weight: theta = pi, so theta + m would wrap around
    embedding = -head.weight.detach()[2:3].clone()
    with torch.no_grad():
        logit = head(embedding, torch.tensor([2]))[0, 2]
    assert float(logit) == pytest.approx(SCALE * (-1.0 - (1.0 - math.cos(0.5))), rel=1e-5)


def test_linear_head_ignores_labels() -> None:
    head = build_head(Recipe(loss="ce"), 8, 5)
    embeddings = torch.randn(4, 8)
    with torch.no_grad():
        torch.testing.assert_close(head(embeddings, torch.tensor([0, 1, 2, 3])), head(embeddings, None))
    head.set_epoch(10)  # no margin to schedule, but the trainer may call it


def test_margin_ramp_follows_wespeaker_schedule() -> None:
    # WeSpeaker (1-based epochs, ramp 20 -> 40, final 0.2): 0 before 20, 0.2 * (1 - (1e-3/(1+1e-6))^p) inside
    assert ramped_margin(1, 0.2, (20, 40)) == 0.0
    assert ramped_margin(19.99, 0.2, (20, 40)) == 0.0
    assert ramped_margin(20, 0.2, (20, 40)) == pytest.approx(0.0, abs=1e-12)
    assert ramped_margin(30, 0.2, (20, 40)) == pytest.approx(0.2 * (1 - math.sqrt(1e-3 / (1 + 1e-6))), rel=1e-12)
    assert ramped_margin(30, 0.2, (20, 40)) == pytest.approx(0.193675, abs=1e-6)
    assert ramped_margin(35, 0.2, (20, 40)) == pytest.approx(0.2 * (1 - (1e-3 / (1 + 1e-6)) ** 0.75), rel=1e-12)
    assert ramped_margin(40, 0.2, (20, 40)) == 0.2
    assert ramped_margin(150, 0.2, (20, 40)) == 0.2
    assert ramped_margin(1, 0.2, None) == 0.2
    values = [ramped_margin(e / 4, 0.2, (20, 40)) for e in range(80, 161)]
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_set_epoch_takes_the_trainers_zero_based_index() -> None:
    head = margin_head("aam_softmax", margin=0.2, ramp=(20, 40))
    assert head.margin == 0.0  # before training: WeSpeaker's epoch 1
    head.set_epoch(18)
    assert head.margin == 0.0
    head.set_epoch(29)  # WeSpeaker's epoch 30
    assert head.margin == pytest.approx(0.193675, abs=1e-6)
    head.set_epoch(39)
    assert head.margin == 0.2
    embeddings, labels = torch.randn(3, 8), torch.tensor([0, 1, 2])
    head.set_epoch(0)
    with torch.no_grad():
        torch.testing.assert_close(head(embeddings, labels), head(embeddings, None))


def test_no_ramp_means_full_margin_from_the_start() -> None:
    assert margin_head("am_softmax", margin=0.25).margin == 0.25


def test_margin_head_backpropagates_to_embeddings_and_weights() -> None:
    head = margin_head("aam_softmax")
    embeddings = torch.randn(4, 8, requires_grad=True)
    loss = F.cross_entropy(head(embeddings, torch.tensor([0, 1, 2, 3])), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert embeddings.grad is not None and torch.isfinite(embeddings.grad).all()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
