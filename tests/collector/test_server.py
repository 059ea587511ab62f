"""CollectorServer: configuration checks, lifecycle, graceful stop and signal handling."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from contexta.collector import CollectorServer, PartialResult, is_loopback
from contexta.errors import ConfigError, ContextaError, TransportError

from .conftest import LOCALHOST, RecordingSink, post, wait_until
from .test_http_server import PROTOBUF, one_span_request


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "collector.internal"])
def test_non_loopback_bind_without_token_is_refused_with_a_message_naming_the_host(host, sink):
    """Listening beyond this machine needs a token or an explicit insecure=True."""
    with pytest.raises(ConfigError) as caught:
        CollectorServer(sink, host=host)

    assert repr(host) in str(caught.value)
    assert "token" in str(caught.value)


def test_non_loopback_host_is_allowed_with_a_token_or_insecure(sink):
    """Construction succeeds (nothing is bound until start) with a token or insecure=True."""
    CollectorServer(sink, host="0.0.0.0", token="s3cret")
    CollectorServer(sink, host="0.0.0.0", insecure=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"])
def test_loopback_hosts_are_recognised(host):
    """127.0.0.0/8, ::1 and localhost count as loopback."""
    assert is_loopback(host)


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"http_port": None, "grpc_port": None}, "http_port and grpc_port"),
        ({"http_port": 70000}, "http_port"),
        ({"grpc_port": -1}, "grpc_port"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"token": ""}, "token"),
        ({"token": " padded "}, "token"),
        ({"forward_url": "ftp://elsewhere"}, "forward_url"),
    ],
)
def test_invalid_settings_raise_config_error_naming_the_setting(options, setting, sink):
    """Bad arguments fail at construction with a ConfigError that names them."""
    with pytest.raises(ConfigError, match=setting):
        CollectorServer(sink, **options)


def test_context_manager_binds_free_ports_and_releases_them(sink):
    """Port 0 reports the bound ports; leaving the block stops both receivers."""
    with CollectorServer(sink, host=LOCALHOST, http_port=0, grpc_port=0) as server:
        http_host, http_port = server.http_address
        assert (http_host, server.grpc_address[0]) == (LOCALHOST, LOCALHOST)
        assert http_port > 0 and server.grpc_address[1] > 0
        assert post(server, "/v1/traces", one_span_request(), PROTOBUF).status == 200

    connection = http.client.HTTPConnection(LOCALHOST, http_port, timeout=5)
    try:
        with pytest.raises(ConnectionRefusedError):
            connection.request("GET", "/health")
    finally:
        connection.close()


def test_a_stopped_server_cannot_be_restarted(sink):
    """start() after stop() is an error rather than a half-working server."""
    server = CollectorServer(sink, host=LOCALHOST, http_port=0, grpc_port=None)
    server.start()
    server.stop()

    with pytest.raises(ContextaError, match="stopped"):
        server.start()


def refuses_connections(address: tuple[str, int]) -> bool:
    """Whether the port is closed; a connection caught in the backlog as it closes is reset."""
    try:
        socket.create_connection(address, timeout=5).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


class BlockingSink(RecordingSink):
    """Holds each consume() until released, to have a request in flight during stop()."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def consume(self, signal, request):
        self.entered.set()
        self.release.wait(30)
        return super().consume(signal, request)


def test_stop_lets_an_in_flight_request_finish_and_acknowledges_it():
    """A request being committed when stop() is called completes with 200; new clients are refused."""
    sink = BlockingSink()
    server = CollectorServer(sink, host=LOCALHOST, http_port=0, grpc_port=None)
    server.start()
    replies = []
    client = threading.Thread(
        target=lambda: replies.append(post(server, "/v1/traces", one_span_request(), PROTOBUF))
    )
    client.start()
    sink.entered.wait(30)
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 30})
    stopper.start()
    wait_until(lambda: refuses_connections(server.http_address), "stop() to close the listening port")

    sink.release.set()
    stopper.join(30)
    client.join(30)

    assert not stopper.is_alive()
    assert [reply.status for reply in replies] == [200]
    assert len(sink.received) == 1


SERVE_SCRIPT = textwrap.dedent(
    """
    from contexta.collector import CollectorServer, PartialResult

    class Sink:
        def consume(self, signal, request):
            print("consumed", signal, flush=True)
            return PartialResult()

    CollectorServer(Sink(), host="127.0.0.1", http_port=0, grpc_port=0).serve_forever_until_signal(grace=5)
    print("exited cleanly", flush=True)
    """
)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_forever_prints_where_it_listens_and_exits_cleanly_on_signal(stop_signal):
    """The foreground mode announces its addresses, serves, and shuts down on SIGTERM/SIGINT."""
    with subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            http_line = process.stdout.readline()
            grpc_line = process.stdout.readline()
            assert "OTLP/HTTP listening on http://127.0.0.1:" in http_line, process.stderr.read()
            assert "OTLP/gRPC listening on 127.0.0.1:" in grpc_line
            port = int(http_line.rsplit(":", 1)[1])
            connection = http.client.HTTPConnection(LOCALHOST, port, timeout=30)
            try:
                connection.request("POST", "/v1/traces", body=one_span_request(), headers=PROTOBUF)
                assert connection.getresponse().status == 200
            finally:
                connection.close()
            process.send_signal(stop_signal)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

    assert process.returncode == 0, stderr
    assert "consumed traces" in stdout
    assert "shutting down" in stdout
    assert stdout.rstrip().endswith("exited cleanly")


def test_counters_count_requests_items_and_rejections(start_collector, sink):
    """counters mirrors what /health reports: requests, items and rejected items per signal."""
    sink.result = PartialResult(rejected=1)
    server = start_collector(sink)

    post(server, "/v1/traces", one_span_request(), PROTOBUF)
    post(server, "/v1/traces", one_span_request(), PROTOBUF)

    counters = server.counters
    assert (counters["traces.requests"], counters["traces.items"], counters["traces.rejected"]) == (2, 2, 2)
    assert counters["logs.requests"] == 0


@pytest.mark.parametrize("receiver", ["http", "grpc"])
def test_busy_port_raises_transport_error_naming_the_address(collector, sink, receiver):
    """A port already in use fails start() (no silent port sharing) and releases what was bound."""
    busy_port = (collector.http_address if receiver == "http" else collector.grpc_address)[1]
    ports = {"http_port": 0, "grpc_port": 0, f"{receiver}_port": busy_port}
    server = CollectorServer(sink, host=LOCALHOST, **ports)

    with pytest.raises(TransportError, match=f"{LOCALHOST}:{busy_port}"):
        server.start()

    assert post(collector, "/v1/traces", one_span_request(), PROTOBUF).status == 200
