"""The frame-sequence classifiers of issue #18: the 1-D CNN family (``cnn_bilstm.py``:
cnn-bilstm, cnn-lstm, raw-cnn-lstm, sinc-cnn-lstm, cnn-transformer) and VGGish + LSTM
(``vggish.py``): registration and recipes, exact parameter counts, cnn-bilstm's stored
cell ids, the VGGish log-mel input, the VGGish checkpoint key mapping on generated
checkpoints, and one quick cell of every configuration on a tiny synth-emo."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchsuite.api import ConfigError, Task, TaskInfo
from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.planning.plan import build_plan
from benchsuite.plugins.registry import build_registry, get_registry
from benchsuite.testing import one_cell, registry_with
from benchsuite.training.optim import lr_factor
from benchsuite_models.cnn_bilstm import (
    CnnBiLstm, CnnBiLstmConfig, CnnLstmConfig, CnnTransformerConfig, RawCnnLstmConfig, SincCnnLstmConfig,
)
from benchsuite_models.vggish import (
    Vggish, VggishLogMel, VggishLstm, VggishLstmConfig, load_vggish_weights, tf_to_torchvggish_names,
)
from benchsuite_synth.vox import generate_synth_emo

FAMILY = ("cnn-bilstm", "cnn-lstm", "raw-cnn-lstm", "sinc-cnn-lstm", "cnn-transformer")
MODELS = (*FAMILY, "vggish-lstm")
TINY_EMO = dict(n_train_speakers=3, n_dev_speakers=2, n_test_speakers=2, utts_per_style=1, min_seconds=0.8,
                max_seconds=1.5)
# a VGGish of the standard layout (same module names, same flatten), narrow enough for a unit test
TINY_VGGISH = VggishLstmConfig(group_channels=(4, 8, 8, 16), fc_units=(32, 32), embedding_size=16,
                               lstm_hidden=16, dnn_units=(16,))


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_emo(tmp_path_factory) -> Path:
    return generate_synth_emo(tmp_path_factory.mktemp("synth-emo") / "emo", seed=1, workers=1, **TINY_EMO)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- registration and recipes


def test_every_configuration_is_registered_for_classify_with_paper_and_quick() -> None:
    registry = get_registry()
    for name in MODELS:
        spec = registry.models.get(name).spec
        assert spec.tasks == (Task.CLASSIFY,) and spec.output == "embedding", name
        paper, quick = spec.recipe("paper"), spec.recipe("quick")
        assert paper.selection == quick.selection == "dev_accuracy" and paper.loss == "ce", name
        assert quick.epochs < paper.epochs and quick.max_train_utterances is not None, name
        if name != "cnn-bilstm":
            assert "seed log" in spec.description, name


@pytest.mark.parametrize("name", [n for n in MODELS if n != "cnn-bilstm"])
def test_house_paper_recipe_is_the_seed_logs(name: str) -> None:
    spec = get_registry().models.get(name).spec
    for profile in ("paper", "quick"):
        recipe = spec.recipe(profile)
        assert (recipe.optimizer, recipe.lr, recipe.scheduler, recipe.warmup_epochs) == ("adam", 1e-3,
                                                                                        "exponential", 0)
        steps = 7
        for epoch in range(recipe.epochs):  # lr x 0.97 per epoch, at each epoch's first step
            assert lr_factor(recipe, epoch * steps, steps) == pytest.approx(0.97 ** epoch, rel=1e-9)
    assert spec.recipe("paper").batch_size == 24


def test_cnn_bilstm_keeps_its_stored_cell_ids(monkeypatch, tiny_emo) -> None:
    """Ids planned before the family existed (tests/data/cnn_bilstm_cell_ids.json, commit eb84ad6)."""
    before = json.loads((Path(__file__).parent / "data" / "cnn_bilstm_cell_ids.json").read_text())
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "cnn-bilstm,synth,classify-metrics")
    for command in before.values():
        options = RunOptions(models=["cnn-bilstm"], datasets=["synth-emo"],
                             data={"synth-emo": DataSource(tiny_emo)}, **command["options"])
        assert [cell.cell_id for cell in build_plan(build_registry(), options)] == command["cell_ids"]


def test_family_options_are_checked_when_the_matrix_is_planned(monkeypatch, tiny_emo) -> None:
    monkeypatch.setenv("BENCHSUITE_LOAD_PLUGINS", "cnn-bilstm,vggish,synth,classify-metrics")

    def plan(*overrides: str) -> list:
        options = RunOptions(models=["cnn-bilstm", "cnn-lstm", "vggish-lstm"], datasets=["synth-emo"],
                             data={"synth-emo": DataSource(tiny_emo)}, profile="quick", overrides=list(overrides))
        return build_plan(build_registry(), options)

    cells = plan("model.cnn-bilstm.dnn_layers=3", "model.cnn-lstm.front_end=sinc",
                 "model.cnn-lstm.sequence_model=transformer", "model.vggish-lstm.dnn_units=[]")
    configs = {cell.identity.model: cell.identity.model_config for cell in cells}
    assert configs["cnn-bilstm"]["dnn_layers"] == 3 and "front_end" not in configs["cnn-bilstm"]
    assert (configs["cnn-lstm"]["front_end"], configs["cnn-lstm"]["sequence_model"]) == ("sinc", "transformer")
    assert configs["vggish-lstm"]["dnn_units"] == []
    with pytest.raises(ConfigError, match=r"--set model.cnn-lstm.front_end=mfcc: front_end 'mfcc': expected one "
                                          r"of fbank, waveform, sinc"):
        plan("model.cnn-lstm.front_end=mfcc")


# --------------------------------------------------------------------------- parameter counts


def conv1d(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k + c_out


def batch_norm(c: int) -> int:
    return 2 * c


def lstm(d_in: int, hidden: int, layers: int, directions: int) -> int:
    total, size = 0, d_in
    for _ in range(layers):  # four gates: input and recurrent weights, two biases
        total += directions * 4 * (hidden * size + hidden * hidden + 2 * hidden)
        size = hidden * directions
    return total


def dense(sizes: tuple[int, ...], norm: int = 0) -> int:
    """Linear layers between consecutive sizes, plus ``norm`` parameters per unit (2 for BN/LN)."""
    return sum(a * b + b + norm * b for a, b in zip(sizes, sizes[1:]))


def transformer_layer(width: int, feedforward: int) -> int:
    attention = 3 * width * width + 3 * width + width * width + width
    return attention + dense((width, feedforward, width)) + 2 * 2 * width


FRONT_64 = 3 * (conv1d(64, 64, 5) + batch_norm(64))  # three 64-channel blocks after a 64-channel front end
HEAD_128 = dense((128, 128, 128, 128), norm=2)  # DNN 128-128-128 with batch norm


@pytest.mark.parametrize("config, expected", [
    (CnnBiLstmConfig(), conv1d(80, 128, 5) + 2 * conv1d(128, 128, 5) + 3 * batch_norm(128)
     + lstm(128, 128, 2, 2) + dense((256, 256, 128))),
    (CnnLstmConfig(), conv1d(80, 64, 5) + 2 * conv1d(64, 64, 5) + 3 * batch_norm(64) + lstm(64, 128, 1, 1)
     + HEAD_128),
    (RawCnnLstmConfig(), conv1d(1, 64, 251) + batch_norm(64) + FRONT_64 + lstm(64, 128, 1, 1) + HEAD_128),
    # SincNet learns two numbers per filter (low cut-off, bandwidth)
    (SincCnnLstmConfig(), 2 * 64 + batch_norm(64) + FRONT_64 + lstm(64, 128, 1, 1) + HEAD_128),
    (CnnTransformerConfig(), conv1d(80, 64, 5) + 2 * conv1d(64, 64, 5) + 3 * batch_norm(64)
     + dense((64, 128)) + 2 * transformer_layer(128, 256) + 2 * 128 + HEAD_128),
])
def test_family_parameter_counts_follow_from_the_layers(config, expected: int) -> None:
    assert count(CnnBiLstm(config)) == expected


def test_family_counts_as_listed() -> None:
    # the numbers `benchsuite list models` prints
    expected = {"cnn-bilstm": 974_336, "cnn-lstm": 216_768, "raw-cnn-lstm": 227_904, "sinc-cnn-lstm": 211_904,
                "cnn-transformer": 390_976}
    registry = get_registry()
    for name, params in expected.items():
        spec = registry.models.get(name).spec
        assert count(spec.build(spec.config_class(), TaskInfo(Task.CLASSIFY, num_classes=4))) == params, name


def test_vggish_has_72_1_million_parameters_with_its_fc_layers() -> None:
    # vggish_slim.py: 3x3 convs 1-64, 64-128, 128-256, 256-256, 256-512, 512-512 (weights + biases)
    convs = sum(9 * a * b + b for a, b in ((1, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512)))
    assert convs == 4_499_712
    # fc1_1, fc1_2 (4096) and fc2 (128) on the flattened 512 x (96 / 16) x (64 / 16) = 12,288 values
    fully_connected = dense((512 * 6 * 4, 4096, 4096, 128))
    assert fully_connected == 67_641_472
    with torch.device("meta"):
        vggish = Vggish(VggishLstmConfig())
    assert count(vggish) == convs + fully_connected == 72_141_184
    spec = get_registry().models.get("vggish-lstm").spec
    back_end = lstm(128, 128, 1, 1) + dense((128, 128))
    assert spec.count_parameters(VggishLstmConfig()) == 72_141_184 + back_end == 72_289_792


def test_vggish_module_names_are_torchvggish_state_dict_names() -> None:
    with torch.device("meta"):
        names = list(Vggish(VggishLstmConfig()).state_dict())
    # torchvggish make_layers(): conv, relu, pool / conv, relu, pool / conv, relu, conv, relu, pool / ...
    expected = [f"features.{i}.{p}" for i in (0, 3, 6, 8, 11, 13) for p in ("weight", "bias")]
    expected += [f"embeddings.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    assert names == expected
    assert sorted(target for target, _ in tf_to_torchvggish_names().values()) == sorted(expected)


# --------------------------------------------------------------------------- forward passes


@pytest.mark.parametrize("config_class", [CnnBiLstmConfig, CnnLstmConfig, RawCnnLstmConfig, SincCnnLstmConfig,
                                          CnnTransformerConfig])
@pytest.mark.parametrize("samples", [300, 16000])
def test_family_embeds_short_and_one_second_inputs(config_class, samples: int) -> None:
    model = CnnBiLstm(config_class()).eval()
    with torch.no_grad():
        out = model(torch.randn(2, samples) * 0.1)
    assert out.shape == (2, 128) and torch.isfinite(out).all()


def test_unidirectional_lstm_and_other_heads_change_the_widths() -> None:
    model = CnnBiLstm(CnnLstmConfig(conv_channels=(32,), lstm_hidden=48, dnn_layers=0))
    assert not model.lstm.bidirectional and model.lstm.hidden_size == 48
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 8000)).shape == (1, 48)  # no head: the pooled LSTM output
    layer_norm = CnnBiLstm(CnnLstmConfig(embedding_dim=64, dnn_layers=2, dnn_norm="layer"))
    assert any(isinstance(m, torch.nn.LayerNorm) for m in layer_norm.dnn)


def test_sinc_front_layer_learns_its_band_edges() -> None:
    model = CnnBiLstm(SincCnnLstmConfig(conv_channels=(16,), front_filters=8, lstm_hidden=8, embedding_dim=8,
                                           dnn_layers=1))
    assert not hasattr(model, "front_conv")
    model(torch.randn(2, 4000) * 0.1).sum().backward()
    assert model.sinc.low_hz.grad is not None and model.sinc.low_hz.grad.abs().sum() > 0
    assert model.sinc.band_hz.grad.abs().sum() > 0


def test_transformer_sees_the_order_of_frames() -> None:
    model = CnnBiLstm(CnnTransformerConfig(conv_channels=(), transformer_layers=1, dnn_layers=0)).eval()
    wave = torch.randn(1, 8000) * 0.1
    reversed_frames = model.frames(wave).flip(-1)
    with torch.no_grad():
        forward = model.transformer(model.frames(wave).transpose(1, 2)).mean(1)
        backward = model.transformer(reversed_frames.transpose(1, 2)).mean(1)
    assert not torch.allclose(forward, backward, atol=1e-5)  # the position code breaks the symmetry


@pytest.mark.parametrize("changes, message", [
    (dict(sequence_model="transformer", transformer_width=100, transformer_heads=3), "divisible"),
    (dict(front_end="sinc", front_kernel_size=250), "odd"),
    (dict(front_end="waveform", front_stride=0), "front_stride"),
])
def test_bad_family_options_fail_with_the_option_named(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CnnBiLstm(replace(CnnLstmConfig(), **changes))


def test_vggish_log_mel_follows_the_audioset_frontend() -> None:
    """Against a plain NumPy transcription of mel_features.log_mel_spectrogram with VGGish's params."""
    rng = np.random.default_rng(0)
    wave = rng.uniform(-0.5, 0.5, 16000 + 123).astype(np.float32)
    frontend = VggishLogMel(VggishLstmConfig())
    ours = frontend.log_mel(torch.from_numpy(wave)[None])[0].numpy()
    frames = 1 + (len(wave) - 400) // 160
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    spectrum = np.abs(np.fft.rfft(np.stack([wave[i * 160:i * 160 + 400] for i in range(frames)]) * window, 512))
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    bins = mel(np.linspace(0, 8000, 257))
    weights = np.zeros((257, 64))
    for band in range(64):
        low, centre, high = edges[band:band + 3]
        weights[:, band] = np.maximum(0, np.minimum((bins - low) / (centre - low), (high - bins) / (high - centre)))
    weights[0] = 0
    reference = np.log(spectrum @ weights + 0.01)
    assert ours.shape == (frames, 64) == (99, 64)
    np.testing.assert_allclose(ours, reference, atol=2e-4)
    patches = frontend(torch.from_numpy(wave)[None])
    assert patches.shape == (1, 1, 96, 64)  # 99 frames: one whole 0.96 s patch
    np.testing.assert_allclose(patches[0, 0].numpy(), ours[:96], atol=1e-6)
    assert frontend(torch.zeros(1, 100)).shape == (1, 1, 96, 64)  # tiled up to one patch


