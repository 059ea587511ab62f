"""Rendering a :class:`~contexta.handoff.card.ModelCard`: one list of sections, two formats.

User-supplied text (purpose, limitations, notes, actors, dataset versions, summaries) is
escaped in both formats: HTML-escaped in HTML, and HTML- and Markdown-escaped in Markdown
(Markdown renderers pass raw HTML through). Links point at anchors in the "Evidence" section,
one per ref, so the page needs nothing outside itself.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from contexta.handoff._common import anchor
from contexta.handoff.card_sections import Cell, evidence, sections

if TYPE_CHECKING:
    from contexta.handoff.card import ModelCard

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\r", "").replace("\n", " ")


def _short(ref: str) -> str:
    """``record:p.run.r1`` -> ``run.r1``: short, and unambiguous across the runs a card cites."""
    return ".".join(ref.split(":", 1)[-1].split(".")[-2:])


def _md_cell(cell: Cell) -> str:
    if cell.refs:
        return ", ".join(f"[`{_short(ref)}`](#{anchor(ref)})" for ref in cell.refs)
    shown = f"`{cell.text}`" if cell.code else _md(cell.text)
    return f"[{shown}](#{anchor(cell.ref)})" if cell.ref else shown


def render_markdown(card: ModelCard) -> str:
    out = [f"# {_md(card.title)}", ""]
    for title, columns, rows, paragraph in sections(card):
        if not rows and not paragraph:
            continue
        out += [f"## {title}", ""]
        if paragraph:
            out += ["  \n".join(_md(line) for line in paragraph.splitlines() or [""]), ""]
        if rows:
            out.append("| " + " | ".join(columns) + " |")
            out.append("|" + "---|" * len(columns))
            out += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
            out.append("")
    out += ["## Evidence", ""]
    out += [f'- <a id="{anchor(ref)}"></a>`{ref}`: {_md(what)}' for ref, what in evidence(card)]
    return "\n".join(out) + "\n"


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_cell(cell: Cell) -> str:
    if cell.refs:
        return ", ".join(
            f'<a href="#{anchor(ref)}" title="{_h(ref)}"><code>{_h(_short(ref))}</code></a>'
            for ref in cell.refs
        )
    shown = f"<code>{_h(cell.text)}</code>" if cell.code else _h(cell.text)
    return f'<a href="#{anchor(cell.ref)}">{shown}</a>' if cell.ref else shown


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}code{font-size:.9em}"
    "li:target{background:#ffd}"
)


def render_html(card: ModelCard) -> str:
    body = [f"<h1>{_h(card.title)}</h1>"]
    for title, columns, rows, paragraph in sections(card):
        if not rows and not paragraph:
            continue
        body.append(f"<section><h2>{_h(title)}</h2>")
        if paragraph:
            body.append("<p>" + "<br>".join(_h(line) for line in paragraph.splitlines()) + "</p>")
        if rows:
            head = "".join(f"<th>{_h(c)}</th>" for c in columns)
            cells = "".join(
                "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        body.append("</section>")
    items = "".join(
        f'<li id="{anchor(ref)}"><code>{_h(ref)}</code>: {_h(what)}</li>' for ref, what in evidence(card)
    )
    body.append(f"<section><h2>Evidence</h2><ul>{items}</ul></section>")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_h(card.title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def card_dict(card: ModelCard) -> dict[str, Any]:
    """JSON-ready data: the sections as plain rows, and the evidence list."""
    return {
        "title": card.title,
        "subject_ref": card.subject_ref,
        "evaluation_stage": card.evaluation_stage,
        "sections": [
            {
                "title": title,
                "columns": columns,
                "rows": [[c.text for c in row] for row in rows],
                "paragraph": paragraph,
            }
            for title, columns, rows, paragraph in sections(card)
        ],
        "evidence": [{"ref": ref, "what": what} for ref, what in evidence(card)],
    }
