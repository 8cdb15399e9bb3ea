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

from benchsuite.api import Baseline, Deviation, ModelSpec, Recipe, Task, TaskInfo, hookimpl

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


_WESPEAKER = "wenet-e2e/wespeaker"
_V2 = f"{_WESPEAKER} examples/voxceleb/v2"
_CONF = f"{_V2}/conf/ecapa_tdnn.yaml"  # resnet.yaml and xvec.yaml set the same values


def wespeaker_recipes(**quick_changes: Any) -> dict[str, Recipe]:
    """The WeSpeaker VoxCeleb v2 recipe (``examples/voxceleb/v2/conf/{ecapa_tdnn,resnet,xvec}.yaml``, run with
    ``run.sh``'s two GPUs) as ``paper``, a CPU-sized ``quick`` (``quick_changes`` adjust it per model), and
    plain-softmax ``:classify`` variants.  What is not reproduced is in the paper recipe's deviations."""
    paper = Recipe(
        epochs=150, batch_size=256, optimizer="sgd", lr=0.1, weight_decay=1e-4, momentum=0.9, nesterov=True,
        scheduler="exponential_warmup_product", lr_min=5e-5, warmup_epochs=6, lr_scaling="batch_over_64",
        loss="aam_softmax", margin=0.2, scale=32.0, margin_ramp_epochs=(20, 40),
        crop_samples=WESPEAKER_CHUNK_SAMPLES, train_crop="random", eval_crop="full",
        selection="last", averaging="last_n", average_epochs=10, score_norm="none", asnorm_top_n=300,
        augmentations=("speed",),
        sources={
            "epochs": f"{_CONF}:9 num_epochs 150",
            "batch_size": f"{_CONF}:14 batch_size 128 per GPU x {_V2}/run.sh:23 gpus \"[0,1]\" = 256 a step",
            "optimizer": f"{_CONF}:72-75 SGD, momentum 0.9, nesterov",
            "momentum": f"{_CONF}:74 momentum 0.9",
            "nesterov": f"{_CONF}:75 nesterov True",
            "weight_decay": f"{_CONF}:76 weight_decay 0.0001",
            "lr": f"{_CONF}:80 initial_lr 0.1",
            "lr_min": f"{_CONF}:81 final_lr 0.00005",
            "warmup_epochs": f"{_CONF}:82-83 warm_up_epoch 6, warm_from_zero True",
            "scheduler": f"{_CONF}:78 ExponentialDecrease; {_WESPEAKER} wespeaker/utils/schedulers.py:275-284,"
                         f"331-336 (decay from iteration 0, warm-up factor multiplied on top)",
            "lr_scaling": f"{_WESPEAKER} wespeaker/bin/train.py:201-204 scale_ratio = world_size * batch_size / 64",
            "loss": f"{_CONF}:55-58,69 arc_margin projection, CrossEntropyLoss",
            "margin": f"{_CONF}:63 final_margin 0.2",
            "scale": f"{_CONF}:57 scale 32.0",
            "margin_ramp_epochs": f"{_CONF}:64-65 increase_start_epoch 20, fix_start_epoch 40",
            "crop_samples": f"{_CONF}:33 num_frms 200 (200 frames of 25 ms / 10 ms = 32,240 samples)",
            "selection": f"{_V2}/run.sh:80-88 the averaged model, no dev selection",
            "eval_crop": f"{_WESPEAKER} wespeaker/bin/extract.py:39,95 batch_size 1 -> whole_utt: whole utterances",
            "averaging": f"{_V2}/run.sh:83-86 average_model.py --num 10; "
                         f"{_WESPEAKER} wespeaker/bin/average_model.py:53-56 the last num files",
            "average_epochs": f"{_CONF}:5 num_avg 10",
            "augmentations": f"{_CONF}:32 speed_perturb True; {_WESPEAKER} wespeaker/dataset/processor.py:263-286",
        },
        deviations=(
            Deviation(
                name="speed-perturbed-speakers-not-new-classes",
                what="WeSpeaker makes each speed of a speaker a class of its own (label + num_spks x speed "
                     "index, three times the speakers); benchsuite keeps the speaker's label",
                why="an augmentation changes audio, not labels, here; class expansion is not in the trainer",
                reference=f"{_WESPEAKER} wespeaker/dataset/processor.py:279-286",
                fields=("augmentations",)),
            Deviation(
                name="speed-perturbation-after-crop",
                what="WeSpeaker perturbs the whole utterance before cutting its 200-frame chunk; benchsuite "
                     "perturbs the chunk and refits it to its length (a 1.1x chunk ends with its own start)",
                why="augmentations run on the training crop",
                reference=f"{_WESPEAKER} wespeaker/dataset/dataset.py:224-243 (speed_perturb, then random_chunk)",
                fields=("augmentations",)),
            Deviation(
                name="no-musan-rir-without-user-data",
                what="WeSpeaker adds, with probability 0.6, either reverberation (RIRS) or MUSAN noise; the paper "
                     "recipe leaves it out because both corpora are the user's.  With them: --set "
                     "'model.NAME.augmentations=[speed,reverb_or_noise]' --set 'model.NAME.augmentation_options="
                     "{reverb_or_noise: {rir_list: RIRS.txt, noise_wav_list: NOISE.txt, music_wav_list: MUSIC.txt, "
                     "speech_wav_list: SPEECH.txt}}' (its reverberation is aligned on the direct path and keeps "
                     "the energy, where WeSpeaker keeps the convolution's first samples)",
                why="MUSAN and the RIR corpus cannot be shipped or downloaded here",
                reference=f"{_CONF}:34 aug_prob 0.6; {_WESPEAKER} wespeaker/dataset/processor.py:421-486; "
                          f"{_V2}/run.sh:75-76",
                fields=("augmentations",)),
            Deviation(
                name="no-frame-length-filter",
                what="WeSpeaker drops training utterances shorter than 100 or longer than 800 frames; "
                     "benchsuite trains on every utterance",
                why="no utterance-length filter in the data pipeline yet",
                reference=f"{_CONF}:27-30 filter_args min_num_frames 100, max_num_frames 800"),
        ),
    )
    # A CPU cell on the synthetic corpus: 1 s crops and a few hundred utterances.  Adam
    # reached a lower EER than SGD in 4 epochs on synthetic speakers (provisional), and
    # the margin ramps in over the short run instead of waiting for epoch 20.  The schedule,
    # augmentation and batch fields the paper recipe gained later keep their former quick values,
    # so stored quick cells keep their ids.
    quick = paper.with_added_defaults(
        epochs=4, batch_size=32, optimizer="adam", lr=1e-3, lr_min=1e-4, warmup_epochs=1, scheduler="exponential",
        augmentations=(), margin_ramp_epochs=(2, 4), crop_samples=16000, max_train_utterances=400,
        max_dev_utterances=200, max_eval_utterances=300,
    ).replace(**quick_changes)
    # classification is benchsuite's use of these encoders (WeSpeaker has no such recipe): the dev-selected
    # epoch, not an average that would override the selection
    paper_classify = paper.replace(loss="ce", margin_ramp_epochs=None, selection="dev_accuracy", averaging="none")
    quick_classify = quick.replace(loss="ce", margin_ramp_epochs=None, selection="dev_accuracy")
    return {"paper": paper, "quick": quick, "paper:classify": paper_classify, "quick:classify": quick_classify}


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


def registration_hooks(specs: Sequence[ModelSpec], register_baselines: Callable[[Callable[[Baseline], None]], None]
                       ) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """The model and baseline hook implementations of a plugin module that registers ``specs`` and the
    published numbers ``register_baselines`` registers (kept in ``_published``, importable without torch);
    the module binds them to the hook names."""

    @hookimpl
    def benchsuite_register_models(register: Callable[[ModelSpec], None]) -> None:
        for spec in specs:
            register(spec)

    @hookimpl
    def benchsuite_register_baselines(register: Callable[[Baseline], None]) -> None:
        register_baselines(register)

    return benchsuite_register_models, benchsuite_register_baselines
