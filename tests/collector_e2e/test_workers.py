"""``contexta collector --workers N``: several processes serve one OTLP/HTTP port and write one
workspace. Real processes on 127.0.0.1; the workspace must equal what one process makes of the
same requests, and no process may outlive the collector."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from google.protobuf.message import Message

from contexta.collector import CollectorServer
from contexta.errors import ConfigError

from . import test_crash
from .conftest import LOCALHOST, PROTOBUF, CollectorProcess, answers, canonical, table_counts, wait_until
from .otlp import (
    PROJECT,
    SpanSpec,
    batch_span,
    db_span,
    gauge_request,
    http_span,
    logs_request,
    metric_event,
    run_span,
    sample_span,
    stage_span,
    trace_request,
)

RUNS = [f"run:{PROJECT}.w{index}" for index in range(4)]
_SERVED_BY = re.compile(r"served by (\d+) processes: ([\d ]+)")


# -- the collector as several processes ------------------------------------------------------------
class WorkersProcess(CollectorProcess):
    """``contexta collector --workers N`` (plus ``extra`` options); knows its worker pids."""

    def __init__(self, workspace: Path, workers: int, extra: tuple[str, ...] = ()) -> None:
        super().__init__(workspace)
        self.workers = workers
        self.extra = extra
        self.pids: list[int] = []

    def start(self, timeout: float = 60.0) -> None:
        real_popen = subprocess.Popen
        options = ["--workers", str(self.workers), *self.extra]

        def popen(command: list[str], **kwargs: Any) -> Any:
            return real_popen([*command, *options], **kwargs)

        seen = len(self.output)
        with mock.patch.object(subprocess, "Popen", popen):
            super().start(timeout)
        if self.workers > 1:
            match = wait_until(
                lambda: next(filter(None, map(_SERVED_BY.search, self.output[seen:])), None),
                "the collector to name its processes",
            )
            assert int(match.group(1)) == self.workers
            self.pids = [int(pid) for pid in match.group(2).split()]
            assert self.process is not None and self.pids[0] == self.process.pid
            assert len(set(self.pids)) == self.workers

    @property
    def worker_pids(self) -> list[int]:
        return self.pids[1:]

    def kill(self) -> None:
        """SIGKILL the parent; its workers must notice and exit by themselves."""
        workers = self.worker_pids
        super().kill()
        wait_until(
            lambda: all(gone(pid) for pid in workers), "the workers to exit after the parent's SIGKILL"
        )


def gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def health(address: tuple[str, int]) -> dict[str, Any]:
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request("GET", "/health")
        reply = connection.getresponse()
        assert reply.status == 200
        return json.loads(reply.read())
    finally:
        connection.close()


def post_fresh(
    address: tuple[str, int], path: str, body: bytes, headers: dict[str, str] | None = None
) -> int:
    """POST on a new connection (so the kernel may hand it to any process); the status."""
    connection = http.client.HTTPConnection(*address, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers or PROTOBUF)
        reply = connection.getresponse()
        reply.read()
        return reply.status
    finally:
        connection.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[WorkersProcess]]:
    """Collector processes made by a test; every one is stopped (SIGTERM, then SIGKILL) after."""
    made: list[WorkersProcess] = []
    yield made
    for process in made:
        process.stop()
        for pid in process.worker_pids:  # never leave a worker behind, even if the test failed
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def start(
    processes: list[WorkersProcess], workspace: Path, workers: int, *extra: str, port: int = 0
) -> WorkersProcess:
    process = WorkersProcess(workspace, workers, extra)
    process.port = port
    processes.append(process)
    process.start()
    return process


# -- the workload: several runs, plain spans split from their parents, replays ---------------------
def run_spans(run_index: int) -> list[SpanSpec]:
    """One run: 2 stages x 3 batches x 4 samples (a metric event each), plain HTTP spans under
    the batches with DB spans under them, DB spans under the samples."""
    run = RUNS[run_index]
    base = 10_000 * (run_index + 1)
    trace = (0xABC0 + run_index).to_bytes(16, "big")
    spans = [run_span(base, 0, 100, run=run)]
    number = base
    for s in range(2):
        stage = f"s{s}"
        number += 1
        stage_number = number
        spans.append(stage_span(stage_number, base, stage, s, 1 + 40 * s, 40 + 40 * s, run=run))
        for b in range(3):
            batch = f"b{b}"
            number += 1
            batch_number = number
            start = 2 + 40 * s + 10 * b
            spans.append(
                batch_span(
                    batch_number,
                    stage_number,
                    stage,
                    batch,
                    b,
                    start,
                    start + 9,
                    run=run,
                    events=[metric_event(f"loss-{s}-{b}", "loss", 1 / (b + 1), start + 8, step=b, run=run)],
                )
            )
            number += 1
            spans.append(http_span(number, batch_number, f"/shard/{s}/{b}", start + 0.1, start + 0.5))
            number += 1
            spans.append(db_span(number, number - 1, f"SELECT {s}{b}", start + 0.2, start + 0.4))
            for x in range(4):
                number += 1
                sample_number = number
                spans.append(
                    sample_span(
                        sample_number,
                        batch_number,
                        stage,
                        batch,
                        f"x{x}",
                        start + 1 + x,
                        start + 1.5 + x,
                        run=run,
                        events=[metric_event(f"ok-{s}-{b}-{x}", "correct", x % 2, start + 1.2 + x, run=run)],
                    )
                )
                number += 1
                spans.append(db_span(number, sample_number, f"SELECT x{x}", start + 1.1 + x, start + 1.3 + x))
    for spec in spans:
        spec.trace = trace
    return spans


def workload(seed: int = 7) -> list[tuple[str, bytes]]:
    """(path, body) of every request: spans shuffled into small trace requests (children often
    in an earlier request than their parents), gauge points and log records of each run, and a
    fifth of the requests sent twice (a client retrying)."""
    rng = random.Random(seed)
    spans = [spec for index in range(len(RUNS)) for spec in run_spans(index)]
    rng.shuffle(spans)
    requests: list[tuple[str, Message]] = []
    while spans:
        size = rng.randint(1, 8)
        requests.append(("/v1/traces", trace_request(spans[:size])))
        spans = spans[size:]
    for index, run in enumerate(RUNS):
        points = [
            ("contexta.metric.gpu.util", 0.5 + i / 10, {"contexta.run.ref": run}, 3 + i) for i in range(3)
        ]
        requests.append(("/v1/metrics", gauge_request(points)))
        entries = [
            ("WARN", f"slow shard {index}", {"contexta.run.ref": run, "contexta.event.key": "slow"}, 4)
        ]
        requests.append(("/v1/logs", logs_request(entries)))
    requests += rng.sample(requests, len(requests) // 5)
    rng.shuffle(requests)
    return [(path, request.SerializeToString()) for path, request in requests]


def post_all(address: tuple[str, int], requests: list[tuple[str, bytes]], threads: int = 6) -> None:
    """Post every request from ``threads`` client threads at once, each on a new connection."""
    failures: list[str] = []

    def client(part: list[tuple[str, bytes]]) -> None:
        for path, body in part:
            status = post_fresh(address, path, body)
            if status != 200:
                failures.append(f"{path}: HTTP {status}")

    workers = [
        threading.Thread(target=client, args=(requests[offset::threads],), name=f"client-{offset}")
        for offset in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not failures


def workspace_view(workspace: Path) -> dict[str, Any]:
    return {
        "counts": table_counts(workspace / "contexta.db"),
        "runs": {run: canonical(answers(workspace, run)) for run in RUNS},
    }


# -- tests ------------------------------------------------------------------------------------------
def test_two_workers_store_concurrent_out_of_order_requests_exactly_once_like_one_process(
    tmp_path: Path, processes: list[WorkersProcess]
) -> None:
    """Six client threads post the same requests to --workers 2 and to --workers 1: both
    processes take connections, and the two workspaces are identical (nothing lost, nothing
    doubled, every plain span attached even when its parent was stored by the other process)."""
    requests = workload()
    views = {}
    for workers in (1, 2):
        process = start(processes, tmp_path / f"workers-{workers}", workers)
        post_all(process.address, requests)
        counters = health(process.address)["counters"]
        for signal_name in ("traces", "metrics", "logs"):
            sent = sum(1 for path, _ in requests if path == f"/v1/{signal_name}")
            assert counters[f"{signal_name}.requests"] == sent, signal_name
        if workers == 2:
            served = {slot: counters[f"process.{slot}.requests"] for slot in range(2)}
            extra = 0
            while min(served.values()) == 0 and extra < 200:  # the kernel decides who accepts
                assert post_fresh(process.address, *requests[extra % len(requests)]) == 200
                extra += 1
                counters = health(process.address)["counters"]
                served = {slot: counters[f"process.{slot}.requests"] for slot in range(2)}
            assert min(served.values()) > 0, f"one process served every request: {served}"
        assert process.stop() == 0
        views[workers] = workspace_view(process.workspace)

    one, two = views[1], views[2]
    assert one["counts"]["pending_spans"] == 0
    assert one["counts"]["samples"] == len(RUNS) * 2 * 3 * 4
    assert one["counts"] == two["counts"]
    for run in RUNS:
        assert one["runs"][run] == two["runs"][run], run


def test_keep_alive_connections_are_spread_evenly(tmp_path: Path, processes: list[WorkersProcess]) -> None:
    """Six keep-alive connections opened one after the other on --workers 3: each process takes
    two (a process leaves a connection to one with fewer), where the kernel alone would often
    hand one process none."""
    process = start(processes, tmp_path / "ws", 3)
    path, body = workload()[0]
    connections = []
    try:
        for _ in range(6):
            connection = http.client.HTTPConnection(*process.address, timeout=30)
            connection.request("POST", path, body=body, headers=PROTOBUF)
            reply = connection.getresponse()
            reply.read()
            assert reply.status == 200
            connections.append(connection)
        counters = health(process.address)["counters"]
        assert [counters[f"process.{slot}.requests"] for slot in range(3)] == [2, 2, 2]
    finally:
        for connection in connections:
            connection.close()


def test_sigterm_stops_the_parent_and_every_worker(tmp_path: Path, processes: list[WorkersProcess]) -> None:
    """SIGTERM to the collector: it exits 0 and no worker survives it."""
    process = start(processes, tmp_path / "ws", 3)
    workers = process.worker_pids
    assert len(workers) == 2 and not any(gone(pid) for pid in workers)
    assert post_fresh(process.address, *workload()[0]) == 200

    assert process.stop() == 0
    assert all(gone(pid) for pid in workers)  # reaped by the parent before it exited
    with pytest.raises(ConnectionRefusedError):
        post_fresh(process.address, "/v1/traces", b"")


def test_a_burst_of_signals_still_shuts_down_cleanly(tmp_path: Path, processes: list[WorkersProcess]) -> None:
    """SIGTERM and SIGINT several times over, to the collector and to its workers at once (as a
    terminal's Ctrl-C and an impatient supervisor do): everything still exits, the parent with 0."""
    process = start(processes, tmp_path / "ws", 3)
    assert process.process is not None
    for _ in range(3):
        for pid in process.pids:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGINT)
    assert process.process.wait(timeout=30) == 0
    wait_until(lambda: all(gone(pid) for pid in process.worker_pids), "every worker to exit")


