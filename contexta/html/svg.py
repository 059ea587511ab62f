"""SVG primitives: escaped elements, tick placement and number formats.

Every text node and attribute value goes through :func:`esc`; ``body`` arguments are markup
built by these functions (never raw user text).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

#: Series colours (colour-blind friendly, no red: red means "failed" on every page).
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#5c6bc0",
    "#8d6e63",
)
DASHES: tuple[str | None, ...] = (None, "6 3", "2 3", "8 3 2 3")
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"


def esc(value: object) -> str:
    """HTML-escape ``value`` (quotes included) for text and attribute positions."""
    return html.escape(str(value), quote=True)


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def num(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def attrs(**values: object) -> str:
    """``key="value"`` pairs (``stroke_width`` is ``stroke-width``, ``cls`` is ``class``); skips None."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        name = "class" if key == "cls" else key.rstrip("_").replace("_", "-")
        shown = num(value) if isinstance(value, float) else value
        out.append(f' {name}="{esc(shown)}"')
    return "".join(out)


def el(tag: str, body: str = "", /, **values: object) -> str:
    return f"<{tag}{attrs(**values)}>{body}</{tag}>" if body else f"<{tag}{attrs(**values)}/>"


def tooltip(text: str) -> str:
    return f"<title>{esc(text)}</title>"


def text(x: float, y: float, content: object, **values: object) -> str:
    return f"<text{attrs(x=float(x), y=float(y), **values)}>{esc(content)}</text>"


def line(x1: float, y1: float, x2: float, y2: float, **values: object) -> str:
    return el("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **values)


def rect(x: float, y: float, width: float, height: float, body: str = "", **values: object) -> str:
    return el(
        "rect", body, x=float(x), y=float(y), width=float(max(width, 0.0)), height=float(height), **values
    )


def circle(cx: float, cy: float, r: float, body: str = "", **values: object) -> str:
    return el("circle", body, cx=float(cx), cy=float(cy), r=float(r), **values)


def polyline(points: Iterable[tuple[float, float]], **values: object) -> str:
    return el("polyline", points=" ".join(f"{num(x)},{num(y)}" for x, y in points), **values)


def path(d: str, body: str = "", **values: object) -> str:
    return el("path", body, d=d, **values)


def svg(width: float, height: float, body: str, label: str, **values: object) -> str:
    """A standalone inline ``<svg>`` scaled to its container's width."""
    return (
        f"<svg{attrs(viewBox=f'0 0 {num(width)} {num(height)}', width=float(width), role='img')}"
        f'{attrs(aria_label=label, **values)} preserveAspectRatio="xMinYMin meet">{body}</svg>'
    )


def nice_step(span: float, count: int) -> float:
    """A 1, 2, 2.5 or 5 times a power of ten step giving about ``count`` intervals over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (the first <= lo, the last >= hi)."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, count)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    value = first
    while value < hi + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_label(value: float, step: float) -> str:
    """A tick value with as many decimals as the step needs."""
    if step >= 1 and float(value).is_integer():
        if abs(value) >= 1e6:
            return f"{value:.3g}"
        return f"{int(value)}"
    decimals = max(0, min(8, -math.floor(math.log10(step)) + (1 if f"{step:g}".endswith("5") else 0)))
    return f"{value:.{decimals}f}"


def value_label(value: float | None) -> str:
    """A measured value, compact: four significant digits (``-`` for none)."""
    if value is None:
        return "-"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}" if abs(value) >= 1 else f"{value:.4f}"


def shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: max(limit - 1, 1)] + "…"


def scale(domain: Sequence[float], extent: Sequence[float]) -> tuple[float, float]:
    """``(a, b)`` with ``a * x + b`` mapping ``domain`` onto ``extent`` (a flat domain maps to the middle)."""
    d0, d1 = domain
    e0, e1 = extent
    if d1 == d0:
        return 0.0, (e0 + e1) / 2
    a = (e1 - e0) / (d1 - d0)
    return a, e0 - a * d0
