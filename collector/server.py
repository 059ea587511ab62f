"""``CollectorServer``: OTLP/HTTP and OTLP/gRPC receivers in front of one sink.

::

    with CollectorServer(sink, http_port=0, grpc_port=0) as server:
        print(server.http_address, server.grpc_address)

The collector listens on loopback by default. Binding any other address without a
token is refused (``ConfigError``) unless ``insecure=True`` says it is deliberate:
anyone who can reach the port could otherwise write into the workspace. The token
travels in clear text: put TLS in front (a reverse proxy) when leaving the host.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Final, TextIO

from contexta.collector.forward import Forwarder
from contexta.collector.grpc_server import OtlpGrpcServer
from contexta.collector.http_server import OtlpHttpServer
from contexta.collector.ingest import Ingestor
from contexta.collector.sink import OtlpSink
from contexta.collector.stats import CollectorStats
from contexta.errors import ConfigError, ContextaError

DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP literal (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False


class CollectorServer:
    """Receives OTLP over HTTP (and gRPC unless ``grpc_port=None``) and feeds ``sink``."""

    def __init__(
        self,
        sink: OtlpSink,
        host: str = "127.0.0.1",
        http_port: int | None = 4318,
        grpc_port: int | None = 4317,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        forward_url: str | None = None,
        insecure: bool = False,
    ) -> None:
        _check_port("http_port", http_port)
        _check_port("grpc_port", grpc_port)
        if http_port is None and grpc_port is None:
            raise ConfigError("http_port and grpc_port are both None: enable at least one receiver")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes: must be a positive int (got {max_body_bytes!r})")
        if token is not None and (not token.strip() or token != token.strip() or not token.isprintable()):
            raise ConfigError("token: must be a non-empty printable string without surrounding spaces")
        host = host.strip()
        if not host:
            raise ConfigError("host: must not be empty (use 127.0.0.1 for this machine only)")
        if not is_loopback(host) and token is None and not insecure:
            raise ConfigError(
                f"refusing to listen on non-loopback host {host!r} without a token: anyone who can reach "
                "it could write telemetry; pass token=... or insecure=True to allow it"
            )
        self.host = host
        self._ports = (http_port, grpc_port)
        self._token = token
        self._max_body_bytes = max_body_bytes
        self._stats = CollectorStats()
        self._forwarder = Forwarder(forward_url, stats=self._stats) if forward_url else None
        self._ingestor = Ingestor(sink, self._stats, self._forwarder)
        self._http: OtlpHttpServer | None = None
        self._grpc: OtlpGrpcServer | None = None
        self._state = "new"

    @property
    def http_address(self) -> tuple[str, int] | None:
        """The bound OTLP/HTTP ``(host, port)``, or ``None`` before start / when disabled."""
        return self._http.address if self._http else None

    @property
    def grpc_address(self) -> tuple[str, int] | None:
        """The bound OTLP/gRPC ``(host, port)``, or ``None`` before start / when disabled."""
        return self._grpc.address if self._grpc else None

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot of the collector's counters (the same as ``GET /health`` reports)."""
        return self._stats.snapshot()

    def start(self) -> None:
        """Bind the ports and start serving; a stopped server cannot be started again."""
        if self._state == "running":
            return
        if self._state == "stopped":
            raise ContextaError("this CollectorServer was stopped; create a new one")
        http_port, grpc_port = self._ports
        try:
            if http_port is not None:
                self._http = OtlpHttpServer(
                    self._ingestor,
                    self._stats,
                    host=self.host,
                    port=http_port,
                    token=self._token,
                    max_body_bytes=self._max_body_bytes,
                )
            if grpc_port is not None:
                self._grpc = OtlpGrpcServer(
                    self._ingestor,
                    self._stats,
                    host=self.host,
                    port=grpc_port,
                    token=self._token,
                    max_message_bytes=self._max_body_bytes,
                )
        except BaseException:
            if self._http is not None:
                self._http.stop(grace=0)
            self._state = "stopped"
            raise
        if self._forwarder is not None:
            self._forwarder.start()
        if self._grpc is not None:
            self._grpc.start()
        if self._http is not None:
            self._http.start()
        self._state = "running"

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, finish in-flight requests (up to ``grace`` s), flush forwarding."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        deadline = time.monotonic() + grace
        grpc_stopped = self._grpc.stop(grace) if self._grpc is not None else None
        if self._http is not None:
            self._http.stop(grace)
        if grpc_stopped is not None and self._grpc is not None:
            grpc_stopped.wait(max(0.0, deadline - time.monotonic()) + 1.0)
            self._grpc.close()
        if self._forwarder is not None:
            self._forwarder.close(timeout=max(0.5, deadline - time.monotonic()))

    def __enter__(self) -> CollectorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever_until_signal(self, grace: float = 5.0, out: TextIO | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then shut down cleanly. Call from the main thread."""
        stop_requested = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        out = out or sys.stdout
        try:
            self.start()
            for name, address in (("OTLP/HTTP", self.http_address), ("OTLP/gRPC", self.grpc_address)):
                if address is not None:
                    scheme = "http://" if name == "OTLP/HTTP" else ""
                    print(f"contexta collector: {name} listening on {scheme}{_hostport(*address)}", file=out)
            out.flush()
            stop_requested.wait()
            print("contexta collector: shutting down", file=out)
            out.flush()
        finally:
            self.stop(grace)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_port(name: str, port: int | None) -> None:
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise ConfigError(f"{name}: must be an int from 0 to 65535, or None to disable (got {port!r})")
