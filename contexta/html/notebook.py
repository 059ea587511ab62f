"""``_repr_html_`` of the query results: compact fragments (scoped CSS, no script) for notebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contexta.contract._base import to_micros
from contexta.html import extract, lineage_data
from contexta.html.charts import curves_grid
from contexta.html.deltas import RULE, comparison_table, pair_table
from contexta.html.lineage_graph import graph_svg
from contexta.html.page import badge, fragment, stats, table
from contexta.html.report_page import plural
from contexta.html.svg import esc
from contexta.html.timeline import duration, gantt
from contexta.html.timeline import legend as timeline_legend

if TYPE_CHECKING:
    from contexta.query.results import (
        DiagnosisResult,
        LineageGraph,
        MultiRunComparison,
        RunComparison,
        RunSnapshot,
    )


def _head(kind: str, title: str, extra: str = "") -> str:
    return f"<div class='eyebrow'>{esc(kind)}</div><h2><span class='mono'>{esc(title)}</span> {extra}</h2>"


def snapshot_html(snapshot: RunSnapshot) -> str:
    """Run summary, stage timeline, metric curves and the latest value of each metric."""
    run = snapshot.run
    took = duration(to_micros(run.ended_at) - to_micros(run.started_at)) if run.ended_at else "still open"
    metrics = sum(1 for record in snapshot.records if record.record_type == "metric")
    parts = [
        _head("run snapshot", run.run_ref, badge(run.status)),
        stats(
            [
                ("started", esc(run.started_at)),
                ("duration", esc(took)),
                ("stages", esc(len(snapshot.stages))),
                ("metric records", esc(metrics)),
                ("datasets", esc(", ".join(run.dataset_refs) or "-")),
            ]
        ),
    ]
    timeline = extract.timeline(snapshot)
    if timeline.bars:
        parts += ["<h3>Stage timeline</h3>", timeline_legend(), gantt(timeline)]
    curves = extract.curves([(run.name, snapshot.records)])
    if curves.charts:
        parts += ["<h3>Metric curves</h3>", curves_grid(curves)]
    latest = [
        (stage or "(run)", key, value)
        for stage, values in _latest(snapshot).items()
        for key, value in values.items()
    ]
    if latest:
        parts += ["<h3>Latest metrics</h3>", table(("stage", "metric", "latest"), latest)]
    return fragment("".join(parts))


def _latest(snapshot: RunSnapshot) -> dict[str | None, dict[str, float]]:
    from contexta.query.compare import latest_metrics

    return latest_metrics(snapshot.records)


def run_comparison_html(comparison: RunComparison) -> str:
    rows = [
        (stage.stage_name, delta.metric_key, delta.left_value, delta.right_value)
        for stage in comparison.stage_comparisons
        for delta in stage.metric_deltas
    ]
    left, right = (ref.rsplit(".", 1)[1] for ref in (comparison.left_run_id, comparison.right_run_id))
    body = pair_table(rows, left, right) if rows else "<p class='muted'>No metrics.</p>"
    head = _head("comparison", f"{comparison.left_run_id} → {comparison.right_run_id}")
    return fragment(head + body + f"<p class='note'>{esc(RULE)}</p>")


def multi_comparison_html(comparison: MultiRunComparison) -> str:
    names = [ref.rsplit(".", 1)[1] for ref in comparison.run_ids]
    body = (
        comparison_table(names, comparison.table) if comparison.table else "<p class='muted'>No metrics.</p>"
    )
    head = _head("comparison", f"{len(names)} runs")
    return fragment(head + body + f"<p class='note'>{esc(RULE)}</p>")


def diagnosis_html(diagnosis: DiagnosisResult) -> str:
    if not diagnosis.issues:
        return fragment(
            _head("diagnosis", diagnosis.run_id, badge("clean", "ok")) + "<p>No issues found.</p>"
        )
    counts = f"{plural(len(diagnosis.errors), 'error')}, {plural(len(diagnosis.warnings), 'warning')}"
    tone = "error" if diagnosis.errors else "warning"
    rows = [(i.severity, i.code, i.subject_ref, i.summary) for i in diagnosis.issues]
    body = table(("severity", "code", "subject", "summary"), rows)
    return fragment(_head("diagnosis", diagnosis.run_id, badge(counts, tone)) + body)


def lineage_html(graph: LineageGraph) -> str:
    head = _head(f"lineage ({graph.direction})", graph.root_ref)
    return fragment(head + graph_svg(lineage_data.lineage_graph(graph, kinds=None)))
