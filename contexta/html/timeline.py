"""The stage timeline: a Gantt chart of stages, their batches and plain OTel spans, in real time."""

from __future__ import annotations

from datetime import UTC, datetime

from contexta.html import svg
from contexta.html.model import Bar, Timeline
from contexta.html.svg import GRID, MUTED, esc

WIDTH, GUTTER, PAD_RIGHT, AXIS, ROW = 1000.0, 220.0, 24.0, 30.0, 24.0

#: fill colour by (kind, status); kinds fall back to "stage", statuses to "completed".
COLORS: dict[str, dict[str, str]] = {
    "run": {"completed": "#7b8794", "failed": "#d64545", "open": "#e0a030", "cancelled": "#9aa5b1"},
    "stage": {"completed": "#4e79a7", "failed": "#d64545", "open": "#e0a030", "cancelled": "#9aa5b1"},
    "batch": {"completed": "#8fb3d9", "failed": "#ec7c7c", "open": "#f0c674", "cancelled": "#c5ccd3"},
    "span": {"completed": "#a58fd0", "failed": "#ec7c7c", "open": "#f0c674", "cancelled": "#c5ccd3"},
}
COLORS["lane"] = COLORS["batch"]
ISSUE_COLORS = {"error": "#b42318", "warning": "#d97706"}
HEIGHTS = {"run": 13.0, "stage": 14.0, "batch": 10.0, "span": 9.0, "lane": 10.0}
_STEPS_US = [
    n * unit
    for unit, counts in ((1_000, (1, 2, 5, 10, 20, 50, 100, 200, 500)), (1_000_000, (1, 2, 5, 10, 15, 30)))
    for n in counts
] + [n * 60_000_000 for n in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)]


def fill(kind: str, status: str) -> str:
    palette = COLORS.get(kind, COLORS["stage"])
    return palette.get(status, palette["completed"])


def duration(micros: int) -> str:
    """``3.2 ms``, ``4.50 s``, ``20 min``, ``2.5 h``."""
    seconds = micros / 1e6
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _clock(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1e6, UTC)


