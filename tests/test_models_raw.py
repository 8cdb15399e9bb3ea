"""Raw-waveform countermeasures: AASIST, AASIST-L, RawGAT-ST, RawNet2 (issue 5)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchsuite.api import ConfigError, Recipe, Task, TaskInfo
from benchsuite.plugins.registry import get_registry
from benchsuite_models import _blocks as blocks, rawgat_st, rawnet2, _sinc as sinc
from benchsuite_models._converters import convert_rawnet2
from builders_learning import LearningTrace, frozen_randomness_loss, train_until
from builders_models_raw import single_thread

RAW_MODELS = ("aasist", "aasist-l", "rawgat-st", "rawnet2")
EXPECTED_PARAMS = {"aasist": 297_866, "aasist-l": 85_306, "rawgat-st": 440_810, "rawnet2": 17_621_410}
SPOOF = TaskInfo(Task.SPOOF)
# Step caps of the fixed-batch learning check: at least 2.5 x the most steps measured to reach
# 0.7 x the initial loss over seeds 0-4 at 1 and 2 threads (tests/measure_learning.py).
# Measured most steps (seeds 0-4 x 1, 2 threads): aasist 5, aasist-l 4, rawnet2 1, rawgat-st 16.
MAX_STEPS = {"aasist": 12, "aasist-l": 10, "rawnet2": 8, "rawgat-st": 40}


@pytest.fixture(scope="module")
def registry():
    return get_registry()


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


def build(registry, name: str, **config_changes):
    spec = registry.models.get(name).spec
    return spec.build(dataclasses.replace(spec.config_class(), **config_changes), SPOOF)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- registration and sizes


@pytest.mark.parametrize("name", RAW_MODELS)
def test_parameter_count_matches_the_published_model(registry, name):
    assert n_params(build(registry, name)) == EXPECTED_PARAMS[name]


def test_rawgat_st_fusions_and_unused_weights(registry):
    assert n_params(build(registry, "rawgat-st", fusion="add")) == 440_810
    assert n_params(build(registry, "rawgat-st", fusion="concat")) == 445_546
    model = build(registry, "rawgat-st")
    unused = sum(p.numel() for name, p in model.named_parameters() if ".unused_conv." in name)
    assert unused == 4_032
    assert n_params(model) - unused == 436_778
    with pytest.raises(ConfigError, match="fusion 'max'"):
        build(registry, "rawgat-st", fusion="max")


def test_registered_by_their_plugins_for_the_spoof_task(registry):
    plugins = {name: registry.models.get(name).plugin.name for name in RAW_MODELS}
    assert plugins == {"aasist": "aasist", "aasist-l": "aasist", "rawgat-st": "rawgat-st", "rawnet2": "rawnet2"}
    for name in RAW_MODELS:
        spec = registry.models.get(name).spec
        assert spec.tasks == (Task.SPOOF,) and spec.output == "logits" and spec.convert_checkpoint is not None
        with pytest.raises(ConfigError):
            spec.build(spec.config_class(), TaskInfo(Task.VERIFY, num_classes=10))


@pytest.mark.parametrize("name", RAW_MODELS)
def test_config_fields_do_not_shadow_recipe_fields(registry, name):
    config_fields = {f.name for f in dataclasses.fields(registry.models.get(name).spec.config_class)}
    assert not config_fields & {f.name for f in dataclasses.fields(Recipe)}


def test_paper_recipes_are_the_published_ones(registry):
    def recipe(name):
        return registry.models.get(name).spec.recipe("paper", Task.SPOOF)

    for name in ("aasist", "aasist-l"):
        r = recipe(name)
        assert (r.optimizer, r.lr, r.weight_decay, r.betas, r.scheduler, r.lr_min) == ("adam", 1e-4, 1e-4,
                                                                                         (0.9, 0.999), "cosine", 5e-6)
        assert (r.batch_size, r.epochs, r.crop_samples, r.train_crop, r.eval_crop) == (24, 100, 64600, "random", "first")
        # clovaai/aasist main.py:148,177-187: SWA over the dev-improving epochs (ties win), BN update on train
        assert (r.averaging, r.bn_update, r.selection_ties) == ("improving", True, "later")
    r = recipe("rawgat-st")
    assert (r.optimizer, r.lr, r.weight_decay, r.scheduler, r.batch_size, r.epochs) == ("adam", 1e-4, 1e-4, "none", 10, 300)
    assert (r.crop_samples, r.train_crop, r.eval_crop) == (64600, "first", "first")
    r = recipe("rawnet2")
    assert (r.optimizer, r.lr, r.weight_decay, r.batch_size, r.epochs) == ("adam", 1e-4, 1e-4, 32, 100)
    assert (r.crop_samples, r.train_crop, r.eval_crop) == (64600, "first", "first")
    for name in RAW_MODELS:
        r = recipe(name)
        assert (r.loss, r.class_weights) == ("weighted_ce", (0.1, 0.9))
        quick = registry.models.get(name).spec.recipe("quick", Task.SPOOF)
        assert 1 <= quick.epochs <= 4 and quick.max_train_utterances and quick.max_train_utterances <= 500
        assert quick.max_dev_utterances and quick.max_eval_utterances


def test_published_baselines_are_registered(registry):
    found = {(b.spec.model, b.spec.metric): b.spec for b in registry.baselines
             if b.plugin.name in ("aasist", "rawgat-st")}
    assert found[("aasist", "eer")].value == pytest.approx(0.0083)
    assert found[("aasist", "min_tdcf_legacy")].value == pytest.approx(0.0275)
    assert found[("aasist-l", "eer")].value == pytest.approx(0.0099)
    assert found[("aasist-l", "min_tdcf_legacy")].value == pytest.approx(0.0309)
    assert found[("rawgat-st", "eer")].value == pytest.approx(0.0106)
    assert found[("rawgat-st", "min_tdcf_legacy")].value == pytest.approx(0.0335)
    for baseline in found.values():
        assert baseline.dataset == "asvspoof2019-la" and baseline.split == "eval" and baseline.source
        if baseline.metric.startswith("min_tdcf"):
            assert baseline.formulation == baseline.metric.rsplit("_", 1)[1]
    # revised values are derived, and say so
    assert found[("aasist", "min_tdcf_revised")].value == pytest.approx(0.0885, abs=1e-4)
    assert found[("aasist-l", "min_tdcf_revised")].value == pytest.approx(0.0917, abs=1e-4)
    assert all("derived" in b.conditions for b in found.values() if b.metric == "min_tdcf_revised")


# --------------------------------------------------------------------------- the sinc front end


def test_sinc_filters_are_fixed_mel_spaced_band_passes():
    edges = sinc.mel_band_edges(70, 16000)
    assert edges[0] == pytest.approx(0.0) and edges[-1] == pytest.approx(8000.0)
    assert np.all(np.diff(edges) > 0) and np.all(np.diff(np.diff(sinc.hz_to_mel(edges))) < 1e-9)
    filters = sinc.mel_sinc_filters(70, 128).numpy()
    assert filters.shape == (70, 129)
    assert np.allclose(filters, filters[:, ::-1])  # symmetric: correlation == convolution
    response = np.abs(np.fft.rfft(filters, n=4096, axis=1))
    peak_hz = np.argmax(response, axis=1) * 16000 / 4096
    for band in (5, 20, 40, 60):  # wide enough for the 129-tap window to resolve
        assert edges[band] - 50 <= peak_hz[band] <= edges[band + 1] + 50
    bank = sinc.FixedSincFilterbank(70, 128)
    assert "filters" not in bank.state_dict() and not list(bank.parameters())


@pytest.mark.parametrize("taps, length", [(129, 3000), (1025, 1025), (1025, 9000), (1025, 40000)])
def test_fft_filtering_equals_direct_convolution(taps, length):
    torch.manual_seed(0)
    waves = torch.randn(2, length)
    direct = sinc.FixedSincFilterbank(20, taps, method="direct")(waves)
    fft = sinc.FixedSincFilterbank(20, taps, method="fft")(waves)
    assert fft.shape == direct.shape == (2, 20, length - taps + 1)
    assert torch.allclose(fft, direct, atol=2e-5)


def test_frequency_masking_zeroes_a_run_of_bands():
    torch.manual_seed(3)
    bands = torch.ones(2, 69, 50)
    widths = set()
    for _ in range(200):
        masked = sinc.mask_filter_bands(bands.clone(), 14, 70)
        zero_rows = torch.nonzero(masked[0, :, 0] == 0).flatten().tolist()
        assert torch.equal(masked[0], masked[1])  # one mask for the whole batch
        if zero_rows:
            assert zero_rows == list(range(zero_rows[0], zero_rows[-1] + 1))
        widths.add(len(zero_rows))
    assert max(widths) <= 13 and 0 in widths and len(widths) > 8
    assert torch.equal(sinc.mask_filter_bands(bands.clone(), 0, 70), bands)


def test_fast_pooling_matches_pytorch_pooling_values_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 20)
    x[0, 0, 0, :3] = 1.0  # a tie: the first maximum takes the gradient, as in PyTorch
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    grad = torch.randn(2, 3, 4, 6)
    blocks.max_pool_last_dim(ours, 3).backward(grad)
    F.max_pool2d(theirs, (1, 3)).backward(grad)
    assert torch.equal(ours.grad, theirs.grad)
    with torch.no_grad():
        assert torch.equal(blocks.max_pool_last_dim(x, 3), F.max_pool2d(x, (1, 3)))
        bands = torch.randn(2, 70, 31)
        assert torch.equal(blocks.max_pool_bands_and_time(bands), F.max_pool2d(bands.unsqueeze(1), (3, 3)))


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("name", ["aasist", "aasist-l", "rawnet2"])
def test_forward_on_short_audio_and_batch_independence_in_eval(registry, name):
    torch.manual_seed(0)
    model = build(registry, name).eval()
    waves = 0.1 * torch.randn(3, 16000)
    with torch.no_grad():
        batch = model(waves)
        single = model(waves[1:2])
    assert batch.shape == (3, 2) and torch.isfinite(batch).all()
    assert torch.allclose(batch[1:2], single, atol=1e-5)


@pytest.mark.parametrize("name, samples", [("aasist", 16000), ("rawgat-st", 64600), ("rawnet2", 16000)])
def test_fast_eval_path_equals_the_reference_operation_order(registry, name, samples, monkeypatch):
    """Eval mode folds BN into convs and (on CPU) runs channels-last; the result must match
    the reference's order of operations to float32 rounding."""
    torch.manual_seed(0)
    model = build(registry, name).eval()
    for module in model.modules():  # non-trivial running statistics, so folding matters
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    waves = 0.1 * torch.randn(2, samples)
    with torch.no_grad():
        fast = model(waves)
        monkeypatch.setattr(blocks.ResidualBlock2d, "fast_paths", False)
        monkeypatch.setattr(rawnet2.ResidualBlock1d, "fast_paths", False)
        exact = model(waves)
    assert torch.allclose(fast, exact, atol=1e-5), (fast, exact)


