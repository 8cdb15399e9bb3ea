"""``benchsuite predict``: score audio files with a trained spoofing countermeasure.

    benchsuite predict --model aasist --checkpoint best.pt [--set field=value] [--json] AUDIO...

The checkpoint is either one written by the trainer (``{"model_state": ...,
"model": name, "model_config": {...}}``) or a plain state dict such as the
authors' released weights (mapped through the model's ``convert_checkpoint``).
Each file gets the model's evaluation input policy, i.e. the ``paper`` recipe's
``eval_crop`` and ``crop_samples`` (for the raw-waveform models: the first
64,600 samples, repeated when shorter).  Files that cannot be scored are
reported one by one on stderr and the rest are still scored; the exit code is 1
when any file failed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import click
import numpy as np

from benchsuite.contract import BenchsuiteError, ConfigError, DataError, ModelSpec, Recipe, Task, TaskInfo

# output entries are (file, score, logits)
Prediction = tuple[str, float, list[float]]


@click.command("predict")
@click.option("--model", "model_name", required=True, help="Registered model name, e.g. aasist.")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A benchsuite checkpoint (best.pt) or a plain state dict (e.g. released weights).")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Model config field (e.g. fusion=add) or eval recipe field (crop_samples, eval_crop). Repeatable.")
@click.option("--profile", default="paper", show_default=True, help="Recipe whose eval input policy is used.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Files scored together (fixed-length crops only).")
@click.option("--json", "as_json", is_flag=True, help='Print [{"file", "score", "logits"}] as JSON.')
@click.argument("audio", nargs=-1, required=True)
@click.pass_context
def predict(ctx: click.Context, model_name: str, checkpoint: Path, overrides: tuple[str, ...], profile: str,
            device: str, batch_size: int, as_json: bool, audio: tuple[str, ...]) -> None:
    """Score AUDIO files (WAV/FLAC, mono; other sample rates are resampled) with a trained
    countermeasure; higher = bona fide."""
    from benchsuite.plugins.registry import get_registry
    from benchsuite.training.device import resolve_device

    spec = get_registry().models.get(model_name).spec
    if Task.SPOOF not in spec.tasks:
        raise ConfigError(f"benchsuite predict scores spoofing countermeasures; model {model_name!r} supports "
                          f"{', '.join(str(t) for t in spec.tasks)}")
    state = load_checkpoint_file(checkpoint)
    recipe, config = resolve_config(spec, state, overrides, profile)
    model = build_scoring_model(spec, config, state, checkpoint)
    torch_device = resolve_device(device)

    predictions, failures = score_files(model, list(audio), recipe, torch_device, batch_size)
    if as_json:
        click.echo(json.dumps([{"file": f, "score": s, "logits": logits} for f, s, logits in predictions], indent=1))
    else:
        for file, score, _logits in predictions:
            click.echo(f"{file} {score:.6f}")
    for file, message in failures:
        click.echo(f"error: {message}", err=True)
    if failures:
        click.echo(f"error: {len(failures)} of {len(audio)} file(s) could not be scored", err=True)
        ctx.exit(1)


# --------------------------------------------------------------------------- model


def load_checkpoint_file(path: Path) -> dict[str, Any]:
    """Tensors-only unpickling (``weights_only``): a checkpoint cannot run code when loaded."""
    from benchsuite.training.checkpoints import read_weights_file

    return read_weights_file(path)


def _is_benchsuite_checkpoint(state: Mapping[str, Any]) -> bool:
    from benchsuite.training.checkpoints import is_benchsuite_checkpoint

    return is_benchsuite_checkpoint(state)


def resolve_config(spec: ModelSpec, state: Mapping[str, Any], overrides: Sequence[str],
                   profile: str) -> tuple[Recipe, Any]:
    """The eval recipe and model config: the checkpoint's stored config (ours) or the
    defaults (plain state dicts), then ``--set`` overrides.  ``--set`` accepts
    ``field=value`` as well as the ``run`` forms ``model.<name>.field=value`` and
    ``recipe.field=value``."""
    from benchsuite.planning.options import apply_model_overrides, config_from_plain, parse_override

    recipe = spec.recipe(profile, Task.SPOOF)
    if _is_benchsuite_checkpoint(state):
        stored = state.get("model")
        if stored is not None and stored != spec.name:
            raise ConfigError(f"--checkpoint holds a {stored!r} model, not {spec.name!r} (use --model {stored})")
        config = config_from_plain(spec.config_class, state.get("model_config") or {})
    else:
        config = spec.config_class()
    parsed = []
    for text in overrides:
        key = text.split("=", 1)[0]
        parsed.append(parse_override(text if "." in key else f"model.{spec.name}.{text}"))
    recipe, config = apply_model_overrides(spec.name, recipe, config, parsed)
    if recipe.eval_crop not in ("first", "full", "chunked"):
        raise ConfigError(f"eval_crop={recipe.eval_crop!r}: predict needs a deterministic input policy "
                          f"(first, full or chunked)")
    return recipe, config


def build_scoring_model(spec: ModelSpec, config: Any, state: Mapping[str, Any], checkpoint: Path) -> Any:
    """Build the model and load the weights strictly (a partial load would score with random weights)."""
    import torch

    from benchsuite.training.checkpoints import load_weights_strictly

    model = spec.build(config, TaskInfo(Task.SPOOF))
    load_weights_strictly(spec, model, state, checkpoint)
    if isinstance(model, torch.nn.Module):
        model.eval()
    return model


# --------------------------------------------------------------------------- scoring


def prepare_waveform(path: str, recipe: Recipe, sample_rate: int = 16000) -> np.ndarray:
    """Read one file under the eval input policy; raises DataError naming the file."""
    import soundfile

    from benchsuite.common.audio import crop, read_audio

    try:
        channels = soundfile.info(path).channels
    except Exception as exc:
        if not Path(path).exists():
            raise DataError(f"{path}: no such file") from exc
        raise DataError(f"{path}: cannot read audio ({exc})") from exc
    if channels > 1:
        raise DataError(f"{path}: {channels} channels; benchsuite predict scores mono audio only "
                        f"(downmix or extract one channel first)")
    return crop(read_audio(path, sample_rate), recipe.crop_samples, recipe.eval_crop)


def score_files(model: Any, files: Sequence[str], recipe: Recipe, device: Any,
                batch_size: int) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Score every readable file; returns (predictions in input order, (file, error) pairs)."""
    import torch

    from benchsuite.scoring.inference import output_scores
    from benchsuite.training.loop import is_estimator

    estimator = is_estimator(model)
    if not estimator:
        model.to(device)
    fixed_length = recipe.eval_crop == "first"
    batch_size = batch_size if fixed_length else 1  # whole files have different lengths

    predictions: list[Prediction] = []
    failures: list[tuple[str, str]] = []
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        names = [name for name, _ in pending]
        try:
            with torch.inference_mode():
                if estimator:
                    waves = [torch.from_numpy(w) for _, w in pending]
                    outputs = torch.as_tensor(np.asarray(model.score(waves)), dtype=torch.float32).reshape(-1, 1)
                else:
                    waves = torch.from_numpy(np.stack([w for _, w in pending])).to(device)
                    outputs = model(waves).float().cpu()
        except BenchsuiteError as exc:
            failures.extend((name, f"{name}: {exc}") for name in names)
        else:
            scores = output_scores(outputs, Task.SPOOF)
            for row, name in enumerate(names):
                predictions.append((name, float(scores[row]), [float(v) for v in outputs[row]]))
        pending.clear()

    for path in files:
        try:
            pending.append((path, prepare_waveform(path, recipe)))
        except DataError as exc:
            failures.append((path, str(exc)))
            continue
        if len(pending) >= batch_size:
            flush()
    flush()
    order = {path: i for i, path in enumerate(files)}
    predictions.sort(key=lambda p: order[p[0]])
    return predictions, failures
