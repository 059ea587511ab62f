"""A small in-process OTLP receiver for tests: OTLP/HTTP (protobuf, gzip) and OTLP/gRPC.

This is a **test fixture**, not a product: it keeps every decoded request in memory so a test
can assert what an exporter (ours, or a relay such as rotel) delivered. The production
receiver, which turns OTLP into workspace rows, is the collector team's ``collector/``.

``OtlpReceiver`` starts both servers on ``127.0.0.1`` port 0 (the OS picks free ports). Set
``receiver.down = True`` to make it refuse every request (HTTP 503, gRPC UNAVAILABLE), which
is how the failure tests simulate a broken backend. Always close it (it is a context manager).
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

LOCALHOST = "127.0.0.1"
_STATUS = {0: "unset", 1: "ok", 2: "error"}
_KIND = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_REQUESTS: dict[str, type[Message]] = {
    "/v1/traces": trace_service_pb2.ExportTraceServiceRequest,
    "/v1/metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
_RESPONSES: dict[str, type[Message]] = {
    "/v1/traces": trace_service_pb2.ExportTraceServiceResponse,
    "/v1/metrics": metrics_service_pb2.ExportMetricsServiceResponse,
}


# -- decoded views ---------------------------------------------------------------------------------
def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (arrays become tuples, kvlists dicts)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, which)


def attributes(items: Any) -> dict[str, Any]:
    """Repeated ``KeyValue`` -> dict."""
    found: dict[str, Any] = {}
    item: KeyValue
    for item in items:
        found[item.key] = any_value(item.value)
    return found


@dataclass(frozen=True)
class ReceivedEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedLink:
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived: ids in lowercase hex, attributes as Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: tuple[ReceivedEvent, ...]
    links: tuple[ReceivedLink, ...]
    status_code: str
    status_message: str
    resource: dict[str, Any]
    scope_name: str

    def events_named(self, name: str) -> list[ReceivedEvent]:
        return [event for event in self.events if event.name == name]


@dataclass(frozen=True)
class ReceivedPoint:
    """One metric data point (gauge or sum: its number; histogram: its sum)."""

    name: str
    value: float
    attributes: dict[str, Any]
    unit: str
    kind: str
    time_ns: int
    resource: dict[str, Any]


@dataclass(frozen=True)
class ReceivedRequest:
    """One export request: which transport and path, its headers (lowercase keys), the message."""

    transport: str  # "http" | "grpc"
    signal: str  # "traces" | "metrics"
    headers: dict[str, str]
    message: Message


def spans_of(request: trace_service_pb2.ExportTraceServiceRequest) -> Iterator[ReceivedSpan]:
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() or None,
                    kind=_KIND.get(span.kind, str(span.kind)),
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    attributes=attributes(span.attributes),
                    events=tuple(
                        ReceivedEvent(e.name, e.time_unix_nano, attributes(e.attributes)) for e in span.events
                    ),
                    links=tuple(
                        ReceivedLink(link.trace_id.hex(), link.span_id.hex(), attributes(link.attributes))
                        for link in span.links
                    ),
                    status_code=_STATUS.get(span.status.code, str(span.status.code)),
                    status_message=span.status.message,
                    resource=resource,
                    scope_name=scope_spans.scope.name,
                )


def points_of(request: metrics_service_pb2.ExportMetricsServiceRequest) -> Iterator[ReceivedPoint]:
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind in ("gauge", "sum"):
                    for point in getattr(metric, kind).data_points:
                        number = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
                        yield ReceivedPoint(
                            metric.name,
                            float(number),
                            attributes(point.attributes),
                            metric.unit,
                            kind,
                            point.time_unix_nano,
                            resource,
                        )
                elif kind in ("histogram", "exponential_histogram"):
                    for point in getattr(metric, kind).data_points:
                        yield ReceivedPoint(
                            metric.name,
                            float(point.sum),
                            attributes(point.attributes),
                            metric.unit,
                            kind,
                            point.time_unix_nano,
                            resource,
                        )


# -- the receiver ----------------------------------------------------------------------------------
@dataclass
class _State:
    requests: list[ReceivedRequest] = field(default_factory=list)
    refused: int = 0
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: ReceivedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def refuse(self) -> None:
        with self.lock:
            self.refused += 1


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            body = _read_body(self)
            if path not in _REQUESTS:
                self._reply(404, b"", "text/plain")
                return
            if state.down:
                state.refuse()
                self._reply(503, b"receiver is down (test fixture)", "text/plain")
                return
            encoding = self.headers.get("Content-Encoding", "").lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            message = _REQUESTS[path]()
            try:
                message.ParseFromString(body)
            except Exception:
                self._reply(400, b"not an OTLP protobuf request", "text/plain")
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            state.add(ReceivedRequest("http", path.rsplit("/", 1)[1], headers, message))
            self._reply(200, _RESPONSES[path]().SerializeToString(), "application/x-protobuf")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, state: _State) -> None:
        self.state = state

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        _grpc_receive(self.state, "traces", request, context)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, state: _State) -> None:
        self.state = state

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        _grpc_receive(self.state, "metrics", request, context)
        return metrics_service_pb2.ExportMetricsServiceResponse()


def _grpc_receive(state: _State, signal: str, request: Message, context: grpc.ServicerContext) -> None:
    if state.down:
        state.refuse()
        context.abort(grpc.StatusCode.UNAVAILABLE, "receiver is down (test fixture)")
    headers = {key.lower(): value for key, value in context.invocation_metadata() if isinstance(value, str)}
    state.add(ReceivedRequest("grpc", signal, headers, request))


class OtlpReceiver:
    """OTLP/HTTP on :attr:`http_endpoint` and OTLP/gRPC on :attr:`grpc_endpoint`, both collecting."""

    def __init__(self) -> None:
        self._state = _State()
        self._http = ThreadingHTTPServer((LOCALHOST, 0), _handler_for(self._state))
        self._http.daemon_threads = True
        self._http_thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="otlp-receiver-http",
            daemon=True,
        )
        self._http_thread.start()
        self._executor = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-receiver-grpc")
        self._grpc = grpc.server(self._executor)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self._state), self._grpc)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsService(self._state), self._grpc
        )
        self.grpc_port = self._grpc.add_insecure_port(f"{LOCALHOST}:0")
        self._grpc.start()
        self._closed = False

    # -- addresses -------------------------------------------------------------------------------
    @property
    def http_port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def http_endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (exporters add ``/v1/traces``)."""
        return f"http://{LOCALHOST}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """``http://`` URL of the gRPC server (``http`` tells the OTel exporter: no TLS)."""
        return f"http://{LOCALHOST}:{self.grpc_port}"

    # -- failure mode ----------------------------------------------------------------------------
    @property
    def down(self) -> bool:
        return self._state.down

    @down.setter
    def down(self, value: bool) -> None:
        self._state.down = value

    @property
    def refused(self) -> int:
        """How many requests were refused while :attr:`down`."""
        with self._state.lock:
            return self._state.refused

    # -- what arrived ----------------------------------------------------------------------------
    def requests(self, signal: str | None = None, transport: str | None = None) -> list[ReceivedRequest]:
        with self._state.lock:
            found = list(self._state.requests)
        return [
            r
            for r in found
            if (signal is None or r.signal == signal) and (transport is None or r.transport == transport)
        ]

    def spans(self, transport: str | None = None) -> list[ReceivedSpan]:
        return [span for request in self.requests("traces", transport) for span in spans_of(request.message)]  # type: ignore[arg-type]

    def span_named(self, name: str) -> ReceivedSpan:
        """The one span called ``name`` (fails if there are none or several)."""
        found = [span for span in self.spans() if span.name == name]
        assert len(found) == 1, (
            f"expected one span named {name!r}, got {len(found)}: "
            f"{sorted(span.name for span in self.spans())}"
        )
        return found[0]

    def metric_points(self, transport: str | None = None) -> list[ReceivedPoint]:
        return [
            point for request in self.requests("metrics", transport) for point in points_of(request.message)
        ]  # type: ignore[arg-type]

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """Poll ``condition`` until it returns something true; fail naming ``what`` at the deadline."""
        return wait_for(condition, what, timeout)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._grpc.stop(grace=None).wait()
        self._executor.shutdown(wait=True)
        self._http.shutdown()
        self._http.server_close()
        self._http_thread.join()

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def environ_for(endpoint: str, **extra: str) -> Mapping[str, str]:
    """An ``environ`` for ``Contexta(...)`` exporting to ``endpoint`` (metrics every 200 ms)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_METRIC_EXPORT_INTERVAL": "200", **extra}
