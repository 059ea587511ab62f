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


_SCALARS = frozenset(("string_value", "int_value", "double_value", "bool_value"))


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """The attributes as a dict; scalar values (nearly all of them) read without a call."""
    out: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        kind = value.WhichOneof("value")
        out[pair.key] = getattr(value, kind) if kind in _SCALARS else any_value(value)
    return out


def span_data(span: Span, resource: dict[str, Any]) -> SpanData:
    status = span.status
    return SpanData(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() if span.parent_span_id else None,
        name=span.name,
        kind=_KINDS.get(span.kind, "internal"),
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano or None,
        status_code=_STATUS.get(status.code, "unset"),
        status_message=status.message or None,
        attributes=attributes(span.attributes),
        events=tuple([EventData(e.name, e.time_unix_nano, attributes(e.attributes)) for e in span.events]),
        links=tuple(
            [
                LinkData(link.trace_id.hex(), link.span_id.hex(), attributes(link.attributes))
                for link in span.links
            ]
        ),
        resource=resource,
    )


def iter_spans(resource_spans: Iterable[ResourceSpans]) -> Iterator[SpanData]:
    for group in resource_spans:
        resource = attributes(group.resource.attributes)
        for scope in group.scope_spans:
            for span in scope.spans:
                yield span_data(span, resource)
