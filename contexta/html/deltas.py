"""Comparison tables with coloured deltas.

The direction rule: a metric key containing ``loss``, ``error``, ``mae``, ``mse``, ``rmse`` or
``latency`` (any case) is lower-is-better; every other key is higher-is-better. A change in
the better direction is green, in the worse direction red, no change grey.
"""

from __future__ import annotations

from collections.abc import Sequence

from contexta.html.page import cell_text
from contexta.html.svg import esc

LOWER_IS_BETTER_WORDS = ("loss", "error", "mae", "mse", "rmse", "latency")


def lower_is_better(key: str) -> bool:
    """True when ``key`` names a metric where smaller values are better (see the module doc)."""
    lowered = key.lower()
    return any(word in lowered for word in LOWER_IS_BETTER_WORDS)


def judge(key: str, base: float | None, value: float | None) -> str:
    """``better``, ``worse``, ``same`` or ``""`` (a value is missing) for ``value`` against ``base``."""
    if base is None or value is None:
        return ""
    if value == base:
        return "same"
    improved = value < base if lower_is_better(key) else value > base
    return "better" if improved else "worse"


def delta_cell(key: str, base: float | None, value: float | None) -> str:
    """A ``<td>`` with the value and its signed, coloured change from ``base``."""
    verdict = judge(key, base, value)
    if not verdict:
        return f"<td class='num'>{esc(cell_text(value))}</td>"
    change = (value or 0.0) - (base or 0.0)
    share = f" ({change / abs(base) * 100:+.1f}%)" if base else ""
    tip = f"{verdict} than the baseline by {change:+.6g}{share}"
    return (
        f"<td class='num {verdict}' title='{esc(tip)}'>{esc(cell_text(value))}"
        f"<span class='delta'>{change:+.4f}</span></td>"
    )


def direction_mark(key: str) -> str:
    if lower_is_better(key):
        return "<span class='muted' title='lower is better'>↓</span>"
    return "<span class='muted' title='higher is better'>↑</span>"


def _best(key: str, values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    if len(present) < 2 or len(set(present)) == 1:
        return None
    return min(present) if lower_is_better(key) else max(present)


def comparison_table(
    names: Sequence[str], rows: Sequence[tuple[str | None, str, Sequence[float | None]]]
) -> str:
    """Stage, metric, then one column per run: the first run is the baseline, every other cell shows
    its delta from it; the best value of each row is bold."""
    head = "<th>stage</th><th>metric</th>" + "".join(f"<th>{esc(name)}</th>" for name in names)
    body = []
    for stage, key, values in rows:
        best = _best(key, values)
        cells = [
            f"<td>{esc(stage or '(run)')}</td>",
            f"<td><code>{esc(key)}</code> {direction_mark(key)}</td>",
        ]
        for index, value in enumerate(values):
            cell = (
                f"<td class='num'>{esc(cell_text(value))}</td>"
                if index == 0
                else delta_cell(key, values[0], value)
            )
            if best is not None and value == best:
                cell = cell.replace("<td class='num", "<td class='best num", 1)
            cells.append(cell)
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def pair_table(
    rows: Sequence[tuple[str | None, str, float | None, float | None]], left: str, right: str
) -> str:
    """Stage, metric, left, right and the coloured change (a :class:`RunComparison`)."""
    head = f"<th>stage</th><th>metric</th><th>{esc(left)}</th><th>{esc(right)}</th>"
    body = []
    for stage, key, lvalue, rvalue in rows:
        body.append(
            f"<tr><td>{esc(stage or '(run)')}</td><td><code>{esc(key)}</code> {direction_mark(key)}</td>"
            f"<td class='num'>{esc(cell_text(lvalue))}</td>{delta_cell(key, lvalue, rvalue)}</tr>"
        )
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


RULE = (
    "Deltas are against the first run. Keys containing loss, error, mae, mse, rmse or latency are "
    "lower-is-better (↓), all others higher-is-better (↑): green is better, red is worse."
)
