"""Systems of the seed logs built on speaker embedding networks (issue #18): the ResNet18
r-vector (WeSpeaker's parameter count, SpecAugment, the seed log's recipe, a quick cell on
synth-vox) and the classifiers on ECAPA-TDNN / x-vector (frame-level output -> LSTM, pooled
embedding -> linear; frozen or joint; weights from a checkpoint file or another cell; a quick
cell each on synth-emo)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from benchsuite.api import ConfigError, Recipe, Task, TaskInfo
from benchsuite.plugins.registry import get_registry
from benchsuite.testing import one_cell, registry_with, write_tiny_spoof_corpus
from benchsuite.training.optim import lr_factor
from benchsuite_models._specaugment import SpecAugment
from benchsuite_models.ecapa_tdnn import EcapaTdnnConfig
from benchsuite_models.embedding_classifiers import XVectorLinearConfig, XVectorLstmConfig
from benchsuite_models.resnet import ResNet18Config
from benchsuite_models.xvector import XVectorConfig
from benchsuite_synth.vox import STYLE_NAMES, generate_synth_emo, generate_synth_vox
from builders_models_raw import single_thread

EMO = TaskInfo(Task.CLASSIFY, num_classes=4)
TINY_XVECTOR = dict(hidden_channels=32, stats_channels=48, embedding_dim=32)
TINY_ECAPA = dict(channels=32, aggregation_channels=96, se_bottleneck=16, attention_bottleneck=16)


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="module")
def specs():
    names = ("resnet18", "resnet34", "ecapa-tdnn", "xvector", "ecapa-lstm", "xvector-lstm", "xvector-linear")
    return {name: get_registry().models.get(name).spec for name in names}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- ResNet18


def test_resnet18_has_wespeakers_parameter_count(specs) -> None:
    # wenet-e2e/wespeaker wespeaker/models/resnet.py ResNet18(feat_dim=80, embed_dim=256, TSTP,
    # two_emb_layer=False), counted by building that code: conv1 288 + bn1 64 + layer1 37,120
    # + layer2 131,712 + layer3 525,568 + layer4 2,099,712 + seg_1 (5,120 x 256 + 256) 1,310,976
    # = 4,105,440 (stats_dim = 80 // 8 x 32 x 8 = 2,560, doubled by mean + std pooling).
    model = specs["resnet18"].build(None, TaskInfo(Task.VERIFY))
    assert count(model) == 4_105_440
    assert count(specs["resnet34"].build(None, TaskInfo(Task.VERIFY))) == 6_634_336  # unchanged by SpecAugment


def test_resnet18_recipe_is_the_seed_logs(specs) -> None:
    spec = specs["resnet18"]
    paper = spec.recipe("paper", Task.VERIFY)
    assert (paper.optimizer, paper.lr, paper.batch_size) == ("adam", 1e-3, 24)
    assert (paper.loss, paper.margin) == ("aam_softmax", 0.2)
    # "exponential lr decay 0.97 per epoch": constant within an epoch, x 0.97 at each new one
    assert [lr_factor(paper, step, steps_per_epoch=10) for step in (0, 9, 10, 25)] == \
        pytest.approx([1.0, 1.0, 0.97, 0.97 ** 2])
    assert spec.config_class().spec_augment_probability == 0.6
    classify = spec.recipe("paper", Task.CLASSIFY)
    assert (classify.loss, classify.selection) == ("ce", "dev_accuracy")
    assert spec.recipe("quick", Task.VERIFY).epochs <= 4


def test_spec_augment_masks_spans_and_bands_only_while_training() -> None:
    torch.manual_seed(0)
    features = torch.randn(64, 50, 80) + 5.0  # no natural zeros
    augment = SpecAugment(probability=1.0, time_masks=1, max_frames=10, freq_masks=1, max_bins=8)
    assert torch.equal(augment.eval()(features), features)
    masked = augment.train()(features)
    zero = masked == 0
    zero_frames = zero.all(dim=2).sum(dim=1)  # whole frames masked, per utterance
    zero_bins = zero.all(dim=1).sum(dim=1)  # whole bins masked, per utterance
    assert ((zero_frames >= 1) & (zero_frames <= 10)).all() and ((zero_bins >= 1) & (zero_bins <= 8)).all()
    assert torch.equal(masked[~zero], features[~zero])  # nothing else changes
    assert zero_frames.unique().numel() > 3  # widths are drawn per utterance
    some = SpecAugment(probability=0.5, time_masks=1, max_frames=10, freq_masks=1, max_bins=8).train()(features)
    untouched = (some == features).all(dim=2).all(dim=1).sum()
    assert 10 < untouched < 54  # about half of the 64 utterances
    with pytest.raises(ConfigError, match="probability 1.5"):
        SpecAugment(probability=1.5, time_masks=1, max_frames=10, freq_masks=1, max_bins=8)


def test_resnet18_masks_its_fbank_while_training_only(specs) -> None:
    model = specs["resnet18"].build(ResNet18Config(width=8, spec_augment_probability=1.0), TaskInfo(Task.VERIFY))
    seen = []
    model.stem.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0][:, 0]))  # [B, mel, T]
    waves = torch.randn(4, 16000) * 0.1
    model.train()(waves)
    model.eval()(waves)
    masked_bins = (seen[0] == 0).all(dim=2).sum(dim=1)
    assert ((masked_bins >= 1) & (masked_bins <= 8)).all()
    assert not (seen[1] == 0).all(dim=2).any()


def test_resnet18_quick_cell_on_synth_vox(tmp_path: Path) -> None:
    vox = generate_synth_vox(tmp_path / "vox", seed=1, workers=1, n_train_speakers=4, n_dev_speakers=2,
                             n_test_speakers=3, utts_per_speaker=2, min_seconds=0.8, max_seconds=1.2)
    registry = registry_with("resnet", builtins=("synth", "verify-metrics"))
    result = one_cell(registry, "resnet18", vox, tmp_path / "runs", dataset="synth-vox",
                      overrides=["model.resnet18.epochs=1", "model.resnet18.batch_size=8"])
    assert result["status"] == "done", result.get("error")
    assert result["model"]["params"] == 4_105_440
    assert result["profile"] == "quick" and result["task"] == "verify"
    assert 0.0 <= result["metrics"]["eval"]["eer"] <= 1.0


# --------------------------------------------------------------------------- embedding classifiers


def test_lstm_back_ends_read_the_frame_level_output_and_leave_the_pooling_out(specs) -> None:
    ecapa = specs["ecapa-tdnn"].build(EcapaTdnnConfig(), TaskInfo(Task.VERIFY))
    pooling = sum(count(getattr(ecapa, name)) for name in ("pool", "pool_norm", "embedding"))
    lstm = 4 * (1536 * 128 + 128 * 128 + 2 * 128)  # torch LSTM: 4 gates, input + hidden weights, 2 biases
    classifier = specs["ecapa-lstm"].build(None, EMO)
    assert count(classifier) == count(ecapa) - pooling + lstm + (128 * 4 + 4)
    assert not any(key.startswith(("embedding_network.pool", "embedding_network.embedding"))
                   for key in classifier.state_dict())
    xvector = specs["xvector"].build(XVectorConfig(), TaskInfo(Task.VERIFY))
    assert count(specs["xvector-linear"].build(None, EMO)) == count(xvector) + 512 * 4 + 4
    waves = torch.randn(3, 16000) * 0.1
    for name in ("ecapa-lstm", "xvector-lstm", "xvector-linear"):
        model = specs[name].build(specs[name].config_class(**(TINY_ECAPA if name == "ecapa-lstm" else TINY_XVECTOR)),
                                  EMO).eval()
        with torch.no_grad():
            assert model(waves).shape == (3, 4), name
    spoof = specs["xvector-lstm"].build(XVectorLstmConfig(**TINY_XVECTOR), TaskInfo(Task.SPOOF)).eval()
    with torch.no_grad():
        assert spoof(waves).shape == (3, 2)
    with pytest.raises(ConfigError, match="task verify is not supported"):
        specs["xvector-lstm"].build(None, TaskInfo(Task.VERIFY))


def test_classifier_options_are_no_recipe_fields(specs) -> None:
    recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
    for name in ("ecapa-lstm", "xvector-lstm", "xvector-linear", "resnet18"):
        config_fields = {f.name for f in dataclasses.fields(specs[name].config_class)}
        assert not config_fields & recipe_fields, (name, config_fields & recipe_fields)
        assert name == "resnet18" or {"freeze_embedding", "embedding_checkpoint"} <= config_fields, name
    assert set(specs["xvector-lstm"].init_from_models) == {"xvector"}
    assert set(specs["ecapa-lstm"].init_from_models) == {"ecapa-tdnn"}


@pytest.mark.parametrize("frozen", [True, False])
def test_a_frozen_network_gets_no_gradient_and_stays_in_eval_mode(specs, frozen: bool) -> None:
    model = specs["xvector-lstm"].build(XVectorLstmConfig(**TINY_XVECTOR, freeze_embedding=frozen), EMO).train()
    before = {k: v.clone() for k, v in model.embedding_network.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 8000) * 0.1), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    network_changed = any(not torch.equal(before[k], v) for k, v in model.embedding_network.state_dict().items())
    assert network_changed is not frozen  # joint training moves weights and BN statistics; frozen, nothing
    assert model.embedding_network.training is not frozen and model.lstm.training
    assert model.lstm.weight_ih_l0.grad is not None


def _wespeaker_xvector_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our x-vector state dict under WeSpeaker's XVEC names (wespeaker/models/tdnn.py), with a training head."""
    renamed = {}
    for key, value in state.items():
        if key.startswith("frame_layers."):
            _, index, layer, rest = key.split(".", 3)
            key = f"frame_{int(index) + 1}.{'conv_1d' if layer == 'conv' else 'bn'}.{rest}"
        else:
            head, rest = key.split(".", 1)
            key = {"segment1": "seg_1", "segment1_norm": "seg_bn_1", "segment2": "seg_2"}[head] + "." + rest
        renamed[key] = value
    return {**renamed, "projection.weight": torch.zeros(10, 32)}


