"""The seam between the OTLP transport and whatever stores the data.

The transport (OTLP/HTTP, OTLP/gRPC) decodes a request into the standard
``Export*ServiceRequest`` message and hands it to an :class:`OtlpSink`. The sink
commits it durably and says how many items it rejected; the transport then
acknowledges the request, as OTLP requires, only after ``consume`` returned.

``consume`` is called concurrently from several server threads, so a sink must be
thread-safe (a lock around its own writes is enough). If it raises, the client gets
a retryable error (HTTP 503, gRPC UNAVAILABLE) and will send the data again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, Protocol, get_args

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: Final[tuple[Signal, ...]] = get_args(Signal)

REQUEST_TYPES: Final[dict[Signal, type[Message]]] = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}
_RESPONSE_TYPES: Final[dict[Signal, type[Message]]] = {
    "traces": ExportTraceServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "logs": ExportLogsServiceResponse,
}
_REJECTED_FIELDS: Final[dict[Signal, str]] = {
    "traces": "rejected_spans",
    "metrics": "rejected_data_points",
    "logs": "rejected_log_records",
}


@dataclass(frozen=True)
class PartialResult:
    """What the sink did not accept: ``rejected`` items and a human-readable reason.

    ``PartialResult()`` means everything was committed. ``rejected=0`` with a message
    is a warning that OTLP passes back to the client in ``partial_success``.
    """

    rejected: int = 0
    message: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.rejected, bool) or not isinstance(self.rejected, int) or self.rejected < 0:
            raise ValueError(f"PartialResult.rejected: must be an int >= 0 (got {self.rejected!r})")


class OtlpSink(Protocol):
    """Receives every decoded OTLP request; returns only after committing it durably."""

    def consume(self, signal: Signal, request: Message) -> PartialResult:
        """Store ``request`` (an ``Export<Signal>ServiceRequest``); report what was rejected."""
        ...


def build_response(signal: Signal, result: PartialResult) -> Message:
    """Build the ``Export<Signal>ServiceResponse``; ``partial_success`` only when there is news."""
    response = _RESPONSE_TYPES[signal]()
    if result.rejected or result.message:
        partial = response.partial_success  # type: ignore[attr-defined]
        setattr(partial, _REJECTED_FIELDS[signal], result.rejected)
        partial.error_message = result.message
    return response


def count_items(signal: Signal, request: Message) -> int:
    """Count the spans, metric data points or log records that ``request`` carries."""
    total = 0
    if signal == "traces":
        for resource_spans in request.resource_spans:  # type: ignore[attr-defined]
            total += sum(len(scope.spans) for scope in resource_spans.scope_spans)
    elif signal == "logs":
        for resource_logs in request.resource_logs:  # type: ignore[attr-defined]
            total += sum(len(scope.log_records) for scope in resource_logs.scope_logs)
    else:
        for resource_metrics in request.resource_metrics:  # type: ignore[attr-defined]
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        total += len(getattr(metric, kind).data_points)
    return total
