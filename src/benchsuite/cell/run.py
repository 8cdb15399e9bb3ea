"""One cell: (dataset, model, seed) -> its directory.

A cell's only input is its resolved config (a :class:`CellConfig`) and its only output
is its directory, so it can run in this process, a worker process or on
another machine that shares the output directory.
"""
from __future__ import annotations

import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from benchsuite.training import distributed
from benchsuite.contract import RandomStreams
from benchsuite.contract import CellFailure, ConfigError, DataError, Dataset, Recipe, SplitData, Task, TaskInfo
from benchsuite.planning.options import DEFAULT_AUDIO_CACHE_BUDGET_GB, config_from_plain, recipe_from_plain
from benchsuite.training.audio_cache import DecodedAudioCache
from benchsuite.training.data import (WaveformDataset, audio_cache_key, audio_source, decoded_cache_dir, eval_batch_size,
                                      every_nth_of_class, labels_for, make_loader, subset)
from benchsuite.training.data_knobs import DataKnobs, per_speaker
from benchsuite.scoring.metrics import compute_metrics, selection_metric
from benchsuite.scoring.inference import embeddings
from benchsuite.cell.results import describe_identity, failed_result
from benchsuite.cell.tasks import Scoring, TrainingReference, strategy_for
from benchsuite.planning.cell_config import CellConfig
from benchsuite.planning.plan import open_dataset
from benchsuite.common.progress import Progress
from benchsuite.common.provenance import command_line, now_iso, provenance
from benchsuite.plugins.registry import Registry, get_registry
from benchsuite.cell.directory import CellDirectories, running_elsewhere
from benchsuite.training.checkpoints import BEST, load_checkpoint
from benchsuite.training.device import autocast_dtype, peak_memory_mb, resolve_device
from benchsuite.training.loading import choose_audio_cache, resolve_loader_settings
from benchsuite.training.loop import EstimatorTrainer, Trainer, TrainSummary, is_estimator
from benchsuite.training.optim import make_loss
from benchsuite.training.seeding import configure_determinism, seed_everything

SCORES = "scores.txt"
DEV_SCORES = "dev_scores.txt"
REFERENCE_PER_SPEAKER = 20  # training utterances per speaker for the scoring mean and AS-Norm cohort
RUNTIME_SETTINGS = "_runtime_settings"  # how the cell ran (loader, kernels, cache), moved into provenance


def run_cell(config: CellConfig | Mapping[str, Any], out_root: Path, *, progress: Progress | None = None,
             position: int = 1, total: int = 1, registry: Registry | None = None) -> dict[str, Any]:
    """Run (or resume) one cell and write its result.  Returns the result dict.
    A finished cell is returned as stored; a failed one is retried.  Rank 0 holds the cell's
    lease while it runs; a cell whose lease another live process holds is left to it and
    returned as ``{"status": "running", "held_by": ...}`` (nothing written)."""
    progress = progress or Progress()
    if not distributed.current().is_main:
        return _run_cell(config, out_root, progress=progress, position=position, total=total, registry=registry)
    config = CellConfig.coerce(config)
    cell_id = config.cell_id
    with CellDirectories(out_root).cell_lease(cell_id) as holder:
        if holder is not None:
            progress.message(f"skipping {cell_id}: another run is training it ({holder})")
            return running_elsewhere(cell_id, holder)
        return _run_cell(config, out_root, progress=progress, position=position, total=total, registry=registry)


