"""OTLP protobuf -> :class:`~contexta.exporters.spandata.SpanData` (and attribute values)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from contexta.exporters.spandata import EventData, LinkData, SpanData

_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {Status.STATUS_CODE_UNSET: "unset", Status.STATUS_CODE_OK: "ok", Status.STATUS_CODE_ERROR: "error"}


def any_value(value: AnyValue) -> Any:
    """A Python value for an OTLP ``AnyValue`` (arrays become tuples, kvlists dicts)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return None


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """The attributes as a dict; scalar values (nearly all of them) read without a call."""
    out: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            out[pair.key] = value.string_value
        elif kind == "int_value":
            out[pair.key] = value.int_value
        elif kind == "double_value":
            out[pair.key] = value.double_value
        elif kind == "bool_value":
            out[pair.key] = value.bool_value
        else:
            out[pair.key] = any_value(value)
    return out


def span_data(span: Span, resource: dict[str, Any], trace_ids: dict[bytes, str] | None = None) -> SpanData:
    """One OTLP span as :class:`SpanData`; ``trace_ids`` memoises the hex of the trace ids (the
    spans of a request mostly share a few)."""
    trace = span.trace_id
    trace_id = trace_ids.get(trace) if trace_ids is not None else None
    if trace_id is None:
        trace_id = trace.hex()
        if trace_ids is not None:
            trace_ids[trace] = trace_id
    parent = span.parent_span_id
    if span.HasField("status"):
        status = span.status
        status_code, status_message = _STATUS.get(status.code, "unset"), status.message or None
    else:
        status_code, status_message = "unset", None
    events, links = span.events, span.links
    return SpanData(
        trace_id=trace_id,
        span_id=span.span_id.hex(),
        parent_span_id=parent.hex() if parent else None,
        name=span.name,
        kind=_KINDS.get(span.kind, "internal"),
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano or None,
        status_code=status_code,
        status_message=status_message,
        attributes=attributes(span.attributes),
        events=tuple([EventData(e.name, e.time_unix_nano, attributes(e.attributes)) for e in events])
        if events
        else (),
        links=tuple(
            [LinkData(link.trace_id.hex(), link.span_id.hex(), attributes(link.attributes)) for link in links]
        )
        if links
        else (),
        resource=resource,
    )


def iter_spans(resource_spans: Iterable[ResourceSpans]) -> Iterator[SpanData]:
    trace_ids: dict[bytes, str] = {}
    for group in resource_spans:
        resource = attributes(group.resource.attributes)
        for scope in group.scope_spans:
            for span in scope.spans:
                yield span_data(span, resource, trace_ids)
