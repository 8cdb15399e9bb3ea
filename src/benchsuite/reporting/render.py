"""The self-contained HTML leaderboard, and :func:`render_report`, the entry
point the CLI and ``benchsuite run`` call.

The page loads nothing: styles, the sorting/filter script and the SVG plots
are inline, and a Content-Security-Policy forbids every fetch.  All text from
results, plugins and baselines reaches the page through Jinja autoescaping or
:func:`markupsafe.escape`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
import numpy as np
from markupsafe import Markup

from benchsuite.contract import Baseline, ConfigError, ScoreFileError
from benchsuite.common.files import atomic_write_text
from benchsuite.reporting import formatting as fmt
from benchsuite.reporting.aggregate import DDOF, MetricColumn, Row, Table
from benchsuite.reporting.collect import Report, build_report
from benchsuite.reporting.plots import det_curve, det_svg, heat_style, histogram_svg, intensities
from benchsuite.storage.store import ResultsStore
from benchsuite.reporting.scoredata import POPULATIONS, ScoreFiles, score_path

TEMPLATES_DIR = Path(__file__).parent / "templates"
EER_TOLERANCE = 1e-9
FORMAT_FILES = {
    "html": "leaderboard.html",
    "md": "leaderboard.md",
    "csv": "results.csv",
    "tex": "leaderboard.tex",
    "json": "leaderboard.json",
}


# --------------------------------------------------------------------------- per-system details


@dataclass
class HeatCell:
    text: str
    style: str
    value: float | None


@dataclass
class Heatmap:
    """One breakdown dimension (attack, codec, ...) of one metric: conditions x seeds."""

    dimension: str
    column: MetricColumn
    seeds: list[str]  # column headings
    rows: list[tuple[str, list[HeatCell]]]  # condition, cells (seeds..., mean)


@dataclass
class Confusion:
    classes: list[str]
    counts: list[list[HeatCell]]
    seeds: int


@dataclass
class RowDetail:
    table: Table
    row: Row
    seed_rows: list[dict[str, Any]]
    heatmaps: list[Heatmap] = field(default_factory=list)
    det: Markup | None = None
    histograms: list[Markup] = field(default_factory=list)
    confusion: Confusion | None = None
    plot_notes: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"{self.table.anchor}-{self.row.anchor}"


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _seed_label(result: Mapping[str, Any]) -> str:
    seed = result.get("seed")
    return f"seed {seed}" if seed is not None else str(result.get("cell_id"))


def _column_lookup(table: Table, runs: Sequence[dict], key: str) -> MetricColumn:
    for column in table.columns + table.hidden_columns:
        if column.key == key:
            return column
    for result in runs:
        info = (result.get("metric_info") or {}).get(key)
        if info:
            return MetricColumn.from_info(key, info)
    return MetricColumn.from_info(key, None)


def _seed_rows(table: Table, row: Row) -> list[dict[str, Any]]:
    out = []
    for result in sorted(row.runs + row.failed, key=lambda r: (r.get("seed") is None, r.get("seed") or 0)):
        training = result.get("training") or {}
        provenance = result.get("provenance") or {}
        values = {}
        for column in table.columns:
            raw = ((result.get("metrics") or {}).get(table.split) or {}).get(column.key)
            note = ((result.get("notes") or {}).get(table.split) or {}).get(column.key)
            values[column.key] = {"text": fmt.fmt_value(raw if isinstance(raw, (int, float)) else None, column),
                                  "value": raw, "note": note}
        error = result.get("error") or {}
        out.append({
            "seed": result.get("seed"), "cell_id": result.get("cell_id"), "status": result.get("status"),
            "values": values, "epochs_run": training.get("epochs_run"), "best_epoch": training.get("best_epoch"),
            "selection": (result.get("selection") or {}).get("rule"),
            "train_time": fmt.fmt_seconds(training.get("train_seconds")),
            "wall_time": fmt.fmt_seconds(provenance.get("wall_seconds")),
            "error": f"{error.get('type') or 'error'}: {error.get('message') or ''}" if error else None,
        })
    return out


def _heatmaps(table: Table, row: Row) -> list[Heatmap]:
    dims: dict[str, dict[str, set[str]]] = {}  # dimension -> metric key -> conditions
    for result in row.runs:
        for dim, conditions in ((result.get("breakdown") or {}).get(table.split) or {}).items():
            if not isinstance(conditions, Mapping):
                continue
            for condition, metrics in conditions.items():
                for key in (metrics or {}):
                    dims.setdefault(str(dim), {}).setdefault(str(key), set()).add(str(condition))
    maps = []
    for dim in sorted(dims):
        for key in sorted(dims[dim]):
            column = _column_lookup(table, row.runs, key)
            conditions = sorted(dims[dim][key], key=_natural_key)
            grid: list[list[float | None]] = []
            for condition in conditions:
                line: list[float | None] = []
                for result in row.runs:
                    raw = ((((result.get("breakdown") or {}).get(table.split) or {}).get(dim) or {})
                           .get(condition) or {}).get(key)
                    line.append(float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None)
                present = [v for v in line if v is not None]
                line.append(float(np.mean(present)) if present else None)
                grid.append(line)
            flat = intensities([v for line in grid for v in line], column.lower_is_better)
            width = len(row.runs) + 1
            rows = []
            for i, (condition, line) in enumerate(zip(conditions, grid)):
                cells = [HeatCell(fmt.fmt_value(v, column), heat_style(flat[i * width + j]), v)
                         for j, v in enumerate(line)]
                rows.append((condition, cells))
            maps.append(Heatmap(dim, column, [_seed_label(r) for r in row.runs] + ["mean"], rows))
    return maps


def _plots(detail: RowDetail, runs_dir: Path, files: ScoreFiles) -> None:
    table, row = detail.table, detail.row
    task = table.task
    curves = []
    confusion: dict[tuple[str, str], int] = {}
    classes: set[str] = set()
    used = 0
    for result in row.runs:
        cell_dir = runs_dir / "cells" / str(result.get("cell_id"))
        path = score_path(result, cell_dir, table.split)
        label = _seed_label(result)
        if path is None or not path.is_file():
            detail.plot_notes.append(f"{label}: no score file for split {table.split!r}"
                                     + (f" ({path.name} missing)" if path is not None else ""))
            continue
        try:
            if task in POPULATIONS:
                scores = files.binary(path, task)
                positive, negative = POPULATIONS[task]
                curve = det_curve(scores.positive, scores.negative)
                curves.append((label, curve))
                stored = ((result.get("metrics") or {}).get(table.split) or {}).get("eer")
                # the same sweep on the same (exactly written) scores gives the same EER;
                # anything else means the file changed after the metrics were computed
                if isinstance(stored, (int, float)) and abs(stored - curve.eer) > EER_TOLERANCE:
                    detail.plot_notes.append(
                        f"{label}: {path.name} gives EER {curve.eer * 100:.4f} % but result.json stores "
                        f"{stored * 100:.4f} %: the score file does not match the stored metrics")
                detail.histograms.append(histogram_svg(
                    scores.positive, scores.negative, positive_label=positive, negative_label=negative,
                    title=f"{label} — score distributions"))
            elif task == "classify":
                predictions = files.predictions(path)
                names = predictions.class_names
                for true, predicted in zip(predictions.true, predictions.predicted):
                    pair = (names[true], names[predicted])
                    confusion[pair] = confusion.get(pair, 0) + 1
                classes.update(names)
                used += 1
        except ScoreFileError as err:
            detail.plot_notes.append(f"{label}: {err}")
    if curves:
        positive, negative = POPULATIONS[task]
        detail.det = det_svg(curves, positive=positive, negative=negative,
                             title=f"DET — {row.model} on {table.dataset} {table.split}")
    if confusion:
        ordered = sorted(classes, key=_natural_key)
        counts = []
        for true in ordered:
            line = [confusion.get((true, predicted), 0) for predicted in ordered]
            total = sum(line) or 1
            # shaded by the share of the true class, as confusion matrices usually are
            cells = [HeatCell(str(n), heat_style(n / total), float(n)) for n in line]
            counts.append(cells)
        detail.confusion = Confusion(ordered, counts, used)


def row_details(report: Report, files: ScoreFiles | None = None) -> list[RowDetail]:
    """Per-system sections: per-seed values, breakdown heat maps and plots from the score files
    (each read once, through ``files``)."""
    files = files if files is not None else ScoreFiles()
    details = []
    for table in report.tables:
        for row in table.rows:
            detail = RowDetail(table, row, _seed_rows(table, row), _heatmaps(table, row))
            _plots(detail, report.runs_dir, files)
            details.append(detail)
    return details


# --------------------------------------------------------------------------- HTML


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        fmt=fmt, DDOF=DDOF, heading=fmt.column_heading,
        sort_value=lambda v: "" if v is None else repr(float(v)),
    )
    return env


def render_html(report: Report) -> str:
    from benchsuite.reporting.compare import describe_tests, page_comparisons, row_names
    from benchsuite.reporting.sweeps import sweep_cells, sweep_records, sweep_views

    records = sweep_records(ResultsStore(report.runs_dir).invocations())
    names = row_names(report.tables, sweep_cells(records))
    template = _environment().get_template("leaderboard.html.j2")
    files = ScoreFiles()  # every score file is read once, whichever plots, tables and comparisons use it
    return template.render(report=report, details=row_details(report, files), prov=report.provenance,
                           sweeps=sweep_views(report.done, records), names=names, tests_note=describe_tests(),
                           comparisons=page_comparisons(report.tables, names, report.runs_dir, files=files))


# --------------------------------------------------------------------------- entry point


def render_report(runs_dir: Path, out_dir: Path, formats: Sequence[str] = ("html",),
                  baselines: Sequence[Baseline] | None = None, command: str | None = None) -> dict[str, Path]:
    """Render the leaderboard of the results store ``runs_dir`` into ``out_dir``.

    ``formats`` from html, md, csv, tex, json; ``baselines`` None takes the
    registered ones.  Returns format -> written file.
    """
    from benchsuite.reporting.exports import EXPORTERS  # exports imports this module's helpers

    formats = list(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in formats if f not in FORMAT_FILES]
    if unknown:
        raise ConfigError(f"--format: unknown report format(s) {', '.join(map(repr, unknown))}; "
                          f"choose from {', '.join(FORMAT_FILES)}")
    if not formats:
        raise ConfigError(f"--format: no report format given; choose from {', '.join(FORMAT_FILES)}")
    report = build_report(Path(runs_dir), baselines=baselines, command=command)
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    for name in formats:
        text = render_html(report) if name == "html" else EXPORTERS[name](report)
        path = out_dir / FORMAT_FILES[name]
        atomic_write_text(path, text)
        written[name] = path
    return written