def test_fast_training_path_gives_the_reference_outputs_and_gradients(registry, monkeypatch):
    """Checked in float64, where summation order cannot hide a real difference (in float32 the
    reordered sums move a few max-pool choices, so gradients agree to ~1e-3 only)."""
    torch.manual_seed(0)
    model = build(registry, "aasist-l").train().double()
    waves, labels = _separable_batch(8000)
    waves = waves.double()

    def outputs_and_gradients():
        model.zero_grad(set_to_none=True)
        with torch.random.fork_rng():
            torch.manual_seed(5)  # the same dropout masks on both paths
            logits = model(waves)
        F.cross_entropy(logits, labels).backward()
        return logits.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    fast_logits, fast_grads = outputs_and_gradients()
    monkeypatch.setattr(blocks.ResidualBlock2d, "fast_paths", False)
    exact_logits, exact_grads = outputs_and_gradients()
    assert torch.allclose(fast_logits, exact_logits, atol=1e-10)
    assert fast_grads.keys() == exact_grads.keys()
    for key, grad in exact_grads.items():
        assert torch.allclose(fast_grads[key], grad, rtol=1e-6, atol=1e-9), key


def test_channels_last_helpers_match_pytorch():
    torch.manual_seed(0)
    single = torch.randn(2, 1, 5, 13)
    weight, bias = torch.randn(4, 1, 2, 3), torch.randn(4)
    out = blocks.conv2d_channels_last(single, weight, bias, (1, 1))
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, F.conv2d(single, weight, bias, padding=(1, 1)), atol=1e-6)
    out = blocks.conv2d_one_channel(single, weight[..., :1, :], bias, (0, 1))
    assert out.is_contiguous() and torch.allclose(out, F.conv2d(single, weight[..., :1, :], bias, padding=(0, 1)),
                                                  atol=1e-6)
    wide = torch.randn(2, 4, 5, 14).contiguous(memory_format=torch.channels_last)
    pooled = blocks.max_pool_time_channels_last(wide, 3)
    assert pooled.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(pooled, F.max_pool2d(wide.contiguous(), (1, 3)))


