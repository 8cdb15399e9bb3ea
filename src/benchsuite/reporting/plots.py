"""Inline SVG plots (no images, no scripts, nothing fetched): DET curves on
probit axes and score histograms, plus the colour scale of heat-map tables.

Every piece of text that reaches an SVG goes through :func:`markupsafe.escape`;
the functions return :class:`markupsafe.Markup` so Jinja inserts them as is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from markupsafe import Markup, escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies
SEED_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
POSITIVE_COLOUR = "#0072B2"
NEGATIVE_COLOUR = "#D55E00"
DET_TICKS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95)


# --------------------------------------------------------------------------- DET


@dataclass(frozen=True)
class DetCurve:
    """Miss and false-alarm rates of the official threshold sweep, and its EER point."""

    frr: np.ndarray  # positives rejected (bona fide / target)
    far: np.ndarray  # negatives accepted (spoof / nontarget)
    eer: float
    eer_frr: float
    eer_far: float


def det_curve(positive: np.ndarray, negative: np.ndarray) -> DetCurve:
    """The curve and EER of the metrics plugin's DET sweep, so the plotted EER is the reported one."""
    from benchsuite.scoring.det import DetSweep  # the one implementation of the official sweep

    sweep = DetSweep.from_scores(positive, negative)
    frr, far, _ = sweep.det_curve()
    point = sweep.eer_point()
    return DetCurve(frr=frr, far=far, eer=point.eer, eer_frr=point.frr, eer_far=point.far)


def _axis_range(curves: Sequence[DetCurve]) -> tuple[float, float]:
    smallest = min(
        (float(np.min(r[r > 0])) for c in curves for r in (c.frr, c.far) if np.any(r > 0)), default=0.01)
    low = max((t for t in DET_TICKS if t <= smallest), default=DET_TICKS[0])
    low = min(low, 0.01)
    high = 0.5 if max(c.eer for c in curves) < 0.3 else 0.95
    return low, high


