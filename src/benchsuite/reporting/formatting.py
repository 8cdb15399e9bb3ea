"""Number formatting shared by every output format, so the HTML, Markdown and
LaTeX tables show the same digits.  Rates are stored as fractions and shown in
percent; costs are shown as stored."""
from __future__ import annotations

import math

from benchsuite.reporting.aggregate import MetricColumn, SeedStats

PERCENT_DECIMALS = 2  # as the ASVspoof scripts print EER (%.2f)
RAW_DECIMALS = 4  # as they print min t-DCF (%.4f)


def display_scale(column: MetricColumn) -> float:
    return 100.0 if column.percent else 1.0


def decimals(column: MetricColumn) -> int:
    return PERCENT_DECIMALS if column.percent else RAW_DECIMALS


def to_display(value: float, column: MetricColumn) -> float:
    return value * display_scale(column)


def fmt_value(value: float | None, column: MetricColumn) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{to_display(value, column):.{decimals(column)}f}"


def fmt_delta(delta: float | None, column: MetricColumn) -> str:
    if delta is None:
        return "—"
    text = f"{to_display(delta, column):+.{decimals(column)}f}"
    # "-0.00" and "+0.00" both mean "no visible difference"
    return text.replace("-0.", "+0.") if float(text) == 0 else text


def fmt_mean_std(stats: SeedStats | None, column: MetricColumn, pm: str = "±") -> str:
    if stats is None:
        return "—"
    if stats.std is None:
        return fmt_value(stats.mean, column)
    return f"{fmt_value(stats.mean, column)} {pm} {fmt_value(stats.std, column)}"


def fmt_range(stats: SeedStats | None, column: MetricColumn, dash: str = "–") -> str:
    if stats is None:
        return "—"
    return f"{fmt_value(stats.minimum, column)}{dash}{fmt_value(stats.maximum, column)}"


def fmt_ci(stats: SeedStats | None, column: MetricColumn) -> str:
    if stats is None or stats.ci_low is None or stats.ci_high is None:
        return "—"
    return f"[{fmt_value(stats.ci_low, column)}, {fmt_value(stats.ci_high, column)}]"


def fmt_interval(interval: tuple[float, float] | None, column: MetricColumn) -> str:
    if interval is None:
        return "—"
    return f"[{fmt_value(interval[0], column)}, {fmt_value(interval[1], column)}]"


def column_heading(column: MetricColumn) -> str:
    """The label with its unit, e.g. ``EER (%)``."""
    return f"{column.label} (%)" if column.percent else column.label


def unstated_formulation(column: MetricColumn) -> str | None:
    """The formulation when the label does not already say it ("min t-DCF (legacy)"
    does; "minDCF (p=0.01)" leaves the cost normalisation to be stated)."""
    if column.formulation and column.formulation not in column.label:
        return column.formulation
    return None


def fmt_params(params: list[int]) -> str:
    if not params:
        return "—"
    if len(params) == 1:
        return f"{params[0]:,}"
    return f"{params[0]:,}–{params[-1]:,}"


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {sec:02d} s"
