"""A neutral view of one finished (or started) span, whatever produced it.

The in-process SDK (:class:`~opentelemetry.sdk.trace.ReadableSpan`) and the collector's
decoded OTLP protobuf both become :class:`SpanData`, so one mapping
(:mod:`contexta.exporters.mapping`) turns either into workspace rows: that is what makes a
workspace filled by the collector equal to one filled in-process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode


@dataclass(frozen=True, slots=True)
class EventData:
    name: str
    time_ns: int
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LinkData:
    trace_id: str
    span_id: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SpanData:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int | None
    status_code: str  # "unset" | "ok" | "error"
    status_message: str | None
    attributes: Mapping[str, Any]
    events: Sequence[EventData] = ()
    links: Sequence[LinkData] = ()
    resource: Mapping[str, Any] = field(default_factory=dict)


_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}


def hex_trace_id(value: int) -> str:
    return f"{value:032x}"


def hex_span_id(value: int) -> str:
    return f"{value:016x}"


def from_readable_span(span: ReadableSpan, *, with_events: bool = True) -> SpanData:
    """Convert an SDK span (started or ended)."""
    context = span.get_span_context()
    parent = span.parent
    return SpanData(
        trace_id=hex_trace_id(context.trace_id),
        span_id=hex_span_id(context.span_id),
        parent_span_id=hex_span_id(parent.span_id) if parent is not None else None,
        name=span.name,
        kind=span.kind.name.lower(),
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status_code=_STATUS.get(span.status.status_code, "unset"),
        status_message=span.status.description,
        attributes=dict(span.attributes or {}),
        events=tuple(
            EventData(event.name, event.timestamp, dict(event.attributes or {})) for event in span.events
        )
        if with_events
        else (),
        links=tuple(
            LinkData(
                hex_trace_id(link.context.trace_id),
                hex_span_id(link.context.span_id),
                dict(link.attributes or {}),
            )
            for link in span.links
        ),
        resource=dict(span.resource.attributes) if span.resource is not None else {},
    )