def _run_cell(config: CellConfig, out_root: Path, *, progress: Progress, position: int, total: int,
              registry: Registry | None) -> dict[str, Any]:
    store = CellDirectories(out_root)
    config = CellConfig.coerce(config)
    identity = config.identity
    cell_id = config.cell_id
    previous = store.read_result(cell_id)
    if previous is not None and previous.get("status") == "done":
        return previous
    if not distributed.current().is_main:
        return _run_other_rank(config, store.cell_dir(cell_id), registry, progress)
    progress.start_cell(config.label, position, total)
    if previous is not None:
        # keep the failed (or unreadable) attempt for the record, then try again from the last checkpoint
        store.set_aside_result(cell_id, previous)
        progress.message(f"retrying; the previous attempt failed: {previous.get('error', {}).get('message', '?')}")
    store.write_config(cell_id, config.to_plain())
    start, started = now_iso(), time.monotonic()
    device = None
    body: dict[str, Any]
    try:
        registry = registry or get_registry()
        device = resolve_device(config.runtime.device)
        if device.type == "cuda":  # the peak of this cell, not of cells before it in this process
            torch.cuda.reset_peak_memory_stats(device)
        body = _execute(config, store.cell_dir(cell_id), registry, device, progress)
        body["status"] = "done"
        body["error"] = None
    except KeyboardInterrupt:
        progress.message("interrupted; the next identical run resumes from the last checkpoint")
        raise
    except Exception as exc:  # any failure becomes the cell's stored result; the matrix goes on
        body = failed_result(identity, type(exc).__name__, str(exc) or type(exc).__name__, traceback.format_exc())
    settings = body.pop(RUNTIME_SETTINGS, None)
    result = {
        **body,
        "provenance": provenance(
            device or "unknown", start, now_iso(), time.monotonic() - started,
            peak_memory_mb(device) if device is not None else None,
            config.runtime.command or command_line(), identity.plugin_tags(), identity.precision,
        ),
    }
    if settings is not None:
        result["provenance"]["runtime_settings"] = settings
    ranks = distributed.current()
    if ranks.active:
        result["provenance"]["distributed"] = ranks.describe(recipe_from_plain(identity.recipe).batch_size
                                                             // ranks.world_size)
    if config.sweep:
        result["sweep"] = config.sweep  # the axis values, beside the identity (planning.sweeps)
    store.write_result(cell_id, result)
    if result["status"] == "done":
        progress.end_cell("done: " + _headline(result))
    else:
        progress.end_cell(f"FAILED: {result['error']['message']}")
    return {"schema_version": 1, "cell_id": cell_id, **result}


def _run_other_rank(config: CellConfig, cell_dir: Path, registry: Registry | None,
                    progress: Progress) -> dict[str, Any]:
    """A data-parallel rank > 0: trains its share of every batch and writes
    nothing (rank 0 records the result, a failure included)."""
    cell_id = cell_dir.name
    status = "done"
    try:
        _execute(config, cell_dir, registry or get_registry(),
                 resolve_device(config.runtime.device), progress)
    except CellFailure:
        status = "failed"  # every rank sees the same global loss, so rank 0 stores this failure
    return {"cell_id": cell_id, "status": status, "rank": distributed.current().rank}


def _headline(result: dict[str, Any]) -> str:
    values = result.get("metrics", {}).get("eval", {})
    info = result.get("metric_info", {})
    parts = []
    # the metric plugins register their headline metric first: the progress line follows their order
    keys = sorted(values, key=lambda k: info.get(k, {}).get("order", len(info)))
    for key, value in ((k, values[k]) for k in keys[:4]):
        if value is None:
            continue
        shown = f"{100 * value:.2f}%" if info.get(key, {}).get("percent") else f"{value:.4f}"
        parts.append(f"{info.get(key, {}).get('label', key)} {shown}")
    return ", ".join(parts) or "no metric values"


def _eval_split_name(dataset: Dataset) -> str:
    names = dataset.split_names()
    for candidate in ("eval", "test"):
        if candidate in names:
            return candidate
    return names[-1]


class _Cell:
    """The state of one cell while it runs."""

    def __init__(self, config: CellConfig, cell_dir: Path, registry: Registry, device: torch.device,
                 progress: Progress):
        ident, runtime = config.identity, config.runtime
        self.ident, self.runtime = ident, runtime
        # the recipe's deviations from the authors' code, resolved at planning (not part of the identity)
        self.fidelity = config.fidelity or {"faithful": None, "deviations": []}
        self.cell_dir = cell_dir
        self.registry = registry
        self.device = device
        self.progress = progress
        self.task = Task(ident.task)
        self.strategy = strategy_for(self.task)
        self.seed = int(ident.seed)
        self.recipe: Recipe = recipe_from_plain(ident.recipe)
        self.model_reg = registry.models.get(ident.model)
        self.spec = self.model_reg.spec
        self.model_config = config_from_plain(self.spec.config_class, ident.model_config)
        data = runtime.data
        self.eval_dataset = open_dataset(registry.datasets.get(ident.dataset).spec, data[ident.dataset])
        self.train_dataset = (self.eval_dataset if ident.train_dataset == ident.dataset else
                              open_dataset(registry.datasets.get(ident.train_dataset).spec, data[ident.train_dataset]))
        self.autocast = autocast_dtype(ident.precision)
        self.loading = resolve_loader_settings(runtime.to_plain(), device)
        self.audio_cache_choices: dict[str, str] = {}  # split -> whether the cache was used, and why
        self._cache_decisions: dict[tuple[str, int], tuple[bool, str]] = {}
        self.knobs: DataKnobs | None = None  # set from the training split in run()

    # ---------------------------------------------------------------- data

    def splits(self) -> tuple[SplitData, SplitData | None, SplitData]:
        recipe = self.recipe
        train = self.train_dataset.load_split("train")
        dev = self.train_dataset.load_split("dev") if "dev" in self.train_dataset.split_names() else None
        evaluation = self.eval_dataset.load_split(_eval_split_name(self.eval_dataset))
        kept = per_speaker(every_nth_of_class(train.utterances, recipe.class_subsample), recipe.utterances_per_speaker,
                           self.ident.train_dataset)
        train = SplitData(train.name, subset(kept, recipe.max_train_utterances), source=train.source)
        if dev is not None and recipe.max_dev_utterances and not self.strategy.scores_trials:
            dev = SplitData(dev.name, subset(dev.utterances, recipe.max_dev_utterances), dev.trials, dev.enrolments,
                            dev.asv_scores, dev.source)
        if recipe.max_eval_utterances and not self.strategy.scores_trials:
            evaluation = SplitData(evaluation.name, subset(evaluation.utterances, recipe.max_eval_utterances),
                                   evaluation.trials, evaluation.enrolments, evaluation.asv_scores, evaluation.source)
        return train, dev, evaluation

    def class_names(self, train: SplitData) -> tuple[str, ...]:
        return self.strategy.class_names(self.train_dataset, train)

    def loader(self, split: SplitData, class_names: tuple[str, ...], *, train: bool, as_list: bool,
               from_train_dataset: bool, labelled: bool = True) -> torch.utils.data.DataLoader:
        recipe = self.recipe
        policy = recipe.train_crop if train else recipe.eval_crop
        labels = labels_for(self.task, split.utterances, class_names) if labelled else np.zeros(len(split.utterances), np.int64)
        augment = (self.augmentations() if train else []) + (self.knobs.transforms(train) if self.knobs else [])
        dataset_name = self.ident.train_dataset if from_train_dataset else self.ident.dataset
        source = self.train_dataset if from_train_dataset else self.eval_dataset
        key = f"{dataset_name}-{split.name}"
        decided = (key, len(split.utterances))  # a split's loaders (train, then dev scoring) decide once
        if decided not in self._cache_decisions:
            built = DecodedAudioCache.exists(decoded_cache_dir(), audio_cache_key(key, source.channel),
                                             split.utterances, source.sample_rate)
            self._cache_decisions[decided] = choose_audio_cache(
                self.runtime.audio_cache, split.utterances, source.sample_rate,
                float(self.runtime.audio_cache_budget_gb or DEFAULT_AUDIO_CACHE_BUDGET_GB), decoded_cache_dir(),
                built)
        use_cache, why = self._cache_decisions[decided]
        self.audio_cache_choices.setdefault(key, f"{'on' if use_cache else 'off'} ({why})")
        audio = audio_source(split.utterances, enabled=use_cache, key=key, sample_rate=source.sample_rate,
                             notice_key=dataset_name, channel=source.channel, workers=self.loading.num_workers)
        dataset = WaveformDataset(split.utterances, labels, sample_rate=source.sample_rate,
                                  crop_samples=recipe.crop_samples, crop_policy=policy, seed=self.seed,
                                  augment=augment, audio=audio, notice_key=dataset_name, channel=source.channel)
        batch = recipe.batch_size if train else eval_batch_size(recipe, policy, as_list)
        loading = self.loading
        return make_loader(dataset, batch_size=batch, shuffle=train, seed=self.seed, as_list=as_list,
                           drop_last=train and not as_list, num_workers=loading.num_workers,
                           pin_memory=loading.pin_memory, persistent_workers=loading.persistent_workers,
                           prefetch_factor=loading.prefetch_factor)

    def augmentations(self) -> list:
        out = []
        for name in self.recipe.augmentations:
            spec = self.registry.augmentations.get(name).spec
            if spec.stage == "waveform":
                out.append(spec.build(dict(self.recipe.augmentation_options.get(name, {}))))
        return out

    # ---------------------------------------------------------------- model

    def build_model(self, task_info: TaskInfo) -> Any:
        model = self.spec.build(self.model_config, task_info)
        init_from = self.ident.init_from
        if init_from:
            self._initialise_from(model, init_from)
        return model

    def _initialise_from(self, model: Any, cell_id: str) -> None:
        path = self.cell_dir.parent / cell_id / "checkpoints" / BEST
        if not path.exists():
            raise ConfigError(f"--init-from {cell_id}: no checkpoint at {path} (the cell must have finished in the "
                              f"same output directory)")
        state = load_checkpoint(path)
        source = state.get("model")
        weights = state["model_state"]
        if source != self.spec.name:
            adopt = self.spec.init_from_models.get(source)
            if adopt is None:
                accepted = ", ".join(repr(name) for name in (self.spec.name, *self.spec.init_from_models))
                raise ConfigError(f"--init-from {cell_id}: that cell trained {source!r}; {self.spec.name!r} starts "
                                  f"from a cell of {accepted}")
            weights = adopt(weights)
        try:
            missing, unexpected = model.load_state_dict(weights, strict=False)
        except RuntimeError as exc:  # a tensor of another shape: the cell's model had another configuration
            raise ConfigError(f"--init-from {cell_id}: its {source} weights do not fit this {self.spec.name} "
                              f"configuration: {exc}") from None
        if source != self.spec.name and unexpected:
            raise ConfigError(f"--init-from {cell_id}: {len(unexpected)} of its {source} tensors have no place in "
                              f"{self.spec.name} (e.g. {sorted(unexpected)[0]})")
        self.progress.message(f"initialised from cell {cell_id}"
                              + (f" ({len(missing)} tensors kept fresh)" if missing else ""))

    def head_for(self, model: torch.nn.Module, num_classes: int) -> torch.nn.Module | None:
        if self.spec.output != "embedding":
            return None
        from benchsuite.training.heads import build_head

        probe = torch.zeros(1, min(self.recipe.crop_samples, 32000))
        model.eval()
        with torch.no_grad():
            dim = int(model(probe).shape[-1])
        model.train()
        self.strategy.check_recipe(self.recipe)
        return build_head(self.recipe, dim, num_classes)

    # ---------------------------------------------------------------- run

    def run(self) -> dict[str, Any]:
        recipe, task = self.recipe, self.task
        train, dev, evaluation = self.splits()
        self.knobs = DataKnobs.for_cell(recipe, train.utterances, self.train_dataset.sample_rate,
                                        self.train_dataset.channel, notice_key=self.ident.train_dataset)
        class_names = self.class_names(train)
        self.class_names_cache = class_names
        task_info = TaskInfo(task, self.eval_dataset.sample_rate, len(class_names), class_names)
        # initial weights depend on the seed alone, not on what ran before in this process
        seed_everything(RandomStreams(self.seed).initialisation())
        model = self.build_model(task_info)
        estimator = is_estimator(model)
        ranks = distributed.current()
        if estimator and not ranks.is_main:
            return {}  # an estimator fits once, on rank 0
        params = (self.spec.count_parameters(self.model_config) if self.spec.count_parameters is not None
                  else sum(p.numel() for p in model.parameters()))
        if self.ident.released is not None:
            return self._run_released(model, params, train, dev, evaluation, class_names)
        checkpoint_dir = self.cell_dir / "checkpoints"
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        head = None if estimator else self.head_for(model, len(class_names))
        train_loader = self.loader(train, class_names, train=True, as_list=estimator, from_train_dataset=True)
        if ranks.active and not estimator:
            train_loader = distributed.shard_loader(train_loader, ranks)
        # verify dev speakers are not training classes: the dev split is scored on its trials, unlabelled
        dev_loader = (self.loader(dev, class_names, train=False, as_list=estimator, from_train_dataset=True,
                                  labelled=not self.strategy.scores_trials)
                      if dev is not None else None)
        selection_note = None

        if estimator:
            trainer = EstimatorTrainer(estimator=model, device=self.device, checkpoint_dir=checkpoint_dir,
                                       progress=self.progress, model_name=self.spec.name,
                                       model_config=self.ident.model_config, seed=self.seed)
            summary = trainer.fit(lambda: iter(train_loader))
            selection = {"rule": "none (fitted once)", "epoch": 1, "value": None}
            scorer = self._scorer(model, None, estimator=True)
            if dev_loader is not None:
                self._write_scores(dev, scorer(dev, dev_loader), DEV_SCORES)
        else:
            trainer = Trainer(model=model, head=head, recipe=recipe, task_info=task_info, output=self.spec.output,
                              device=self.device, precision=self.ident.precision, seed=self.seed,
                              checkpoint_dir=checkpoint_dir, progress=self.progress, model_name=self.spec.name,
                              model_config=self.ident.model_config)
            scorer = self._scorer(trainer.model, trainer.head, estimator=False)
            dev_value, on_best, selection_note = self._selection(trainer.model, trainer.head, scorer, dev, dev_loader,
                                                                 class_names)
            summary = trainer.fit(train_loader, dev_value, on_best)
            if not ranks.is_main:
                return {}  # rank 0 alone scores the eval split and writes the result
            best_epoch = trainer.load_best()
            selection = {"rule": recipe.selection if selection_note is None else "last", "epoch": best_epoch,
                         "value": summary.best_value, "ties": recipe.selection_ties,
                         "validation_mode": recipe.validation_mode}
            if summary.averaged_epochs is not None:
                selection["averaging"] = {"rule": recipe.averaging, "epochs": summary.averaged_epochs,
                                          "bn_update": recipe.bn_update}
        return self._evaluate(scorer, model, params, train, dev, dev_loader, evaluation, class_names, estimator,
                              summary, selection, selection_note)

    def _run_released(self, model: Any, params: int, train: SplitData, dev: SplitData | None,
                      evaluation: SplitData, class_names: tuple[str, ...]) -> dict[str, Any]:
        """An eval-only cell: the released weights, loaded strictly, score dev and eval untrained."""
        from benchsuite.planning.released import file_sha256
        from benchsuite.training.checkpoints import load_weights_strictly, read_weights_file

        if is_estimator(model) or self.spec.output != "logits":
            raise ConfigError(f"--checkpoint {self.spec.name}=...: released weights are evaluated for models "
                              f"that output logits; {self.spec.name!r} needs training-time state")
        released = self.ident.released
        path = self.runtime.released_path
        if not path:
            raise ConfigError(f"cell {self.ident.label}: no path to the released weights {released['file']} "
                              f"on this machine (runtime.released_path)")
        if file_sha256(Path(path)) != released["sha256"]:
            raise DataError(f"--checkpoint {path}: its SHA-256 is no longer {released['sha256']} (the file changed "
                            f"after planning)")
        load_weights_strictly(self.spec, model, read_weights_file(Path(path)), Path(path))
        model.to(self.device).eval()
        scorer = self._scorer(model, None, estimator=False)
        dev_loader = (self.loader(dev, class_names, train=False, as_list=False, from_train_dataset=True,
                                  labelled=not self.strategy.scores_trials) if dev is not None else None)
        if dev_loader is not None and not self.strategy.scores_trials:
            self._write_scores(dev, scorer(dev, dev_loader), DEV_SCORES)
        summary = TrainSummary(epochs_run=0, best_epoch=None, best_value=None, resumed_from_epoch=None,
                               train_seconds=0.0)
        selection = {"rule": "none (released weights, not trained)", "epoch": None, "value": None}
        return self._evaluate(scorer, model, params, train, dev, dev_loader, evaluation, class_names, False,
                              summary, selection, None)

    def _evaluate(self, scorer, model: Any, params: int, train: SplitData, dev: SplitData | None, dev_loader,
                  evaluation: SplitData, class_names: tuple[str, ...], estimator: bool, summary: Any,
                  selection: dict[str, Any], selection_note: str | None) -> dict[str, Any]:
        """Score the eval split (and dev, when its scores were written) and assemble the result."""
        recipe, task = self.recipe, self.task
        eval_started = time.monotonic()
        eval_loader = self.loader(evaluation, class_names, train=False, as_list=estimator, from_train_dataset=False,
                                  labelled=not self.strategy.scores_trials)
        reference = self._training_reference(model, train, class_names) if self.strategy.scores_trials else None
        eval_scores = scorer(evaluation, eval_loader, reference=reference)
        self._write_scores(evaluation, eval_scores, SCORES)
        metrics, eval_warnings = self._metrics_with_warnings(task, eval_scores, "eval")
        results = {"eval": metrics.values}
        notes = {"eval": dict(metrics.notes)}
        if eval_warnings:
            notes["eval"]["warnings"] = "; ".join(eval_warnings)
        if selection_note:
            notes["eval"]["selection"] = selection_note
        scoring_note = self.strategy.scoring_note(recipe, reference)
        if scoring_note:
            notes["eval"]["scoring"] = scoring_note
        dev_metrics = None
        if dev_loader is not None and (self.cell_dir / DEV_SCORES).exists() and not self.strategy.scores_trials:
            dev_metrics, dev_warnings = self._metrics_with_warnings(task, scorer(dev, dev_loader), "dev")
            results["dev"] = dev_metrics.values
            if dev_warnings:
                notes["dev"] = {"warnings": "; ".join(dev_warnings)}
        info = {**(dev_metrics.info if dev_metrics else {}), **metrics.info}
        described = describe_identity(self.ident)
        return {
            **described,
            "dataset": {**described["dataset"], "eval_split": evaluation.name, "dev_split": dev.name if dev else None,
                        # a corpus the suite generates has no published results; the leaderboard says so
                        "generated": bool(self.registry.datasets.get(self.ident.dataset).spec.embedded)},
            "model": {**described["model"], "params": int(params), "output": self.spec.output},
            "metrics": results,
            "metric_info": info,
            "breakdown": {"eval": metrics.breakdown},
            "notes": notes,
            "extra": {"eval": metrics.extra},
            "selection": selection,
            "metric_errors": {split: errors for split, errors in
                              (("eval", metrics.errors), ("dev", dev_metrics.errors if dev_metrics else {})) if errors},
            "fidelity": self.fidelity,
            "training": {"epochs_run": summary.epochs_run, "best_epoch": summary.best_epoch,
                         "resumed_from_epoch": summary.resumed_from_epoch,
                         "train_seconds": round(summary.train_seconds, 3),
                         "eval_seconds": round(time.monotonic() - eval_started, 3),
                         "init_from": self.ident.init_from,
                         "utterances": {"train": len(train.utterances), "dev": len(dev.utterances) if dev else 0,
                                        "eval": len(evaluation.utterances)},
                         "class_names": self.strategy.stored_class_names(class_names),
                         **({"waveform_normalisation": self.knobs.statistics} if self.knobs.statistics else {})},
            "artifacts": {"scores": SCORES, "dev_scores": DEV_SCORES if (self.cell_dir / DEV_SCORES).exists() else None,
                          "train_log": None if self.ident.released else "train_log.csv",
                          "checkpoint": None if self.ident.released else f"checkpoints/{BEST}"},
        }

    def _scorer(self, model: Any, head: Any, *, estimator: bool):
        """split + loader -> the task's score container."""
        scoring = Scoring(model, head, self.device, self.autocast, self.recipe, estimator, self.class_names_cache)

        def score(split: SplitData, loader, reference: TrainingReference | None = None,
                  outputs: torch.Tensor | None = None):
            return self.strategy.score(scoring, split, loader, reference, outputs)

        score.outputs = lambda loader: self.strategy.outputs(scoring, loader)  # type: ignore[attr-defined]
        score.scoring = scoring  # type: ignore[attr-defined]
        return score

    def _selection(self, model: Any, head: Any, scorer, dev: SplitData | None, dev_loader,
                   class_names: tuple[str, ...]):
        """The dev-only selection value (lower is better) and what to do on a new best."""
        recipe, task = self.recipe, self.task
        if recipe.selection == "last":
            return (lambda: None), (lambda epoch: None), None
        if recipe.selection not in ("dev_eer", "dev_accuracy", "dev_loss"):
            raise ConfigError(f"recipe selection {recipe.selection!r}: expected dev_eer, dev_loss, dev_accuracy or last")
        usable = dev is not None and dev_loader is not None and (
            not self.strategy.scores_trials or (bool(dev.trials) and recipe.selection != "dev_loss"))
        if not usable:
            note = (f"selection {recipe.selection!r} needs a labelled dev split"
                    f"{' with trials' if self.strategy.scores_trials else ''} from {self.ident.train_dataset}; "
                    f"none is available, so the last epoch is used")
            return (lambda: None), (lambda epoch: None), note
        latest: dict[str, Any] = {}
        in_train_mode = recipe.validation_mode == "train"
        if recipe.selection == "dev_loss":
            loss_fn = make_loss(recipe, torch.device("cpu"))
            labels = torch.from_numpy(labels_for(task, dev.utterances, class_names))

            def dev_value() -> float:
                with scorer.scoring.validating(in_train_mode):
                    outputs = scorer.outputs(dev_loader)
                latest["scores"] = scorer(dev, dev_loader, outputs=outputs)
                return float(loss_fn(outputs, labels))
        else:
            value_of = selection_metric(self.registry, task, "eer" if recipe.selection == "dev_eer" else "accuracy")

            def dev_value() -> float:
                with scorer.scoring.validating(in_train_mode):
                    latest["scores"] = scorer(dev, dev_loader)
                return value_of(latest["scores"])

        def on_best(epoch: int) -> None:
            self._write_scores(dev, latest["scores"], DEV_SCORES)

        return dev_value, on_best, None

    def _metrics_with_warnings(self, task: Task, scores: Any, split: str) -> tuple[Any, list[str]]:
        """Metric warnings (e.g. scores that look flipped) go to the progress display as one line
        each and into result.json's notes, not to stderr as a Python warning with a source line."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            computed = compute_metrics(self.registry, task, scores)
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        for message in messages:
            self.progress.message(f"warning ({split}): {message}")
        for name, error in computed.errors.items():
            self.progress.message(f"metric {name!r} failed ({split}); its error is stored in result.json: {error}")
        if computed.errors and not computed.values:
            raise CellFailure(f"every {task} metric failed on the {split} scores, which are kept in the cell "
                              f"directory (`benchsuite rescore` computes them again): "
                              + "; ".join(f"{name}: {error}" for name, error in computed.errors.items()))
        return computed, messages

    def _training_reference(self, model: torch.nn.Module, train: SplitData,
                            class_names: tuple[str, ...]) -> "TrainingReference | None":
        """Embeddings of training utterances (at most REFERENCE_PER_SPEAKER a speaker): their mean
        is subtracted before cosine scoring and their speaker means are the AS-Norm cohort."""
        recipe = self.recipe
        if not recipe.centre_embeddings and recipe.score_norm != "asnorm":
            return None
        from benchsuite.scoring.sv import speaker_mean_embeddings

        by_speaker: dict[str, list] = {}
        for utt in train.utterances:
            if len(by_speaker.setdefault(utt.label, [])) < REFERENCE_PER_SPEAKER:
                by_speaker[utt.label].append(utt)
        chosen = [u for speaker in sorted(by_speaker) for u in by_speaker[speaker]]
        limited = SplitData(train.name, chosen, source=train.source)
        loader = self.loader(limited, class_names, train=False, as_list=False, from_train_dataset=True)
        emb = embeddings(model, loader, self.device, self.autocast, recipe).numpy()
        mean = emb.mean(axis=0) if recipe.centre_embeddings else None
        cohort = (speaker_mean_embeddings(emb, [u.label for u in chosen]) if recipe.score_norm == "asnorm" else None)
        return TrainingReference(mean, cohort, len(chosen))

    def _write_scores(self, split: SplitData, scores: Any, name: str) -> None:
        self.strategy.write_scores(self.cell_dir / name, scores)


def _execute(config: CellConfig, cell_dir: Path, registry: Registry, device: torch.device,
             progress: Progress) -> dict[str, Any]:
    kernels = configure_determinism(device, bool(config.runtime.deterministic))
    cell = _Cell(config, cell_dir, registry, device, progress)
    body = cell.run()
    body[RUNTIME_SETTINGS] = {**kernels, "precision_requested": config.runtime.precision_requested,
                              "loader": cell.loading.record(), "audio_cache": dict(cell.audio_cache_choices)}
    return body
