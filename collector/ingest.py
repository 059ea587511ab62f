"""The transport-independent step: hand a decoded request to the sink, then forward it.

Both receivers (OTLP/HTTP and OTLP/gRPC) call :meth:`Ingestor.ingest` once the
request is authenticated and decoded, and answer with the response it returns.
"""

from __future__ import annotations

import logging

from google.protobuf.message import Message

from contexta.collector.decode import CONTENT_TYPES
from contexta.collector.forward import Forwarder
from contexta.collector.sink import SIGNALS, OtlpSink, PartialResult, Signal, build_response, count_items
from contexta.collector.stats import CollectorStats
from contexta.errors import TransportError

logger = logging.getLogger(__name__)


class SinkUnavailableError(TransportError):
    """The sink raised; the client should retry (HTTP 503, gRPC UNAVAILABLE)."""


class Ingestor:
    """Calls the sink, counts the outcome and forwards accepted requests unchanged."""

    def __init__(self, sink: OtlpSink, stats: CollectorStats, forwarder: Forwarder | None = None) -> None:
        self._sink = sink
        self._stats = stats
        self._forwarder = forwarder
        for signal in SIGNALS:
            for suffix in ("requests", "items", "rejected"):
                stats.add(f"{signal}.{suffix}", 0)
        stats.add("sink.failures", 0)

    def ingest(
        self,
        signal: Signal,
        request: Message,
        *,
        body: bytes | None = None,
        content_type: str = CONTENT_TYPES["protobuf"],
        content_encoding: str | None = None,
    ) -> Message:
        """Commit ``request`` through the sink and return the OTLP response to send.

        ``body``/``content_type``/``content_encoding`` are the bytes as received, which
        are forwarded as they are; without ``body`` the request is re-serialised as
        protobuf. Raises :class:`SinkUnavailableError` if the sink failed.
        """
        try:
            result = self._sink.consume(signal, request)
            if result is None:  # a sink with nothing to report may return None
                result = PartialResult()
            if not isinstance(result, PartialResult):
                raise TypeError(f"consume() must return PartialResult, got {type(result).__name__}")
        except Exception as exc:
            self._stats.add("sink.failures")
            logger.exception("OTLP sink failed to consume a %s request; answering 'retry later'", signal)
            raise SinkUnavailableError(
                f"the collector could not store the {signal} ({type(exc).__name__}); retry later"
            ) from exc
        items = count_items(signal, request)
        self._stats.add(f"{signal}.requests")
        self._stats.add(f"{signal}.items", items)
        self._stats.add(f"{signal}.rejected", result.rejected)
        if self._forwarder is not None:
            if body is None:
                body, content_type, content_encoding = (
                    request.SerializeToString(),
                    CONTENT_TYPES["protobuf"],
                    None,
                )
            self._forwarder.submit(signal, body, content_type, content_encoding)
        return build_response(signal, result)
