"""Replay, part 1: the summary, ids and one stored record -> one OTLP span event or gauge point."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry.sdk.trace import Event
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from contexta.contract._base import to_micros
from contexta.exporters.ids import span_id_for, trace_id_for
from contexta.semconv import attributes as sc
from contexta.store.base import RecordView

log = logging.getLogger("contexta.exporters")

Progress = Callable[[int, int], None]

SCOPE_NAME = "contexta.replay"
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
SPAN_KINDS = {kind.name.lower(): kind for kind in SpanKind}
STATUS_CODES = {"ok": StatusCode.OK, "error": StatusCode.ERROR, "unset": StatusCode.UNSET}


# -- the summary -------------------------------------------------------------------------------
@dataclass(slots=True)
class ReplaySummary:
    """What a replay sent and what the backend refused. ``ok`` when nothing failed."""

    runs: int = 0
    deployments: int = 0
    spans: int = 0
    events: int = 0
    metric_points: int = 0
    span_batches: int = 0
    metric_batches: int = 0
    failures: int = 0  # batches the backend did not accept (or that were not tried after giving up)
    failed_spans: int = 0
    failed_metric_points: int = 0
    skipped_records: int = 0  # records whose run row is missing (nothing to hang them on)
    rescoped_records: int = 0  # records naming a stage/batch/sample that is missing: sent on its parent
    traces_endpoint: str | None = None
    metrics_endpoint: str | None = None
    protocol: str | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0 and self.skipped_records == 0

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


# -- ids and small helpers ---------------------------------------------------------------------
def to_ns(text: str) -> int:
    return to_micros(text) * 1000


def entity_context(trace_id: int, stored_span: str | None, ref: str) -> SpanContext:
    span_id = int(stored_span, 16) if stored_span else span_id_for(ref)
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=SAMPLED)


def run_span_context(run_ref: str, trace_id: str | None = None, span_id: str | None = None) -> SpanContext:
    """The span context a replay gives a run: the stored ids, else ids derived from the ref
    (the same context ``ctx.deployment(run_ref=...)`` links to when the run is not live)."""
    if trace_id and span_id:
        return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=SAMPLED)
    return SpanContext(trace_id_for(run_ref), span_id_for(run_ref), is_remote=False, trace_flags=SAMPLED)


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def otel_status(status: str, message: str | None) -> Status:
    if status == "failed":
        return Status(StatusCode.ERROR, message or "failed")
    return Status(StatusCode.UNSET)


def _provenance(view: RecordView) -> dict[str, Any]:
    return {
        sc.RECORD_REF: view.record_ref,
        sc.RECORD_RECORDED_AT: view.recorded_at,
        sc.RECORD_PRODUCER: view.producer_ref,
        sc.RECORD_COMPLETENESS: view.completeness_marker,
        sc.RECORD_DEGRADATION: view.degradation_marker,
    }


def _is_exception(view: RecordView) -> bool:
    """An exception the capture API recorded (mapping rebuilds it from an ``exception`` event)."""
    return (
        view.record_type == "event"
        and view.key == "exception"
        and view.level == "error"
        and view.details.get("origin_marker") == "auto_capture"
        and not view.details.get("attributes")
        and ": " in (view.message or "")
    )


def record_event(view: RecordView) -> Event | None:
    """The span event a stored record becomes (None for span records, which become spans)."""
    when = to_ns(view.observed_at)
    details = view.details
    if view.record_type == "metric":
        attrs: dict[str, Any] = {sc.METRIC_KEY: view.key, sc.METRIC_VALUE: float(view.value or 0.0)}
        if view.step is not None:
            attrs[sc.METRIC_STEP] = view.step
        if view.unit:
            attrs[sc.METRIC_UNIT] = view.unit
        if details.get("value_type", "float64") != "float64":
            attrs[sc.METRIC_VALUE_TYPE] = details["value_type"]
        if details.get("aggregation_scope") is not None:
            attrs[sc.METRIC_AGGREGATION_SCOPE] = details["aggregation_scope"]
        return Event(sc.EVENT_METRIC, {**attrs, **_provenance(view)}, when)
    if view.record_type == "event" and _is_exception(view):
        kind, _, message = (view.message or "").partition(": ")
        attrs = {"exception.type": kind, "exception.message": message, **_provenance(view)}
        return Event("exception", attrs, when)
    if view.record_type == "event":
        attrs = {
            sc.EVENT_KEY: view.key,
            sc.EVENT_LEVEL: view.level or "info",
            sc.EVENT_MESSAGE: view.message or "",
        }
        name = sc.EVENT_EVENT
    elif view.record_type == "degraded":
        attrs = {
            sc.DEGRADED_ISSUE_KEY: view.key,
            sc.DEGRADED_CATEGORY: view.category,
            sc.DEGRADED_SEVERITY: view.severity,
            sc.DEGRADED_SUMMARY: view.message or "",
        }
        name = sc.EVENT_DEGRADED
    else:
        return None
    if details.get("attributes"):
        attrs[sc.RECORD_ATTRIBUTES] = json_text(details["attributes"])
    attrs.update(_provenance(view))
    attrs[sc.RECORD_ORIGIN] = details.get("origin_marker", "explicit_capture")
    return Event(name, attrs, when)


def gauge_point(
    view: RecordView, run_name: str, project: str
) -> tuple[str, str, tuple[tuple[str, str], ...], int, float | int]:
    stage_name = view.stage_ref.rsplit(".", 1)[1] if view.stage_ref else ""
    attrs = ((sc.PROJECT, project), (sc.RUN_NAME, run_name), (sc.STAGE_NAME, stage_name))
    value: float | int = float(view.value or 0.0)
    if view.details.get("value_type") == "int64" and float(value).is_integer():
        value = int(value)
    return view.key, view.unit or "1", attrs, to_ns(view.observed_at), value