def test_rawnet2_outputs_log_probabilities():
    model = rawnet2.RawNet2(rawnet2.RawNet2Config()).eval()
    with torch.no_grad():
        out = model(0.1 * torch.randn(2, 8000))
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(2), atol=1e-5)


def test_rawgat_st_refuses_inputs_its_projections_cannot_take():
    model = rawgat_st.RawGatSt(rawgat_st.RawGatStConfig()).eval()
    assert model.input_samples_range == (63_551, 65_737)
    with pytest.raises(ConfigError, match="64600"):
        model(torch.zeros(1, 16000))


@pytest.mark.parametrize("name, quirk", [("aasist", "discarded_bn"), ("rawgat-st", "unused_conv"),
                                          ("rawgat-st", "discarded_bn"), ("rawnet2", "discarded_bn")])
def test_dead_weights_are_kept_but_do_not_change_the_output(registry, name, quirk):
    torch.manual_seed(0)
    model = build(registry, name).eval()
    assert any(f".{quirk}." in key for key in model.state_dict())
    waves = 0.1 * torch.randn(1, 64600)
    with torch.no_grad():
        before = model(waves)
        for key, param in model.named_parameters():
            if f".{quirk}." in key:
                param.add_(3.0)
        assert torch.equal(model(waves), before)


