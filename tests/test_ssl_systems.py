"""Issue 16: SSL front-end systems on torchaudio, loaded from user-supplied weights.

A tiny random wav2vec 2.0 / WavLM (2 layers, dim 32, XLS-R's strides) is written by the test in
fairseq and Hugging Face layouts; it loads strictly, equals torchaudio's model with the same
weights, and trains a quick cell on a small synth-la end to end.  Nothing is downloaded.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from benchsuite.api import ConfigError, DataError, Task, TaskInfo
from benchsuite.cli.run import run_benchmark
from benchsuite.common.progress import Progress
from benchsuite.contract import Recipe
from benchsuite.planning.options import DataSource, RunOptions
from benchsuite.plugins.registry import get_registry
from benchsuite.training.optim import build_optimizer, parameter_groups
from benchsuite_models._ssl import build_front_end
from benchsuite_models.ssl_systems import full_size_parameters
from builders_ssl import tiny_torchaudio, write_fairseq, write_huggingface

SYNTH = {"train": 12, "dev": 12, "eval": 16, "min_seconds": 0.8, "max_seconds": 1.2}
SPOOF = TaskInfo(Task.SPOOF)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssl")
    wav2vec2, wavlm = tiny_torchaudio(0), tiny_torchaudio(1, "wavlm")
    return {
        "fairseq": write_fairseq(wav2vec2, root / "tiny_xlsr.pt"),
        "hf-safetensors": write_huggingface(wav2vec2, root / "hf-wav2vec2"),
        "hf-bin": write_huggingface(wav2vec2, root / "hf-wav2vec2-bin", fmt="bin"),
        "hf-wavlm": write_huggingface(wavlm, root / "hf-wavlm", "wavlm"),
    }


def _front_end(path: Path, **kw):
    return build_front_end(str(path), "from-checkpoint", "model.x.ssl_checkpoint",
                           freeze=kw.get("freeze", False), gradient_checkpointing=kw.get("checkpointing", False))


@pytest.mark.parametrize("layout", ["fairseq", "hf-safetensors", "hf-bin", "hf-wavlm"])
def test_front_end_equals_torchaudio_with_the_same_weights(weights, layout):
    reference = tiny_torchaudio(1, "wavlm") if layout == "hf-wavlm" else tiny_torchaudio(0)
    front_end = _front_end(weights[layout]).eval()
    waves = torch.randn(2, 16000, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected_final, _ = reference(waves)
        expected_layers, _ = reference.extract_features(waves)
        final, layers = front_end(waves)
    assert final.shape == (2, 49, 32)
    torch.testing.assert_close(final, expected_final, atol=1e-5, rtol=0)
    assert len(layers) == len(expected_layers) == 2
    for ours, theirs in zip(layers, expected_layers):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_bad_checkpoints_get_one_clear_error(weights, tmp_path):
    with pytest.raises(ConfigError, match=r"model\.x\.ssl_checkpoint is empty.*nothing is downloaded"):
        build_front_end("", "xlsr-300m", "model.x.ssl_checkpoint", freeze=False, gradient_checkpointing=False)
    with pytest.raises(DataError, match="no such file"):
        _front_end(tmp_path / "absent.pt")
    with pytest.raises(DataError, match=r"tiny_xlsr\.pt: not the expected architecture xlsr-300m .*2 layers of dim 32"):
        build_front_end(str(weights["fairseq"]), "xlsr-300m", "opt", freeze=False, gradient_checkpointing=False)
    # a tensor missing from the file: the strict load names the file and the tensor
    checkpoint = torch.load(weights["fairseq"], weights_only=True)
    del checkpoint["model"]["encoder.layers.1.fc2.weight"]
    torch.save(checkpoint, tmp_path / "truncated.pt")
    with pytest.raises(DataError, match=r"truncated\.pt: its fairseq weights do not fit .*missing "
                                        r"encoder\.transformer\.layers\.1\.feed_forward\.output_dense\.weight"):
        _front_end(tmp_path / "truncated.pt")
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(DataError, match="without config.json"):
        _front_end(tmp_path / "empty-dir")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(DataError, match="plain.pt: not a fairseq checkpoint"):
        _front_end(tmp_path / "plain.pt")
    hf = json.loads((weights["hf-safetensors"] / "config.json").read_text())
    broken = tmp_path / "hf-broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({**hf, "model_type": "bert"}))
    with pytest.raises(DataError, match="model_type 'bert'"):
        _front_end(broken)


def _system(name: str, path: Path, **changes):
    spec = get_registry().models.get(name).spec
    config = dataclasses.replace(spec.config_class(), ssl_checkpoint=str(path), ssl_architecture="from-checkpoint",
                                 **changes)
    return spec.build(config, SPOOF)


def test_every_back_end_gives_two_logits_and_sls_checks_its_input_length(weights):
    waves = torch.randn(2, 64600)
    for name in ("xlsr-aasist", "wavlm-aasist", "xlsr-sls", "ssl-linear"):
        path = weights["hf-wavlm" if name == "wavlm-aasist" else "fairseq"]
        model = _system(name, path).eval()
        with torch.no_grad():
            assert model(waves).shape == (2, 2), name
    sls = _system("xlsr-sls", weights["fairseq"]).eval()
    assert sls.frames == 201 and sls.fc1.in_features == 67 * (32 // 3)  # (201 // 3) x (dim // 3)
    with pytest.raises(ConfigError, match="input_samples=64600"), torch.no_grad():
        sls(torch.randn(1, 16000))
    with pytest.raises(ConfigError, match="ssl_layer=5: expected 0 .* 1..2"):
        _system("xlsr-aasist", weights["fairseq"], ssl_layer=5)
    probe = _system("ssl-linear", weights["fairseq"], ssl_layer=1, hidden_dim=8)
    assert all(not p.requires_grad for p in probe.front_end.parameters())  # the probe's front-end is frozen


def test_front_end_lr_freezing_and_gradient_checkpointing(weights):
    recipe = Recipe(lr=1e-4)
    model = _system("xlsr-aasist", weights["fairseq"], front_end_lr=1e-6)
    optimizer = build_optimizer(recipe, parameter_groups(recipe, [model, None]))
    lrs = [group["lr"] for group in optimizer.param_groups]
    front = {id(p) for p in model.front_end.parameters()}
    assert lrs == [1e-4, 1e-6]
    assert all(id(p) not in front for p in optimizer.param_groups[0]["params"])
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == front
    frozen = _system("xlsr-aasist", weights["fairseq"], freeze_front_end=True)
    groups = parameter_groups(recipe, [frozen, None])
    assert len(groups) == 1 and not front & {id(p) for p in groups[0]["params"]}

    # checkpointed layers give the same gradients as stored activations
    waves = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        system = _system("xlsr-aasist", weights["fairseq"], gradient_checkpointing=checkpointing)
        system.train()
        torch.manual_seed(1)
        system(waves)[:, 1].sum().backward()
        grads.append(system.front_end.model.encoder.transformer.layers[0].feed_forward.output_dense.weight.grad)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_full_size_parameter_counts():
    # torchaudio's XLS-R 300M builder (no weights) and the AASIST back-end of Tak et al.'s model.py:
    # LL 131,200 + BNs 130 + six blocks 211,072 + attention convs 16,832 + pos_S 2,688 + masters 128
    # + GAT-S/T 25,344 + two HS-GAL branches 59,264 + pools 262 + output 322 = 447,242
    xlsr_300m = 315_437_696
    assert full_size_parameters("xlsr-aasist") == xlsr_300m + 447_242
    # SLS: fc0 1,025 + BN 2 + fc1 22,847 x 1,024 + 1,024 + fc3 2,050 (SLS model.py:66-71)
    assert full_size_parameters("xlsr-sls") == xlsr_300m + 1_025 + 2 + 22_847 * 1_024 + 1_024 + 2_050
    # `benchsuite list models` counts every registered system without weights
    spec = get_registry().models.get("xlsr-aasist").spec
    assert spec.count_parameters(spec.config_class()) == xlsr_300m + 447_242


@pytest.mark.parametrize("model, layout", [("xlsr-aasist", "fairseq"), ("wavlm-aasist", "hf-wavlm")])
def test_a_quick_cell_trains_on_synth_la(weights, model, layout, tmp_path):
    options = RunOptions(models=[model], datasets=["synth-la"], seeds=[1], profile="quick", device="cpu",
                         out=tmp_path / "runs", data={"synth-la": DataSource(None, dict(SYNTH))},
                         overrides=[f"model.{model}.ssl_checkpoint={weights[layout]}",
                                    f"model.{model}.ssl_architecture=from-checkpoint",
                                    "recipe.epochs=1", "recipe.max_train_utterances=8"],
                         render_report=False, command="pytest")
    summary = run_benchmark(options, progress=Progress(quiet=True))
    result = json.loads(next((tmp_path / "runs" / "cells").glob("*/result.json")).read_text())
    assert result["status"] == "done", result.get("error")
    assert result["training"]["epochs_run"] == 1 and result["metrics"]["eval"]["eer"] is not None
    # the tiny front-end as built from the file, and the back-end with a 32 -> 128 LL
    built = _system(model, weights[layout])
    assert result["model"]["params"] == sum(p.numel() for p in built.parameters())
    assert summary is not None


def test_tak_released_key_names_load_into_xlsr_aasist(weights, tmp_path):
    from benchsuite.training.checkpoints import load_weights_strictly
    from builders_ssl import to_tak_names

    spec = get_registry().models.get("xlsr-aasist").spec
    source = _system("xlsr-aasist", weights["fairseq"]).eval()
    with torch.no_grad():  # trained-looking BN statistics, so a swapped tensor changes the output
        for module in source.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    released = to_tak_names(source.state_dict())
    assert "LL.weight" in released and "HtrgGAT_layer_ST22.att_weightM" in released
    target = _system("xlsr-aasist", weights["hf-safetensors"]).eval()
    with torch.no_grad():  # every tensor differs until the released file is loaded
        for tensor in target.state_dict().values():
            tensor.add_(1)
    load_weights_strictly(spec, target, released, tmp_path / "best_SSL_model_LA.pth")
    waves = torch.randn(2, 16000, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(target(waves), source(waves), atol=1e-5, rtol=0)


def test_the_plan_asks_for_weights_and_a_run_of_every_model_leaves_ssl_systems_out():
    from benchsuite.planning.plan import build_plan

    registry = get_registry()
    data = {"synth-la": DataSource(None, dict(SYNTH))}
    with pytest.raises(ConfigError, match=r"model 'xlsr-sls'.*ssl_checkpoint '': expected the pretrained weights "
                                          r"\(xlsr-300m\).*nothing is downloaded"):
        build_plan(registry, RunOptions(models=["xlsr-sls"], datasets=["synth-la"], profile="quick", data=data))
    cells = build_plan(registry, RunOptions(datasets=["synth-la"], profile="quick", data=data))
    planned = {cell.identity.model for cell in cells}
    assert "aasist" in planned and not planned & {"xlsr-aasist", "xlsr-sls", "wavlm-aasist", "ssl-linear"}
