"""Self-supervised speech front-ends (wav2vec 2.0 / XLS-R, HuBERT, WavLM) built with torchaudio,
loaded from weights the user supplies; nothing is downloaded.

The transformer is torchaudio's (``torchaudio.models.wav2vec2_model`` / ``wavlm_model``);
this module reads the two checkpoint layouts people have on disk and maps their key
names onto torchaudio's:

- a fairseq checkpoint file (``xlsr2_300m.pt``, HuBERT ``.pt``): a dict with ``model``
  (the state dict) and ``cfg`` (``cfg["model"]`` holds the architecture).  The key
  mapping follows the facts in torchaudio's ``import_fairseq_model``
  (``torchaudio/models/wav2vec2/utils/import_fairseq.py``, ``_map_key``), the
  architecture fields and their defaults fairseq's ``Wav2Vec2Config``
  (``fairseq/models/wav2vec/wav2vec2.py``, the copy vendored in TakHemlata/SSL_Anti-spoofing);
- a Hugging Face model directory: ``config.json`` plus ``model.safetensors`` or
  ``pytorch_model.bin``; config fields as torchaudio's ``import_huggingface_model``
  reads them (``_get_config`` / ``_get_config_wavlm``), WavLM's separate q/k/v
  projections concatenated into ``in_proj`` as its ``transform_wavlm_encoder_state`` does.

The state dict is loaded strictly: a missing or unexpected tensor, or one whose
shape differs from the expected architecture, is an error naming the file.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.utils.checkpoint
from torch import nn

from benchsuite.api import ConfigError, DataError, key_problems

FAMILIES = ("wav2vec2", "hubert", "wavlm")

# expected architecture name -> (family, torchaudio builder); "from-checkpoint" accepts any
PRESETS: dict[str, tuple[str, str]] = {
    "xlsr-300m": ("wav2vec2", "wav2vec2_xlsr_300m"),
    "xlsr-1b": ("wav2vec2", "wav2vec2_xlsr_1b"),
    "wav2vec2-base": ("wav2vec2", "wav2vec2_base"),
    "wav2vec2-large-lv60k": ("wav2vec2", "wav2vec2_large_lv60k"),
    "hubert-base": ("hubert", "hubert_base"),
    "hubert-large": ("hubert", "hubert_large"),
    "wavlm-base": ("wavlm", "wavlm_base"),
    "wavlm-large": ("wavlm", "wavlm_large"),
}
FROM_CHECKPOINT = "from-checkpoint"

# pre-training heads, not part of the front-end: dropped on load (fairseq names, then HF names)
_PRETRAINING_ONLY = re.compile(r"^(mask_emb|quantizer\.|project_q\.|final_proj\.|label_embs_concat|target_glu\.|"
                               r"masked_spec_embed|project_hid\.|lm_head\.|dropout_features|proj\.)")


@dataclass(frozen=True)
class SslArchitecture:
    """One front-end: its family and the keyword arguments of torchaudio's builder."""

    family: str
    kwargs: dict[str, Any]
    # fairseq scales the CNN feature extractor's gradient by this while fine-tuning (Wav2Vec2Model.forward)
    feature_grad_mult: float = 1.0
    source: str = ""

    def build(self) -> nn.Module:
        from torchaudio.models import wav2vec2_model, wavlm_model

        builder = wavlm_model if self.family == "wavlm" else wav2vec2_model
        return builder(**self.kwargs, aux_num_out=None)

    @property
    def layers(self) -> int:
        return int(self.kwargs["encoder_num_layers"])

    @property
    def dim(self) -> int:
        return int(self.kwargs["encoder_embed_dim"])


def preset_model(name: str, device: str | torch.device = "meta") -> nn.Module:
    """torchaudio's builder of an expected architecture (on the meta device: shapes, no memory)."""
    import torchaudio.models as models

    with torch.device(device):
        return getattr(models, PRESETS[name][1])()