def det_svg(curves: Sequence[tuple[str, DetCurve]], *, positive: str, negative: str, title: str = "") -> Markup:
    """DET curves (one per label) on probit axes, each with its EER point."""
    if not curves:
        return Markup("")
    width, height = 360, 330
    left, right, top, bottom = 54, 12, 24, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = _axis_range([c for _, c in curves])
    from scipy.special import ndtri  # on use: importing the report must not import scipy

    p_low, p_high = float(ndtri(low)), float(ndtri(high))

    def x_of(rate: np.ndarray) -> np.ndarray:
        return left + (ndtri(np.clip(rate, low, high)) - p_low) / (p_high - p_low) * plot_w

    def y_of(rate: np.ndarray) -> np.ndarray:
        return top + plot_h - (ndtri(np.clip(rate, low, high)) - p_low) / (p_high - p_low) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot det" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or "DET curves")}">']
    parts.append(f"<title>{escape(title or 'DET curves')}</title>")
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="frame"/>')
    last_labelled = -np.inf
    for tick in DET_TICKS:
        if low <= tick <= high:
            x = float(x_of(np.array(tick)))
            y = float(y_of(np.array(tick)))
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" class="grid"/>')
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>')
            # probit axes crowd the small rates: label a tick only with room for it (the
            # y axis is the shorter one, so its spacing decides for both)
            if top + plot_h - y - last_labelled >= 20:
                last_labelled = top + plot_h - y
                label = _percent_label(tick)
                parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 13}" class="tick" '
                             f'text-anchor="middle">{label}</text>')
                parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" class="tick" text-anchor="end">{label}</text>')
    # equal error line
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top}" class="diagonal"/>')
    for number, (label, curve) in enumerate(curves):
        colour = SEED_COLOURS[number % len(SEED_COLOURS)]
        points = _thin(x_of(curve.far), y_of(curve.frr))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{points}">'
                     f"<title>{escape(label)}: EER {curve.eer * 100:.2f} %</title></polyline>")
        ex = float(x_of(np.array(curve.eer_far)))
        ey = float(y_of(np.array(curve.eer_frr)))
        parts.append(f'<circle cx="{ex:.1f}" cy="{ey:.1f}" r="3" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w - 4}" y="{top + 14 + 13 * number}" class="legend" '
                     f'text-anchor="end" fill="{colour}">{escape(label)} · EER {curve.eer * 100:.2f} %</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" class="axis" text-anchor="middle">'
                 f"{escape(negative)} accepted — false alarm rate (%)</text>")
    parts.append(f'<text transform="translate(13 {top + plot_h / 2:.1f}) rotate(-90)" class="axis" '
                 f'text-anchor="middle">{escape(positive)} rejected — miss rate (%)</text>')
    if title:
        parts.append(f'<text x="{left}" y="15" class="title">{escape(title)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _percent_label(rate: float) -> str:
    percent = rate * 100
    return f"{percent:g}"


def _thin(xs: np.ndarray, ys: np.ndarray) -> str:
    """Drop points that land on the same half pixel as their predecessor: a
    71,000-trial sweep needs a few hundred vertices on a 300-pixel plot."""
    xr = np.round(np.asarray(xs, dtype=np.float64) * 2) / 2
    yr = np.round(np.asarray(ys, dtype=np.float64) * 2) / 2
    keep = np.ones(xr.size, dtype=bool)
    keep[1:] = (xr[1:] != xr[:-1]) | (yr[1:] != yr[:-1])
    return " ".join(f"{x:g},{y:g}" for x, y in zip(xr[keep], yr[keep]))


# --------------------------------------------------------------------------- histograms


def histogram_svg(positive: np.ndarray, negative: np.ndarray, *, positive_label: str, negative_label: str,
                  title: str = "", bins: int = 40) -> Markup:
    """Densities of the two score populations on shared bins (each normalised on its own,
    since spoof trials outnumber bona fide ones roughly nine to one)."""
    positive = np.asarray(positive, dtype=np.float64)
    negative = np.asarray(negative, dtype=np.float64)
    width, height = 300, 180
    left, right, top, bottom = 12, 10, 36, 32
    plot_w, plot_h = width - left - right, height - top - bottom
    lo = float(min(positive.min(), negative.min()))
    hi = float(max(positive.max(), negative.max()))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    densities = [np.histogram(values, bins=edges, density=True)[0] for values in (positive, negative)]
    peak = max(float(d.max()) for d in densities) or 1.0

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot hist" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or "score distributions")}">']
    parts.append(f"<title>{escape(title or 'score distributions')}</title>")
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="frame"/>')
    for density, colour, label, count in ((densities[0], POSITIVE_COLOUR, positive_label, positive.size),
                                          (densities[1], NEGATIVE_COLOUR, negative_label, negative.size)):
        coords = [f"{left},{top + plot_h}"]
        for i, value in enumerate(density):
            x0 = left + i / bins * plot_w
            x1 = left + (i + 1) / bins * plot_w
            y = top + plot_h - value / peak * plot_h
            coords.append(f"{x0:.1f},{y:.1f} {x1:.1f},{y:.1f}")
        coords.append(f"{left + plot_w},{top + plot_h}")
        parts.append(f'<polygon points="{" ".join(coords)}" fill="{colour}" fill-opacity="0.35" stroke="{colour}" '
                     f'stroke-width="1"><title>{escape(label)}: {count} scores</title></polygon>')
    for value in np.linspace(lo, hi, 5):
        x = left + (value - lo) / (hi - lo) * plot_w
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 12}" class="tick" text-anchor="middle">{value:.3g}</text>')
    parts.append(f'<text x="{left + 2}" y="{top - 6}" class="legend" fill="{POSITIVE_COLOUR}">'
                 f"{escape(positive_label)} ({positive.size})</text>")
    parts.append(f'<text x="{left + plot_w}" y="{top - 6}" class="legend" text-anchor="end" '
                 f'fill="{NEGATIVE_COLOUR}">{escape(negative_label)} ({negative.size})</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" class="axis" text-anchor="middle">score</text>')
    if title:
        parts.append(f'<text x="{left}" y="13" class="title">{escape(title)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# --------------------------------------------------------------------------- heat maps

# light to dark, sequential (ColorBrewer OrRd)
_HEAT_STOPS = ((255, 247, 236), (253, 212, 158), (252, 141, 89), (215, 48, 31), (127, 0, 0))


def heat_style(intensity: float | None) -> str:
    """Inline CSS for a heat-map cell: 0 = best/lightest, 1 = worst/darkest."""
    if intensity is None or not np.isfinite(intensity):
        return ""
    t = min(max(float(intensity), 0.0), 1.0) * (len(_HEAT_STOPS) - 1)
    i = min(int(t), len(_HEAT_STOPS) - 2)
    frac = t - i
    rgb = [round(a + (b - a) * frac) for a, b in zip(_HEAT_STOPS[i], _HEAT_STOPS[i + 1])]
    text = "#fff" if t / (len(_HEAT_STOPS) - 1) > 0.6 else "#111"
    return f"background-color:rgb({rgb[0]},{rgb[1]},{rgb[2]});color:{text}"


def intensities(values: Sequence[float | None], lower_is_better: bool = True) -> list[float | None]:
    """Position of each value between the best and worst of ``values`` (worst = 1)."""
    present = [v for v in values if v is not None]
    if not present:
        return [None for _ in values]
    lo, hi = min(present), max(present)
    span = hi - lo
    out: list[float | None] = []
    for v in values:
        if v is None:
            out.append(None)
        elif span == 0:
            out.append(0.0)
        else:
            t = (v - lo) / span
            out.append(t if lower_is_better else 1 - t)
    return out
