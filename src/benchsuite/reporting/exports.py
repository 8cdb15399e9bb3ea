"""Leaderboard exports: Markdown (READMEs), tidy CSV (one row per run x metric),
LaTeX (booktabs) and JSON.  The CSV and JSON carry every per-seed value with
its cell id, so every number in the HTML can be recomputed from them."""
from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any, Callable

from benchsuite.reporting.aggregate import CONFIDENCE, DDOF, MetricCell, MetricColumn, Row
from benchsuite.reporting.collect import Report
from benchsuite.reporting.sweeps import sweeps_dict
from benchsuite.reporting.formatting import (
    column_heading, fmt_delta, fmt_mean_std, fmt_params, fmt_range, fmt_seconds, fmt_value, unstated_formulation,
)

REPORT_SCHEMA_VERSION = 1
CSV_FIELDS = ("cell_id", "dataset", "split", "cell_dataset", "train_dataset", "model", "profile", "variant", "init_from", "seed",
              "params", "metric", "label", "formulation", "percent", "lower_is_better", "value", "note")


# --------------------------------------------------------------------------- tidy rows


def tidy_rows(report: Report) -> list[dict[str, Any]]:
    """One row per (finished run, split, metric); ``value`` is the stored fraction, None when not applicable."""
    out = []
    for table in report.tables:
        columns = table.columns + table.hidden_columns
        for row in table.rows:
            for result in row.runs:
                model = result.get("model") or {}
                for column in columns:
                    split_metrics = (result.get("metrics") or {}).get(table.split) or {}
                    if column.key not in split_metrics:
                        continue
                    raw = split_metrics[column.key]
                    note = ((result.get("notes") or {}).get(table.split) or {}).get(column.key)
                    value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
                    if value is not None and not math.isfinite(value):
                        note, value = note or f"non-finite value {raw!r}", None
                    out.append({
                        "cell_id": result.get("cell_id"), "dataset": table.dataset, "split": table.split,
                        # differs from dataset for the dev numbers of cross-dataset cells
                        "cell_dataset": (result.get("dataset") or {}).get("name"),
                        "train_dataset": row.key.train_dataset, "model": row.model, "profile": row.profile,
                        "variant": row.key.variant, "init_from": row.key.init_from, "seed": result.get("seed"),
                        "params": model.get("params"), "metric": column.key, "label": column.label,
                        "formulation": column.formulation, "percent": column.percent,
                        "lower_is_better": column.lower_is_better, "value": value, "note": note,
                    })
    return out


def export_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in tidy_rows(report):
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in record.items()})
    return buffer.getvalue()


# --------------------------------------------------------------------------- JSON


def _cell_dict(cell: MetricCell) -> dict[str, Any]:
    return {
        "stats": cell.stats.as_dict() if cell.stats else None,
        "best": cell.best,
        "values": [{"seed": sv.seed, "cell_id": sv.cell_id, "value": sv.value, "note": sv.note}
                   for sv in cell.seed_values],
        "comparison": cell.comparison.as_dict() if cell.comparison is not None else None,
    }


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "model": row.model, "profile": row.profile, "train_dataset": row.key.train_dataset,
        "cell_dataset": row.key.cell_dataset, "released_weights": row.key.released,
        "init_from": row.key.init_from, "variant": row.key.variant, "label": row.label(), "params": row.params,
        "seeds": row.seeds, "cell_ids": [r.get("cell_id") for r in row.runs],
        "failed_cell_ids": [r.get("cell_id") for r in row.failed],
        "metrics": {key: _cell_dict(cell) for key, cell in row.cells.items()},
        # the recipe's deviations from the authors' code; None where the cells did not record them
        "deviations": row.deviations if row.fidelity_recorded or row.deviations else None,
    }


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "results_schema_version": 1,
        "statistics": {"std_ddof": DDOF, "ci": "Student-t interval of the mean", "confidence": CONFIDENCE,
                       "delta": "reproduced mean - published value (fractions for rates)",
                       "best": "best mean per column among rows of the same profile"},
        "runs_dir": str(report.runs_dir),
        "provenance": report.provenance.as_dict(),
        "tables": [{
            "dataset": t.dataset, "split": t.split, "task": t.task, "options": t.options,
            "columns": [c.as_dict() for c in t.columns], "hidden_columns": [c.as_dict() for c in t.hidden_columns],
            "notes": t.notes, "rows": [_row_dict(r) for r in t.rows], "context": [c.as_dict() for c in t.context],
        } for t in report.tables],
        "runs": tidy_rows(report),
        "problems": [p.as_dict() for p in report.problems],
        "baselines_not_shown": report.baselines_not_shown,
        "sweeps": sweeps_dict(report),
    }


