"""A :class:`~contexta.query.Report` as one page: its sections in a reading order, each drawn with
the picture it carries (``ReportSection.visual``) and its table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contexta.contract._base import to_micros
from contexta.html.charts import curves_grid
from contexta.html.deltas import RULE, comparison_table
from contexta.html.lineage_graph import graph_svg
from contexta.html.model import Curves, Graph, Timeline
from contexta.html.page import badge, page, stats, table
from contexta.html.svg import esc
from contexta.html.timeline import caption, duration, gantt
from contexta.html.timeline import legend as timeline_legend

if TYPE_CHECKING:
    from contexta.query.report import Report, ReportSection

SNAPSHOT_ORDER = (
    "Run Summary",
    "Diagnostics",
    "Metric curves",
    "Stages",
    "Metrics",
    "Artifacts",
    "Batches",
    "Deployments",
    "Samples",
    "Events",
    "Environment",
)


def _lines(section: ReportSection) -> str:
    return "".join(f"<p>{esc(line)}</p>" for line in section.lines)


def generic(section: ReportSection) -> str:
    """Its table (status, severity and level as badges) and its lines."""
    body = table(section.columns, section.rows) if section.rows else ""
    return body + _lines(section) if body or section.lines else "<p class='muted'>None.</p>"


def _summary(report: Report) -> str:
    fields = dict(report.section("Run Summary").rows)
    started, ended = fields.get("started_at"), fields.get("ended_at")
    took = duration(to_micros(ended) - to_micros(started)) if started and ended else "still open"
    issues = _sections(report).get("Diagnostics")
    severities = [row[0] for row in issues.rows] if issues else []
    counts = [(sev, severities.count(sev)) for sev in ("error", "warning", "info") if sev in severities]
    findings = " ".join(badge(f"{n} {sev}{'s' if n > 1 else ''}", sev) for sev, n in counts) or badge(
        "clean", "ok"
    )
    stages = _sections(report).get("Stages")
    items = [
        ("run", f"<span class='mono'>{esc(fields.get('run', '-'))}</span>"),
        ("status", badge(fields.get("status", "-"))),
        ("diagnostics", findings),
        ("started (UTC)", esc(_when(started))),
        ("duration", esc(took)),
        ("stages", esc(len(stages.rows) if stages else 0)),
        ("datasets", esc(fields.get("datasets") or "-")),
    ]
    return stats(items)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _when(moment: str | None) -> str:
    """``2025-03-18 02:00:00`` (milliseconds when there are any)."""
    if not moment:
        return "-"
    day, _, clock = moment.rstrip("Z").partition("T")
    whole, _, fraction = clock.partition(".")
    return f"{day} {whole}" + (f".{fraction[:3]}" if fraction else "")


def _sections(report: Report) -> dict[str, ReportSection]:
    return {section.title: section for section in report.sections}


def _stages(section: ReportSection) -> str:
    parts = []
    if isinstance(section.visual, Timeline) and section.visual.bars:
        parts += [
            timeline_legend(),
            gantt(section.visual),
            f"<p class='note'>{esc(caption(section.visual))}</p>",
        ]
    parts.append(generic(section))
    return "".join(parts)


def _diagnostics(section: ReportSection) -> str:
    if not section.rows:
        return f"<p>{badge('ok')} {esc(' '.join(section.lines) or 'No issues found.')}</p>"
    return generic(section)


def snapshot_page(report: Report) -> str:
    """Summary, diagnostics, metric curves, stage timeline, tables, lineage."""
    by_title = _sections(report)
    bodies: dict[str, str] = {}
    for title, section in by_title.items():
        if title == "Run Summary":
            bodies[title] = _summary(report)
        elif title == "Stages":
            bodies[title] = _stages(section)
        elif title == "Diagnostics":
            bodies[title] = _diagnostics(section)
        elif title == "Metrics" and isinstance(section.visual, Curves):
            bodies["Metric curves"] = curves_grid(section.visual) + (
                "<p class='note'>One chart per metric key, one line per stage or batch; x is the step "
                "(or the order values were observed in when they have no step). "
                "Hover a point for its value.</p>"
            )
            bodies[title] = generic(section)
        else:
            bodies[title] = generic(section)
    ordered = [t for t in SNAPSHOT_ORDER if t in bodies] + [t for t in bodies if t not in SNAPSHOT_ORDER]
    sections: list[str | tuple[str, str]] = [(title, bodies[title]) for title in ordered]
    graph = by_title["Run Summary"].visual
    if isinstance(graph, Graph) and graph.nodes:
        sections.append(("Lineage", graph_svg(graph) + "<p class='note'>Hover a node for its full ref.</p>"))
    status = dict(by_title["Run Summary"].rows).get("status")
    return page(report.title, sections, heading_extra=badge(status) if status else "")


def comparison_page(report: Report) -> str:
    """Runs, the comparison table with coloured deltas, overlaid curves, diagnostics."""
    by_title = _sections(report)
    sections: list[str | tuple[str, str]] = []
    if "Runs" in by_title:
        sections.append(("Runs", generic(by_title["Runs"])))
    metrics = by_title.get("Metrics")
    if metrics is not None:
        names = list(metrics.columns[2:])
        rows = [(stage, key, list(values)) for stage, key, *values in metrics.rows]
        body = comparison_table(names, rows) if rows else "<p class='muted'>No metrics.</p>"
        sections.append(("Metrics", body + f"<p class='note'>{esc(RULE)}</p>"))
        if isinstance(metrics.visual, Curves) and metrics.visual.charts:
            sections.append(("Metric curves", curves_grid(metrics.visual)))
    if "Diagnostics" in by_title:
        sections.append(("Diagnostics", _diagnostic_counts(by_title["Diagnostics"])))
    sections += [
        (s.title, generic(s)) for s in report.sections if s.title not in ("Runs", "Metrics", "Diagnostics")
    ]
    return page(report.title, sections)


def _diagnostic_counts(section: ReportSection) -> str:
    rows: list[tuple[Any, ...]] = []
    for run, errors, warnings in section.rows:
        rows.append(
            (
                esc(run),
                badge(plural(errors, "error"), "error" if errors else "ok"),
                badge(plural(warnings, "warning"), "warning" if warnings else "ok"),
            )
        )
    return table(section.columns, rows, raw=(0, 1, 2)) + _lines(section)


def render_report(report: Report) -> str:
    titles = {section.title for section in report.sections}
    if "Run Summary" in titles:
        return snapshot_page(report)
    if "Runs" in titles:
        return comparison_page(report)
    return page(report.title, [(s.title, generic(s)) for s in report.sections])
