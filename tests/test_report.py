"""Leaderboard reports: the numbers in the HTML against a direct computation from
the stored result.json files, baselines placement, failed and incomplete cells,
exports, hostile names, and the command."""
from __future__ import annotations

import csv
import io
import json
import math
import statistics
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats as scipy_stats

from benchsuite.plugins import manager as plugins
from benchsuite.plugins import registry
from benchsuite.api import Baseline, ConfigError
from benchsuite.contract.hookspecs import hookimpl
from benchsuite.reporting import build_report, render_report
from benchsuite.reporting.aggregate import build_tables, seed_stats
from benchsuite.cli.report import report as report_command
from benchsuite.reporting.plots import det_curve, det_svg
from benchsuite.reporting.scoredata import read_binary_scores
from builders_results import (
    FAILED_ERROR, METRIC_INFO, CellPlan, build_standard_store, standard_baselines, write_cell, write_incomplete_cell,
    write_invocation,
)

ALL_FORMATS = ["html", "md", "csv", "tex", "json"]


# --------------------------------------------------------------------------- HTML parsing


class PageParser(HTMLParser):
    """Tables (with their rows and cells), every start tag and all text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self.start_tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._open_tables: list[dict[str, Any]] = []
        self._row: dict[str, Any] | None = None
        self._cell: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.start_tags.append((tag, attributes))
        if tag == "table":
            self._open_tables.append({"attrs": attributes, "head": [], "rows": []})
        elif tag == "tr" and self._open_tables:
            self._row = {"attrs": attributes, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "attrs": attributes, "parts": []}

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._cell["text"] = " ".join("".join(self._cell.pop("parts")).split())
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None and self._open_tables:
            table = self._open_tables[-1]
            is_head = all(c["tag"] == "th" for c in self._row["cells"]) and not table["rows"]
            (table["head"] if is_head else table["rows"]).append(self._row)
            self._row = None
        elif tag == "table" and self._open_tables:
            self.tables.append(self._open_tables.pop())

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell["parts"].append(data)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def leaderboards(page: PageParser) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["attrs"]["data-dataset"], t["attrs"]["data-split"]): t
            for t in page.tables if "leaderboard" in (t["attrs"].get("class") or "")}


def cell(row: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in row["cells"] if c["attrs"].get("data-key") == key)


def metric_keys(table: dict[str, Any]) -> list[str]:
    return [c["attrs"]["data-sort-key"][: -len(".mean")] for head in table["head"] for c in head["cells"]
            if (c["attrs"].get("data-sort-key") or "").endswith(".mean")]


# --------------------------------------------------------------------------- the direct computation


def stored_results(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((root / "cells").glob("*/result.json"))]


def measured_on(result: dict[str, Any], split: str) -> str:
    """The dataset a split's numbers belong to: dev numbers of cross-dataset cells are the training set's."""
    data = result["dataset"]
    if split == "dev" and data["train_dataset"] != data["name"]:
        return data["train_dataset"]
    return data["name"]


def shown(value: float, key: str) -> str:
    return f"{value * 100:.2f}" if METRIC_INFO[key]["percent"] else f"{value:.4f}"


def shown_delta(value: float, key: str) -> str:
    text = f"{value * 100:+.2f}" if METRIC_INFO[key]["percent"] else f"{value:+.4f}"
    return text.replace("-0.", "+0.") if float(text) == 0 else text


def published_for(dataset: str, split: str, key: str, model: str) -> Baseline | None:
    found = [b for b in standard_baselines() if (b.dataset, b.split, b.metric, b.model) == (dataset, split, key, model)
             and b.formulation == METRIC_INFO[key]["formulation"]]
    assert len(found) <= 1
    return found[0] if found else None


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report")
    store = build_standard_store(root / "runs")
    written = render_report(root / "runs", root / "out", ALL_FORMATS, baselines=standard_baselines(),
                            command="benchsuite report --runs runs --format all")
    html = written["html"].read_text(encoding="utf-8")
    return {"root": root, "store": store, "written": written, "html": html, "page": parse(html)}


# --------------------------------------------------------------------------- the leaderboard numbers


def test_every_table_cell_matches_a_direct_computation(rendered) -> None:
    results = [r for r in stored_results(rendered["root"] / "runs") if r["status"] == "done"]
    boards = leaderboards(rendered["page"])
    expected_tables = {(measured_on(r, split), split) for r in results for split in r["metrics"]}
    assert set(boards) == expected_tables
    checked = 0
    for (dataset, split), table in boards.items():
        keys = metric_keys(table)
        for row in table["rows"]:
            model, profile = row["attrs"]["data-model"], row["attrs"]["data-profile"]
            runs = [r for r in results if r["model"]["name"] == model and r["profile"] == profile
                    and r["dataset"]["name"] == row["attrs"]["data-cell-dataset"] and split in r["metrics"]
                    and measured_on(r, split) == dataset]
            assert runs, (dataset, split, model, profile)
            assert cell(row, "seeds")["text"].startswith(str(len(runs)))
            assert cell(row, "params")["text"] == f"{runs[0]['model']['params']:,}"
            for key in keys:
                values = [r["metrics"][split][key] for r in runs if r["metrics"][split].get(key) is not None]
                mean_cell = cell(row, f"{key}.mean")
                n = len(values)
                if n == 0:  # every seed reports it as not applicable
                    assert mean_cell["text"] == "—" and mean_cell["attrs"]["data-sort-value"] == ""
                    continue
                mean = statistics.fmean(values)
                if n >= 2:
                    std = statistics.stdev(values)
                    # the seeds' Student-t interval of the mean is in the cell itself, not only in a tooltip
                    half = scipy_stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
                    assert mean_cell["text"] == (f"{shown(mean, key)} ± {shown(std, key)} n={n} seeds 95 % CI "
                                                 f"[{shown(mean - half, key)}, {shown(mean + half, key)}]")
                    assert float(mean_cell["attrs"]["data-std"]) == pytest.approx(std, rel=1e-12, abs=1e-15)
                else:
                    assert mean_cell["text"] == f"{shown(mean, key)} n={n}"
                assert float(mean_cell["attrs"]["data-mean"]) == pytest.approx(mean, rel=1e-12, abs=1e-15)
                assert int(mean_cell["attrs"]["data-n"]) == n
                # below the range, each seed's value with its own bootstrap interval over trials (the EER has one)
                per_seed = "".join(
                    f" seed {r['seed']}: {shown(r['metrics'][split][key], key)} [{shown(r['extra'][split][key + '_ci95'][0], key)}, "
                    f"{shown(r['extra'][split][key + '_ci95'][1], key)}]"
                    for r in sorted(runs, key=lambda r: r["seed"]) if (r.get("extra") or {}).get(split, {}).get(f"{key}_ci95"))
                assert cell(row, f"{key}.min")["text"] == f"{shown(min(values), key)}–{shown(max(values), key)}{per_seed}"

                published = published_for(dataset, split, key, model)
                pub_cell, delta_cell = cell(row, f"{key}.published"), cell(row, f"{key}.delta")
                if published is None:
                    assert pub_cell["text"] == "—" and delta_cell["text"] == "—"
                    continue
                markers = ""
                if profile == "paper" and n >= 2:
                    half = scipy_stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)
                    markers += "†" if not min(values) <= published.value <= max(values) else ""
                    markers += "‡" if not mean - half <= published.value <= mean + half else ""
                assert pub_cell["text"] == shown(published.value, key) + markers
                if profile == "paper":
                    assert delta_cell["text"] == shown_delta(mean - published.value, key)
                    assert float(delta_cell["attrs"]["data-delta"]) == pytest.approx(mean - published.value, abs=1e-15)
                else:  # a quick run is shown beside the paper, never compared with it
                    assert delta_cell["text"] == "—"
                    assert "uncompared" in pub_cell["attrs"]["class"]
                checked += 1
    # 2019 eval: AASIST x 3 metrics, RawGAT-ST x 2, AASIST-L paper and quick; 2019 dev: AASIST in-domain and
    # the cross-dataset cells' selection numbers
    assert checked == 9


def test_markers_cover_both_outcomes(rendered) -> None:
    table = leaderboards(rendered["page"])[("asvspoof2019-la", "eval")]
    published = {r["attrs"]["data-model"] + "/" + r["attrs"]["data-profile"]: cell(r, "eer.published")["text"]
                 for r in table["rows"]}
    assert published["aasist/paper"] == "0.83"  # 0.58–1.00 over three seeds brackets the paper's 0.83
    assert published["rawgat-st/paper"].endswith("†")  # 0.00–0.42 misses 1.06


def test_best_mean_is_highlighted_per_column_and_profile(rendered) -> None:
    for (dataset, split), table in leaderboards(rendered["page"]).items():
        for key in metric_keys(table):
            by_profile: dict[str, list[tuple[float, bool]]] = {}
            for row in table["rows"]:
                mean_cell = cell(row, f"{key}.mean")
                if mean_cell["attrs"].get("data-mean"):
                    by_profile.setdefault(row["attrs"]["data-profile"], []).append(
                        (float(mean_cell["attrs"]["data-mean"]), "best" in mean_cell["attrs"]["class"]))
            for entries in by_profile.values():
                pick = min if METRIC_INFO[key]["lower_is_better"] else max
                best = pick(m for m, _ in entries)
                assert [flag for _, flag in entries] == [m == best for m, _ in entries], (dataset, split, key)


def test_quick_and_paper_runs_never_share_a_row(rendered) -> None:
    table = leaderboards(rendered["page"])[("asvspoof2019-la", "eval")]
    aasist_l = [r for r in table["rows"] if r["attrs"]["data-model"] == "aasist-l"]
    assert sorted(r["attrs"]["data-profile"] for r in aasist_l) == ["paper", "quick"]
    for row in aasist_l:
        badge = cell(row, "profile")
        assert badge["text"] == row["attrs"]["data-profile"]
    report = json.loads(rendered["written"]["json"].read_text())
    runs_by_cell = {r["cell_id"]: r for r in stored_results(rendered["root"] / "runs")}
    for table_json in report["tables"]:
        for row in table_json["rows"]:
            assert {runs_by_cell[c]["profile"] for c in row["cell_ids"]} == {row["profile"]}


def test_failed_and_incomplete_cells_are_listed_with_their_error(rendered) -> None:
    problems = next(t for t in rendered["page"].tables if "problems" in (t["attrs"].get("class") or ""))
    by_kind = {r["attrs"]["data-kind"]: [c["text"] for c in r["cells"]] for r in problems["rows"]}
    failed = rendered["store"].failed[0]
    assert failed["cell_id"] in by_kind["failed"]
    assert any(FAILED_ERROR["message"] in text and "CellFailure" in text for text in by_kind["failed"])
    incomplete_id = rendered["store"].incomplete[0]
    assert incomplete_id in by_kind["incomplete"]
    assert any("no result.json" in text for text in by_kind["incomplete"])
    # the failed seed also shows in its system's row and per-seed table
    table = leaderboards(rendered["page"])[("asvspoof2019-la", "eval")]
    rawgat = next(r for r in table["rows"] if r["attrs"]["data-model"] == "rawgat-st")
    assert cell(rawgat, "seeds")["text"] == "2 +1 failed"
    assert "non-finite training loss" in rendered["html"].split('id="problems"')[0]
    md = rendered["written"]["md"].read_text()
    assert failed["cell_id"] in md and incomplete_id in md


def test_baselines_are_compared_only_on_the_same_dataset_split_and_formulation(rendered) -> None:
    page = rendered["page"]
    context_rows = [[c["text"] for c in row["cells"]] for t in page.tables
                    if "context" in (t["attrs"].get("class") or "") for row in t["rows"]]
    reasons = {(row[0].split(" (")[0], row[2]): row[-1] for row in context_rows}
    assert reasons == {
        ("RawNet2", "EER (%)"): "no reproduced run of this system",
        ("B01 CQCC-GMM", "EER (%)"): "no reproduced run of this system",
        ("B01 CQCC-GMM", "min t-DCF (revised)"): "the reproduced runs report this metric as not applicable",
        ("ECAPA", "minDCF (p=0.01)"): "formulation differs: published p_target=0.01, Cmiss=Cfa=1, un-normalised, "
                                      "reproduced p_target=0.01, Cmiss=Cfa=1, normalised",
    }
    assert "WeSpeaker" not in rendered["html"]  # voxceleb1-o has no runs: not shown
    report = build_report(rendered["root"] / "runs", baselines=standard_baselines())
    assert report.baselines_not_shown == 1
    # the SpeechBrain minDCF (another normalisation) is never a difference in the vox-tiny table
    vox = leaderboards(page)[("vox-tiny", "eval")]
    assert all(cell(r, "min_dcf_p0.01.published")["text"] == "—" for r in vox["rows"])
    # the dev-split number is compared in the dev table, not the eval one
    dev = leaderboards(page)[("asvspoof2019-la", "dev")]
    aasist_dev = next(r for r in dev["rows"] if r["attrs"]["data-model"] == "aasist"
                      and r["attrs"]["data-cell-dataset"] == "asvspoof2019-la")
    assert cell(aasist_dev, "eer.published")["text"].startswith("0.40")


def test_csv_and_json_recompute_every_html_number(rendered) -> None:
    records = list(csv.DictReader(io.StringIO(rendered["written"]["csv"].read_text())))
    done = [r for r in stored_results(rendered["root"] / "runs") if r["status"] == "done"]
    assert len(records) == sum(len(values) for r in done for values in r["metrics"].values())
    groups: dict[tuple, list[float]] = {}
    for record in records:
        if record["value"]:
            key = (record["dataset"], record["split"], record["cell_dataset"], record["model"], record["profile"],
                   record["variant"], record["metric"])
            groups.setdefault(key, []).append(float(record["value"]))
    report = json.loads(rendered["written"]["json"].read_text())
    assert report["schema_version"] == 1
    assert report["statistics"]["std_ddof"] == 1
    assert len(report["runs"]) == len(records)
    boards = leaderboards(rendered["page"])
    compared = 0
    for table in report["tables"]:
        board = boards[(table["dataset"], table["split"])]
        for row in table["rows"]:
            cell_dataset = row["cell_dataset"] or table["dataset"]
            html_row = next(r for r in board["rows"] if r["attrs"]["data-model"] == row["model"]
                            and r["attrs"]["data-profile"] == row["profile"]
                            and r["attrs"]["data-variant"] == row["variant"]
                            and r["attrs"]["data-cell-dataset"] == cell_dataset)
            for key, metric in row["metrics"].items():
                values = groups.get((table["dataset"], table["split"], cell_dataset, row["model"], row["profile"],
                                     row["variant"], key), [])
                if metric["stats"] is None:
                    assert values == []
                    continue
                assert metric["stats"]["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
                assert [v["value"] for v in metric["values"] if v["value"] is not None] == values
                assert float(cell(html_row, f"{key}.mean")["attrs"]["data-mean"]) == pytest.approx(
                    metric["stats"]["mean"], rel=1e-12)
                compared += 1
    assert compared >= 20
    assert any(p["kind"] == "failed" for p in report["problems"])
    assert any(p["kind"] == "incomplete" for p in report["problems"])


def test_markdown_and_latex_exports(rendered) -> None:
    md = rendered["written"]["md"].read_text()
    assert "## asvspoof2019-la · eval" in md
    # these builder results predate recorded deviations: the row is marked "?", never as faithful
    aasist = next(line for line in md.splitlines() if line.startswith("| aasist ? | paper"))
    assert "| 0.86 ± 0.24 (n=3) | 0.58–1.00 | 0.83 | +0.03 |" in aasist
    tex = rendered["written"]["tex"].read_text()
    assert tex.count("\\begin{tabular}") == len(leaderboards(rendered["page"]))
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    aasist_tex = next(line for line in tex.splitlines() if line.startswith("aasist & paper"))
    assert aasist_tex.startswith("aasist & paper & 297,866 & 3 & 0.86 $\\pm$ 0.24 & 0.83 & ")
    assert "1.06$^{\\dagger}$" in tex


def test_provenance_footer(rendered) -> None:
    footer = rendered["html"].split('<footer id="provenance">')[1]
    for expected in ("c91436fabc", "torch 2.11.0", "cpu (test CPU)", "none (CPU)", "2026-01-10T09:00:00+00:00",
                     "benchsuite run --models aasist,aasist-l,rawgat-st --seeds 3 --out runs",
                     "benchsuite report --runs runs --format all", "aasist-plugin (benchsuite 0.1.0)"):
        assert expected in footer
    # 18 finished cells x 600 s + the failed one = 19 x 600 s
    assert "3 h 10 min" in footer


def test_page_is_self_contained(rendered) -> None:
    page = rendered["page"]
    for tag, attrs in page.start_tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:")), (tag, name, value)
    assert not any(tag == "link" and attrs.get("rel") == "stylesheet" for tag, attrs in page.start_tags)
    assert "Content-Security-Policy" in rendered["html"] and "default-src 'none'" in rendered["html"]
    assert rendered["html"].count("<svg") >= 10  # DET curves and histograms inline
    assert "does not match the stored metrics" not in rendered["html"]  # plots and numbers agree


# --------------------------------------------------------------------------- hostile names


HOSTILE = "<script>alert(1)</script>"
PAGE_TAGS = {  # every element the template and the SVG plots produce
    "html", "head", "meta", "link", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p", "code", "div",
    "label", "input", "span", "nav", "a", "section", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
    "details", "summary", "pre", "br", "footer", "dl", "dt", "dd", "strong", "script", "svg", "rect", "line", "text",
    "polyline", "polygon", "circle",
}


def test_hostile_names_are_escaped_everywhere(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    plans = [CellPlan(dataset="evil-la", model=HOSTILE, seed=seed, separation=3.0,
                      attacks=("A07", "<img src=x onerror=alert(2)>")) for seed in (1, 2)]
    plans.append(CellPlan(dataset="evil-cls", task="classify", model=HOSTILE, seed=1,
                          classes=("<b>bold</b>", "a&b", "x_y")))
    for plan in plans:
        write_cell(runs, plan)
    write_cell(runs, CellPlan(dataset="evil-la", model=HOSTILE, seed=3, status="failed",
                              error={"type": "CellFailure", "message": "<iframe src=//evil>", "traceback": "</pre>"}))
    write_incomplete_cell(runs, CellPlan(dataset="evil-la", model="</td><script>alert(3)</script>", seed=9))
    write_invocation(runs, [], command="benchsuite run --models '<script>alert(4)</script>'")
    baselines = [Baseline(HOSTILE, "evil-la", "eval", "eer", 0.05, "<a href=//evil>paper</a>", 2024, model=HOSTILE,
                          conditions={"<i>crop</i>": "<svg onload=alert(5)>"})]
    written = render_report(runs, tmp_path / "out", ALL_FORMATS, baselines=baselines,
                            command="benchsuite report '<script>alert(6)</script>'")

    html = written["html"].read_text()
    page = parse(html)
    tags = [tag for tag, _ in page.start_tags]
    assert set(tags) <= PAGE_TAGS  # nothing from the data became markup
    assert tags.count("script") == 1  # the page's own sorting script
    assert not any(tag == "a" and not (attrs.get("href") or "").startswith("#") for tag, attrs in page.start_tags)
    assert not any(name.startswith("on") for _, attrs in page.start_tags for name in attrs)
    text = "".join(page.text)
    for shown_literally in (HOSTILE, "<img src=x onerror=alert(2)>", "<b>bold</b>", "<iframe src=//evil>",
                            "</td><script>alert(3)</script>", "benchsuite run --models '<script>alert(4)</script>'"):
        assert shown_literally in text  # displayed as text, not interpreted
    tooltips = " ".join(attrs.get("title") or "" for _, attrs in page.start_tags)
    assert "<a href=//evil>paper</a>" in tooltips and "<svg onload=alert(5)>" in tooltips
    board = leaderboards(page)[("evil-la", "eval")]
    assert board["rows"][0]["attrs"]["data-model"] == HOSTILE

    md = written["md"].read_text()
    assert "<script>" not in md and "<img" not in md and "<iframe" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    tex = written["tex"].read_text()
    assert "<script>" not in tex and "\\textless{}script\\textgreater{}" in tex
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    assert {r["model"] for r in rows} == {HOSTILE}  # data formats keep the name exactly
    assert json.loads(written["json"].read_text())["tables"][0]["rows"][0]["model"] == HOSTILE


# --------------------------------------------------------------------------- robustness and options


def test_unreadable_and_foreign_results_are_listed_not_fatal(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_cell(runs, CellPlan(seed=1))
    broken = runs / "cells" / "broken-cell"
    broken.mkdir(parents=True)
    (broken / "result.json").write_text("{not json")
    future = runs / "cells" / "future-cell"
    future.mkdir()
    (future / "result.json").write_text(json.dumps({"schema_version": 2, "status": "done"}))
    report = build_report(runs, baselines=[])
    assert {p.cell_id for p in report.unreadable} == {"broken-cell", "future-cell"}
    assert any("schema_version 2" in p.message for p in report.unreadable)
    assert len(report.done) == 1
    html = render_report(runs, tmp_path / "out", ["html"], baselines=[])["html"].read_text()
    assert "broken-cell" in html and "future-cell" in html


def test_missing_or_corrupt_score_files_become_notes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    kept = write_cell(runs, CellPlan(seed=1))
    damaged = write_cell(runs, CellPlan(seed=2))
    (runs / "cells" / kept["cell_id"] / "dev_scores.txt").unlink()
    (runs / "cells" / damaged["cell_id"] / "scores.txt").write_text("LA_E_1 A07 spoof not-a-number\n")
    html = render_report(runs, tmp_path / "out", ["html"], baselines=[])["html"].read_text()
    assert "dev_scores.txt missing" in html
    assert "scores.txt:1" in html and "not a number" in html
    # a score file rewritten after the metrics were computed is flagged, not silently plotted
    path = runs / "cells" / kept["cell_id"] / "scores.txt"
    flipped = [" ".join(fields[:3] + [repr(-float(fields[3]))]) for fields in map(str.split, path.read_text().splitlines())]
    path.write_text("\n".join(flipped) + "\n")
    html = render_report(runs, tmp_path / "out", ["html"], baselines=[])["html"].read_text()
    assert "does not match the stored metrics" in html


def test_bad_options_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist"):
        render_report(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "runs").mkdir()
    with pytest.raises(ConfigError, match=r"unknown report format.*'pdf'.*html, md, csv, tex, json"):
        render_report(tmp_path / "runs", tmp_path / "out", ["html", "pdf"])


def test_an_empty_store_renders_an_empty_report(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    written = render_report(tmp_path / "runs", tmp_path / "out", ALL_FORMATS, baselines=standard_baselines())
    assert "No finished cells" in written["html"].read_text()
    assert json.loads(written["json"].read_text())["tables"] == []


def test_the_page_says_why_a_table_has_no_published_value_and_what_quick_means(tmp_path: Path) -> None:
    """A generated corpus has no published results: the table says so and why; a quick-profile row is
    called a smoke test whose numbers are not comparable with papers.  A real corpus with no registered
    baseline gets the plain statement, and a table with a compared baseline gets neither."""
    for seed in (1, 2):
        stored = write_cell(tmp_path / "runs", CellPlan(dataset="synth-la", profile="quick", seed=seed))
        path = tmp_path / "runs" / "cells" / stored["cell_id"] / "result.json"
        result = json.loads(path.read_text())
        result["dataset"]["generated"] = True
        path.write_text(json.dumps(result))
    write_cell(tmp_path / "runs", CellPlan(dataset="in-the-wild", profile="paper", seed=1))
    write_cell(tmp_path / "runs", CellPlan(dataset="asvspoof2019-la", profile="paper", seed=1))
    page = parse(render_report(tmp_path / "runs", tmp_path / "out", ["html"],
                               baselines=standard_baselines())["html"].read_text())
    notes = {}
    for tag, attrs in page.start_tags:
        if tag == "section" and "board" in (attrs.get("class") or ""):
            current = attrs["id"]
        if tag == "li" and attrs.get("data-note"):
            notes.setdefault(current, []).append(attrs["data-note"])
    text = " ".join("".join(page.text).split())
    assert "synth-la is generated by benchsuite, so no paper reports results on it" in text
    assert "no published result is registered for in-the-wild · eval by any plugin" in text
    assert "Profile quick is a smoke-test recipe" in text and "not comparable with papers" in text
    by_kind = sorted(sorted(kinds) for kinds in notes.values())
    assert ["no-published"] in by_kind and ["no-published", "quick-profile"] in by_kind
    # synth-la and in-the-wild, eval and dev; the 2019 LA tables show published values
    assert len([k for k in by_kind if "no-published" in k]) == 4 and len(notes) == 4


def test_report_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_cell(tmp_path / "runs", CellPlan(seed=1))
    runner = CliRunner()
    result = runner.invoke(report_command, ["--format", "html,csv"])  # reads runs/, writes reports/
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"leaderboard: {Path('reports') / 'leaderboard.html'}"
    assert (tmp_path / "reports" / "results.csv").is_file()
    elsewhere = runner.invoke(report_command, ["--runs", "runs", "--out", str(tmp_path / "study"), "--format", "md"])
    assert elsewhere.exit_code == 0 and (tmp_path / "study" / "leaderboard.md").is_file()
    bad = runner.invoke(report_command, ["--format", "docx"])
    assert bad.exit_code != 0 and "unknown report format" in bad.output


class _BaselinePlugin:
    @staticmethod
    @hookimpl
    def benchsuite_register_baselines(register):
        register(Baseline("AASIST", "asvspoof2019-la", "eval", "eer", 0.0083, "registered paper", 2022,
                          model="aasist"))


def test_baselines_default_to_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    write_cell(runs, CellPlan(seed=1))
    write_cell(runs, CellPlan(seed=2, separation=5.0))
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "")  # no entry points: only the in-process plugin
    loaded = registry.build_registry(extra={"test-report-baselines": _BaselinePlugin})
    report = build_report(runs, registry=loaded)
    comparison = report.tables[0].rows[0].cells["eer"].comparison
    assert comparison is not None and comparison.baseline.source == "registered paper"


# --------------------------------------------------------------------------- statistics and plots


def test_columns_follow_the_metric_plugins_order_not_the_sorted_json_keys() -> None:
    # as stored: json sorts the keys (act_dcf, cllr, eer, ...); a researcher reads EER first
    from benchsuite.api import SpoofScores, Task
    from benchsuite.scoring.metrics import compute_metrics

    ids = np.array([f"u{i}" for i in range(40)])
    scores = SpoofScores(utt_ids=ids, scores=np.r_[np.arange(20.0), np.arange(20.0) - 5.0],
                         is_bonafide=np.arange(40) < 20, attacks=np.array(["-"] * 20 + ["A01"] * 20))
    computed = compute_metrics(registry.get_registry(), Task.SPOOF, scores)
    stored = json.loads(json.dumps({"metrics": {"eval": computed.values}, "metric_info": computed.info},
                                   sort_keys=True))
    stored["metric_info"]["zz_undescribed"] = None
    stored["metrics"]["eval"]["zz_undescribed"] = 1.0
    result = {"status": "done", "task": "spoof", "profile": "quick", "seed": 1, "cell_id": "c1",
              "dataset": {"name": "synth-la", "eval_split": "eval", "options": {}},
              "model": {"name": "m", "params": 1, "config": {}}, "recipe": {}, **stored}
    columns = [column.key for column in build_tables([result])[0].columns]
    assert columns[0] == "eer" and columns[-1] == "zz_undescribed"
    assert columns.index("min_dcf") < columns.index("act_dcf") < columns.index("cllr")


def test_seed_stats_use_sample_std_and_student_t() -> None:
    values = [0.010, 0.012, 0.009, 0.015, 0.011]
    s = seed_stats(values)
    assert s.n == 5 and s.ddof == 1
    assert s.std == pytest.approx(float(np.std(values, ddof=1)))
    half = 2.7764451051977987 * s.std / math.sqrt(5)  # t(0.975, 4)
    assert (s.ci_low, s.ci_high) == (pytest.approx(s.mean - half), pytest.approx(s.mean + half))
    single = seed_stats([0.02])
    assert single.std is None and single.ci_low is None and single.minimum == single.maximum == 0.02


def test_det_plot_of_the_released_rawgat_st_scores(reference_dir: Path) -> None:
    scores = read_binary_scores(reference_dir / "asvspoof2019_la" / "RawGAT-ST-mul.eval.cm.scores.txt", "spoof")
    assert (scores.positive.size, scores.negative.size) == (7355, 63882)
    curve = det_curve(scores.positive, scores.negative)
    assert round(curve.eer * 100, 4) == 1.0601  # the published 1.06 %
    svg = det_svg([("released", curve)], positive="bona fide", negative="spoof")
    assert "EER 1.06 %" in svg
    points = svg.split('points="')[1].split('"')[0].split()
    assert 50 < len(points) < 2000  # 71,237 thresholds thinned to what a 300-pixel plot can show


def test_each_score_file_is_read_once_per_report(rendered, monkeypatch) -> None:
    """However many plots and tables show a cell's scores, its file is read once."""
    from benchsuite.reporting import render, scoredata

    read: list[Path] = []
    real = scoredata.read_binary_scores
    monkeypatch.setattr(scoredata, "read_binary_scores", lambda path, task: read.append(Path(path)) or real(path, task))
    report = build_report(rendered["root"] / "runs", baselines=[])
    files = scoredata.ScoreFiles()
    render.row_details(report, files)
    render.row_details(report, files)  # a second pass over every plot: served from the same reads
    assert read and len(read) == len(set(read))