def test_vggish_starts_from_tf_or_torch_initialisation() -> None:
    torch.manual_seed(0)
    tf_init = Vggish(VggishLstmConfig(group_channels=(8, 8, 8, 8), fc_units=(64, 64)))
    weights = tf_init.embeddings[0].weight.detach()
    assert weights.abs().max() <= 0.02 and 0.008 < float(weights.std()) < 0.011  # N(0, 0.01) cut at 2 std
    assert not tf_init.features[0].bias.any()
    torch_init = Vggish(VggishLstmConfig(group_channels=(8, 8, 8, 8), fc_units=(64, 64), vggish_init="torch"))
    assert torch_init.features[0].bias.any() and float(torch_init.embeddings[0].weight.detach().abs().max()) > 0.02


def test_vggish_lstm_embeds_a_sequence_of_patches() -> None:
    model = VggishLstm(replace(TINY_VGGISH, patch_hop_frames=48)).eval()
    with torch.no_grad():
        assert model.frontend(torch.randn(2, 48000)).shape == (2, 5, 96, 64)  # 298 frames, hop 48
        out = model(torch.randn(2, 48000) * 0.1)
    assert out.shape == (2, 16) and torch.isfinite(out).all()


# --------------------------------------------------------------------------- VGGish checkpoints


def tf_reference_embedding(tf: dict[str, np.ndarray], patches: np.ndarray) -> np.ndarray:
    """VGGish as vggish_slim.py computes it, in TF's NHWC layout from the TF variables:
    SAME 3x3 convolutions written out as sums over the kernel, 2x2 max-pools, NHWC flatten."""
    x = patches[..., None].astype(np.float64)  # [n, 96, 64, 1]
    groups = (("conv1",), ("conv2",), ("conv3/conv3_1", "conv3/conv3_2"), ("conv4/conv4_1", "conv4/conv4_2"))
    for group in groups:
        for scope in group:
            kernel, bias = tf[f"vggish/{scope}/weights"], tf[f"vggish/{scope}/biases"]
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            height, width = x.shape[1:3]
            out = np.zeros(x.shape[:3] + (kernel.shape[3],))
            for i in range(3):
                for j in range(3):
                    out += padded[:, i:i + height, j:j + width, :] @ kernel[i, j]
            x = np.maximum(out + bias, 0.0)
        n, height, width, channels = x.shape
        x = x.reshape(n, height // 2, 2, width // 2, 2, channels).max(axis=(2, 4))
    x = x.reshape(len(x), -1)
    for scope in ("fc1/fc1_1", "fc1/fc1_2"):
        x = np.maximum(x @ tf[f"vggish/{scope}/weights"] + tf[f"vggish/{scope}/biases"], 0.0)
    return x @ tf["vggish/fc2/weights"] + tf["vggish/fc2/biases"]


def random_tf_vggish(config: VggishLstmConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """TF variables of a VGGish of ``config``'s widths, in TF shapes, as a converted checkpoint holds them."""
    rng = np.random.default_rng(seed)
    a, b, c, d = config.group_channels
    convs = dict(zip(("conv1", "conv2", "conv3/conv3_1", "conv3/conv3_2", "conv4/conv4_1", "conv4/conv4_2"),
                     ((1, a), (a, b), (b, c), (c, c), (c, d), (d, d))))
    tf = {}
    for scope, (c_in, c_out) in convs.items():
        tf[f"vggish/{scope}/weights"] = rng.normal(0, 0.3, (3, 3, c_in, c_out)).astype(np.float32)
        tf[f"vggish/{scope}/biases"] = rng.normal(0, 0.1, c_out).astype(np.float32)
    sizes = (d * 6 * 4, *config.fc_units, config.embedding_size)
    for scope, (n_in, n_out) in zip(("fc1/fc1_1", "fc1/fc1_2", "fc2"), zip(sizes, sizes[1:])):
        tf[f"vggish/{scope}/weights"] = rng.normal(0, 1 / math.sqrt(n_in), (n_in, n_out)).astype(np.float32)
        tf[f"vggish/{scope}/biases"] = rng.normal(0, 0.1, n_out).astype(np.float32)
    return tf


def test_tf_converted_weights_give_the_tf_embedding(tmp_path) -> None:
    tf = random_tf_vggish(TINY_VGGISH)
    path = tmp_path / "vggish_tf.npz"
    np.savez(path, **{f"{name}:0": value for name, value in tf.items()}, global_step=np.int64(5))
    model = VggishLstm(replace(TINY_VGGISH, vggish_checkpoint=str(path))).eval()
    patches = np.random.default_rng(1).normal(0, 1, (3, 96, 64)).astype(np.float32)
    with torch.no_grad():
        ours = model.vggish(torch.from_numpy(patches)[:, None]).double().numpy()
    np.testing.assert_allclose(ours, tf_reference_embedding(tf, patches), rtol=1e-4, atol=1e-4)


def test_torchvggish_state_dict_loads_by_name(tmp_path) -> None:
    donor = Vggish(TINY_VGGISH)
    with torch.no_grad():
        for parameter in donor.parameters():
            parameter.normal_()
    # as torchvggish's VGGish module saves itself: the network plus the PCA post-processor
    state = {**donor.state_dict(), "pproc.pca_matrix": torch.zeros(128, 128), "pproc.pca_means": torch.zeros(128, 1)}
    path = tmp_path / "vggish-10086976.pth"
    torch.save(state, path)
    model = VggishLstm(replace(TINY_VGGISH, vggish_checkpoint=str(path), freeze_vggish=True))
    for key, value in donor.state_dict().items():
        assert torch.equal(model.vggish.state_dict()[key], value), key
    assert not any(p.requires_grad for p in model.vggish.parameters())
    assert all(p.requires_grad for p in model.lstm.parameters())
    # a DataParallel prefix and a "state_dict" wrapper are accepted too
    torch.save({"state_dict": {f"module.{k}": v for k, v in donor.state_dict().items()}}, tmp_path / "wrapped.pt")
    wrapped = VggishLstm(replace(TINY_VGGISH, vggish_checkpoint=str(tmp_path / "wrapped.pt")))
    assert torch.equal(wrapped.vggish.features[0].weight, donor.features[0].weight)


def test_unusable_checkpoints_fail_with_one_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="vggish_checkpoint .*no such file"):
        VggishLstm(replace(TINY_VGGISH, vggish_checkpoint=str(tmp_path / "absent.pth")))
    torch.save(Vggish(replace(TINY_VGGISH, fc_units=(16, 16))).state_dict(), tmp_path / "narrow.pth")
    with pytest.raises(ConfigError, match="shapes differ"):
        VggishLstm(replace(TINY_VGGISH, vggish_checkpoint=str(tmp_path / "narrow.pth")))
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="not a VGGish checkpoint"):
        load_vggish_weights(Vggish(TINY_VGGISH), torch.load(tmp_path / "other.pth"))
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ConfigError, match="not a torch state dict"):
        VggishLstm(replace(TINY_VGGISH, vggish_checkpoint=str(tmp_path / "text.pth")))