def test_sigkill_of_the_parent_makes_the_workers_exit_and_frees_the_port(
    tmp_path: Path, processes: list[WorkersProcess]
) -> None:
    """kill -9 of the parent: its workers exit by themselves (polled), and a new collector
    binds the same port and serves it."""
    process = start(processes, tmp_path / "ws", 2)
    port, workers = process.port, process.worker_pids
    requests = workload()
    post_all(process.address, requests[:20], threads=4)

    process.kill()  # waits until every worker pid has exited

    again = start(processes, tmp_path / "ws", 2, port=port)
    assert again.port == port
    post_all(again.address, requests[20:], threads=4)
    assert again.stop() == 0
    assert not set(workers) & set(again.pids)
    counts = table_counts(again.workspace / "contexta.db")
    assert (counts["samples"], counts["pending_spans"]) == (len(RUNS) * 2 * 3 * 4, 0)


def test_sigkill_mid_stream_with_two_workers_loses_and_doubles_nothing(
    tmp_path: Path, processes: list[WorkersProcess]
) -> None:
    """The kill -9 / retry test of test_crash.py against --workers 2: the parent is killed
    mid-stream (its workers then stop), a new collector starts on the same port, retries fill
    the gaps once."""
    process = WorkersProcess(tmp_path / "collected", 2)
    processes.append(process)
    test_crash.test_sigkill_mid_stream_loses_no_acknowledged_request_and_doubles_nothing(process)


