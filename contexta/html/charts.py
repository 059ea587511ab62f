"""Line charts of metric curves: SVG with axes, ticks, grid, labels and per-point tooltips."""

from __future__ import annotations

import math

from contexta.html import svg
from contexta.html.model import Curves, MetricChart, Series
from contexta.html.svg import GRID, MUTED, esc

WIDTH, HEIGHT = 380.0, 230.0
LEFT, RIGHT, TOP, BOTTOM = 62.0, 14.0, 12.0, 40.0
#: Points of one series beyond this are thinned evenly (the first and last are kept).
MAX_POINTS = 1500
#: Series with at most this many points get a marker (with a tooltip) on every point.
MARKERS_UP_TO = 40


def _thin(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    if len(points) <= MAX_POINTS:
        return points
    stride = math.ceil(len(points) / MAX_POINTS)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else (*kept, points[-1])


def _x_ticks(lo: float, hi: float, whole: bool) -> tuple[list[float], float, tuple[float, float]]:
    if hi == lo:
        return [lo], 1.0, (lo - 1, hi + 1)
    step = svg.nice_step(hi - lo, 6)
    if whole:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    while first <= hi + 1e-9:
        ticks.append(first)
        first += step
    return ticks, step, (lo, hi)


def _category(chart: MetricChart, x: float) -> str:
    index = int(x)
    name = chart.categories[index] if 0 <= index < len(chart.categories) else ""
    return svg.shorten(name, max(6, int(48 / max(len(chart.categories), 1))))


def line_chart(chart: MetricChart, width: float = WIDTH, height: float = HEIGHT) -> str:
    """One metric: a line per series (a dot when a series has one point)."""
    series = [Series(s.label, _thin(s.points), s.color, s.dash) for s in chart.series if s.points]
    xs = [x for s in series for x, _ in s.points] or [0.0]
    ys = [y for s in series for _, y in s.points] or [0.0]
    y_ticks = svg.nice_ticks(min(ys), max(ys), 5)
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    whole = all(float(x).is_integer() for x in xs)
    x_ticks, x_step, x_domain = _x_ticks(min(xs), max(xs), whole)
    if chart.categories:
        x_ticks, x_domain = (
            [float(i) for i in range(len(chart.categories))],
            (-0.5, len(chart.categories) - 0.5),
        )
    left, right, top, bottom = LEFT, width - RIGHT, TOP, height - BOTTOM
    ax, bx = svg.scale(x_domain, (left + 8, right - 8))
    ay, by = svg.scale((y_ticks[0], y_ticks[-1]), (bottom, top))
    parts = [svg.rect(0, 0, width, height, fill="#ffffff")]
    for tick in y_ticks:
        y = ay * tick + by
        parts.append(svg.line(left, y, right, y, stroke=GRID, stroke_width=1.0))
        label = svg.tick_label(tick, y_step)
        parts.append(svg.text(left - 6, y + 4, label, text_anchor="end", cls="tick"))
    for tick in x_ticks:
        x = ax * tick + bx
        parts.append(svg.line(x, bottom, x, bottom + 5, stroke=MUTED, stroke_width=1.0))
        label = _category(chart, tick) if chart.categories else svg.tick_label(tick, x_step)
        parts.append(svg.text(x, bottom + 18, label, text_anchor="middle", cls="tick"))
    parts.append(svg.line(left, bottom, right, bottom, stroke=MUTED, stroke_width=1.0))
    parts.append(svg.line(left, top, left, bottom, stroke=MUTED, stroke_width=1.0))
    parts.append(svg.text((left + right) / 2, height - 6, chart.x_label, text_anchor="middle", cls="axis"))
    y_label = chart.unit or "value"
    mid = (top + bottom) / 2
    parts.append(
        svg.text(
            11, mid, y_label, text_anchor="middle", transform=f"rotate(-90 11 {svg.num(mid)})", cls="axis"
        )
    )
    for s in series:
        stroke = svg.color(s.color)
        coords = [(ax * x + bx, ay * y + by) for x, y in s.points]
        if len(coords) > 1:
            dash = svg.DASHES[s.dash % len(svg.DASHES)]
            parts.append(
                svg.polyline(
                    coords,
                    fill="none",
                    stroke=stroke,
                    stroke_width=2.0,
                    stroke_dasharray=dash,
                    stroke_linejoin="round",
                )
            )
        if len(coords) <= MARKERS_UP_TO:
            radius = 4.5 if len(coords) == 1 else 3.0
            for (cx, cy), (x, y) in zip(coords, s.points, strict=True):
                where = (
                    _category(chart, x) if chart.categories else f"{chart.x_label} {svg.tick_label(x, 1.0)}"
                )
                tip = svg.tooltip(f"{s.label} · {where}: {y:.6g}")
                parts.append(svg.circle(cx, cy, radius, tip, fill=stroke, stroke="#ffffff", stroke_width=1.5))
        else:
            last_x, last_y = s.points[-1]
            tip = svg.tooltip(f"{s.label} · last {chart.x_label} {svg.tick_label(last_x, 1.0)}: {last_y:.6g}")
            parts.append(svg.circle(*coords[-1], 3.0, tip, fill=stroke))
    return svg.svg(width, height, "".join(parts), f"{chart.key} by {chart.x_label}", cls="chart")


def legend(entries: tuple[tuple[str, int, int], ...]) -> str:
    """An HTML legend: a coloured swatch (dashed like its line) and the label."""
    items = []
    for label, color, dash in entries:
        pattern = svg.DASHES[dash % len(svg.DASHES)]
        swatch = svg.svg(
            22,
            10,
            svg.line(1, 5, 21, 5, stroke=svg.color(color), stroke_width=3.0, stroke_dasharray=pattern),
            "",
        )
        items.append(f"<li>{swatch}<span>{esc(label)}</span></li>")
    return f"<ul class='legend'>{''.join(items)}</ul>" if items else ""


def curves_grid(curves: Curves) -> str:
    """Every chart of ``curves`` in a responsive grid, titled by metric key, with one shared legend."""
    if not curves.charts:
        return "<p class='muted'>No metric values were recorded.</p>"
    figures = []
    for chart in curves.charts:
        unit = f" <span class='muted'>({esc(chart.unit)})</span>" if chart.unit else ""
        figures.append(
            f"<figure class='chart'><figcaption><code>{esc(chart.key)}</code>{unit}</figcaption>"
            f"{line_chart(chart)}</figure>"
        )
    return legend(curves.legend) + f"<div class='charts'>{''.join(figures)}</div>"
