"""Reading a results store into everything a report shows: tables, failed and
incomplete cells, and the provenance of the runs.  Only the cell directories
are read (the source of truth), never the SQLite index."""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from benchsuite import __version__
from benchsuite.contract import Baseline, ConfigError
from benchsuite.plugins.registry import Registry
from benchsuite.storage.store import CONFIG_FILE, RESULT_FILE, SCHEMA_VERSION, ResultsStore
from benchsuite.reporting.aggregate import Table, build_tables
from benchsuite.reporting.baselines import attach_baselines


@dataclass(frozen=True)
class ProblemCell:
    """A cell that produced no numbers: failed, incomplete (running or killed) or unreadable."""

    cell_id: str
    kind: str  # failed | incomplete | unreadable
    dataset: str | None = None
    model: str | None = None
    profile: str | None = None
    seed: int | None = None
    error_type: str | None = None
    message: str = ""
    detail: str = ""  # traceback, or what was found in the directory
    last_activity: str | None = None  # ISO time of the newest file in the cell directory

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Provenance:
    benchsuite_versions: list[str] = field(default_factory=list)
    plugins: list[dict[str, Any]] = field(default_factory=list)  # name, distribution, version
    git_revisions: list[str] = field(default_factory=list)  # "abc123" or "abc123 (dirty)"
    versions: dict[str, list[str]] = field(default_factory=dict)  # python/torch/... -> distinct values
    cuda: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    precisions: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    first_start: str | None = None
    last_end: str | None = None
    compute_seconds: float = 0.0  # sum of wall_seconds over finished cells (done and failed)
    run_commands: list[str] = field(default_factory=list)
    report_command: str | None = None
    report_benchsuite_version: str = __version__
    generated: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Report:
    runs_dir: Path
    tables: list[Table]
    done: list[dict]
    problems: list[ProblemCell]
    provenance: Provenance
    baselines_not_shown: int = 0

    @property
    def failed(self) -> list[ProblemCell]:
        return [p for p in self.problems if p.kind == "failed"]

    @property
    def incomplete(self) -> list[ProblemCell]:
        return [p for p in self.problems if p.kind == "incomplete"]

    @property
    def unreadable(self) -> list[ProblemCell]:
        return [p for p in self.problems if p.kind == "unreadable"]


def registry_baselines(registry: Registry | None = None) -> list[Baseline]:
    from benchsuite.plugins.registry import get_registry

    return [registered.spec for registered in (registry or get_registry(kinds=("baselines",))).baselines]


