"""The OTLP/HTTP request handler: routing, refusals, decoding and the sink call.

Every refusal (401, 404, 405, 413, 415, 400) happens before the sink is called and
carries a ``google.rpc.Status`` body, as the OTLP spec requires for 4xx/5xx. When
the body was not read (e.g. 413), the connection is closed after a short, bounded
"lingering" drain so the client receives the status instead of a TCP reset.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Final, Protocol

from contexta.collector.auth import BearerToken
from contexta.collector.decode import (
    CONTENT_TYPES,
    Encoding,
    OtlpDecodeError,
    decode_request,
    decompress,
    encode_message,
    encode_status,
    parse_content_type,
)
from contexta.collector.http_body import declared_length, read_body
from contexta.collector.ingest import Ingestor, SinkUnavailableError
from contexta.collector.sink import Signal
from contexta.collector.stats import CollectorStats

logger = logging.getLogger(__name__)

SIGNAL_PATHS: Final[dict[str, Signal]] = {
    "/v1/traces": "traces",
    "/v1/metrics": "metrics",
    "/v1/logs": "logs",
}
# google.rpc.Status.code for each HTTP status (the spec lets clients ignore it; it helps debugging)
_GRPC_CODES: Final[dict[int, int]] = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    404: 5,  # NOT_FOUND
    405: 12,  # UNIMPLEMENTED
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,  # INVALID_ARGUMENT
    500: 13,  # INTERNAL
    501: 12,  # UNIMPLEMENTED
    503: 14,  # UNAVAILABLE
}
_LINGER_SECONDS: Final = 2.0


@dataclass
class ReceiverState:
    """What the handlers of one receiver share: config, counters, in-flight tracking."""

    ingestor: Ingestor
    stats: CollectorStats
    token: BearerToken
    max_body_bytes: int
    stopping: bool = False
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)
    connections: dict[socket.socket, threading.Thread] = field(default_factory=dict)


class _Server(Protocol):
    state: ReceiverState


class OtlpRequestHandler(BaseHTTPRequestHandler):
    """Handles one HTTP/1.1 connection (keep-alive) of the OTLP/HTTP receiver."""

    server: _Server  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"
    server_version = "contexta-collector"
    timeout = 60.0  # idle keep-alive connections and stalled uploads are dropped

    def setup(self) -> None:
        super().setup()
        with self.server.state.idle:
            self.server.state.connections[self.connection] = threading.current_thread()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.state.idle:
                self.server.state.connections.pop(self.connection, None)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    @property
    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        if self._path != "/health":
            self._refuse(405 if self._path in SIGNAL_PATHS else 404, self._not_here())
            return
        state = self.server.state
        health = {"status": "stopping" if state.stopping else "ok", "counters": state.stats.snapshot()}
        self._respond(200, json.dumps(health).encode(), "application/json")

    def do_POST(self) -> None:
        state = self.server.state
        with state.idle:
            state.in_flight += 1
        try:
            self._export()
        finally:
            with state.idle:
                state.in_flight -= 1
                state.idle.notify_all()
            if state.stopping:
                self.close_connection = True

    def _other_method(self) -> None:
        known = self._path in SIGNAL_PATHS or self._path == "/health"
        self._refuse(405 if known else 404, self._not_here())

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other_method

    def handle_expect_100(self) -> bool:
        """Refuse before the client sends the body when the headers already decide."""
        if self.command == "POST" and (refusal := self._precheck()) is not None:
            self._refuse(*refusal)
            return False
        return super().handle_expect_100()

    def _precheck(self) -> tuple[int, str] | None:
        """The checks that need only the headers: path, token, content type, declared size."""
        if self._path not in SIGNAL_PATHS:
            return (405 if self._path == "/health" else 404), self._not_here()
        state = self.server.state
        if not state.token.allows(self.headers.get("Authorization")):
            return 401, "missing or invalid bearer token"
        try:
            parse_content_type(self.headers.get("Content-Type"))
            length = declared_length(self.headers)
        except OtlpDecodeError as exc:
            return exc.status, str(exc)
        if length is not None and length > state.max_body_bytes and "Transfer-Encoding" not in self.headers:
            return 413, f"request body exceeds the limit of {state.max_body_bytes} bytes"
        return None

    def _export(self) -> None:
        if (refusal := self._precheck()) is not None:
            self._refuse(*refusal)
            return
        state = self.server.state
        signal = SIGNAL_PATHS[self._path]
        content_type = self.headers["Content-Type"]
        encoding = parse_content_type(content_type)
        try:
            body = read_body(self.rfile, self.headers, state.max_body_bytes)
        except OtlpDecodeError as exc:  # the rest of the body is unread: close the connection
            self._refuse(exc.status, str(exc), encoding)
            return
        try:
            content_encoding = self.headers.get("Content-Encoding")
            data = decompress(body, content_encoding, state.max_body_bytes)
            request = decode_request(signal, data, encoding)
            response = state.ingestor.ingest(
                signal, request, body=body, content_type=content_type, content_encoding=content_encoding
            )
        except (OtlpDecodeError, SinkUnavailableError) as exc:
            status = exc.status if isinstance(exc, OtlpDecodeError) else 503
            self._refuse(status, str(exc), encoding, body_read=True)
            return
        except Exception:  # a bug here must still answer the client (500: retrying will not help)
            logger.exception("OTLP/HTTP %s request failed unexpectedly", signal)
            self._refuse(500, "internal error in the collector", encoding, body_read=True)
            return
        self._respond(200, encode_message(response, encoding), CONTENT_TYPES[encoding])

    def _not_here(self) -> str:
        if self._path in SIGNAL_PATHS:
            return f"{self.command} is not allowed on {self._path}; use POST"
        if self._path == "/health":
            return f"{self.command} is not allowed on /health; use GET"
        return f"no such endpoint {self._path[:200]!r}; OTLP/HTTP uses POST /v1/traces, /v1/metrics, /v1/logs"

    def _refuse(
        self, status: int, message: str, encoding: Encoding | None = None, *, body_read: bool = False
    ) -> None:
        """Answer an error with a ``google.rpc.Status`` body; close if the body is unread."""
        if encoding is None:  # JSON if the request said so, protobuf otherwise
            try:
                encoding = parse_content_type(self.headers.get("Content-Type"))
            except OtlpDecodeError:
                encoding = "protobuf"
        self.server.state.stats.add(f"http.{status}")
        log = logger.warning if status >= 500 else logger.info
        log("OTLP/HTTP %s %s -> %d: %s", self.command, self._path[:200], status, message)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="contexta-collector"'
        elif status == 405:
            headers["Allow"] = "GET" if self._path == "/health" else "POST"
        lingering = not body_read and self.command not in ("GET", "HEAD")
        if lingering:
            self.close_connection = True
        body = encode_status(_GRPC_CODES.get(status, 2), message, encoding)
        self._respond(status, body, CONTENT_TYPES[encoding], headers)
        if lingering:
            self._linger()

    def _respond(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _linger(self) -> None:
        """Discard what the client still sends (bounded) so closing does not reset the response."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_SECONDS)
            budget = self.server.state.max_body_bytes + 65536
            deadline = time.monotonic() + _LINGER_SECONDS
            while budget > 0 and time.monotonic() < deadline:
                chunk = self.connection.recv(min(65536, budget))
                if not chunk:
                    break
                budget -= len(chunk)
        except OSError:
            pass
