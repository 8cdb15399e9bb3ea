"""Speaker models: registration, exact parameter counts (WeSpeaker's for ECAPA-TDNN,
ResNet34 and x-vector), embedding shapes, the Kaldi fbank front end, SincNet's
filters, and a few training steps with an AAM-softmax head."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torchaudio.compliance.kaldi as kaldi

from benchsuite.api import ConfigError, Recipe, Task, TaskInfo
from benchsuite.training.heads import build_head
from benchsuite.plugins.registry import get_registry
from benchsuite_models.cnn_bilstm import CnnBiLstmConfig
from benchsuite_models.ecapa_tdnn import EcapaTdnnConfig
from benchsuite_models._fbank import WESPEAKER_CHUNK_SAMPLES, KaldiFbank
from benchsuite_models.resnet import ResNetConfig
from benchsuite_models.sincnet import SincConv, SincNet, SincNetConfig
from benchsuite_models.xvector import XVectorConfig
from builders_learning import LearningTrace, frozen_randomness_loss, train_until
from builders_models_sv import SAMPLE_RATE, speaker_batch

SPEAKER_MODELS = ("ecapa-tdnn", "resnet34", "xvector", "sincnet", "cnn-bilstm")
PLUGIN_DIR = Path(__file__).resolve().parents[1] / "src" / "benchsuite_models"
MY_FILES = ("_fbank.py", "_pooling.py", "ecapa_tdnn.py", "resnet.py", "xvector.py", "sincnet.py", "cnn_bilstm.py")


@pytest.fixture(autouse=True)
def _few_threads():
    # the test machine is shared; one intra-op thread keeps the timings of others sane
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def specs():
    registry = get_registry()
    return {name: registry.models.get(name).spec for name in SPEAKER_MODELS}


def build(spec, config=None, task: Task = Task.VERIFY, num_classes: int = 4) -> torch.nn.Module:
    return spec.build(config if config is not None else spec.config_class(), TaskInfo(task, num_classes=num_classes))


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- registration


def test_speaker_models_register_with_tasks_recipes_and_embedding_output(specs) -> None:
    for name, spec in specs.items():
        assert spec.output == "embedding", name
        assert {"paper", "quick"} <= set(spec.recipes), name
        expected_tasks = {Task.CLASSIFY} if name == "cnn-bilstm" else {Task.VERIFY, Task.CLASSIFY}
        assert set(spec.tasks) == expected_tasks, name
        if Task.CLASSIFY in spec.tasks:
            classify = spec.recipe("paper", Task.CLASSIFY)
            assert classify.loss in ("ce", "softmax") and classify.selection == "dev_accuracy", name


def test_config_fields_do_not_collide_with_recipe_fields(specs) -> None:
    recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
    for name, spec in specs.items():
        config_fields = {f.name for f in dataclasses.fields(spec.config_class)}
        assert not config_fields & recipe_fields, (name, config_fields & recipe_fields)


@pytest.mark.parametrize("name", ["ecapa-tdnn", "resnet34", "xvector"])
def test_wespeaker_paper_recipe(specs, name: str) -> None:
    paper = specs[name].recipe("paper", Task.VERIFY)
    assert (paper.optimizer, paper.lr, paper.momentum, paper.nesterov, paper.weight_decay) == \
        ("sgd", 0.1, 0.9, True, 1e-4)
    # 128 a GPU on run.sh's two GPUs, the lr scaled by that batch / 64, WeSpeaker's ExponentialDecrease shape
    assert (paper.scheduler, paper.warmup_epochs, paper.lr_min, paper.epochs, paper.batch_size, paper.lr_scaling) == \
        ("exponential_warmup_product", 6, 5e-5, 150, 256, "batch_over_64")
    assert (paper.averaging, paper.average_epochs, paper.augmentations) == ("last_n", 10, ("speed",))
    assert (paper.loss, paper.margin, paper.scale, paper.margin_ramp_epochs) == ("aam_softmax", 0.2, 32.0, (20, 40))
    assert paper.crop_samples == WESPEAKER_CHUNK_SAMPLES == 199 * 160 + 400
    assert (paper.train_crop, paper.eval_crop) == ("random", "full")
    quick = specs[name].recipe("quick", Task.VERIFY)
    assert quick.epochs <= 4 and quick.max_train_utterances is not None


def test_voxceleb_baselines_are_fractions_with_conditions() -> None:
    registry = get_registry()
    ours = [b.spec for b in registry.baselines if b.spec.model in SPEAKER_MODELS]
    by_system = {b.system: b for b in ours}
    assert by_system["ECAPA-TDNN (C=1024)"].value == pytest.approx(0.0087)
    assert by_system["WeSpeaker ResNet34-TSTP-emb256"].value == pytest.approx(0.00867)
    assert by_system["WeSpeaker XVEC-TSTP-emb512"].value == pytest.approx(0.01989)
    for baseline in ours:
        assert (baseline.dataset, baseline.split, baseline.metric) == ("voxceleb1", "eval", "eer")
        assert baseline.conditions["trials"] == "O-clean" and baseline.conditions["score_norm"] in ("none", "asnorm")
        assert 0 < baseline.value < 0.05 and baseline.source


# --------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("name, config, expected", [
    # wenet-e2e/wespeaker ECAPA_TDNN_GLOB_c512 / _c1024 (emb 192), ResNet34 (emb 256), XVEC (feat 80, emb 512)
    ("ecapa-tdnn", EcapaTdnnConfig(), 6_190_720),
    ("ecapa-tdnn", EcapaTdnnConfig(channels=1024), 14_657_088),
    ("resnet34", ResNetConfig(), 6_634_336),
    ("xvector", XVectorConfig(), 4_610_524),
    # no toolkit figure: SincNet's TIMIT configuration without the reference code's unused norm modules
    ("sincnet", SincNetConfig(), 21_825_960),
    ("cnn-bilstm", CnnBiLstmConfig(), 974_336),
])
def test_exact_parameter_counts(specs, name: str, config, expected: int) -> None:
    assert count(build(specs[name], config)) == expected


def test_fbank_buffers_stay_out_of_checkpoints(specs) -> None:
    model = build(specs["ecapa-tdnn"], EcapaTdnnConfig(channels=64))
    assert not any(key.startswith("features.") for key in model.state_dict())


# --------------------------------------------------------------------------- embeddings


SMALL_CONFIGS = {
    "ecapa-tdnn": EcapaTdnnConfig(),
    "resnet34": ResNetConfig(),
    "xvector": XVectorConfig(),
    "sincnet": SincNetConfig(window_hop_samples=1600),  # fewer windows keeps the test fast
    "cnn-bilstm": CnnBiLstmConfig(),
}
EMBEDDING_DIMS = {"ecapa-tdnn": 192, "resnet34": 256, "xvector": 512, "sincnet": 2048, "cnn-bilstm": 128}


@pytest.mark.parametrize("name", SPEAKER_MODELS)
@pytest.mark.parametrize("seconds", [1.0, 3.0])
def test_embedding_shape_for_1s_and_3s(specs, name: str, seconds: float) -> None:
    model = build(specs[name], SMALL_CONFIGS[name]).eval()
    waves = torch.randn(2, int(seconds * SAMPLE_RATE)) * 0.1
    with torch.no_grad():
        embeddings = model(waves)
    assert embeddings.shape == (2, EMBEDDING_DIMS[name])
    assert torch.isfinite(embeddings).all()
    assert not torch.allclose(embeddings[0], embeddings[1])


@pytest.mark.parametrize("name", SPEAKER_MODELS)
def test_very_short_input_still_gives_a_finite_embedding(specs, name: str) -> None:
    model = build(specs[name], SMALL_CONFIGS[name]).eval()
    with torch.no_grad():
        embedding = model(torch.randn(1, 300) * 0.1)
    assert embedding.shape == (1, EMBEDDING_DIMS[name]) and torch.isfinite(embedding).all()


def test_model_sources_leave_devices_and_seeds_to_the_trainer() -> None:
    for file in MY_FILES:
        text = (PLUGIN_DIR / file).read_text()
        for forbidden in (".cuda(", "manual_seed", "torch.optim", "torchaudio.load"):
            assert forbidden not in text, (file, forbidden)


# --------------------------------------------------------------------------- fbank


def test_fbank_matches_torchaudio_kaldi_fbank_with_mean_normalisation() -> None:
    generator = torch.Generator().manual_seed(0)
    waves = torch.randn(3, 12345, generator=generator) * 0.1
    features = KaldiFbank().eval()(waves)
    assert features.shape == (3, 1 + (12345 - 400) // 160, 80)
    for row in range(3):
        reference = kaldi.fbank(waves[row:row + 1] * 32768, num_mel_bins=80, frame_length=25, frame_shift=10,
                                dither=0.0, sample_frequency=16000, window_type="hamming", use_energy=False)
        reference = reference - reference.mean(dim=0)
        torch.testing.assert_close(features[row], reference, atol=1e-4, rtol=1e-5)


def test_fbank_dithers_only_in_training_mode() -> None:
    fbank = KaldiFbank()
    wave = torch.zeros(1, 4000)
    fbank.eval()
    assert torch.equal(fbank(wave), fbank(wave))
    fbank.train()
    torch.manual_seed(1)
    first = fbank(wave)
    assert not torch.equal(first, fbank(wave))


def test_fbank_refuses_non_batched_input() -> None:
    with pytest.raises(ValueError, match=r"\[batch, samples\]"):
        KaldiFbank()(torch.zeros(16000))


# --------------------------------------------------------------------------- sincnet


def test_sinc_filters_pass_their_band_and_have_unit_centre_tap() -> None:
    sinc = SincConv(80, 251, 16000, 50.0, 50.0)
    with torch.no_grad():
        filters = sinc.filters()[:, 0]
    assert torch.allclose(filters[:, 125], torch.ones(80))
    assert torch.allclose(filters, filters.flip(1))  # linear phase
    response = torch.fft.rfft(filters, n=4096).abs()
    freqs = torch.fft.rfftfreq(4096, 1 / 16000)
    low = 50.0 + sinc.low_hz.detach().abs()
    high = low + 50.0 + sinc.band_hz.detach().abs()
    for index in (5, 40, 70):
        centre = int(torch.argmin((freqs - (low[index] + high[index]) / 2).abs()))
        far = int(torch.argmin((freqs - (high[index] + 2000) % 8000).abs()))
        assert response[index, centre] > 10 * response[index, far]


def test_sincnet_averages_window_embeddings() -> None:
    model = SincNet(SincNetConfig(dnn_units=(64,), window_hop_samples=800)).eval()
    wave = torch.randn(1, 3200 + 2 * 800) * 0.1
    with torch.no_grad():
        whole = model(wave)
        windows = torch.stack([wave[0, s:s + 3200] for s in (0, 800, 1600)])
        manual = model.embed_windows(windows).mean(dim=0, keepdim=True)
    torch.testing.assert_close(whole, manual)


def test_sincnet_rejects_inconsistent_layer_lists() -> None:
    with pytest.raises(ConfigError, match="pool_sizes"):
        SincNet(SincNetConfig(pool_sizes=(3, 3)))


# --------------------------------------------------------------------------- training


TRAINING_CONFIGS = {
    "ecapa-tdnn": EcapaTdnnConfig(channels=64, aggregation_channels=192),
    "resnet34": ResNetConfig(width=8, blocks_per_stage=(1, 1, 1, 1)),
    "xvector": XVectorConfig(hidden_channels=64, stats_channels=128, embedding_dim=64),
    "sincnet": SincNetConfig(sinc_filters=16, conv_channels=(16, 16), dnn_units=(128, 128), window_hop_samples=2400),
    "cnn-bilstm": CnnBiLstmConfig(conv_channels=(32, 32), lstm_hidden=32, dnn_hidden=64, embedding_dim=32),
}


# Step caps for reaching 0.8 x the initial AAM-softmax loss: at least 2.5 x the most steps measured
# over seeds 0-4 at 1 and 2 threads (tests/measure_learning.py).
# Measured most steps: ecapa-tdnn 1, resnet34 3, xvector 1, sincnet 1, cnn-bilstm 3.
MAX_STEPS = {name: 8 for name in SPEAKER_MODELS}


@pytest.mark.parametrize("name", SPEAKER_MODELS)
def test_a_few_aam_softmax_steps_reduce_the_loss(specs, name: str) -> None:
    learn_speakers(specs, name, MAX_STEPS[name])


def learn_speakers(specs, name: str, max_steps: int, seed: int = 0) -> LearningTrace:
    torch.manual_seed(seed)
    waves, labels = speaker_batch(num_speakers=4, per_speaker=3, seconds=0.5)
    model = build(specs[name], TRAINING_CONFIGS[name])
    with torch.no_grad():
        dim = model.eval()(waves[:1]).shape[1]
    recipe = Recipe(loss="aam_softmax", margin=0.2, scale=32.0)
    head = build_head(recipe, dim, num_classes=4)
    optimizer = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=1e-3)
    model.train()

    def loss() -> torch.Tensor:
        return torch.nn.functional.cross_entropy(head(model(waves), labels), labels)

    # the same dropout masks at every measurement (train-mode BN reads batch statistics)
    return train_until(loss, frozen_randomness_loss(loss), optimizer, ratio=0.8, max_steps=max_steps)


# --------------------------------------------------------------------------- WeSpeaker checkpoints


@pytest.mark.parametrize("name, config, foreign", [
    ("ecapa-tdnn", EcapaTdnnConfig(), {
        "layer1.conv.weight": "stem.conv.weight",
        "layer2.se_res2block.1.convs.6.bias": "blocks.0.body.1.branches.6.conv.bias",
        "layer3.se_res2block.1.bns.0.running_var": "blocks.1.body.1.branches.0.norm.running_var",
        "layer4.se_res2block.2.bn.weight": "blocks.2.body.2.norm.weight",
        "layer4.se_res2block.3.linear2.weight": "blocks.2.body.3.excite.weight",
        "conv.weight": "aggregate.weight",
        "pool.linear1.weight": "pool.attention_hidden.weight",
        "bn.running_mean": "pool_norm.running_mean",
        "linear.bias": "embedding.bias",
    }),
    ("resnet34", ResNetConfig(), {
        "conv1.weight": "stem.0.weight",
        "bn1.num_batches_tracked": "stem.1.num_batches_tracked",
        "layer2.0.shortcut.0.weight": "stages.1.0.shortcut.0.weight",
        "layer3.5.bn2.bias": "stages.2.5.norm2.bias",
        "layer4.2.conv1.weight": "stages.3.2.conv1.weight",
        "seg_1.weight": "embedding.weight",
    }),
    ("xvector", XVectorConfig(), {
        "frame_1.conv_1d.weight": "frame_layers.0.conv.weight",
        "frame_5.bn.running_mean": "frame_layers.4.norm.running_mean",
        "seg_bn_1.running_var": "segment1_norm.running_var",
        "seg_2.bias": "segment2.bias",
    }),
])
def test_wespeaker_key_names_map_onto_ours(specs, name: str, config, foreign: dict[str, str]) -> None:
    convert = specs[name].convert_checkpoint
    state = {key: torch.zeros(1) for key in foreign} | {"projection.weight": torch.zeros(1)}
    converted = convert({f"module.{key}": value for key, value in state.items()})
    assert set(converted) == set(foreign.values())  # renamed, DataParallel prefix and training head dropped
    model_keys = set(build(specs[name], config).state_dict())
    assert set(foreign.values()) <= model_keys


@pytest.mark.parametrize("name", ["ecapa-tdnn", "resnet34", "xvector"])
def test_our_own_checkpoints_pass_the_converter_unchanged(specs, name: str) -> None:
    model = build(specs[name], SMALL_CONFIGS[name])
    state = model.state_dict()
    converted = specs[name].convert_checkpoint(state)
    assert list(converted) == list(state)
    model.load_state_dict(converted, strict=True)