def check_preset(name: str, option: str) -> None:
    if name != FROM_CHECKPOINT and name not in PRESETS:
        raise ConfigError(f"{option}={name!r}: expected {FROM_CHECKPOINT} or one of {', '.join(PRESETS)}")


# --------------------------------------------------------------------------- reading checkpoints


@dataclass
class LoadedWeights:
    architecture: SslArchitecture
    state: dict[str, torch.Tensor]  # torchaudio key names
    path: Path
    layout: str  # "fairseq" | "huggingface"
    dropped: list[str] = field(default_factory=list)  # pre-training heads left out


def read_ssl_checkpoint(path: Path, option: str) -> LoadedWeights:
    """A fairseq checkpoint file or a Hugging Face model directory -> architecture + torchaudio-named weights."""
    if not path.exists():
        raise DataError(f"{option} {path}: no such file or directory (expected a fairseq checkpoint such as "
                        f"xlsr2_300m.pt, or a Hugging Face model directory with config.json)")
    if path.is_dir():
        return _read_huggingface(path, option)
    return _read_fairseq(path, option)


def _torch_load(path: Path, option: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{option} {path}: cannot be read as a tensors-only PyTorch checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); checkpoints whose config is a pickled "
                        f"argparse Namespace (old fairseq 'args') are not loaded for safety") from exc


def _read_fairseq(path: Path, option: str) -> LoadedWeights:
    checkpoint = _torch_load(path, option)
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("model"), Mapping):
        raise DataError(f"{option} {path}: not a fairseq checkpoint (expected a dict with a 'model' state dict "
                        f"and 'cfg')")
    cfg = checkpoint.get("cfg")
    model_cfg = cfg.get("model") if isinstance(cfg, Mapping) else None
    if not isinstance(model_cfg, Mapping) and isinstance(checkpoint.get("args"), Mapping):
        model_cfg = checkpoint["args"]
    if not isinstance(model_cfg, Mapping):
        raise DataError(f"{option} {path}: a fairseq checkpoint without its model config (no cfg['model'])")
    if isinstance(model_cfg.get("w2v_args"), Mapping):  # a fine-tuned encoder: the SSL model's config is inside
        model_cfg = model_cfg["w2v_args"].get("model", model_cfg)
    family = str(model_cfg.get("_name") or model_cfg.get("arch") or "wav2vec2")
    family = "hubert" if "hubert" in family else ("wavlm" if "wavlm" in family else "wav2vec2")
    if family == "wavlm":
        raise DataError(f"{option} {path}: a WavLM fairseq-style checkpoint; give WavLM as a Hugging Face model "
                        f"directory (config.json + weights)")
    architecture = SslArchitecture(family, fairseq_kwargs(model_cfg, f"{option} {path}"),
                                   float(model_cfg.get("feature_grad_mult", 1.0)), source=str(path))
    state, dropped = {}, []
    for key, value in checkpoint["model"].items():
        mapped = fairseq_key(key)
        if mapped is None:
            dropped.append(key)
        else:
            state[mapped] = value
    return LoadedWeights(architecture, state, path, "fairseq", dropped)


