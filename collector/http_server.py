"""OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs`` and ``GET /health``.

One thread per connection (stdlib ``ThreadingHTTPServer``); the request handling
itself lives in :mod:`.http_handler`. ``stop`` stops accepting, lets in-flight
requests finish within a grace period, then closes idle keep-alive connections.

:func:`listen` binds the port on its own, so that several processes can serve one listening
socket (``CollectorServer(workers=N)``): each builds an :class:`OtlpHttpServer` on it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any, Protocol

from contexta.collector.auth import BearerToken
from contexta.collector.http_handler import OtlpRequestHandler, ReceiverState
from contexta.collector.ingest import Ingestor
from contexta.collector.stats import CollectorStats
from contexta.errors import TransportError

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.05  # how soon the accept loop notices stop()
_BACKLOG = 128  # connections the kernel queues before one is accepted
_DEFER_SECONDS = 0.002  # how long a process waits before looking again at a connection it left


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` and listening (``port=0`` picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as HTTPServer does
        sock.bind((host, port))
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot listen for OTLP/HTTP on {host}:{port}: {exc}") from exc
    return sock


class Balance(Protocol):
    """Spreads connections over the processes that serve one listening socket."""

    def opened(self) -> None:
        """This process accepted a connection."""

    def closed(self) -> None:
        """A connection of this process was closed."""

    def should_accept(self) -> bool:
        """Whether this process should accept the connection waiting now (else another will)."""


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True  # stop() joins the handler threads itself, with a deadline
    block_on_close = False

    def __init__(self, sock: socket.socket, state: ReceiverState, balance: Balance | None = None) -> None:
        # the socket is bound and listening already (see listen()); nothing to bind here
        socketserver.BaseServer.__init__(self, sock.getsockname(), OtlpRequestHandler)
        self.socket = sock
        self.address_family = sock.family
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])
        self.state = state
        self.balance = balance

    def get_request(self) -> tuple[socket.socket, Any]:
        if self.balance is not None and not self.balance.should_accept():
            time.sleep(_DEFER_SECONDS)  # a process with fewer connections takes this one
            raise BlockingIOError("left to another process")  # an OSError: serve_forever goes on
        return super().get_request()

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.balance is not None:
            self.balance.opened()
        super().process_request(request, client_address)

    def close_request(self, request: Any) -> None:
        try:
            super().close_request(request)
        finally:
            if self.balance is not None:
                self.balance.closed()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.warning("OTLP/HTTP connection from %s failed", client_address, exc_info=True)


class OtlpHttpServer:
    """The OTLP/HTTP receiver on its own thread; ``port=0`` picks a free port.

    With ``sock`` (from :func:`listen`), it serves that listening socket instead of binding
    ``host``/``port``; several processes may serve one socket, the kernel hands each new
    connection to one of them (``balance`` may leave a connection to a less busy process).
    :meth:`stop` closes only this process's copy of the socket.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        stats: CollectorStats,
        *,
        host: str,
        port: int,
        token: str | None,
        max_body_bytes: int,
        sock: socket.socket | None = None,
        balance: Balance | None = None,
    ) -> None:
        self._state = ReceiverState(ingestor, stats, BearerToken(token), max_body_bytes)
        self._httpd = _Httpd(sock if sock is not None else listen(host, port), self._state, balance)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="contexta-otlp-http",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start accepting connections."""
        self._thread.start()

    def stop(self, grace: float = 5.0) -> None:
        """Close the port, let in-flight requests finish (up to ``grace`` s), close idle connections."""
        state = self._state
        deadline = time.monotonic() + grace
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()  # new clients are refused at once instead of waiting in the backlog
        with state.idle:
            state.stopping = True
            state.idle.wait_for(lambda: state.in_flight == 0, timeout=max(0.0, deadline - time.monotonic()))
            connections = dict(state.connections)
        for sock in connections:  # wake idle keep-alive readers; their handlers then close
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in connections.values():
            thread.join(max(0.5, deadline - time.monotonic()))  # idle ones exit at once
            if thread.is_alive():
                logger.warning("an OTLP/HTTP request was still running after the %.1fs grace period", grace)
