"""Forwarding accepted requests, unchanged, to a second OTLP/HTTP receiver."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from contexta.collector import CollectorStats, Forwarder
from contexta.errors import ConfigError

from .conftest import LOCALHOST, post, wait_until
from .test_decode import otlp_json_trace
from .test_grpc_server import grpc_target, one_span_request


class CaptureServer(ThreadingHTTPServer):
    """A plain HTTP server that records what it receives and answers 200.

    Threaded and not joining on close: the forwarder's keep-alive connection stays
    open until the collector (torn down after this fixture) stops.
    """

    block_on_close = False

    def __init__(self) -> None:
        self.captured: list[tuple[str, dict[str, str], bytes]] = []
        super().__init__((LOCALHOST, 0), _CaptureHandler)

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.server_address[1]}"


class _CaptureHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.captured.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_http_request_is_forwarded_with_the_same_bytes_and_headers(start_collector, sink, capture):
    """A gzip JSON request reaches the forward target byte for byte, with its content type and encoding."""
    server = start_collector(sink, forward_url=capture.url)
    body = gzip.compress(json.dumps(otlp_json_trace()).encode())
    headers = {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"}

    assert post(server, "/v1/traces", body, headers).status == 200

    wait_until(lambda: capture.captured, "the forwarded request")
    path, forwarded_headers, forwarded_body = capture.captured[0]
    assert path == "/v1/traces"
    assert forwarded_body == body
    assert forwarded_headers["Content-Type"] == "application/json; charset=utf-8"
    assert forwarded_headers["Content-Encoding"] == "gzip"
    wait_until(lambda: server.counters["forward.sent"] == 1, "forward.sent to be counted")


def test_grpc_request_is_forwarded_to_a_second_receiver_as_protobuf(start_collector, sink):
    """A second collector receives the same request that arrived over gRPC at the first."""
    downstream_sink = type(sink)()
    downstream = start_collector(downstream_sink, grpc_port=None)
    host, port = downstream.http_address
    upstream = start_collector(sink, forward_url=f"http://{host}:{port}")
    request = one_span_request("forwarded")

    with grpc.insecure_channel(grpc_target(upstream)) as channel:
        TraceServiceStub(channel).Export(request, timeout=30)

    wait_until(lambda: downstream_sink.received, "the downstream collector to receive the request")
    assert downstream_sink.requests("traces") == [request]
    assert sink.requests("traces") == [request]


def test_forwarding_failure_is_counted_logged_once_and_does_not_fail_ingest(start_collector, sink, caplog):
    """With nobody listening at the forward URL, ingest still answers 200; failures are counted."""
    with socket.socket() as placeholder:  # find a port, then free it so nothing listens there
        placeholder.bind((LOCALHOST, 0))
        dead_port = placeholder.getsockname()[1]
    server = start_collector(sink, forward_url=f"http://{LOCALHOST}:{dead_port}")
    caplog.set_level(logging.WARNING, logger="contexta.collector.forward")

    for _ in range(3):
        assert post(server, "/v1/logs", b"", {"Content-Type": "application/x-protobuf"}).status == 200

    wait_until(lambda: server.counters["forward.failed"] == 3, "three failed forwards")
    assert len(sink.requests("logs")) == 3
    warnings = [r for r in caplog.records if r.name == "contexta.collector.forward"]
    assert len(warnings) == 1
    assert str(dead_port) in warnings[0].getMessage()


def test_full_forward_queue_drops_instead_of_blocking():
    """submit() never blocks: past queue_size requests are dropped and counted."""
    stats = CollectorStats()
    forwarder = Forwarder(f"http://{LOCALHOST}:9", stats=stats, queue_size=2)  # not started: nothing drains

    accepted = [forwarder.submit("traces", b"", "application/x-protobuf") for _ in range(3)]
    forwarder.close(timeout=1)

    assert accepted == [True, True, False]
    assert stats.get("forward.dropped") == 1


@pytest.mark.parametrize(
    ("url", "signal", "expected"),
    [
        ("http://collector:4318", "metrics", "http://collector:4318/v1/metrics"),
        ("http://collector:4318/", "logs", "http://collector:4318/v1/logs"),
        ("https://gw.example/otlp", "traces", "https://gw.example/otlp/v1/traces"),
        ("http://collector:4318/v1/traces", "traces", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", "logs", "http://collector:4318/v1/logs"),
    ],
)
def test_forward_url_gets_the_signal_path_appended_unless_it_has_one(url, signal, expected):
    """Base URLs get /v1/<signal>; a URL already ending in a signal path keeps it for that signal."""
    assert Forwarder(url).url_for(signal) == expected


def test_forward_url_must_be_http():
    """Anything but an http(s) URL with a host is a ConfigError naming forward_url."""
    with pytest.raises(ConfigError, match="forward_url"):
        Forwarder("collector:4318")