# --------------------------------------------------------------------------- one quick cell each


TINY_OVERRIDES = {
    "cnn-bilstm": ["conv_channels=[16,16]", "lstm_hidden=16", "dnn_hidden=16", "embedding_dim=16"],
    "cnn-lstm": ["conv_channels=[16,16]", "lstm_hidden=16", "embedding_dim=16", "dnn_layers=1"],
    "raw-cnn-lstm": ["conv_channels=[16,16]", "front_filters=16", "lstm_hidden=16", "embedding_dim=16", "dnn_layers=1"],
    "sinc-cnn-lstm": ["conv_channels=[16,16]", "front_filters=16", "lstm_hidden=16", "embedding_dim=16", "dnn_layers=1"],
    "cnn-transformer": ["conv_channels=[16,16]", "transformer_width=16", "transformer_feedforward=32",
                        "transformer_layers=1", "embedding_dim=16", "dnn_layers=1"],
    "vggish-lstm": ["group_channels=[4,8,8,16]", "fc_units=[32,32]", "embedding_size=16", "lstm_hidden=16",
                    "dnn_units=[16]"],
}


@pytest.mark.parametrize("name", MODELS)
def test_one_quick_cell_trains_and_scores_on_synth_emo(tmp_path, tiny_emo, name: str) -> None:
    registry = registry_with("cnn-bilstm", "vggish", builtins=("synth", "classify-metrics"))
    overrides = [f"model.{name}.{item}" for item in TINY_OVERRIDES[name]]
    overrides += [f"model.{name}.epochs=1", f"model.{name}.crop_samples=16000", f"model.{name}.batch_size=4"]
    result = one_cell(registry, name, tiny_emo, tmp_path / "runs", dataset="synth-emo", overrides=overrides)
    assert result["status"] == "done", result.get("error")
    metrics = result["metrics"]["eval"]
    assert {"accuracy", "uar", "macro_f1"} <= set(metrics) and 0.0 <= metrics["accuracy"] <= 1.0


def test_vggish_cell_starts_from_a_generated_checkpoint(tmp_path, tiny_emo) -> None:
    path = tmp_path / "vggish_tf.npz"
    tf = random_tf_vggish(replace(TINY_VGGISH, fc_units=(32, 32)))
    np.savez(path, **tf)
    overrides = [f"model.vggish-lstm.{item}" for item in TINY_OVERRIDES["vggish-lstm"]]
    overrides += ["model.vggish-lstm.epochs=1", "model.vggish-lstm.crop_samples=16000",
                  f"model.vggish-lstm.vggish_checkpoint={path}", "model.vggish-lstm.freeze_vggish=true"]
    registry = registry_with("vggish", builtins=("synth", "classify-metrics"))
    result = one_cell(registry, "vggish-lstm", tiny_emo, tmp_path / "runs", dataset="synth-emo",
                      overrides=overrides)
    assert result["status"] == "done", result.get("error")
    state = torch.load(next((tmp_path / "runs").glob("cells/*/checkpoints/best.pt")), weights_only=False)
    first_conv = state["model_state"]["vggish.features.0.weight"]
    assert torch.equal(first_conv, torch.from_numpy(tf["vggish/conv1/weights"]).permute(3, 2, 0, 1))  # frozen
