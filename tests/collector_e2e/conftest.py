"""Fixtures for the end-to-end collector tests: real collectors on 127.0.0.1, real clients.

- ``start_collector``: an in-process :class:`CollectorServer` + :class:`WorkspaceSink` on free
  ports, writing a fresh workspace; stopped and closed after the test.
- ``collector_process``: ``python -m contexta.collector.cli`` as a subprocess (can be killed with
  SIGKILL and restarted on the same port and workspace); always terminated afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from contexta import Contexta
from contexta.collector import CollectorServer
from contexta.collector.workspace_sink import WorkspaceSink
from contexta.store.sqlite_store import SQLiteStore

LOCALHOST = "127.0.0.1"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
_RESPONSES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "logs": ExportLogsServiceResponse,
}


def signal_of(request: Message) -> str:
    name = type(request).__name__
    return {"ExportTraceServiceRequest": "traces", "ExportMetricsServiceRequest": "metrics"}.get(name, "logs")


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


@dataclass
class Reply:
    status: int
    body: bytes
    response: Message | None  # the decoded Export*ServiceResponse of a 200


def post(address: tuple[str, int], request: Message, *, timeout: float = 30.0) -> Reply:
    """POST one protobuf OTLP request with ``http.client``; decode the response of a 200."""
    return post_bytes(address, signal_of(request), request.SerializeToString(), timeout=timeout)


def post_bytes(address: tuple[str, int], signal: str, body: bytes, *, timeout: float = 30.0) -> Reply:
    """POST ``body`` as ``application/x-protobuf`` to the path of ``signal``."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("POST", _PATHS[signal], body=body, headers=PROTOBUF)
        reply = connection.getresponse()
        data = reply.read()
    finally:
        connection.close()
    decoded = _RESPONSES[signal].FromString(data) if reply.status == 200 else None
    return Reply(reply.status, data, decoded)


def post_ok(address: tuple[str, int], request: Message) -> Message:
    reply = post(address, request)
    assert reply.status == 200, reply.body
    assert reply.response is not None
    return reply.response


@dataclass
class Collector:
    """An in-process collector writing ``workspace``."""

    server: CollectorServer
    store: SQLiteStore
    workspace: Path

    @property
    def http(self) -> tuple[str, int]:
        assert self.server.http_address is not None
        return self.server.http_address

    @property
    def grpc_target(self) -> str:
        assert self.server.grpc_address is not None
        host, port = self.server.grpc_address
        return f"{host}:{port}"

    def send(self, request: Message) -> Message:
        return post_ok(self.http, request)


@pytest.fixture
def start_collector(tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    """Start in-process collectors, each on its own workspace; all stopped and closed after."""
    started: list[Collector] = []

    def start(name: str = "collected", *, commit_interval: float = 0.2, **options: Any) -> Collector:
        workspace = tmp_path / name
        store = SQLiteStore(workspace / "contexta.db", commit_interval=commit_interval)
        options.setdefault("http_port", 0)
        options.setdefault("grpc_port", None)
        try:
            server = CollectorServer(WorkspaceSink(store), host=LOCALHOST, **options)
            server.start()
        except BaseException:
            store.close()
            raise
        collector = Collector(server, store, workspace)
        started.append(collector)
        return collector

    yield start
    for collector in reversed(started):
        collector.server.stop(grace=5)
        collector.store.close()


def answers(workspace: Path, run_ref: str) -> dict[str, Any]:
    """What a user sees of ``run_ref``: snapshot, diagnosis and batches, as plain data."""
    with Contexta(workspace=workspace, config={"project_name": "e2e"}, environ={}) as ctx:
        return {
            "snapshot": ctx.get_run_snapshot(run_ref).to_dict(),
            "diagnose": ctx.diagnose_run(run_ref).to_dict(),
            "batches": [batch.to_dict() for batch in ctx.list_batches(run_ref)],
        }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=1, default=str)


def table_counts(db: Path) -> dict[str, int]:
    """Row counts of the workspace tables (a fresh connection: only committed data)."""
    tables = ("refs", "runs", "stages", "batches", "samples", "records", "span_index", "pending_spans")
    connection = sqlite3.connect(db)
    try:
        return {table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables}
    finally:
        connection.close()


# -- the collector as a subprocess ------------------------------------------------------------------
_LISTENING = re.compile(r"OTLP/HTTP listening on http://([0-9.]+):(\d+)")


class CollectorProcess:
    """``python -m contexta.collector.cli`` on one workspace; restartable on the same port."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._pump: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return LOCALHOST, self.port

    def start(self, timeout: float = 60.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.close_pipes()
        command = [
            sys.executable,
            "-u",
            "-m",
            "contexta.collector.cli",
            "--workspace",
            str(self.workspace),
            "--host",
            LOCALHOST,
            "--port",
            str(self.port),
            "--grpc-port",
            "-1",
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        lines: queue.Queue[str | None] = queue.Queue()
        pipe = self.process.stdout
        assert pipe is not None

        def pump() -> None:
            for line in pipe:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        self._pump = threading.Thread(target=pump, name="collector-output", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                raise AssertionError("the collector did not start:\n" + "".join(self.output))
            if match := _LISTENING.search(line or ""):
                self.port = int(match.group(2))
                return

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.close_pipes()

    def stop(self) -> int | None:
        """SIGTERM and wait for the clean shutdown; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        code = self.process.returncode
        self.close_pipes()
        return code

    def close_pipes(self) -> None:
        """Once the process has exited: let the output pump reach EOF, then close the pipe."""
        if self._pump is not None:
            self._pump.join(timeout=10)
            self._pump = None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def collector_process(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A collector subprocess on ``tmp_path/collected`` (not started); stopped afterwards."""
    process = CollectorProcess(tmp_path / "collected")
    try:
        yield process
    finally:
        process.stop()
