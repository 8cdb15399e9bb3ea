"""Kaldi-compatible log mel filterbank front end shared by the speaker models,
the WeSpeaker VoxCeleb training recipes and results those models publish, and
their common spec.

The features reproduce ``torchaudio.compliance.kaldi.fbank`` as WeSpeaker calls
it (``wespeaker/dataset/processor.py``: waveform x 32768, 80 bins, 25 ms / 10 ms
frames, Hamming window, no energy, dither 1.0 while training and 0 when
extracting embeddings) followed by per-utterance mean normalisation.  torchaudio
works on one utterance at a time and rebuilds its mel matrix on every call, so
the same arithmetic is done here on a whole batch with the window and the mel
matrix computed once and kept as buffers.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
import torchaudio.compliance.kaldi as kaldi
from torch import nn

from benchsuite.api import Baseline, ModelSpec, Recipe, Task, TaskInfo, hookimpl

# WeSpeaker trains on random 200-frame chunks: 199 shifts of 160 samples plus one 400-sample window.
WESPEAKER_CHUNK_SAMPLES = 32240

# Kaldi floors mel energies at float32 machine epsilon before the log.
_LOG_FLOOR = torch.finfo(torch.float32).eps


class KaldiFbank(nn.Module):
    """``[batch, samples]`` float audio -> ``[batch, frames, num_mel_bins]`` log mel energies.

    Frames follow Kaldi's ``snip_edges=True`` rule (only whole windows); inputs
    shorter than one window are tiled up to one window so every utterance yields
    at least one frame.
    """

    def __init__(self, num_mel_bins: int = 80, sample_rate: int = 16000, frame_length_ms: float = 25.0,
                 frame_shift_ms: float = 10.0, dither: float = 1.0, input_scale: float = 32768.0,
                 preemphasis: float = 0.97, low_freq: float = 20.0, high_freq: float = 0.0,
                 mean_norm: bool = True) -> None:
        super().__init__()
        self.num_mel_bins = num_mel_bins
        self.window_size = int(sample_rate * frame_length_ms / 1000.0)
        self.window_shift = int(sample_rate * frame_shift_ms / 1000.0)
        self.fft_size = 1 << (self.window_size - 1).bit_length()
        self.dither = dither
        self.input_scale = input_scale
        self.preemphasis = preemphasis
        self.mean_norm = mean_norm
        mel_banks, _ = kaldi.get_mel_banks(num_mel_bins, self.fft_size, float(sample_rate), low_freq, high_freq,
                                           100.0, -500.0, 1.0)
        # torchaudio leaves out the Nyquist bin; its weight is zero
        mel_banks = torch.nn.functional.pad(mel_banks.float(), (0, 1))
        window = torch.hamming_window(self.window_size, periodic=False, alpha=0.54, beta=0.46)
        # not persistent: they are derived from the config, so checkpoints stay free of them
        self.register_buffer("mel_banks", mel_banks, persistent=False)
        self.register_buffer("window", window, persistent=False)

    def num_frames(self, num_samples: int) -> int:
        return 1 + (max(num_samples, self.window_size) - self.window_size) // self.window_shift

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise ValueError(f"KaldiFbank expects [batch, samples] audio, got shape {tuple(waveforms.shape)}")
        # the spectrum and the log need float32 even inside a mixed-precision step
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            signal = waveforms.float() * self.input_scale
            if signal.shape[1] < self.window_size:
                repeats = -(-self.window_size // signal.shape[1])
                signal = signal.repeat(1, repeats)[:, :self.window_size]
            frames = signal.unfold(1, self.window_size, self.window_shift)  # [batch, frames, window]
            if self.training and self.dither != 0.0:
                frames = frames + torch.randn_like(frames) * self.dither
            frames = frames - frames.mean(dim=-1, keepdim=True)
            # Kaldi pre-emphasis treats the sample before each frame's first as that first sample
            previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
            frames = (frames - self.preemphasis * previous) * self.window
            power = torch.fft.rfft(frames, n=self.fft_size).abs().pow(2.0)
            log_mel = torch.matmul(power, self.mel_banks.T).clamp_min(_LOG_FLOOR).log()
            if self.mean_norm:
                log_mel = log_mel - log_mel.mean(dim=1, keepdim=True)
        return log_mel


def wespeaker_recipes(**quick_changes: Any) -> dict[str, Recipe]:
    """The WeSpeaker VoxCeleb v2 recipe (``examples/voxceleb/v2/conf/{ecapa_tdnn,resnet,xvec}.yaml``)
    as ``paper``, a CPU-sized ``quick`` (``quick_changes`` adjust it per model), and
    plain-softmax ``:classify`` variants.

    Not expressible here and therefore absent from ``paper``: speed perturbation
    (x3 speakers), MUSAN/RIR augmentation (aug_prob 0.6), the 100-800 frame
    length filter, the lr scaling by world size (2 GPUs -> peak 0.4 instead of
    0.1), the per-iteration margin update and averaging the last 10 epochs
    (selection ``last`` is the nearest).
    """
    paper = Recipe(
        epochs=150, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=1e-4, momentum=0.9, nesterov=True,
        scheduler="exponential", lr_min=5e-5, warmup_epochs=6,
        loss="aam_softmax", margin=0.2, scale=32.0, margin_ramp_epochs=(20, 40),
        crop_samples=WESPEAKER_CHUNK_SAMPLES, train_crop="random", eval_crop="full",
        selection="last", score_norm="none", asnorm_top_n=300,
    )
    # A CPU cell on the synthetic corpus: 1 s crops and a few hundred utterances.  Adam
    # reached a lower EER than SGD in 4 epochs on synthetic speakers (provisional), and
    # the margin ramps in over the short run instead of waiting for epoch 20.
    quick = paper.replace(
        epochs=4, batch_size=32, optimizer="adam", lr=1e-3, lr_min=1e-4, warmup_epochs=1,
        margin_ramp_epochs=(2, 4), crop_samples=16000, max_train_utterances=400, max_dev_utterances=200,
        max_eval_utterances=300,
    ).replace(**quick_changes)
    paper_classify = paper.replace(loss="ce", margin_ramp_epochs=None, selection="dev_accuracy")
    quick_classify = quick.replace(loss="ce", margin_ramp_epochs=None, selection="dev_accuracy")
    return {"paper": paper, "quick": quick, "paper:classify": paper_classify, "quick:classify": quick_classify}


WESPEAKER_VOXCELEB_README = "wenet-e2e/wespeaker:examples/voxceleb/v2/README.md"


def voxceleb1_eer_baseline(system: str, eer_percent: float, source: str, year: int | None, model: str,
                           **conditions: str) -> Baseline:
    """A published VoxCeleb1-O (cleaned list) EER of a system trained on VoxCeleb2-dev."""
    return Baseline(system=system, dataset="voxceleb1", split="eval", metric="eer", value=eer_percent / 100.0,
                    source=source, year=year, model=model,
                    conditions={"trials": "O-clean", "training_data": "VoxCeleb2-dev", **conditions})


def wespeaker_baseline(system: str, eer_percent: float, model: str, *, asnorm: bool,
                       **conditions: str) -> Baseline:
    """A row of the WeSpeaker VoxCeleb v2 results table (no large-margin fine-tuning, no QMF)."""
    norm = {"score_norm": "asnorm", "asnorm_top_n": "300"} if asnorm else {"score_norm": "none"}
    return voxceleb1_eer_baseline(
        system + (" + AS-Norm" if asnorm else ""), eer_percent, WESPEAKER_VOXCELEB_README, None, model,
        scoring="cosine after subtracting the VoxCeleb2-dev mean embedding",
        selection="average of the last 10 epochs", **norm, **conditions)


def speaker_embedding_spec(name: str, module_class: Callable[[Any], Any], config_class: type,
                           recipes: Mapping[str, Recipe], description: str, paper: str,
                           convert_checkpoint: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> ModelSpec:
    """A speaker embedding extractor ``module_class(config)``: verify and classify, an embedding output
    on which the trainer builds the task's head, and a converter for the toolkit's released weights."""

    def build(config: Any, task_info: TaskInfo) -> Any:
        return module_class(config if config is not None else config_class())

    return ModelSpec(name=name, tasks=(Task.VERIFY, Task.CLASSIFY), build=build, config_class=config_class,
                     recipes=recipes, description=description, output="embedding", paper=paper,
                     convert_checkpoint=convert_checkpoint)


def registration_hooks(specs: Sequence[ModelSpec], baselines: Sequence[Baseline]
                       ) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """The model and baseline hook implementations of a plugin module that registers ``specs`` and
    ``baselines``; the module binds them to the hook names."""

    @hookimpl
    def benchsuite_register_models(register: Callable[[ModelSpec], None]) -> None:
        for spec in specs:
            register(spec)

    @hookimpl
    def benchsuite_register_baselines(register: Callable[[Baseline], None]) -> None:
        for baseline in baselines:
            register(baseline)

    return benchsuite_register_models, benchsuite_register_baselines