def ticks(start_us: int, end_us: int) -> tuple[list[int], list[str]]:
    """Tick times and labels: wall-clock (UTC) from one-second steps up, else offsets from the start."""
    span = max(end_us - start_us, 1)
    step = next((s for s in _STEPS_US if span / s <= 8), _STEPS_US[-1])
    if step < 1_000_000:
        times = list(range(start_us, end_us + 1, step))
        return times, [
            f"+{(t - start_us) / 1000:g} ms" if step < 100_000 else f"+{(t - start_us) / 1e6:g} s"
            for t in times
        ]
    first = -(-start_us // step) * step
    times = list(range(first, end_us + 1, step))
    pattern = "%H:%M" if step % 60_000_000 == 0 else "%H:%M:%S"
    return times, [_clock(t).strftime(pattern) for t in times]


def caption(timeline: Timeline) -> str:
    """A line under the chart: where the axis starts, and its length."""
    start = _clock(timeline.start_us).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"UTC; starts {start}, spans {duration(timeline.end_us - timeline.start_us)}"


def _bar_shape(bar: Bar, y: float, x0: float, x1: float, end_open: bool) -> str:
    height = HEIGHTS.get(bar.kind, 10.0)
    top = y + (ROW - height) / 2
    style = {"fill": fill(bar.kind, bar.status), "rx": 3.0}
    if end_open:
        style.update(fill_opacity="0.55", stroke=fill(bar.kind, bar.status), stroke_dasharray="4 2")
    return svg.rect(x0, top, max(x1 - x0, 2.0), height, svg.tooltip(bar.detail or bar.label), **style)


def gantt(timeline: Timeline, width: float = WIDTH) -> str:
    """One row per bar, labels on the left (indented by depth), real-time axis on top."""
    rows = len(timeline.bars)
    height = AXIS + ROW * max(rows, 1) + 8
    left, right = GUTTER, width - PAD_RIGHT
    a, b = svg.scale((timeline.start_us, max(timeline.end_us, timeline.start_us + 1)), (left, right))
    parts = [svg.rect(0, 0, width, height, fill="#ffffff")]
    for index in range(rows):
        if index % 2:
            parts.append(svg.rect(0, AXIS + index * ROW, width, ROW, fill="#f7f8fa"))
    times, labels = ticks(timeline.start_us, timeline.end_us)
    for moment, label in zip(times, labels, strict=True):
        x = a * moment + b
        parts.append(svg.line(x, AXIS - 6, x, height - 4, stroke=GRID, stroke_width=1.0))
        parts.append(svg.text(x, AXIS - 10, label, text_anchor="middle", cls="tick"))
    parts.append(svg.line(left, AXIS - 4, right, AXIS - 4, stroke=MUTED, stroke_width=1.0))
    for index, bar in enumerate(timeline.bars):
        y = AXIS + index * ROW
        indent = 10 + 16 * bar.depth
        limit = int((GUTTER - indent - 8) / 6.6)
        cls = "row-stage" if bar.kind in ("run", "stage") else "row-child"
        if bar.status == "failed":
            cls += " row-failed"
        parts.append(svg.text(indent, y + ROW / 2 + 4, svg.shorten(bar.label, limit), cls=cls))
        end_open = bar.end_us is None
        end = timeline.end_us if bar.end_us is None else bar.end_us
        x0, x1 = a * bar.start_us + b, a * end + b
        if bar.segments:
            for start, stop, status, label in bar.segments:
                piece = Bar(label, "batch", bar.depth, start, stop, status, f"{label}: {status}")
                parts.append(_bar_shape(piece, y, a * start + b, a * stop + b, False))
        else:
            parts.append(_bar_shape(bar, y, x0, x1, end_open))
        took = "open" if end_open else duration(end - bar.start_us)
        baseline = y + ROW / 2 + 4
        if x1 + 60 < right:
            parts.append(svg.text(max(x1, x0 + 2) + 5, baseline, took, cls="tick"))
        elif x0 - 60 > left:
            parts.append(svg.text(x0 - 5, baseline, took, text_anchor="end", cls="tick"))
        else:
            parts.append(svg.text(x0 + 6, baseline, took, cls="tick on-bar"))
    for mark in timeline.marks:
        x, y = a * mark.at_us + b, AXIS + mark.row * ROW + ROW / 2
        if mark.kind == "sample":
            diamond = f"M{svg.num(x)} {svg.num(y - 5)}l4 5l-4 5l-4 -5z"
            parts.append(
                svg.path(diamond, svg.tooltip(f"sample {mark.label}"), fill="#1f2933", stroke="#ffffff")
            )
        else:
            triangle = f"M{svg.num(x)} {svg.num(y - 7)}l6 11h-12z"
            color = ISSUE_COLORS.get(mark.kind, ISSUE_COLORS["warning"])
            tip = svg.tooltip(f"degraded record, {mark.label}")
            parts.append(svg.path(triangle, tip, fill=color, stroke="#ffffff", stroke_width=1.5))
    return svg.svg(width, height, "".join(parts), "stage timeline", cls="timeline")


def legend() -> str:
    keys = [
        ("run", fill("run", "completed")),
        ("stage", fill("stage", "completed")),
        ("batch", fill("batch", "completed")),
        ("span", fill("span", "completed")),
        ("failed", fill("stage", "failed")),
        ("open", fill("stage", "open")),
    ]
    items = "".join(f"<li><i class='swatch' style='background:{c}'></i>{esc(k)}</li>" for k, c in keys)
    issue = "<li><i class='swatch triangle'></i>degraded record</li>"
    return f"<ul class='legend'>{items}<li><i class='swatch diamond'></i>sample</li>{issue}</ul>"
