"""VGGish + LSTM utterance classifier (a house system of the utterance-classification logs).

VGGish is the AudioSet embedding network of Hershey et al., "CNN Architectures for
Large-Scale Audio Classification", ICASSP 2017, as the authors define it in
``tensorflow/models:research/audioset/vggish/vggish_slim.py`` (the architecture) and
``vggish_params.py`` / ``vggish_input.py`` / ``mel_features.py`` (the input):

- log-mel input: 25 ms windows (400 samples) every 10 ms (160), periodic Hann window,
  |FFT| over 512 points (magnitude, not power), 64 HTK-mel bands (``1127 ln(1 + f/700)``)
  from 125 to 7,500 Hz with the DC bin excluded, ``log(mel + 0.01)``; only whole
  windows (no padding);
- patches of 96 frames x 64 bands (0.96 s), hop 96 frames (no overlap);
- conv 3x3 (SAME, stride 1, ReLU) 64, max-pool 2x2, 128, pool, 256, 256, pool, 512,
  512, pool; flatten; two fully connected layers of 4,096 (ReLU) and a 128-dim
  embedding layer with no activation (``fc2``, ``activation_fn=None``).
  ``harritaylor/torchvggish:torchvggish/vggish.py``, the PyTorch port of the same
  weights, ends with a ReLU instead (``embedding_relu=True`` gives that variant).

Parameters of the VGGish part (72,141,184, the "72.1 M with its FC layers"):
conv 640 + 73,856 + 295,168 + 590,080 + 1,180,160 + 2,359,808 = 4,499,712; fully connected
(512 x 6 x 4 = 12,288 inputs) 50,335,744 + 16,781,312 + 524,416 = 67,641,472.

Here the utterance's patches go through VGGish one by one, the sequence of 128-dim
patch embeddings goes through an LSTM, the LSTM outputs are mean-pooled over time, and
an optional DNN head gives the embedding the trainer's linear head classifies.  VGGish
is trained from scratch (``vggish_init``: TF's initialiser or PyTorch's defaults), or
initialised from a user's VGGish checkpoint (``vggish_checkpoint``) and then trained on
(``freeze_vggish=False``) or frozen.  The checkpoint's path enters the cell identity, its
bytes do not: a file replaced under the same name is not noticed.

Checkpoint key mapping (``load_vggish_weights``): our VGGish is the module ``vggish``
with torchvggish's own layout, so a torchvggish state dict (``vggish-10086976.pth``,
or the state dict of its ``VGGish`` module, whose ``pproc.*`` PCA tensors are ignored)
maps by the prefix ``vggish.`` alone.  TF-converted weights use the TF variable names
(a ``.npz``, or a torch file, holding ``tf.train.load_checkpoint(...).get_tensor(name)``
for each name, with or without ``:0``), in TF layout::

    vggish/conv1/{weights,biases}            -> vggish.features.0.{weight,bias}
    vggish/conv2/...                         -> vggish.features.3
    vggish/conv3/conv3_1/..., conv3_2/...    -> vggish.features.6, vggish.features.8
    vggish/conv4/conv4_1/..., conv4_2/...    -> vggish.features.11, vggish.features.13
    vggish/fc1/fc1_1/..., fc1_2/...          -> vggish.embeddings.0, vggish.embeddings.2
    vggish/fc2/...                           -> vggish.embeddings.4

Conv kernels go from TF's ``[kh, kw, in, out]`` to ``[out, in, kh, kw]`` and fully
connected weights from ``[in, out]`` to ``[out, in]``.  The flatten before ``fc1``
follows TF's NHWC order (time, band, channel), as torchvggish does, so the ported
``fc1`` weights see the inputs they were trained on.

The recipe is the seed log's (``_house_recipes.py``): there is no published one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import torch
from torch import nn

from benchsuite.api import ConfigError, ModelSpec, Task, TaskInfo, hookimpl

from ._sequence import DnnNorm, dnn_head, make_lstm
from ._house_recipes import SEED_LOG_NOTE, SEED_LOG_PAPER, seed_log_quick

# vggish_params.py: SAMPLE_RATE, STFT_WINDOW_LENGTH_SECONDS 0.025, STFT_HOP_LENGTH_SECONDS 0.010
VGGISH_SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400
HOP_SAMPLES = 160
FFT_SIZE = 512  # mel_features.log_mel_spectrogram: the next power of two above the window
# the four VGG groups of vggish_slim.py: conv1, conv2, conv3 (x2), conv4 (x2), each followed by a pool
CONVS_PER_GROUP = (1, 1, 2, 2)
TORCHVGGISH_CONV_INDICES = (0, 3, 6, 8, 11, 13)  # torchvggish make_layers(): positions of the convs
TF_CONV_SCOPES = ("conv1", "conv2", "conv3/conv3_1", "conv3/conv3_2", "conv4/conv4_1", "conv4/conv4_2")
TF_FC_SCOPES = ("fc1/fc1_1", "fc1/fc1_2", "fc2")
VggishInit = Literal["tf", "torch"]


@dataclass
class VggishLstmConfig:
    # VGGish (vggish_slim.py; vggish_params.py NUM_FRAMES, NUM_BANDS, EMBEDDING_SIZE, MEL_MIN_HZ,
    # MEL_MAX_HZ, LOG_OFFSET, EXAMPLE_HOP_SECONDS)
    group_channels: tuple[int, int, int, int] = (64, 128, 256, 512)
    fc_units: tuple[int, ...] = (4096, 4096)
    embedding_size: int = 128
    embedding_relu: bool = False  # TF: no activation on the embedding; torchvggish: ReLU
    patch_frames: int = 96  # 0.96 s
    num_bands: int = 64
    patch_hop_frames: int = 96  # no overlap, as AudioSet's examples
    mel_min_hz: float = 125.0
    mel_max_hz: float = 7500.0
    log_offset: float = 0.01
    # where VGGish starts: "" = from scratch (TF's init: truncated normal, std 0.01; zero biases),
    # else a torchvggish or TF-converted checkpoint file
    vggish_checkpoint: str = ""
    freeze_vggish: bool = False  # keep VGGish fixed; only the LSTM and the head learn
    # from scratch: "tf" = vggish_slim.py's initialiser; "torch" = PyTorch's layer defaults
    # (what torchvggish's VGG gets without pretrained weights)
    vggish_init: VggishInit = "tf"
    # the back end over the patch embeddings
    lstm_hidden: int = 128
    lstm_layers: int = 1
    bidirectional: bool = False
    dnn_units: tuple[int, ...] = (128,)
    dnn_norm: DnnNorm = "none"
    dropout_rate: float = 0.3


def hz_to_htk_mel(hz: np.ndarray | float) -> np.ndarray:
    """mel_features.hertz_to_mel: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def vggish_mel_matrix(num_bands: int, min_hz: float, max_hz: float, sample_rate: int = VGGISH_SAMPLE_RATE,
                      fft_size: int = FFT_SIZE) -> np.ndarray:
    """``[fft_size // 2 + 1, num_bands]`` triangles on the HTK mel scale between ``num_bands + 2``
    equally spaced mel edges, evaluated at the linearly spaced bin frequencies; the DC bin gets
    zero weight (mel_features.spectrogram_to_mel_matrix)."""
    nyquist = sample_rate / 2
    if not 0.0 <= min_hz < max_hz <= nyquist:
        raise ConfigError(f"vggish: need 0 <= mel_min_hz < mel_max_hz <= {nyquist:g} Hz; got {min_hz}, {max_hz}")
    bins_mel = hz_to_htk_mel(np.linspace(0.0, nyquist, fft_size // 2 + 1))
    edges = np.linspace(hz_to_htk_mel(min_hz), hz_to_htk_mel(max_hz), num_bands + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    matrix = np.maximum(0.0, np.minimum(rising, falling))
    matrix[0, :] = 0.0
    return matrix


class VggishLogMel(nn.Module):
    """``[batch, samples]`` 16 kHz audio in [-1, 1] -> ``[batch, patches, patch_frames, num_bands]``.

    Inputs shorter than one patch (15,600 samples for 96 frames) are tiled up to one patch."""

    def __init__(self, config: VggishLstmConfig) -> None:
        super().__init__()
        self.patch_frames = config.patch_frames
        self.patch_hop = config.patch_hop_frames
        self.log_offset = config.log_offset
        self.min_samples = WINDOW_SAMPLES + (config.patch_frames - 1) * HOP_SAMPLES
        periodic_hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW_SAMPLES) / WINDOW_SAMPLES)
        mel = vggish_mel_matrix(config.num_bands, config.mel_min_hz, config.mel_max_hz)
        # derived from the config: not in the state dict
        self.register_buffer("window", torch.tensor(periodic_hann, dtype=torch.float32), persistent=False)
        self.register_buffer("mel", torch.tensor(mel, dtype=torch.float32), persistent=False)

    def log_mel(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[batch, frames, num_bands]``, whole windows only."""
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            frames = waveforms.float().unfold(1, WINDOW_SAMPLES, HOP_SAMPLES) * self.window
            magnitude = torch.fft.rfft(frames, n=FFT_SIZE).abs()
            return torch.log(magnitude @ self.mel + self.log_offset)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise ValueError(f"VGGish expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        if waveforms.shape[1] < self.min_samples:
            repeats = -(-self.min_samples // waveforms.shape[1])
            waveforms = waveforms.repeat(1, repeats)[:, :self.min_samples]
        return self.log_mel(waveforms).unfold(1, self.patch_frames, self.patch_hop).transpose(2, 3)


class Vggish(nn.Module):
    """``[n, 1, patch_frames, num_bands]`` log-mel patches -> ``[n, embedding_size]``, with
    torchvggish's module names (``features``, ``embeddings``)."""

    def __init__(self, config: VggishLstmConfig) -> None:
        super().__init__()
        if config.patch_frames % 16 or config.num_bands % 16:
            raise ConfigError(f"vggish: patch_frames and num_bands must be multiples of 16 (four 2x2 pools); "
                              f"got {config.patch_frames} x {config.num_bands}")
        layers: list[nn.Module] = []
        channels = 1
        for width, convs in zip(config.group_channels, CONVS_PER_GROUP):
            for _ in range(convs):
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        size = channels * (config.patch_frames // 16) * (config.num_bands // 16)
        fc: list[nn.Module] = []
        for units in config.fc_units:
            fc += [nn.Linear(size, units), nn.ReLU(inplace=True)]
            size = units
        fc.append(nn.Linear(size, config.embedding_size))
        if config.embedding_relu:
            fc.append(nn.ReLU(inplace=True))
        self.embeddings = nn.Sequential(*fc)
        if config.vggish_init not in ("tf", "torch"):
            raise ConfigError(f"vggish_init {config.vggish_init!r}: expected tf or torch")
        for module in self.modules() if config.vggish_init == "tf" else ():
            # vggish_slim.py: weights N(0, INIT_STDDEV = 0.01) truncated at 2 std, biases 0
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=0.01, a=-0.02, b=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        x = self.features(patches)  # [n, C, time, bands]
        # TF flattens NHWC: (time, band, channel), which the ported fc1 weights expect
        return self.embeddings(x.permute(0, 2, 3, 1).flatten(1))


class VggishLstm(nn.Module):
    """Raw 16 kHz audio ``[batch, samples]`` -> utterance embedding ``[batch, D]``."""

    def __init__(self, config: VggishLstmConfig) -> None:
        super().__init__()
        self.config = config
        self.frontend = VggishLogMel(config)
        self.vggish = Vggish(config)
        if config.vggish_checkpoint:
            load_vggish_weights(self.vggish, read_checkpoint(Path(config.vggish_checkpoint)),
                                source=config.vggish_checkpoint)
        if config.freeze_vggish:
            self.vggish.requires_grad_(False)
        self.lstm = make_lstm(config.embedding_size, config.lstm_hidden, config.lstm_layers, config.bidirectional,
                              config.dropout_rate)
        size = config.lstm_hidden * (2 if config.bidirectional else 1)
        self.dnn = dnn_head(size, tuple(config.dnn_units), config.dnn_norm, config.dropout_rate)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        patches = self.frontend(waveforms)  # [batch, patches, frames, bands]
        batch, count = patches.shape[:2]
        embedded = self.vggish(patches.reshape(batch * count, 1, *patches.shape[2:]))
        sequence, _ = self.lstm(embedded.reshape(batch, count, -1))
        return self.dnn(sequence.mean(dim=1))


# --------------------------------------------------------------------------- checkpoints


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A VGGish checkpoint file as ``name -> tensor``: ``.npz`` (TF variable names), or a torch
    file holding a state dict (optionally under ``state_dict``)."""
    if not path.is_file():
        raise ConfigError(f"vggish_checkpoint {str(path)!r}: no such file")
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            return {name: torch.from_numpy(np.array(arrays[name])) for name in arrays.files}
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ConfigError(f"vggish_checkpoint {str(path)!r}: not a torch state dict or .npz file ({error})") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ConfigError(f"vggish_checkpoint {str(path)!r}: expected a state dict, found {type(state).__name__}")
    return {str(k): torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
            for k, v in state.items()}


def tf_to_torchvggish_names() -> dict[str, tuple[str, str]]:
    """TF variable name -> (torchvggish state-dict name, layout) for the standard VGGish."""
    names: dict[str, tuple[str, str]] = {}
    for scope, index in zip(TF_CONV_SCOPES, TORCHVGGISH_CONV_INDICES):
        names[f"vggish/{scope}/weights"] = (f"features.{index}.weight", "conv")
        names[f"vggish/{scope}/biases"] = (f"features.{index}.bias", "bias")
    for scope, index in zip(TF_FC_SCOPES, (0, 2, 4)):
        names[f"vggish/{scope}/weights"] = (f"embeddings.{index}.weight", "fc")
        names[f"vggish/{scope}/biases"] = (f"embeddings.{index}.bias", "bias")
    return names


def to_torchvggish_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A torchvggish or TF-named VGGish state dict in torchvggish names and layout.  torchvggish's
    ``pproc.*`` (PCA post-processing, not part of the network) and a DataParallel ``module.``
    prefix are dropped; TF weights are transposed to torch's layout."""
    plain = {name.removeprefix("module.").removesuffix(":0"): value for name, value in state.items()
             if not name.removeprefix("module.").startswith("pproc.")}
    if not any(name.startswith("vggish/") for name in plain):
        return {name.removeprefix("vggish."): value for name, value in plain.items()}
    mapping = tf_to_torchvggish_names()
    out = {}
    for name, value in plain.items():
        if name not in mapping:
            continue  # optimiser slots, global_step, ... of a TF checkpoint
        target, layout = mapping[name]
        out[target] = (value.permute(3, 2, 0, 1) if layout == "conv" else value.T if layout == "fc" else value)
    return out


def load_vggish_weights(vggish: Vggish, state: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Load a torchvggish / TF-converted checkpoint into ``vggish``; one clear error on a mismatch."""
    converted = to_torchvggish_state(state)
    expected = vggish.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    if missing or unexpected:
        raise ConfigError(f"vggish_checkpoint {source!r}: not a VGGish checkpoint of this shape; missing "
                          f"{missing[:6]}{' ...' if len(missing) > 6 else ''}, unexpected "
                          f"{unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}")
    wrong = [f"{k} {tuple(converted[k].shape)} (model {tuple(v.shape)})" for k, v in expected.items()
             if tuple(converted[k].shape) != tuple(v.shape)]
    if wrong:
        raise ConfigError(f"vggish_checkpoint {source!r}: shapes differ from the configured VGGish: "
                          f"{'; '.join(wrong[:4])}")
    vggish.load_state_dict({k: v.float() for k, v in converted.items()}, strict=True)


# --------------------------------------------------------------------------- spec


def build(config: VggishLstmConfig | None, task_info: TaskInfo) -> VggishLstm:
    if task_info.sample_rate != VGGISH_SAMPLE_RATE:
        raise ConfigError(f"vggish-lstm: VGGish's log-mel input is defined at 16 kHz; the data is at "
                          f"{task_info.sample_rate} Hz")
    return VggishLstm(config or VggishLstmConfig())


def count_parameters(config: VggishLstmConfig) -> int:
    """Counted on the meta device: the 72 M parameters are never allocated (nor a checkpoint read)."""
    with torch.device("meta"):
        model = VggishLstm(_without_checkpoint(config))
    return sum(p.numel() for p in model.parameters())


def _without_checkpoint(config: VggishLstmConfig) -> VggishLstmConfig:
    from dataclasses import replace

    return replace(config, vggish_checkpoint="")


# Quick: the seed log's recipe shortened; 3 s crops give 3 patches for the LSTM.
SPEC = ModelSpec(
    name="vggish-lstm",
    tasks=(Task.CLASSIFY,),
    build=build,
    config_class=VggishLstmConfig,
    recipes={"paper": SEED_LOG_PAPER, "quick": seed_log_quick(crop_samples=48000)},
    description="VGGish (AudioSet; 96x64 log-mel patches of 0.96 s, 72.1 M parameters with its FC layers) per "
                f"patch, LSTM (128) over the patch embeddings, mean pooling, DNN 128; {SEED_LOG_NOTE}",
    output="embedding",
    paper="Hershey et al., CNN Architectures for Large-Scale Audio Classification, ICASSP 2017 (VGGish)",
    count_parameters=count_parameters,
)


@hookimpl
def benchsuite_register_models(register) -> None:
    register(SPEC)
