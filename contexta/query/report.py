"""Reports: titled sections of rows, rendered as text, Markdown, JSON or HTML.

A section is a small table (``columns`` and ``rows``) plus optional free lines, so one
structure renders everywhere. A section may also carry the data of a picture (``visual``:
metric curves, the stage timeline, the lineage graph) that only the HTML page draws
(``contexta.html``). HTML escapes every user-supplied string.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from contexta.html import extract, lineage_data
from contexta.html.model import Visual
from contexta.query.compare import latest_metrics
from contexta.query.results import DiagnosisResult, LineageGraph, MultiRunComparison, RunSnapshot
from contexta.store.base import RecordView


@dataclass(frozen=True, slots=True)
class ReportSection:
    title: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    lines: tuple[str, ...] = ()
    #: picture data drawn by ``to_html()`` only (not part of ``to_dict()``/JSON, text or Markdown)
    visual: Visual | None = None

    def to_pandas(self) -> Any:
        """The section's table as a pandas DataFrame (needs ``pip install 'contexta[pandas]'``)."""
        from contexta.query.frames import to_frame

        return to_frame(self.columns, self.rows, "pandas")

    def to_polars(self) -> Any:
        """The section's table as a polars DataFrame (needs ``pip install 'contexta[polars]'``)."""
        from contexta.query.frames import to_frame

        return to_frame(self.columns, self.rows, "polars")


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    sections: list[ReportSection] = field(default_factory=list)

    def section(self, title: str) -> ReportSection:
        for section in self.sections:
            if section.title == title:
                return section
        raise KeyError(title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sections": [
                {
                    "title": s.title,
                    "columns": list(s.columns),
                    "rows": [list(r) for r in s.rows],
                    "lines": list(s.lines),
                }
                for s in self.sections
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_text(self) -> str:
        out = [self.title, "=" * len(self.title)]
        for s in self.sections:
            out += ["", s.title, "-" * len(s.title)]
            if s.rows:
                widths = [
                    max(len(_cell(v)) for v in [c, *(r[i] for r in s.rows)]) for i, c in enumerate(s.columns)
                ]
                out.append("  ".join(c.ljust(w) for c, w in zip(s.columns, widths, strict=True)).rstrip())
                out += [
                    "  ".join(_cell(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                    for r in s.rows
                ]
            out += list(s.lines)
        return "\n".join(out) + "\n"

    def to_markdown(self) -> str:
        out = [f"# {_md(self.title)}"]
        for s in self.sections:
            out += ["", f"## {_md(s.title)}", ""]
            if s.rows:
                out.append("| " + " | ".join(_md(c) for c in s.columns) + " |")
                out.append("|" + "---|" * len(s.columns))
                out += ["| " + " | ".join(_md(_cell(v)) for v in r) + " |" for r in s.rows]
            out += [f"- {_md(line)}" for line in s.lines]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        """One self-contained page (inline CSS and SVG, no script): see ``docs/reports.md``."""
        from contexta.html.report_page import render_report

        return render_report(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def render(self, fmt: str) -> str:
        renderers = {
            "text": self.to_text,
            "md": self.to_markdown,
            "markdown": self.to_markdown,
            "json": self.to_json,
            "html": self.to_html,
        }
        if fmt not in renderers:
            from contexta.errors import ValidationError

            raise ValidationError.for_field("format", f"must be one of {sorted(renderers)}", fmt)
        return renderers[fmt]()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _md(text: str) -> str:
    escaped = str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\r\n", "<br>").replace("\n", "<br>")


def snapshot_report(
    snapshot: RunSnapshot, diagnosis: DiagnosisResult, lineage: LineageGraph | None = None
) -> Report:
    """The report of one run. ``Run Summary`` carries the lineage graph (``lineage`` when given,
    else datasets, environment, artifacts and deployments from the snapshot), ``Stages`` the stage
    timeline and ``Metrics`` the metric curves."""
    run = snapshot.run
    graph = (
        lineage_data.lineage_graph(lineage) if lineage is not None else lineage_data.snapshot_graph(snapshot)
    )
    sections = [
        ReportSection(
            "Run Summary",
            ("field", "value"),
            (
                ("run", run.run_ref),
                ("status", run.status),
                ("started_at", run.started_at),
                ("ended_at", run.ended_at),
                ("datasets", ", ".join(run.dataset_refs) or None),
            ),
            visual=graph,
        ),
        ReportSection(
            "Stages",
            ("order", "stage", "status", "started_at", "ended_at"),
            tuple((s.order_index, s.name, s.status, s.started_at, s.ended_at) for s in snapshot.stages),
            visual=extract.timeline(snapshot),
        ),
    ]
    metrics = latest_metrics(snapshot.records)
    rows = tuple(
        (stage or "(run)", key, value) for stage, values in metrics.items() for key, value in values.items()
    )
    curves = extract.curves([(run.name, snapshot.records)])
    sections.append(ReportSection("Metrics", ("stage", "metric", "latest"), rows, visual=curves))
    sections.append(
        ReportSection(
            "Artifacts",
            ("artifact", "kind", "sha256", "bytes"),
            tuple(
                (a.artifact_ref, a.artifact_kind, (a.sha256 or "")[:12] or None, a.size_bytes)
                for a in snapshot.artifacts
            ),
        )
    )
    if snapshot.batches:
        sections.append(
            ReportSection(
                "Batches",
                ("batch", "stage", "status", "started_at", "ended_at"),
                tuple(
                    (b.name, b.stage_ref.rsplit(".", 1)[1], b.status, b.started_at, b.ended_at)
                    for b in snapshot.batches
                ),
            )
        )
    if snapshot.deployments:
        sections.append(
            ReportSection(
                "Deployments",
                ("deployment", "environment", "status", "started_at"),
                tuple((d.name, d.environment, d.status, d.started_at) for d in snapshot.deployments),
            )
        )
    if snapshot.samples:
        sections.append(
            ReportSection(
                "Samples",
                ("sample", "stage", "observed_at"),
                tuple((s.name, s.stage_ref.rsplit(".", 1)[1], s.observed_at) for s in snapshot.samples),
            )
        )
    events = tuple(
        (r.observed_at, r.level, r.key, r.message) for r in snapshot.records if r.record_type == "event"
    )
    if events:
        sections.append(ReportSection("Events", ("observed_at", "level", "event", "message"), events))
    if snapshot.environment is not None:
        env = snapshot.environment
        sections.append(
            ReportSection(
                "Environment",
                ("field", "value"),
                (
                    ("python", env.python_version),
                    ("platform", env.platform),
                    ("git_commit", env.git_commit),
                    ("git_dirty", env.git_dirty),
                    ("packages", len(env.packages)),
                ),
            )
        )
    sections.append(
        ReportSection(
            "Diagnostics",
            ("severity", "code", "subject", "summary"),
            tuple((i.severity, i.code, i.subject_ref, i.summary) for i in diagnosis.issues),
            () if diagnosis.issues else ("No issues found.",),
        )
    )
    return Report(f"Run report: {run.run_ref}", sections)


def multi_run_report(
    comparison: MultiRunComparison,
    diagnoses: Sequence[DiagnosisResult],
    records: Sequence[Sequence[RecordView]] | None = None,
) -> Report:
    """Two or more runs side by side. With ``records`` (each run's, in ``run_ids`` order) the
    ``Metrics`` section also carries the overlaid metric curves."""
    names = [ref.rsplit(".", 1)[1] for ref in comparison.run_ids]
    curves = extract.curves(list(zip(names, records, strict=True))) if records is not None else None
    metrics = ReportSection(
        "Metrics",
        ("stage", "metric", *names),
        tuple((stage or "(run)", key, *values) for stage, key, values in comparison.table),
        visual=curves,
    )
    diagnostics = ReportSection(
        "Diagnostics",
        ("run", "errors", "warnings"),
        tuple((d.run_id, len(d.errors), len(d.warnings)) for d in diagnoses),
    )
    runs = ReportSection("Runs", ("run",), tuple((ref,) for ref in comparison.run_ids))
    return Report(f"Comparison of {len(names)} runs", [runs, metrics, diagnostics])