def test_the_network_loads_from_a_checkpoint_file(specs, tmp_path: Path) -> None:
    source = specs["xvector"].build(XVectorConfig(**TINY_XVECTOR), TaskInfo(Task.VERIFY))
    torch.nn.init.normal_(source.segment2.weight)
    wespeaker, ours = tmp_path / "avg_model.pt", tmp_path / "best.pt"
    torch.save(_wespeaker_xvector_names(source.state_dict()), wespeaker)
    torch.save({"model": "xvector", "model_state": source.state_dict()}, ours)
    for path in (wespeaker, ours):
        model = specs["xvector-linear"].build(XVectorLinearConfig(**TINY_XVECTOR, embedding_checkpoint=str(path)), EMO)
        for key, value in source.state_dict().items():
            assert torch.equal(model.embedding_network.state_dict()[key], value), (path.name, key)
    torch.save({"model": "ecapa-tdnn", "model_state": {}}, tmp_path / "ecapa.pt")
    problems = {
        str(tmp_path / "missing.pt"): "no such file",
        str(tmp_path / "ecapa.pt"): "a checkpoint of 'ecapa-tdnn'; expected one of 'xvector'",
        str(wespeaker): "does not fit this xvector configuration",  # built below at another width
    }
    for path, message in problems.items():
        config = XVectorLinearConfig(**{**TINY_XVECTOR, "hidden_channels": 16}, embedding_checkpoint=path)
        with pytest.raises(ConfigError, match=message):
            specs["xvector-linear"].build(config, EMO)


