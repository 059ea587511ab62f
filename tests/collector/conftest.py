"""Fixtures for the collector tests: a recording sink, real servers on 127.0.0.1:0, a raw client."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf.message import Message

from contexta.collector import CollectorServer, PartialResult, Signal

LOCALHOST = "127.0.0.1"


@dataclass
class RecordingSink:
    """Stores every request it is given; can be told to reject items or to fail."""

    result: PartialResult = field(default_factory=PartialResult)
    error: Exception | None = None
    received: list[tuple[Signal, Message]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def consume(self, signal: Signal, request: Message) -> PartialResult:
        if self.error is not None:
            raise self.error
        with self._lock:
            self.received.append((signal, request))
        return self.result

    def requests(self, signal: Signal) -> list[Message]:
        with self._lock:
            return [request for s, request in self.received if s == signal]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def post(
    server: CollectorServer,
    path: str,
    body: bytes | Iterable[bytes],
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    chunked: bool = False,
) -> Reply:
    """Send one request with ``http.client`` to the server's OTLP/HTTP port."""
    assert server.http_address is not None
    connection = http.client.HTTPConnection(*server.http_address, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def start_collector() -> Iterator[Callable[..., CollectorServer]]:
    """Start ``CollectorServer``s on 127.0.0.1 with free ports; all are stopped afterwards."""
    servers: list[CollectorServer] = []

    def start(sink: Any, **options: Any) -> CollectorServer:
        options.setdefault("http_port", 0)
        options.setdefault("grpc_port", 0)
        server = CollectorServer(sink, host=LOCALHOST, **options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in reversed(servers):
        server.stop(grace=5)


@pytest.fixture
def collector(start_collector: Callable[..., CollectorServer], sink: RecordingSink) -> CollectorServer:
    """A collector on free loopback ports writing into ``sink``."""
    return start_collector(sink)
