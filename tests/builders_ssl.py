"""Tiny random SSL front-ends written to disk in the two layouts users have: a fairseq checkpoint
file and a Hugging Face model directory.  The key names are produced here by inverting
torchaudio's naming independently of the loader's rules (per module, from torchaudio's own
state dict), so a mistake in the loader's mapping shows up as a failed strict load."""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torchaudio.models import wav2vec2_model, wavlm_model

CONV = [(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2  # XLS-R's strides (320 samples a frame), 16 channels
CONV_TEXT = "[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2"
TINY = dict(extractor_mode="layer_norm", extractor_conv_layer_config=CONV, extractor_conv_bias=True,
            encoder_embed_dim=32, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16,
            encoder_pos_conv_groups=4, encoder_num_layers=2, encoder_num_heads=2, encoder_attention_dropout=0.0,
            encoder_ff_interm_features=64, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
            encoder_layer_norm_first=True, encoder_layer_drop=0.0)


def tiny_torchaudio(seed: int = 0, family: str = "wav2vec2") -> torch.nn.Module:
    torch.manual_seed(seed)
    if family == "wavlm":
        model = wavlm_model(**{**TINY, "extractor_mode": "group_norm", "encoder_layer_norm_first": False},
                            encoder_num_buckets=8, encoder_max_distance=16, aux_num_out=None)
    else:
        model = wav2vec2_model(**TINY, aux_num_out=None)
    # non-trivial norms and positional weights, so a swapped tensor changes the output
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "original0" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def _to_fairseq(key: str) -> str:
    rules = [
        (r"^feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
        (r"^feature_extractor\.conv_layers\.(\d+)\.layer_norm\.", r"feature_extractor.conv_layers.\1.2.1."),
        (r"^encoder\.feature_projection\.projection\.", "post_extract_proj."),
        (r"^encoder\.feature_projection\.layer_norm\.", "layer_norm."),
        (r"^encoder\.transformer\.pos_conv_embed\.conv\.parametrizations\.weight\.original0$",
         "encoder.pos_conv.0.weight_g"),
        (r"^encoder\.transformer\.pos_conv_embed\.conv\.parametrizations\.weight\.original1$",
         "encoder.pos_conv.0.weight_v"),
        (r"^encoder\.transformer\.pos_conv_embed\.conv\.bias$", "encoder.pos_conv.0.bias"),
        (r"^encoder\.transformer\.layer_norm\.", "encoder.layer_norm."),
        (r"^encoder\.transformer\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
        (r"^encoder\.transformer\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
        (r"^encoder\.transformer\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
        (r"^encoder\.transformer\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
        (r"^encoder\.transformer\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
    ]
    for pattern, replacement in rules:
        new, count = re.subn(pattern, replacement, key)
        if count:
            return new
    raise AssertionError(f"no fairseq name for {key}")


def write_fairseq(model: torch.nn.Module, path: Path) -> Path:
    """``{"model": fairseq-named state dict + pre-training heads, "cfg": {"model": {...}}}``."""
    state = {_to_fairseq(k): v.clone() for k, v in model.state_dict().items()}
    state.update({"mask_emb": torch.randn(32), "quantizer.vars": torch.randn(1, 8, 4),
                  "project_q.weight": torch.randn(4, 4), "final_proj.weight": torch.randn(4, 32)})
    cfg = {"_name": "wav2vec2", "extractor_mode": "layer_norm", "conv_feature_layers": CONV_TEXT, "conv_bias": True,
           "encoder_embed_dim": 32, "encoder_layers": 2, "encoder_attention_heads": 2, "encoder_ffn_embed_dim": 64,
           "conv_pos": 16, "conv_pos_groups": 4, "layer_norm_first": True, "dropout": 0.0,
           "attention_dropout": 0.0, "activation_dropout": 0.0, "dropout_input": 0.0, "encoder_layerdrop": 0.0,
           "feature_grad_mult": 1.0}
    torch.save({"model": state, "cfg": {"model": cfg}, "args": None}, path)
    return path


def write_huggingface(model: torch.nn.Module, directory: Path, family: str = "wav2vec2",
                      fmt: str = "safetensors") -> Path:
    """config.json + model.safetensors (or pytorch_model.bin) with Hugging Face's names, with the
    task model's ``<family>.`` prefix and a ``masked_spec_embed`` as a pre-training leftover."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("encoder.feature_projection."):
            hf = key[len("encoder."):]
        elif key.startswith("encoder.transformer."):
            hf = "encoder." + key[len("encoder.transformer."):]
        else:
            hf = key
        state[f"{family}.{hf}"] = value.clone()
    if family == "wavlm":
        for i in range(TINY["encoder_num_layers"]):
            base = f"wavlm.encoder.layers.{i}.attention."
            for kind in ("weight", "bias"):
                q, k, v = state.pop(f"{base}attention.in_proj_{kind}").chunk(3)
                state.update({f"{base}q_proj.{kind}": q, f"{base}k_proj.{kind}": k, f"{base}v_proj.{kind}": v})
                state[f"{base}out_proj.{kind}"] = state.pop(f"{base}attention.out_proj.{kind}")
    state[f"{family}.masked_spec_embed"] = torch.randn(32)
    wavlm = family == "wavlm"
    config = {"model_type": family, "feat_extract_norm": "group" if wavlm else "layer",
              "conv_dim": [c[0] for c in CONV], "conv_kernel": [c[1] for c in CONV],
              "conv_stride": [c[2] for c in CONV], "conv_bias": True, "hidden_size": 32, "feat_proj_dropout": 0.0,
              "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "num_hidden_layers": 2,
              "num_attention_heads": 2, "attention_dropout": 0.0, "intermediate_size": 64,
              "activation_dropout": 0.0, "hidden_dropout": 0.0, "do_stable_layer_norm": not wavlm, "layerdrop": 0.0,
              "num_buckets": 8, "max_bucket_distance": 16}
    (directory / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(directory / "model.safetensors"))
    else:
        torch.save(state, directory / "pytorch_model.bin")
    return directory


def to_tak_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our xlsr-aasist state dict under the key names of Tak et al.'s model.py (their released
    best_SSL_model_*.pth), with the fairseq pre-training heads their SSLModel also holds."""
    gat = {"attention_proj": "att_proj", "attention_vector": "att_weight", "proj_attended": "proj_with_att",
           "proj_self": "proj_without_att"}
    hsgal = {"proj_temporal_in": "proj_type1", "proj_spectral_in": "proj_type2", "attention_proj": "att_proj",
             "master_attention_proj": "att_projM", "vector_temporal": "att_weight11",
             "vector_spectral": "att_weight22", "vector_cross": "att_weight12", "vector_master": "att_weightM",
             "proj_attended": "proj_with_att", "proj_self": "proj_without_att",
             "master_proj_attended": "proj_with_attM", "master_proj_self": "proj_without_attM"}
    block = {"discarded_bn": "bn1", "conv_in": "conv1", "bn": "bn2", "conv_out": "conv2", "shortcut": "conv_downsample"}

    def head(rest: str, names: dict[str, str]) -> str:
        first, dot, tail = rest.partition(".")
        return names.get(first, first) + dot + tail

    out = {"ssl_model.model.mask_emb": torch.zeros(32), "ssl_model.model.quantizer.vars": torch.zeros(1, 4, 2)}
    for key, value in state.items():
        if key.startswith("front_end.model."):
            name = "ssl_model.model." + _to_fairseq(key[len("front_end.model."):])
        elif m := re.match(r"^branches\.(\d)\.(first|second)\.(.*)$", key):
            name = f"HtrgGAT_layer_ST{int(m[1]) + 1}{1 if m[2] == 'first' else 2}." + head(m[3], hsgal)
        elif m := re.match(r"^branches\.(\d)\.pool_(spectral|temporal)\.score_proj\.(.*)$", key):
            name = f"pool_h{m[2][0].upper()}{int(m[1]) + 1}.proj.{m[3]}"
        elif m := re.match(r"^branches\.(\d)\.master$", key):
            name = f"master{int(m[1]) + 1}"
        elif m := re.match(r"^gat_(spectral|temporal)\.(.*)$", key):
            name = f"GAT_layer_{m[1][0].upper()}." + head(m[2], gat)
        elif m := re.match(r"^pool_(spectral|temporal)\.score_proj\.(.*)$", key):
            name = f"pool_{m[1][0].upper()}.proj.{m[2]}"
        elif m := re.match(r"^encoder\.(\d)\.(.*)$", key):
            name = f"encoder.{m[1]}.0." + head(m[2], block)
        else:
            name = {"spectral_position": "pos_S"}.get(key) or re.sub(
                r"^(projection|input_bn|encoder_bn|classifier)\.",
                lambda m: {"projection": "LL.", "input_bn": "first_bn.", "encoder_bn": "first_bn1.",
                           "classifier": "out_layer."}[m[1]], key)
        out[name] = value.clone()
    return out