def export_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: Any) -> str:
    """Literal text in a Markdown table cell: HTML metacharacters as entities (so
    a renderer passing raw HTML through shows them as text), Markdown ones
    backslash-escaped, line breaks flattened."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.split())


def _markers(cell: MetricCell, dagger: str, ddagger: str) -> str:
    cmp = cell.comparison
    if cmp is None:
        return ""
    return (dagger if cmp.outside_range else "") + (ddagger if cmp.outside_ci else "")


def _published(cell: MetricCell, column: MetricColumn) -> tuple[str, str]:
    cmp = cell.comparison
    if cmp is None:
        return "—", "—"
    text = fmt_value(cmp.published, column)
    if not cmp.compared:
        text += " (not compared)"
    return text, fmt_delta(cmp.delta, column)


def export_markdown(report: Report) -> str:
    lines = ["# benchsuite leaderboard", "",
             f"Mean ± sample std over seeds (ddof = {DDOF}), n = seeds with a value; rates in %; "
             "Δ = reproduced mean − published; † published value outside the seeds' min–max, "
             "‡ outside the Student-t 95 % CI of the mean; **bold** = best mean per column and profile.", ""]
    for table in report.tables:
        lines += [f"## {md_escape(table.dataset)} · {md_escape(table.split)}", ""]
        if table.options:
            lines += [f"Dataset options: {md_escape(json.dumps(table.options, sort_keys=True))}", ""]
        head = ["System", "Profile", "Trained on", "Params", "Seeds"]
        align = ["---", "---", "---", "---:", "---:"]
        for column in table.columns:
            label = md_escape(column_heading(column))
            head += [label, "min–max", "published", "Δ"]
            align += ["---:"] * 4
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
        for row in table.rows:
            seeds = ("released" if row.key.released else f"{len(row.runs)}") + (
                f" (+{len(row.failed)} failed)" if row.failed else "")
            marker = (f" ≠{len(row.deviations)}" if row.deviations else "" if row.fidelity_recorded else " ?")
            cells = [md_escape(row.label()) + marker, md_escape(row.profile), md_escape(row.key.train_dataset),
                     fmt_params(row.params), seeds]
            for column in table.columns:
                cell = row.cells[column.key]
                value = fmt_mean_std(cell.stats, column)
                if cell.stats is not None:
                    value += f" (n={cell.stats.n})"
                if cell.best:
                    value = f"**{value}**"
                published, delta = _published(cell, column)
                cells += [value, fmt_range(cell.stats, column), published + _markers(cell, "†", "‡"), delta]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for column in table.columns:
            if unstated_formulation(column):
                lines.append(f"- {md_escape(column_heading(column))}: {md_escape(unstated_formulation(column))}")
        for column in table.hidden_columns:
            lines.append(f"- {md_escape(column_heading(column))}: not applicable to any run")
        for ctx in table.context:
            b = ctx.baseline
            shown = fmt_value(b.value, ctx.column) if ctx.column else str(b.value)
            unit = " %" if ctx.column is not None and ctx.column.percent else ""
            lines.append(f"- Context: {md_escape(b.system)} {md_escape(b.metric)} {shown}{unit}"
                         f"{' (' + md_escape(b.formulation) + ')' if b.formulation else ''}, "
                         f"{md_escape(b.source)}{f' {b.year}' if b.year else ''} — {md_escape(ctx.reason)}")
        if table.hidden_columns or table.context or any(unstated_formulation(c) for c in table.columns):
            lines.append("")
    if report.problems:
        lines += ["## Failed, incomplete and unreadable cells", "",
                  "| State | Cell | Dataset | Model | Profile | Seed | Error |", "|---|---|---|---|---|---:|---|"]
        for p in report.problems:
            error = (f"{p.error_type}: " if p.error_type else "") + p.message
            lines.append("| " + " | ".join(md_escape(v if v is not None else "—") for v in (
                p.kind, p.cell_id, p.dataset, p.model, p.profile, p.seed, error)) + " |")
        lines.append("")
    prov = report.provenance
    lines += ["## Provenance", "",
              f"- benchsuite: {md_escape(', '.join(prov.benchsuite_versions) or '—')}",
              f"- git revision: {md_escape(', '.join(prov.git_revisions) or '—')}",
              "- versions: " + md_escape("; ".join(f"{k} {' / '.join(v)}" for k, v in prov.versions.items()) or "—"),
              f"- device: {md_escape(', '.join(prov.devices) or '—')}; CUDA: {md_escape(', '.join(prov.cuda) or 'none')}",
              f"- dates: {md_escape(prov.first_start or '—')} → {md_escape(prov.last_end or '—')}",
              f"- total compute time: {fmt_seconds(prov.compute_seconds)}",
              "- run command(s): " + ("; ".join(md_escape(c) for c in prov.run_commands) or "—"),
              ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- LaTeX

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\textasciicircum{}",
    "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
}


def tex_escape(text: Any) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in " ".join(str(text).split()))


def export_latex(report: Report) -> str:
    out = ["% benchsuite leaderboard; needs \\usepackage{booktabs} (and UTF-8 input for en dashes)",
           f"% mean $\\pm$ sample std over seeds (ddof = {DDOF}); rates in \\%; published values in the second column",
           ""]
    for table in report.tables:
        columns = table.columns
        spec = "llrr" + "rr" * len(columns)
        out += ["\\begin{table}[t]", "\\centering", "\\small",
                f"\\caption{{{tex_escape(table.dataset)}, {tex_escape(table.split)} split. Mean $\\pm$ std over "
                f"seeds (ddof {DDOF}, $n$ seeds); published values beside them. $^\\dagger$ published value outside "
                "the seeds' range, $^\\ddagger$ outside the 95\\,\\% CI of the mean."
                + "".join(f" {tex_escape(column_heading(c))}: {tex_escape(unstated_formulation(c))}."
                          for c in columns if unstated_formulation(c)) + "}",
                f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
        head = ["System", "Profile", "Params", "$n$"]
        rules = []
        for i, column in enumerate(columns):
            head.append(f"\\multicolumn{{2}}{{c}}{{{tex_escape(column_heading(column))}}}")
            rules.append(f"\\cmidrule(lr){{{5 + 2 * i}-{6 + 2 * i}}}")
        out.append(" & ".join(head) + " \\\\")
        if columns:
            out.append(" ".join(rules))
            out.append(" & & & & " + " & ".join("reproduced & published" for _ in columns) + " \\\\")
        out.append("\\midrule")
        for row in table.rows:
            cells = [tex_escape(row.label()), tex_escape(row.profile), tex_escape(fmt_params(row.params)),
                     str(len(row.runs))]
            for column in columns:
                cell = row.cells[column.key]
                value = fmt_mean_std(cell.stats, column, pm="$\\pm$") if cell.stats else "--"
                cells.append(f"\\textbf{{{value}}}" if cell.best else value)
                cmp = cell.comparison
                if cmp is None:
                    cells.append("--")
                else:
                    marks = _markers(cell, "\\dagger", "\\ddagger")
                    cells.append(fmt_value(cmp.published, column) + (f"$^{{{marks}}}$" if marks else "")
                                 + ("" if cmp.compared else " (n.c.)"))
            out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)


EXPORTERS: dict[str, Callable[[Report], str]] = {
    "md": export_markdown,
    "csv": export_csv,
    "tex": export_latex,
    "json": export_json,
}