@pytest.fixture(scope="module")
def emo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synth_emo(tmp_path_factory.mktemp("synth-emo") / "emo", seed=1, workers=1, n_train_speakers=3,
                              n_dev_speakers=2, n_test_speakers=2, utts_per_style=1, min_seconds=0.8, max_seconds=1.2)


def _sets(model: str, sizes: dict, **extra) -> list[str]:
    return [f"model.{model}.{k}={v}" for k, v in {**sizes, "epochs": 2, "batch_size": 4, "crop_samples": 12000,
                                                  **extra}.items()]


@pytest.mark.parametrize("model, sizes", [("ecapa-lstm", TINY_ECAPA), ("xvector-lstm", TINY_XVECTOR),
                                          ("xvector-linear", TINY_XVECTOR)])
def test_quick_cell_on_synth_emo_trained_jointly(emo: Path, tmp_path: Path, model: str, sizes: dict) -> None:
    registry = registry_with("embedding-classifiers", builtins=("synth", "classify-metrics"))
    result = one_cell(registry, model, emo, tmp_path, dataset="synth-emo", overrides=_sets(model, sizes))
    assert result["status"] == "done", result.get("error")
    assert sorted(result["training"]["class_names"]) == sorted(STYLE_NAMES)
    assert 0.0 <= result["metrics"]["eval"]["accuracy"] <= 1.0