def test_rawgat_st_trains_one_step_on_the_published_window_and_dead_weights_get_no_gradient():
    torch.manual_seed(0)
    model = rawgat_st.RawGatSt(rawgat_st.RawGatStConfig()).train()
    loss = F.cross_entropy(model(0.1 * torch.randn(2, 64600)), torch.tensor([0, 1]),
                           weight=torch.tensor([0.1, 0.9]))
    loss.backward()
    assert torch.isfinite(loss)
    for key, param in model.named_parameters():
        if ".unused_conv." in key or ".discarded_bn." in key:
            assert param.grad is None, key
        else:
            assert param.grad is not None and torch.isfinite(param.grad).all(), key


def _separable_batch(samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Four utterances; the two bona fide ones carry a 440 Hz tone."""
    generator = torch.Generator().manual_seed(1)
    waves = 0.1 * torch.randn(4, samples, generator=generator)
    labels = torch.tensor([0, 1, 0, 1])
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * torch.arange(samples) / 16000)
    waves[labels == 1] += tone
    return waves, labels


@pytest.mark.slow
@pytest.mark.parametrize("name, changes, lr, max_steps", [
    ("aasist", {}, 1e-3, MAX_STEPS["aasist"]),
    ("aasist-l", {}, 1e-3, MAX_STEPS["aasist-l"]),
    ("rawnet2", {}, 1e-3, MAX_STEPS["rawnet2"]),
    # The default RawGAT-ST needs ~4 s inputs (29 frames); 3 frames fit 8,000 samples.  Its tiny
    # 7-node read-out learns slowly through dropout and band masking, so this check trains without them.
    ("rawgat-st", {"frames": 3, "freq_mask_filters": 0, "gat_input_dropout": 0.0, "pool_dropout": 0.0}, 1e-2,
     MAX_STEPS["rawgat-st"]),
])
def test_loss_decreases_on_a_fixed_batch(registry, name, changes, lr, max_steps):
    learn_fixed_batch(registry, name, changes, lr, max_steps)


def learn_fixed_batch(registry, name: str, changes: dict, lr: float, max_steps: int, seed: int = 0) -> LearningTrace:
    torch.manual_seed(seed)
    model = build(registry, name, **changes).train()
    waves, labels = _separable_batch(8000)
    weight = torch.tensor([0.1, 0.9])

    def loss() -> torch.Tensor:
        return F.cross_entropy(model(waves), labels, weight=weight)

    # the same dropout masks at every measurement, so the comparison is not noise
    return train_until(loss, frozen_randomness_loss(loss), torch.optim.Adam(model.parameters(), lr=lr),
                       ratio=0.7, max_steps=max_steps)


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("name", RAW_MODELS)
def test_our_own_state_dicts_pass_through_convert_checkpoint(registry, name):
    spec = registry.models.get(name).spec
    state = spec.build(spec.config_class(), SPOOF).state_dict()
    converted = spec.convert_checkpoint(state)
    assert list(converted) == list(state)


def _reference_rawnet2_keys() -> dict[str, str]:
    """Key names of asvspoof-challenge/2021 LA/Baseline-RawNet2/model.py -> ours, written out by hand."""
    names = {}
    for block in range(6):
        layers = {"conv1": "conv_in", "bn2": "bn", "conv2": "conv_out"}
        if block > 0:
            layers["bn1"] = "discarded_bn"
        if block == 2:
            layers["conv_downsample"] = "shortcut"
        for theirs, ours in layers.items():
            fields = ["weight", "bias"] + (["running_mean", "running_var", "num_batches_tracked"] if "bn" in theirs else [])
            for field in fields:
                names[f"block{block}.0.{theirs}.{field}"] = f"blocks.{block}.{ours}.{field}"
        for field in ("weight", "bias"):
            names[f"fc_attention{block}.0.{field}"] = f"feature_map_scaling.{block}.{field}"
    for theirs, ours in (("first_bn", "input_bn"), ("bn_before_gru", "pre_gru_bn")):
        for field in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            names[f"{theirs}.{field}"] = f"{ours}.{field}"
    for layer in range(3):
        for field in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            names[f"gru.{field}_l{layer}"] = f"gru.{field}_l{layer}"
    for theirs, ours in (("fc1_gru", "fc_hidden"), ("fc2_gru", "fc_out")):
        for field in ("weight", "bias"):
            names[f"{theirs}.{field}"] = f"{ours}.{field}"
    return names


def test_rawnet2_loads_the_baseline_code_key_names():
    torch.manual_seed(0)
    model = rawnet2.RawNet2(rawnet2.RawNet2Config()).eval()
    ours = model.state_dict()
    mapping = _reference_rawnet2_keys()
    assert sorted(mapping.values()) == sorted(ours)
    foreign = {f"module.{theirs}": ours[mine].clone() for theirs, mine in mapping.items()}  # DataParallel prefix
    fresh = rawnet2.RawNet2(rawnet2.RawNet2Config()).eval()
    fresh.load_state_dict(convert_rawnet2(foreign), strict=True)
    waves = 0.1 * torch.randn(1, 8000)
    with torch.no_grad():
        assert torch.equal(fresh(waves), model(waves))


RELEASED = [("aasist", "AASIST.pth", "AASIST"), ("aasist-l", "AASIST-L.pth", "AASIST-L"),
            ("rawgat-st", "RawGAT-ST-mul.pth", "RawGAT-ST-mul")]


@pytest.mark.slow
@pytest.mark.parametrize("name, checkpoint, expected_key", RELEASED)
def test_released_checkpoints_reproduce_the_authors_logits(registry, reference_dir, name, checkpoint, expected_key):
    spec = registry.models.get(name).spec
    released = torch.load(reference_dir / "checkpoints" / checkpoint, map_location="cpu", weights_only=True)
    model = spec.build(spec.config_class(), SPOOF)
    model.load_state_dict(spec.convert_checkpoint(released), strict=True)
    model.eval()
    probe = torch.from_numpy(np.load(reference_dir / "conformance" / "probe_a.npy"))
    expected = json.loads((reference_dir / "conformance" / "expected_probe_a.json").read_text())[expected_key]
    with torch.no_grad():
        logits = model(probe)
    assert torch.allclose(logits, torch.tensor(expected["logits"]), atol=1e-4), logits
    released_params = sum(v.numel() for k, v in released.items()
                          if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert released_params == n_params(model) == EXPECTED_PARAMS[name]