def test_a_killed_worker_is_counted_and_the_others_go_on(
    tmp_path: Path, processes: list[WorkersProcess]
) -> None:
    """A worker that dies (SIGKILL) is reaped and counted (workers.exited); the port still works."""
    process = start(processes, tmp_path / "ws", 3)
    victim = process.worker_pids[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: health(process.address)["counters"].get("workers.exited") == 1, "workers.exited")
    assert gone(victim)
    for path, body in workload()[:10]:
        assert post_fresh(process.address, path, body) == 200
    assert process.stop() == 0
    assert all(gone(pid) for pid in process.worker_pids)


class _Upstream(BaseHTTPRequestHandler):
    received: Counter[str]
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.received[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_token_body_limit_and_forwarding_apply_in_every_process(
    tmp_path: Path, processes: list[WorkersProcess]
) -> None:
    """With --workers 3, every process refuses a missing token (401) and an oversized body (413),
    and forwards what it accepted; /health sums the counters of all processes."""
    _Upstream.received = Counter()
    upstream = ThreadingHTTPServer((LOCALHOST, 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    try:
        process = start(
            processes,
            tmp_path / "ws",
            3,
            "--token-file",
            str(token_file),
            "--max-body-bytes",
            "4096",
            "--forward",
            f"http://{LOCALHOST}:{upstream.server_port}",
        )
        small = [(path, body) for path, body in workload() if len(body) <= 4096]
        big = ("/v1/traces", bytes(4097))  # refused on its declared length, before decoding
        authorised = {**PROTOBUF, "Authorization": "Bearer s3cret"}
        sent = 0
        counters = health(process.address)["counters"]
        while sent < 30 or min(counters[f"process.{slot}.requests"] for slot in range(3)) == 0:
            assert sent < 400, f"a process never served a request: {counters}"
            path, body = small[sent % len(small)]
            assert post_fresh(process.address, path, body, authorised) == 200
            assert post_fresh(process.address, path, body) == 401
            assert post_fresh(process.address, big[0], big[1], authorised) == 413
            sent += 1
            counters = health(process.address)["counters"]

        wait_until(lambda: health(process.address)["counters"]["forward.sent"] == sent, "every forward")
        counters = health(process.address)["counters"]
        assert (counters["http.401"], counters["http.413"]) == (sent, sent)
        assert sum(counters[f"{s}.requests"] for s in ("traces", "metrics", "logs")) == sent
        assert sum(_Upstream.received.values()) == sent
        assert process.stop() == 0
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_workers_settings_are_checked(tmp_path: Path) -> None:
    """--workers must be 1 to 64; more than one needs a sink factory and OTLP/HTTP."""

    class Sink:
        def consume(self, signal: str, request: Message) -> None:
            return None

    for bad in (0, -1, 65, True, 1.5):
        with pytest.raises(ConfigError, match="workers"):
            CollectorServer(Sink(), http_port=0, grpc_port=None, workers=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="function that opens one"):
        CollectorServer(Sink(), http_port=0, grpc_port=None, workers=2)
    with pytest.raises(ConfigError, match="OTLP/HTTP"):
        CollectorServer(lambda: Sink(), http_port=None, grpc_port=0, workers=2)
    CollectorServer(lambda: Sink(), http_port=0, grpc_port=None, workers=2)  # no fork before start()

    command = [sys.executable, "-m", "contexta.collector.cli", "--workspace", str(tmp_path / "ws")]
    result = subprocess.run(
        [*command, "--port", "0", "--grpc-port", "-1", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "contexta: error: workers: must be an int from 1 to 64 (got 0)" in result.stderr