def test_init_from_an_xvector_cell_then_frozen_keeps_its_weights(emo: Path, tmp_path: Path) -> None:
    registry = registry_with("xvector", "embedding-classifiers", builtins=("synth", "classify-metrics"))
    source = one_cell(registry, "xvector", emo, tmp_path, dataset="synth-emo", overrides=_sets("xvector", TINY_XVECTOR))
    assert source["status"] == "done", source.get("error")
    frozen = one_cell(registry, "xvector-linear", emo, tmp_path, dataset="synth-emo", init_from=source["cell_id"],
                      overrides=_sets("xvector-linear", TINY_XVECTOR, freeze_embedding="true"))
    assert frozen["status"] == "done", frozen.get("error")
    assert frozen["training"]["init_from"] == source["cell_id"]
    trained = torch.load(tmp_path / "cells" / source["cell_id"] / "checkpoints" / "best.pt", weights_only=False)
    after = torch.load(tmp_path / "cells" / frozen["cell_id"] / "checkpoints" / "best.pt", weights_only=False)
    for key, value in trained["model_state"].items():
        assert torch.equal(after["model_state"]["embedding_network." + key], value), key
    # the same cell's checkpoint file as embedding_checkpoint
    from_file = registry.models.get("xvector-lstm").spec.build(
        XVectorLstmConfig(**TINY_XVECTOR, embedding_checkpoint=str(
            tmp_path / "cells" / source["cell_id"] / "checkpoints" / "best.pt")), EMO)
    for key, value in from_file.embedding_network.state_dict().items():
        assert torch.equal(value, trained["model_state"][key]), key
    refused = one_cell(registry, "xvector-lstm", emo, tmp_path, dataset="synth-emo", init_from=frozen["cell_id"],
                       overrides=_sets("xvector-lstm", TINY_XVECTOR))
    assert refused["status"] == "failed"
    assert "that cell trained 'xvector-linear'; 'xvector-lstm' starts from a cell of 'xvector-lstm', 'xvector'" in \
        refused["error"]["message"]


def test_binary_liveness_as_a_spoof_cell(tmp_path: Path) -> None:
    corpus = write_tiny_spoof_corpus(tmp_path / "LA")
    registry = registry_with("embedding-classifiers")
    result = one_cell(registry, "xvector-linear", corpus, tmp_path / "runs",
                      overrides=_sets("xvector-linear", TINY_XVECTOR))
    assert result["status"] == "done", result.get("error")
    assert result["recipe"]["selection"] == "dev_eer"  # the paper:spoof / quick:spoof recipe
    assert 0.0 <= result["metrics"]["eval"]["eer"] <= 1.0
