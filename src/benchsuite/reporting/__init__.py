"""Leaderboard reports rendered from a results store: a self-contained HTML page
and Markdown / CSV / LaTeX / JSON exports.

``render_report(runs_dir, out_dir, formats, baselines, command)`` is the entry
point; ``build_report`` gives the aggregated tables without writing anything.
"""
from benchsuite.reporting.collect import Report, build_report
from benchsuite.reporting.render import FORMAT_FILES, render_report

__all__ = ["FORMAT_FILES", "Report", "build_report", "render_report"]
