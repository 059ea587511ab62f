"""The page shell every contexta HTML view shares: scoped CSS, sections, tables, badges.

``page(title, body_sections)`` builds one self-contained document (inline CSS, no script, no
network). Other packages (the model card of ``contexta.handoff``) reuse it::

    from contexta.html.page import badge, page, table
    html = page("Model card: churn v3", [("Summary", table(("field", "value"), rows))])

Section bodies are markup: build them with these helpers, which escape every value, or escape
user text yourself with :func:`esc`. Every rule of :data:`CSS` is scoped under ``.ctx`` so a
page shown inside a notebook does not restyle the notebook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from contexta._version import __version__
from contexta.html.svg import esc

CSS = """
.ctx{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--soft:#f5f7fa;color:var(--ink);background:#fff;
font:14px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif;
max-width:1180px;margin:0 auto;padding:20px 28px 36px;box-sizing:border-box}
.ctx *{box-sizing:border-box}
.ctx h1{font-size:24px;line-height:1.25;margin:2px 0 6px;font-weight:700;overflow-wrap:break-word}
.ctx h2{font-size:17px;margin:0 0 12px;font-weight:650}
.ctx h3{font-size:14px;margin:16px 0 8px;font-weight:650;color:#3e4c59}
.ctx .eyebrow{font-size:11.5px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);
font-weight:600}
.ctx .sub{color:var(--muted);margin:0}
.ctx header.page-head{padding:6px 0 14px;border-bottom:1px solid var(--line);margin-bottom:18px}
.ctx section.card{border:1px solid var(--line);border-radius:10px;padding:16px 20px 18px;margin:0 0 18px;
background:#fff;box-shadow:0 1px 2px rgba(31,41,51,.04)}
.ctx .toc{display:flex;flex-wrap:wrap;gap:6px;margin-top:12px}
.ctx .toc a{font-size:12.5px;color:#3e4c59;text-decoration:none;border:1px solid var(--line);
border-radius:999px;padding:2px 10px;background:var(--soft)}
.ctx .toc a:hover{border-color:#9aa5b1}
.ctx .scroll{overflow-x:auto}
.ctx table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
.ctx th{text-align:left;font-weight:600;color:#3e4c59;background:var(--soft);padding:6px 10px;
border-bottom:1px solid var(--line);white-space:nowrap}
.ctx td{padding:6px 10px;border-bottom:1px solid #eef0f3;vertical-align:top;overflow-wrap:break-word}
.ctx tr:last-child td{border-bottom:0}
.ctx td.num,.ctx th.num{text-align:right;white-space:nowrap}
.ctx code,.ctx .mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;
font-size:12.5px}
.ctx .muted{color:var(--muted)}
.ctx .note{color:var(--muted);font-size:12.5px;margin:8px 0 0}
.ctx .badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
line-height:18px;white-space:nowrap;background:#eef1f4;color:#52606d}
.ctx .badge.error{background:#fde8e8;color:#b42318}
.ctx .badge.warning{background:#fff1db;color:#a15c07}
.ctx .badge.info{background:#e8f1fb;color:#175cd3}
.ctx .badge.ok{background:#e5f5ea;color:#1e7b34}
.ctx .stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:10px}
.ctx .stat{border:1px solid var(--line);border-radius:8px;padding:9px 12px;background:var(--soft)}
.ctx .stat.wide{grid-column:span 2}
.ctx .stat .k{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600}
.ctx .stat .v{font-size:14.5px;font-weight:600;margin-top:2px;overflow-wrap:anywhere}
.ctx .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.ctx figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px 4px;background:#fff}
.ctx figcaption{font-size:13px;font-weight:600;margin:0 0 4px}
.ctx svg{max-width:100%;height:auto;display:block}
.ctx svg text{font-family:inherit;font-size:11px;fill:var(--muted)}
.ctx svg text.axis{font-size:11.5px;fill:#3e4c59}
.ctx svg text.row-stage{font-size:12.5px;font-weight:600;fill:var(--ink)}
.ctx svg text.row-child{font-size:12px;fill:#3e4c59}
.ctx svg text.row-failed{fill:#b42318}
.ctx svg text.on-bar{fill:#fff;font-weight:600}
.ctx svg text.node-kind{font-size:10.5px;letter-spacing:.04em;fill:var(--muted);font-weight:600}
.ctx svg text.node-label{font-size:13px;font-weight:600;fill:var(--ink)}
.ctx svg text.edge-label{font-size:10.5px;fill:var(--muted);paint-order:stroke;stroke:#fff;stroke-width:3px}
.ctx svg text.column-head{font-size:11px;letter-spacing:.06em;fill:#7b8794;font-weight:600}
.ctx .legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;margin:0 0 10px;
font-size:12.5px;color:#3e4c59}
.ctx .legend li{display:flex;align-items:center;gap:6px}
.ctx .legend svg{display:inline-block}
.ctx .swatch{display:inline-block;width:14px;height:10px;border-radius:2px}
.ctx .swatch.triangle{width:0;height:0;background:none;border-radius:0;border-left:6px solid transparent;
border-right:6px solid transparent;border-bottom:11px solid #b42318}
.ctx .swatch.diamond{width:8px;height:8px;background:var(--ink);transform:rotate(45deg);margin:0 3px}
.ctx .better{color:#1e7b34}
.ctx .worse{color:#b42318}
.ctx .delta{font-size:11.5px;margin-left:6px;padding:0 5px;border-radius:4px;background:#eef1f4;color:#52606d}
.ctx .better .delta{background:#e5f5ea;color:#1e7b34}
.ctx .worse .delta{background:#fde8e8;color:#b42318}
.ctx .best{font-weight:700}
.ctx details summary{cursor:pointer;color:#3e4c59;font-size:13px;margin:6px 0}
.ctx footer{color:var(--muted);font-size:12px;margin-top:8px}
"""

#: badge tone of common status, severity and level words
TONES = {
    "completed": "ok",
    "ok": "ok",
    "pass": "ok",
    "passed": "ok",
    "failed": "error",
    "error": "error",
    "critical": "error",
    "warning": "warning",
    "open": "warning",
    "info": "info",
    "debug": "",
    "cancelled": "",
}


def anchor(title: str) -> str:
    """A section id from its title (``Metric curves`` -> ``s-metric-curves``)."""
    return "s-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section")


def badge(label: object, tone: str | None = None) -> str:
    """A pill; ``tone`` (``error``, ``warning``, ``info``, ``ok`` or ``""``) defaults by the label's word."""
    shade = TONES.get(str(label).lower(), "") if tone is None else tone
    return f"<span class='badge {esc(shade)}'>{esc(label)}</span>"


def cell_text(value: Any) -> str:
    """How a table cell shows a value: ``-`` for None, four decimals for floats."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    badges: Iterable[str] = ("status", "severity", "level"),
    raw: Iterable[int] = (),
) -> str:
    """A table; every cell is escaped except the column positions in ``raw`` (already markup).
    Columns named in ``badges`` show as pills; numbers are right-aligned."""
    pills, trusted = set(badges), set(raw)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            name = columns[index] if index < len(columns) else ""
            if index in trusted:
                cells.append(f"<td>{value}</td>")
            elif name in pills and value is not None:
                cells.append(f"<td>{badge(value)}</td>")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f"<td class='num'>{esc(cell_text(value))}</td>")
            else:
                cells.append(f"<td>{esc(cell_text(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def stats(items: Iterable[tuple[str, str]], wide: Iterable[str] = ("run", "datasets")) -> str:
    """Key figures as small cards: ``(label, markup)`` pairs; labels in ``wide`` get two columns."""
    double = set(wide)
    cards = "".join(
        f"<div class='{'stat wide' if k in double else 'stat'}'><div class='k'>{esc(k)}</div>"
        f"<div class='v'>{v}</div></div>"
        for k, v in items
    )
    return f"<div class='stats'>{cards}</div>"


def section(title: str, body: str, *, note: str | None = None) -> str:
    """A titled card; ``note`` is a muted line under the body (escaped)."""
    extra = f"<p class='note'>{esc(note)}</p>" if note else ""
    return f"<section class='card' id='{anchor(title)}'><h2>{esc(title)}</h2>{body}{extra}</section>"


def page(
    title: str,
    body_sections: Iterable[str | tuple[str, str]],
    *,
    subtitle: str | None = None,
    heading_extra: str = "",
) -> str:
    """A complete, self-contained HTML document.

    ``body_sections`` items are ``(title, body markup)`` pairs (each becomes a card and a link
    in the contents bar) or markup strings inserted as they are. ``heading_extra`` is markup
    shown beside the title (badges, say).
    """
    parts, links = [], []
    for item in body_sections:
        if isinstance(item, tuple):
            name, body = item
            links.append(f"<a href='#{anchor(name)}'>{esc(name)}</a>")
            parts.append(section(name, body))
        else:
            parts.append(item)
    sub = f"<p class='sub'>{esc(subtitle)}</p>" if subtitle else ""
    toc = f"<nav class='toc'>{''.join(links)}</nav>" if len(links) > 2 else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main class='ctx'>"
        f"<header class='page-head'><div class='eyebrow'>contexta</div><h1>{esc(title)} {heading_extra}</h1>"
        f"{sub}{toc}</header>{''.join(parts)}"
        f"<footer>Generated by contexta {esc(__version__)}. Self-contained: no script, no network.</footer>"
        "</main></body></html>"
    )


def fragment(body: str) -> str:
    """Markup for a notebook cell: the scoped CSS and ``body`` inside a ``.ctx`` block."""
    return f"<div class='ctx'><style>{CSS}</style>{body}</div>"