def build_report(runs_dir: Path, baselines: Sequence[Baseline] | None = None, command: str | None = None,
                 registry: Registry | None = None) -> Report:
    """Read ``runs_dir`` and aggregate it; ``baselines`` None takes them from ``registry`` (by default,
    the plugins of this environment)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise ConfigError(f"--runs: results directory {runs_dir} does not exist")
    store = ResultsStore(runs_dir)
    done, failed_results, problems = _read_cells(store)
    tables = build_tables(done, failed_results)
    if baselines is None:
        baselines = registry_baselines(registry)
    not_shown = attach_baselines(tables, list(baselines))
    provenance = _provenance(done + failed_results, list(store.invocations()), command)
    return Report(runs_dir=runs_dir, tables=tables, done=done, problems=problems, provenance=provenance,
                  baselines_not_shown=not_shown)


def _read_cells(store: ResultsStore) -> tuple[list[dict], list[dict], list[ProblemCell]]:
    done: list[dict] = []
    failed: list[dict] = []
    problems: list[ProblemCell] = []
    for cell_id in store.cell_ids():
        cell_dir = store.cell_dir(cell_id)
        path = cell_dir / RESULT_FILE
        if not path.exists():
            problems.append(_incomplete(store, cell_id))
            continue
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:  # a broken file is listed, never allowed to hide the others
            problems.append(ProblemCell(cell_id, "unreadable", message=f"{path}: cannot be read as JSON ({err})"))
            continue
        if not isinstance(result, dict):
            problems.append(ProblemCell(cell_id, "unreadable", message=f"{path}: expected a JSON object"))
            continue
        version = result.get("schema_version")
        if version != SCHEMA_VERSION:
            problems.append(ProblemCell(
                cell_id, "unreadable", **_identity_of(result),
                message=f"{path}: schema_version {version!r}, this report reads version {SCHEMA_VERSION}"))
            continue
        result.setdefault("cell_id", cell_id)
        status = result.get("status")
        if status == "done":
            done.append(result)
        elif status == "failed":
            failed.append(result)
            error = result.get("error") or {}
            problems.append(ProblemCell(
                str(result["cell_id"]), "failed", **_identity_of(result),
                error_type=str(error.get("type") or "error"), message=str(error.get("message") or "(no message)"),
                detail=str(error.get("traceback") or "")))
        else:
            problems.append(ProblemCell(cell_id, "unreadable", **_identity_of(result),
                                        message=f"{path}: status {status!r} is neither 'done' nor 'failed'"))
    return done, failed, problems


def _identity_of(result: Mapping[str, Any]) -> dict[str, Any]:
    data = result.get("dataset") or {}
    model = result.get("model") or {}
    seed = result.get("seed")
    return {"dataset": data.get("name") if isinstance(data, Mapping) else None,
            "model": model.get("name") if isinstance(model, Mapping) else None,
            "profile": result.get("profile"), "seed": seed if isinstance(seed, int) else None}


def _incomplete(store: ResultsStore, cell_id: str) -> ProblemCell:
    cell_dir = store.cell_dir(cell_id)
    identity: dict[str, Any] = {}
    detail = ""
    try:
        config = yaml.safe_load((cell_dir / CONFIG_FILE).read_text(encoding="utf-8")) or {}
        identity = config.get("identity") or {} if isinstance(config, dict) else {}
    except FileNotFoundError:
        detail = f"no {CONFIG_FILE} in {cell_dir}"
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
        detail = f"{cell_dir / CONFIG_FILE}: unreadable ({err})"

    def name(value: Any) -> str | None:
        if isinstance(value, Mapping):
            value = value.get("name")
        return str(value) if value is not None else None

    newest = max((p.stat().st_mtime for p in cell_dir.rglob("*") if p.is_file()), default=None)
    last_activity = (_dt.datetime.fromtimestamp(newest, _dt.timezone.utc).isoformat(timespec="seconds")
                     if newest is not None else None)
    log = cell_dir / "train_log.csv"
    if log.is_file():
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        epochs = max(len(lines) - 1, 0)
        detail = (detail + "; " if detail else "") + f"train_log.csv has {epochs} epoch row(s)"
    seed = identity.get("seed")
    return ProblemCell(
        cell_id, "incomplete", dataset=name(identity.get("dataset")), model=name(identity.get("model")),
        profile=name(identity.get("profile")), seed=seed if isinstance(seed, int) else None,
        message="started but has no result.json: still running, or killed", detail=detail,
        last_activity=last_activity)


def _provenance(results: Sequence[dict], invocations: Sequence[dict], command: str | None) -> Provenance:
    prov = Provenance(report_command=command,
                      generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    versions: dict[str, set[str]] = {}
    plugins: dict[tuple, dict[str, Any]] = {}
    # provenance field -> the distinct values seen
    seen: dict[str, set[str]] = {name: set() for name in ("benchsuite_version", "cuda", "precision", "hostname",
                                                           "command", "start", "end")}
    revisions, devices = set(), set()

    def note(record: Mapping[str, Any], *fields: str) -> None:
        for name in fields:
            if record.get(name):
                seen[name].add(str(record[name]))

    for result in results:
        p = result.get("provenance") or {}
        note(p, *seen)
        if p.get("git_revision"):
            revisions.add(str(p["git_revision"]) + (" (dirty)" if p.get("git_dirty") else ""))
        if p.get("device"):
            devices.add(str(p["device"]) + (f" ({p['device_name']})" if p.get("device_name") else ""))
        for key, value in (p.get("versions") or {}).items():
            if value is not None:
                versions.setdefault(str(key), set()).add(str(value))
        if isinstance(p.get("wall_seconds"), (int, float)):
            prov.compute_seconds += float(p["wall_seconds"])
        tags = list(p.get("plugins") or [])
        tags += [(result.get(part) or {}).get("plugin") for part in ("model", "dataset")]
        for tag in tags:
            if isinstance(tag, Mapping) and tag.get("name"):
                key = (tag.get("name"), tag.get("distribution"), tag.get("version"))
                plugins[key] = {"name": key[0], "distribution": key[1], "version": key[2]}
    for invocation in invocations:
        note(invocation, "command", "start", "end")
    prov.benchsuite_versions = sorted(seen["benchsuite_version"])
    prov.plugins = [plugins[k] for k in sorted(plugins, key=lambda k: tuple(str(x) for x in k))]
    prov.git_revisions = sorted(revisions)
    prov.versions = {k: sorted(v) for k, v in sorted(versions.items())}
    prov.cuda = sorted(seen["cuda"])
    prov.devices = sorted(devices)
    prov.precisions = sorted(seen["precision"])
    prov.hosts = sorted(seen["hostname"])
    prov.run_commands = sorted(seen["command"])
    prov.first_start = min(seen["start"], default=None)
    prov.last_end = max(seen["end"], default=None)
    return prov
