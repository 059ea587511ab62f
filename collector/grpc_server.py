"""OTLP/gRPC receiver: the standard TraceService, MetricsService and LogsService.

gRPC itself accepts gzip/deflate-compressed messages and enforces the message
size limit (RESOURCE_EXHAUSTED). A missing or wrong bearer token is
UNAUTHENTICATED; a failing sink is UNAVAILABLE, which OTLP clients retry.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Final, NoReturn

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from contexta.collector.auth import BearerToken
from contexta.collector.ingest import Ingestor, SinkUnavailableError
from contexta.collector.sink import Signal
from contexta.collector.stats import CollectorStats
from contexta.errors import TransportError

logger = logging.getLogger(__name__)

_DEFAULT_WORKERS: Final = 8


class _Exporter:
    """The ``Export`` handler shared by the three services."""

    def __init__(self, ingestor: Ingestor, stats: CollectorStats, token: str | None) -> None:
        self._ingestor = ingestor
        self._stats = stats
        self._token = BearerToken(token)

    def export(self, signal: Signal, request: Message, context: grpc.ServicerContext) -> Message:
        if self._token.required:
            metadata = dict(context.invocation_metadata() or ())
            if not self._token.allows(metadata.get("authorization")):
                self._abort(context, grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
        try:
            return self._ingestor.ingest(signal, request)
        except SinkUnavailableError as exc:
            self._abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))

    def _abort(self, context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
        self._stats.add(f"grpc.{code.name.lower()}")
        log = logger.warning if code is grpc.StatusCode.UNAVAILABLE else logger.info
        log("OTLP/gRPC export refused with %s: %s", code.name, message)
        context.abort(code, message)
        raise AssertionError("context.abort() returned")  # pragma: no cover


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, exporter: _Exporter) -> None:
        self._exporter = exporter

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        return self._exporter.export("traces", request, context)


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, exporter: _Exporter) -> None:
        self._exporter = exporter

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        return self._exporter.export("metrics", request, context)


class _LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, exporter: _Exporter) -> None:
        self._exporter = exporter

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        return self._exporter.export("logs", request, context)


class OtlpGrpcServer:
    """The OTLP/gRPC receiver; ``port=0`` picks a free port."""

    def __init__(
        self,
        ingestor: Ingestor,
        stats: CollectorStats,
        *,
        host: str,
        port: int,
        token: str | None,
        max_message_bytes: int,
        max_workers: int = _DEFAULT_WORKERS,
    ) -> None:
        self._pool = futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="contexta-otlp-grpc"
        )
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),  # a busy port must fail, not be shared silently
        ]
        self._server = grpc.server(self._pool, options=options)
        exporter = _Exporter(ingestor, stats, token)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(exporter), self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(exporter), self._server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsService(exporter), self._server)
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = self._server.add_insecure_port(target)
        except RuntimeError as exc:
            bound, cause = 0, exc
        else:
            cause = None
        if not bound:
            self._pool.shutdown(wait=False)
            raise TransportError(f"cannot listen for OTLP/gRPC on {target}") from cause
        self._address = (host, bound)

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        return self._address

    def start(self) -> None:
        """Start serving RPCs."""
        self._server.start()

    def stop(self, grace: float = 5.0) -> threading.Event:
        """Refuse new RPCs and give running ones ``grace`` seconds; returns the 'stopped' event."""
        return self._server.stop(grace)

    def close(self) -> None:
        """Release the worker threads once :meth:`stop` has finished."""
        self._pool.shutdown(wait=False, cancel_futures=True)