def _conv_layers(text: Any, where: str) -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` string, e.g. ``"[(512, 10, 5)] + [(512, 3, 2)] * 4"``, read
    without eval: only list/tuple literals, ``+`` and ``*`` by an integer."""
    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(n) for n in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(ast.dump(node))

    try:
        layers = value(ast.parse(str(text), mode="eval").body)
        layers = [tuple(int(v) for v in layer) for layer in layers]
    except (SyntaxError, ValueError, TypeError) as exc:
        raise DataError(f"{where}: conv_feature_layers {text!r} is not a list of (dim, kernel, stride)") from exc
    if not layers or any(len(layer) != 3 for layer in layers):
        raise DataError(f"{where}: conv_feature_layers {text!r} is not a list of (dim, kernel, stride)")
    return layers  # type: ignore[return-value]


# fairseq Wav2Vec2Config defaults (fairseq/models/wav2vec/wav2vec2.py:41-225, vendored copy in
# TakHemlata/SSL_Anti-spoofing) for fields a checkpoint's cfg may leave out
_FAIRSEQ_DEFAULTS = {
    "extractor_mode": "default", "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
    "encoder_layerdrop": 0.0, "dropout_input": 0.0, "layer_norm_first": False,
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]", "conv_bias": False,
    "conv_pos": 128, "conv_pos_groups": 16,
}


def fairseq_kwargs(cfg: Mapping[str, Any], where: str) -> dict[str, Any]:
    """torchaudio builder arguments from a fairseq model config (as torchaudio's ``_parse_config`` reads
    them from the model object)."""
    def get(key: str) -> Any:
        value = cfg.get(key)
        return _FAIRSEQ_DEFAULTS[key] if value is None else value

    mode = str(get("extractor_mode"))
    if mode not in ("default", "layer_norm"):
        raise DataError(f"{where}: extractor_mode {mode!r}; expected default or layer_norm")
    return {
        "extractor_mode": "group_norm" if mode == "default" else "layer_norm",
        "extractor_conv_layer_config": _conv_layers(get("conv_feature_layers"), where),
        "extractor_conv_bias": bool(get("conv_bias")),
        "encoder_embed_dim": int(get("encoder_embed_dim")),
        "encoder_projection_dropout": float(get("dropout_input")),
        "encoder_pos_conv_kernel": int(get("conv_pos")),
        "encoder_pos_conv_groups": int(get("conv_pos_groups")),
        "encoder_num_layers": int(get("encoder_layers")),
        "encoder_num_heads": int(get("encoder_attention_heads")),
        "encoder_attention_dropout": float(get("attention_dropout")),
        "encoder_ff_interm_features": int(get("encoder_ffn_embed_dim")),
        "encoder_ff_interm_dropout": float(get("activation_dropout")),
        "encoder_dropout": float(get("dropout")),
        "encoder_layer_norm_first": bool(get("layer_norm_first")),
        "encoder_layer_drop": float(get("encoder_layerdrop")),
    }


_FAIRSEQ_RULES: list[tuple[str, str]] = [
    # the first conv's GroupNorm ("default" extractor) and every conv's LayerNorm ("layer_norm" extractor)
    (r"^feature_extractor\.conv_layers\.0\.2\.(weight|bias)$", r"feature_extractor.conv_layers.0.layer_norm.\1"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)$", r"feature_extractor.conv_layers.\1.conv.\2"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)$",
     r"feature_extractor.conv_layers.\1.layer_norm.\2"),
    (r"^post_extract_proj\.(weight|bias)$", r"encoder.feature_projection.projection.\1"),
    (r"^layer_norm\.(weight|bias)$", r"encoder.feature_projection.layer_norm.\1"),
    # weight norm: fairseq's weight_g / weight_v are torchaudio's parametrization original0 / original1
    (r"^encoder\.pos_conv\.0\.bias$", r"encoder.transformer.pos_conv_embed.conv.bias"),
    (r"^encoder\.pos_conv\.0\.weight_g$", r"encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"^encoder\.pos_conv\.0\.weight_v$", r"encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"^encoder\.layer_norm\.(weight|bias)$", r"encoder.transformer.layer_norm.\1"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.((k|v|q|out)_proj\.(weight|bias))$",
     r"encoder.transformer.layers.\1.attention.\2"),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)$", r"encoder.transformer.layers.\1.layer_norm.\2"),
    (r"^encoder\.layers\.(\d+)\.fc1\.(weight|bias)$",
     r"encoder.transformer.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"^encoder\.layers\.(\d+)\.fc2\.(weight|bias)$", r"encoder.transformer.layers.\1.feed_forward.output_dense.\2"),
    (r"^encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)$",
     r"encoder.transformer.layers.\1.final_layer_norm.\2"),
]
_FAIRSEQ_COMPILED = [(re.compile(p), r) for p, r in _FAIRSEQ_RULES]


def fairseq_key(key: str) -> str | None:
    """A fairseq wav2vec 2.0 / HuBERT key -> torchaudio's, None for pre-training heads; an
    unknown key is kept as it is, so the strict load names it."""
    if key.startswith("w2v_model."):
        key = key[len("w2v_model."):]
    if _PRETRAINING_ONLY.match(key):
        return None
    for pattern, replacement in _FAIRSEQ_COMPILED:
        mapped, count = pattern.subn(replacement, key)
        if count:
            return mapped
    return key


def _read_huggingface(path: Path, option: str) -> LoadedWeights:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise DataError(f"{option} {path}: a directory without config.json (expected a Hugging Face model "
                        f"directory: config.json + model.safetensors or pytorch_model.bin)")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{config_path}: not valid JSON ({exc})") from exc
    family = str(config.get("model_type", ""))
    if family not in FAMILIES:
        raise DataError(f"{config_path}: model_type {family!r}; expected one of {', '.join(FAMILIES)}")
    architecture = SslArchitecture(family, huggingface_kwargs(config, family, str(config_path)), source=str(path))
    safetensors_path, bin_path = path / "model.safetensors", path / "pytorch_model.bin"
    if safetensors_path.is_file():
        from safetensors.torch import load_file

        try:
            raw = load_file(str(safetensors_path), device="cpu")
        except Exception as exc:
            raise DataError(f"{safetensors_path}: not a readable safetensors file ({exc})") from exc
    elif bin_path.is_file():
        raw = _torch_load(bin_path, option)
        if not isinstance(raw, Mapping):
            raise DataError(f"{bin_path}: expected a state dict")
    else:
        raise DataError(f"{option} {path}: no model.safetensors or pytorch_model.bin beside config.json")
    state, dropped = huggingface_state(raw, family, architecture.layers)
    return LoadedWeights(architecture, state, path, "huggingface", dropped)


def huggingface_kwargs(config: Mapping[str, Any], family: str, where: str) -> dict[str, Any]:
    """torchaudio builder arguments from a Hugging Face config.json (torchaudio's ``_get_config`` /
    ``_get_config_wavlm`` read the same fields from the config object)."""
    try:
        kwargs = {
            "extractor_mode": f"{config['feat_extract_norm']}_norm",
            "extractor_conv_layer_config": list(zip(config["conv_dim"], config["conv_kernel"], config["conv_stride"])),
            "extractor_conv_bias": bool(config["conv_bias"]),
            "encoder_embed_dim": int(config["hidden_size"]),
            "encoder_projection_dropout": float(config["feat_proj_dropout"]),
            "encoder_pos_conv_kernel": int(config["num_conv_pos_embeddings"]),
            "encoder_pos_conv_groups": int(config["num_conv_pos_embedding_groups"]),
            "encoder_num_layers": int(config["num_hidden_layers"]),
            "encoder_num_heads": int(config["num_attention_heads"]),
            "encoder_attention_dropout": float(config["attention_dropout"]),
            "encoder_ff_interm_features": int(config["intermediate_size"]),
            "encoder_ff_interm_dropout": float(config["activation_dropout"]),
            "encoder_dropout": float(config["hidden_dropout"]),
            "encoder_layer_norm_first": bool(config["do_stable_layer_norm"]),
            "encoder_layer_drop": float(config["layerdrop"]),
        }
        if family == "wavlm":
            kwargs["encoder_num_buckets"] = int(config["num_buckets"])
            kwargs["encoder_max_distance"] = int(config["max_bucket_distance"])
    except KeyError as exc:
        raise DataError(f"{where}: missing field {exc.args[0]!r} of a {family} config") from exc
    return kwargs


def huggingface_state(raw: Mapping[str, torch.Tensor], family: str,
                      num_layers: int) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Hugging Face key names (``Wav2Vec2Model``, ``HubertModel``, ``WavLMModel``, with or without
    the ``wav2vec2.`` / ``hubert.`` / ``wavlm.`` prefix of the task models) -> torchaudio's."""
    state: dict[str, torch.Tensor] = {}
    dropped = []
    prefix = f"{family}."
    for key, value in raw.items():
        key = key[len(prefix):] if key.startswith(prefix) else key
        if _PRETRAINING_ONLY.match(key):
            dropped.append(key)
            continue
        if key.startswith("feature_projection."):
            key = "encoder." + key
        elif key.startswith("encoder."):
            key = "encoder.transformer." + key[len("encoder."):]
            key = key.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
            key = key.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
        state[key] = value
    if family == "wavlm":
        for i in range(num_layers):
            base = f"encoder.transformer.layers.{i}.attention."
            names = [f"{base}{p}_proj.{t}" for p in "qkv" for t in ("weight", "bias")]
            if all(n in state for n in names):
                for kind in ("weight", "bias"):
                    state[f"{base}attention.in_proj_{kind}"] = torch.cat(
                        [state.pop(f"{base}{p}_proj.{kind}") for p in "qkv"])
                for kind in ("weight", "bias"):
                    if f"{base}out_proj.{kind}" in state:
                        state[f"{base}attention.out_proj.{kind}"] = state.pop(f"{base}out_proj.{kind}")
    return state, dropped


# --------------------------------------------------------------------------- building


def load_front_end_model(path: Path, expected: str, option: str,
                         dropout_overrides: Mapping[str, float] | None = None) -> tuple[nn.Module, SslArchitecture]:
    """torchaudio's model with the user's weights, loaded strictly, checked against ``expected``."""
    loaded = read_ssl_checkpoint(path, option)
    architecture = loaded.architecture
    if dropout_overrides:
        architecture = SslArchitecture(architecture.family, {**architecture.kwargs, **dropout_overrides},
                                       architecture.feature_grad_mult, architecture.source)
    if expected != FROM_CHECKPOINT:
        _check_expected(loaded, expected, option)
    model = architecture.build()
    result = model.load_state_dict(loaded.state, strict=False)
    problems = key_problems(result.missing_keys, result.unexpected_keys, shown=3)
    if problems:
        raise DataError(f"{option} {path}: its {loaded.layout} weights do not fit the {architecture.family} "
                        f"architecture its config describes ({'; '.join(problems)})")
    return model, architecture


def _check_expected(loaded: LoadedWeights, expected: str, option: str) -> None:
    family, builder = PRESETS[expected]
    reference = {k: tuple(v.shape) for k, v in preset_model(expected).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in loaded.state.items()}
    problems = []
    if loaded.architecture.family != family:
        problems.append(f"a {loaded.architecture.family} model, not {family}")
    problems += key_problems(sorted(set(reference) - set(found)), sorted(set(found) - set(reference)), shown=3)
    shapes = sorted(k for k in set(reference) & set(found) if reference[k] != found[k])
    if shapes:
        problems.append("shapes differ: " + ", ".join(f"{k} {found[k]} (expected {reference[k]})" for k in shapes[:3]))
    if problems:
        kw = loaded.architecture.kwargs
        raise DataError(f"{option} {loaded.path}: not the expected architecture {expected} (torchaudio {builder}); "
                        f"the checkpoint has {kw['encoder_num_layers']} layers of dim {kw['encoder_embed_dim']}: "
                        f"{'; '.join(problems)}")


class _ScaleGradient(torch.autograd.Function):
    """Identity forward, gradient x ``scale`` (fairseq's ``GradMultiply``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad * ctx.scale, None


class SslFrontEnd(nn.Module):
    """torchaudio's wav2vec 2.0 / HuBERT / WavLM as a front-end: ``forward(waves, upto)`` returns
    ``(final, layers)``: the encoder output (after the final layer norm where the model has one, as
    fairseq's ``features_only`` ``x``) and the outputs of transformer layers 1..``upto`` (fairseq's
    ``layer_results``; a layer skipped by layer drop while training adds no entry, as in fairseq).

    ``freeze``: no gradients and eval mode (no dropout) for the front-end; ``gradient_checkpointing``
    recomputes each transformer layer in the backward pass instead of storing its activations.
    """

    def __init__(self, model: nn.Module, architecture: SslArchitecture, *, freeze: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.model = model
        self.architecture = architecture
        self.freeze = freeze
        self.gradient_checkpointing = gradient_checkpointing
        if freeze:
            for parameter in self.model.parameters():
                parameter.requires_grad_(False)

    @property
    def dim(self) -> int:
        return self.architecture.dim

    @property
    def num_layers(self) -> int:
        return self.architecture.layers

    def train(self, mode: bool = True) -> "SslFrontEnd":
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def forward(self, waves: torch.Tensor, upto: int | None = None) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        if self.freeze:
            with torch.no_grad():
                return self._forward(waves, upto)
        return self._forward(waves, upto)

    def _forward(self, waves: torch.Tensor, upto: int | None) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        features, _ = self.model.feature_extractor(waves, None)
        scale = self.architecture.feature_grad_mult
        if self.training and scale != 1.0 and torch.is_grad_enabled():
            features = _ScaleGradient.apply(features, scale)
        x = self.model.encoder.feature_projection(features)
        transformer = self.model.encoder.transformer
        x = transformer._preprocess(x)
        position_bias = None
        outputs: list[torch.Tensor] = []
        layers = list(transformer.layers)
        stop = len(layers) if upto is None else upto
        for index, layer in enumerate(layers[:stop]):
            if transformer.training and torch.rand(1).item() <= transformer.layer_drop:
                continue
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x, position_bias = torch.utils.checkpoint.checkpoint(layer, x, None, position_bias,
                                                                     use_reentrant=False)
            else:
                x, position_bias = layer(x, None, position_bias=position_bias)
            outputs.append(x)
        if upto is not None and upto < len(layers):
            return None, outputs
        # torchaudio's Transformer holds the flag inverted: its final norm applies to pre-LN models
        final = transformer.layer_norm(x) if not transformer.layer_norm_first else x
        return final, outputs


def build_front_end(checkpoint: str, expected: str, option: str, *, freeze: bool, gradient_checkpointing: bool,
                    dropout_overrides: Mapping[str, float] | None = None) -> SslFrontEnd:
    """The configured front-end with the user's weights; a clear error when none are given."""
    if not checkpoint:
        raise ConfigError(f"{option} is empty: give the pretrained weights the front-end starts from "
                          f"({'any supported architecture' if expected == FROM_CHECKPOINT else expected}), e.g. "
                          f"--set {option}=/path/xlsr2_300m.pt or a Hugging Face model directory; nothing is downloaded")
    model, architecture = load_front_end_model(Path(checkpoint).expanduser(), expected, option, dropout_overrides)
    return SslFrontEnd(model, architecture, freeze=freeze, gradient_checkpointing=gradient_checkpointing)


def preset_front_end(expected: str) -> SslFrontEnd:
    """An expected architecture's front-end on the meta device (shapes and parameter counts, no weights)."""
    if expected not in PRESETS:
        raise ConfigError(f"ssl_architecture={expected!r}: only {', '.join(PRESETS)} have a size without weights")
    model = preset_model(expected)
    kwargs = {"encoder_embed_dim": model.encoder.feature_projection.projection.out_features,
              "encoder_num_layers": len(model.encoder.transformer.layers)}
    return SslFrontEnd(model, SslArchitecture(PRESETS[expected][0], kwargs, source=f"torchaudio {PRESETS[expected][1]}"))
