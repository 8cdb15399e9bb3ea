"""Released-checkpoint converters: each maps the state dict of an authors' or toolkit's
released model onto our module names, so ``benchsuite predict --checkpoint`` and a
frozen embedding network can load it.  A state dict of ours passes through each one
unchanged (see :func:`._blocks.rename_state_dict`), so a converter accepts both.
:func:`load_weights_file` loads a checkpoint file through one of them.

The key names come from the released code: clovaai/aasist ``models/AASIST.py``;
eurecom-asp/RawGAT-ST-antispoofing ``model.py``; asvspoof-challenge/2021
``LA/Baseline-RawNet2/model.py`` and ``LA/Baseline-LFCC-LCNN/project/baseline_LA/model.py``;
wenet-e2e/wespeaker ``wespeaker/models/{ecapa_tdnn,resnet,tdnn}.py``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from benchsuite.api import ConfigError

from ._blocks import RESIDUAL_BLOCK_NAMES, rename_state_dict, residual_block_rule

# --------------------------------------------------------------------------- graph-attention countermeasures

# the graph attention layer of AASIST and RawGAT-ST: the references' names -> ours
_GAT_NAMES = {"att_proj": "attention_proj", "att_weight": "attention_vector", "proj_with_att": "proj_attended",
              "proj_without_att": "proj_self", "bn": "bn"}
_HSGAL_NAMES = {"proj_type1": "proj_temporal_in", "proj_type2": "proj_spectral_in", "att_proj": "attention_proj",
                "att_projM": "master_attention_proj", "att_weight11": "vector_temporal",
                "att_weight22": "vector_spectral", "att_weight12": "vector_cross", "att_weightM": "vector_master",
                "proj_with_att": "proj_attended", "proj_without_att": "proj_self",
                "proj_with_attM": "master_proj_attended", "proj_without_attM": "master_proj_self", "bn": "bn"}


def _renamed_head(key: str, names: Mapping[str, str]) -> str:
    head, dot, rest = key.partition(".")
    return names.get(head, head) + dot + rest


_AASIST_RULES = [
    (r"^pos_S$", "spectral_position"),
    (r"^master([12])$", lambda m: f"branches.{int(m.group(1)) - 1}.master"),
    (r"^first_bn\.", "input_bn."),
    residual_block_rule(r"encoder\.(\d+)", "encoder.{}"),
    (r"^GAT_layer_S\.(.*)$", lambda m: "gat_spectral." + _renamed_head(m.group(1), _GAT_NAMES)),
    (r"^GAT_layer_T\.(.*)$", lambda m: "gat_temporal." + _renamed_head(m.group(1), _GAT_NAMES)),
    (r"^HtrgGAT_layer_ST([12])([12])\.(.*)$",
     lambda m: f"branches.{int(m.group(1)) - 1}.{'first' if m.group(2) == '1' else 'second'}."
               + _renamed_head(m.group(3), _HSGAL_NAMES)),
    (r"^pool_S\.proj\.", "pool_spectral.score_proj."),
    (r"^pool_T\.proj\.", "pool_temporal.score_proj."),
    (r"^pool_h([ST])([12])\.proj\.",
     lambda m: f"branches.{int(m.group(2)) - 1}.pool_{'spectral' if m.group(1) == 'S' else 'temporal'}.score_proj."),
    (r"^out_layer\.", "classifier."),
]


def convert_aasist(state: Mapping[str, Any]) -> dict[str, Any]:
    """Released ``AASIST.pth`` / ``AASIST-L.pth`` key names -> ours."""
    return rename_state_dict(state, _AASIST_RULES, foreign_marker=r"^(pos_S|out_layer\.|HtrgGAT_layer_)")


_RAWGAT_TOP_NAMES = {"GAT_layer1": "gat_spectral", "GAT_layer2": "gat_temporal", "GAT_layer3": "gat_fused",
                     "pool1": "pool_spectral", "pool2": "pool_temporal", "pool3": "pool_fused",
                     "proj1": "spectral_node_proj", "proj2": "temporal_node_proj", "proj": "fused_feature_proj",
                     "proj_node": "classifier", "first_bn": "input_bn"}


def _rawgat_block_key(match: re.Match) -> str:
    encoder = "spectral_encoder" if match.group(1) == "1" else "temporal_encoder"
    index, layer, rest = match.group(2), match.group(3), match.group(4)
    if index == "0" and layer == "conv_1":
        layer_name = "conv_in"  # the first block's conv_1 is the one it uses
    else:
        layer_name = RESIDUAL_BLOCK_NAMES[layer]
    return f"{encoder}.{index}.{layer_name}.{rest}"


def _rawgat_top_key(match: re.Match) -> str:
    head, rest = match.group(1), match.group(2)
    if head.startswith("GAT_layer"):
        rest = _renamed_head(rest, _GAT_NAMES)
    elif head.startswith("pool"):
        rest = rest.replace("proj.", "score_proj.", 1)
    return f"{_RAWGAT_TOP_NAMES[head]}.{rest}"


_RAWGAT_RULES = [
    (r"^encoder([12])\.(\d+)\.0\.(bn1|conv1|bn2|conv2|conv_downsample|conv_1)\.(.*)$", _rawgat_block_key),
    (r"^(" + "|".join(sorted(_RAWGAT_TOP_NAMES, key=len, reverse=True)) + r")\.(.*)$", _rawgat_top_key),
]


def convert_rawgat_st(state: Mapping[str, Any]) -> dict[str, Any]:
    """Released RawGAT-ST ``Best_epoch.pth`` key names -> ours."""
    return rename_state_dict(state, _RAWGAT_RULES, foreign_marker=r"^(encoder[12]\.|proj_node\.|GAT_layer)")


# --------------------------------------------------------------------------- ASVspoof 2021 baselines

_RAWNET2_RULES = [
    (r"^Sinc_conv\.", "sinc."),
    (r"^first_bn\.", "input_bn."),
    residual_block_rule(r"block(\d)", "blocks.{}"),
    (r"^fc_attention(\d)\.0\.", r"feature_map_scaling.\1."),
    (r"^bn_before_gru\.", "pre_gru_bn."),
    (r"^fc1_gru\.", "fc_hidden."),
    (r"^fc2_gru\.", "fc_out."),
]


def convert_rawnet2(state: Mapping[str, Any]) -> dict[str, Any]:
    """ASVspoof 2021 baseline RawNet2 key names (e.g. the organisers' pre-trained DF model) -> ours."""
    return rename_state_dict(state, _RAWNET2_RULES, foreign_marker=r"^(block\d\.0\.|fc_attention\d|fc2_gru\.)")


def convert_lfcc_lcnn(state: Mapping[str, Any]) -> dict[str, Any]:
    """Map the B03 reference's names (``m_transform.0.*``, ``m_before_pooling.0.{i}.l_blstm.*``,
    ``m_output_act.0.*``) onto ours; its frozen front end and unused normalisation
    statistics are dropped (ours are rebuilt from the config).  Our own names pass through."""
    converted: dict[str, Any] = {}
    for key, value in state.items():
        if key.startswith("m_transform.0."):
            converted["lcnn." + key.removeprefix("m_transform.0.")] = value
        elif key.startswith("m_before_pooling.0."):
            layer, _, rest = key.removeprefix("m_before_pooling.0.").partition(".")
            converted[f"blstm.{layer}." + rest.removeprefix("l_blstm.")] = value
        elif key.startswith("m_output_act.0."):
            converted["output." + key.removeprefix("m_output_act.0.")] = value
        elif key.startswith("m_frontend.") or key in ("input_mean", "input_std", "output_mean", "output_std"):
            continue
        else:
            converted[key] = value
    return converted


# --------------------------------------------------------------------------- WeSpeaker speaker models


def without_head(state: Mapping[str, Any]) -> dict[str, Any]:
    """A WeSpeaker checkpoint minus its training head (``projection.*``), which our trainer builds itself."""
    return {key: value for key, value in state.items() if not key.startswith(("projection.", "module.projection."))}


def _ecapa_block(match: re.Match, part: str) -> str:
    return f"blocks.{int(match.group(1)) - 2}.body.{part}"


# WeSpeaker's ECAPA_TDNN names (layer1, layer2-4.se_res2block.*, conv, pool.linear*, bn, linear) -> ours
_ECAPA_RULES = (
    (r"^layer1\.conv\.", "stem.conv."),
    (r"^layer1\.bn\.", "stem.norm."),
    (r"^layer([234])\.se_res2block\.1\.convs\.(\d+)\.", lambda m: _ecapa_block(m, f"1.branches.{m.group(2)}.conv.")),
    (r"^layer([234])\.se_res2block\.1\.bns\.(\d+)\.", lambda m: _ecapa_block(m, f"1.branches.{m.group(2)}.norm.")),
    (r"^layer([234])\.se_res2block\.([02])\.conv\.", lambda m: _ecapa_block(m, f"{m.group(2)}.conv.")),
    (r"^layer([234])\.se_res2block\.([02])\.bn\.", lambda m: _ecapa_block(m, f"{m.group(2)}.norm.")),
    (r"^layer([234])\.se_res2block\.3\.linear1\.", lambda m: _ecapa_block(m, "3.squeeze.")),
    (r"^layer([234])\.se_res2block\.3\.linear2\.", lambda m: _ecapa_block(m, "3.excite.")),
    (r"^conv\.", "aggregate."),
    (r"^pool\.linear1\.", "pool.attention_hidden."),
    (r"^pool\.linear2\.", "pool.attention_scores."),
    (r"^bn\.", "pool_norm."),
    (r"^linear\.", "embedding."),
)


def convert_ecapa_tdnn(state: Mapping[str, Any]) -> dict[str, Any]:
    """WeSpeaker ECAPA_TDNN(_GLOB) weights (its training head ``projection.*`` dropped) onto ours."""
    return rename_state_dict(without_head(state), _ECAPA_RULES, foreign_marker=r"se_res2block|^layer1\.")


# WeSpeaker's ResNet names (conv1, bn1, layer1-4.i.*, seg_1) -> ours
_RESNET_RULES = (
    (r"^conv1\.", "stem.0."),
    (r"^bn1\.", "stem.1."),
    (r"^layer([1-4])\.(\d+)\.bn([12])\.", lambda m: f"stages.{int(m.group(1)) - 1}.{m.group(2)}.norm{m.group(3)}."),
    (r"^layer([1-4])\.(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.{m.group(2)}."),
    (r"^seg_1\.", "embedding."),
)


def convert_resnet(state: Mapping[str, Any]) -> dict[str, Any]:
    """WeSpeaker ResNet18/34 weights (``two_emb_layer=False``; its ``projection.*`` head dropped) onto ours."""
    return rename_state_dict(without_head(state), _RESNET_RULES, foreign_marker=r"^layer1\.|^seg_1\.")


# WeSpeaker's XVEC names (frame_1-5.{conv_1d,bn}, seg_1, seg_bn_1, seg_2) -> ours
_XVECTOR_RULES = (
    (r"^frame_(\d)\.conv_1d\.", lambda m: f"frame_layers.{int(m.group(1)) - 1}.conv."),
    (r"^frame_(\d)\.bn\.", lambda m: f"frame_layers.{int(m.group(1)) - 1}.norm."),
    (r"^seg_1\.", "segment1."),
    (r"^seg_bn_1\.", "segment1_norm."),
    (r"^seg_2\.", "segment2."),
)


def convert_xvector(state: Mapping[str, Any]) -> dict[str, Any]:
    """WeSpeaker XVEC weights (its ``projection.*`` head dropped) onto ours."""
    return rename_state_dict(without_head(state), _XVECTOR_RULES, foreign_marker=r"^frame_\d\.|^seg_")


# --------------------------------------------------------------------------- loading a file


def load_weights_file(module: nn.Module, path: str, model: str,
                      convert: Callable[[Mapping[str, Any]], Mapping[str, Any]], *, where: str) -> None:
    """Load ``path`` into ``module`` (a ``model`` network): a benchsuite cell's ``best.pt`` / ``last.pt``
    of ``model``, or a released state dict that ``convert`` maps onto our names.  Every tensor of
    ``module`` must come from the file and every tensor of the file must have a place; ``where``
    (the option that named the file) starts each error."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle of more than tensors and containers, or no torch file at all
        raise ConfigError(f"{where}: not a torch state dict or benchsuite checkpoint ({type(exc).__name__}: "
                          f"{exc})") from None
    if isinstance(state, Mapping) and "model_state" in state:  # a benchsuite cell's checkpoint
        if state.get("model") != model:
            raise ConfigError(f"{where}: a checkpoint of {state.get('model')!r}; expected one of {model!r}")
        state = state["model_state"]
    if not isinstance(state, Mapping):
        raise ConfigError(f"{where}: holds a {type(state).__name__}, not a state dict")
    try:
        missing, unexpected = module.load_state_dict(convert(state), strict=False)
    except RuntimeError as exc:  # a tensor of another shape: a network of another configuration
        raise ConfigError(f"{where}: does not fit this {model} configuration: {exc}") from None
    if missing or unexpected:
        raise ConfigError(f"{where}: does not fit {model}: missing {sorted(missing)[:4]}, "
                          f"unexpected {sorted(unexpected)[:4]}")
