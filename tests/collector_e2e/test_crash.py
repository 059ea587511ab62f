"""kill -9 of the collector subprocess mid-stream: nothing acknowledged is lost, nothing is doubled."""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .conftest import PROTOBUF, CollectorProcess, post, table_counts, wait_until
from .otlp import RUN, batch_span, gauge_request, http_span, metric_event, run_span, stage_span, trace_request

REQUESTS = 240
CLIENTS = 3
RETRY_DEADLINE = 90.0


def request_body(index: int) -> tuple[str, bytes]:
    """Request ``index``: one batch (with a metric event) + a plain span under it, or a gauge point."""
    if index % 8 == 7:
        point = ("contexta.metric.queue.depth", float(index), {"contexta.run.ref": RUN}, 1 + index / 1000)
        return "/v1/metrics", gauge_request([point]).SerializeToString()
    number = 1000 + 2 * index
    batch = batch_span(
        number,
        3,
        "train",
        f"b{index}",
        index,
        2 + index / 1000,
        2.0005 + index / 1000,
        events=[metric_event(f"m{index}", "loss", 1 / (index + 1), 2.0004 + index / 1000, step=index)],
    )
    plain = http_span(number + 1, number, f"/shard/{index}", 2.0001 + index / 1000, 2.0002 + index / 1000)
    request: ExportTraceServiceRequest = trace_request([plain, batch])
    return "/v1/traces", request.SerializeToString()


class StreamingClient:
    """Posts requests from several threads; retries each one until it is acknowledged with a 200."""

    def __init__(self, process: CollectorProcess) -> None:
        self.process = process
        self.lock = threading.Lock()
        self.acked: set[int] = set()
        self.attempts: dict[int, int] = {}
        self.errors: list[str] = []

    def post_until_acked(self, index: int) -> None:
        path, body = request_body(index)
        deadline = time.monotonic() + RETRY_DEADLINE
        delay = 0.01
        while time.monotonic() < deadline:
            with self.lock:
                self.attempts[index] = self.attempts.get(index, 0) + 1
            connection = http.client.HTTPConnection(*self.process.address, timeout=30)
            try:
                connection.request("POST", path, body=body, headers=PROTOBUF)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    with self.lock:
                        self.acked.add(index)
                    return
                retryable = response.status in (429, 502, 503, 504)
                if not retryable:
                    self.errors.append(f"request {index}: HTTP {response.status}")
                    return
            except (OSError, http.client.HTTPException):
                pass  # the collector is down or died mid-request: retry
            finally:
                connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self.errors.append(f"request {index}: not acknowledged within {RETRY_DEADLINE}s")

    def run(self, indexes: list[int]) -> None:
        for index in indexes:
            self.post_until_acked(index)


def committed(db: Path) -> tuple[set[str], int, int]:
    """(metric record ids, batch rows, span records) the database file holds right now."""
    connection = sqlite3.connect(db)
    try:
        ids = {row[0] for row in connection.execute("SELECT local_id FROM records WHERE record_type = 0")}
        batches = connection.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        spans = connection.execute("SELECT COUNT(*) FROM records WHERE record_type = 3").fetchone()[0]
        return ids, batches, spans
    finally:
        connection.close()


def expected_ids(indexes: set[int]) -> set[str]:
    """Batch requests carry record ``m<index>``; gauge requests a content-derived id (counted apart)."""
    return {f"m{index}" for index in indexes if index % 8 != 7}


def test_sigkill_mid_stream_loses_no_acknowledged_request_and_doubles_nothing(
    collector_process: CollectorProcess,
) -> None:
    """Acked requests survive SIGKILL; after a restart on the same port, retries fill the rest once."""
    process = collector_process
    process.start()
    header = trace_request([stage_span(3, 1, "train", 0, 1, 50), run_span(1, 0, 60)])
    assert post(process.address, header).status == 200
    client = StreamingClient(process)

    threads = [
        threading.Thread(
            target=client.run, args=(list(range(offset, REQUESTS, CLIENTS)),), name=f"client-{offset}"
        )
        for offset in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(client.acked) >= REQUESTS // 3, "a third of the requests to be acknowledged")
        with client.lock:  # nothing is acknowledged while we look: the snapshot is exact
            process.kill()
            acked_before_kill = set(client.acked)
        db = process.workspace / "contexta.db"
        ids, _, _ = committed(db)
        assert expected_ids(acked_before_kill) <= ids, "an acknowledged request was lost by the SIGKILL"
        assert len(acked_before_kill) < REQUESTS, "the stream ended before the kill: nothing was in flight"
        process.start()  # same port, same workspace
    finally:
        for thread in threads:
            thread.join(timeout=RETRY_DEADLINE + 30)
    retried = sum(1 for count in client.attempts.values() if count > 1)
    print(f"acknowledged before the kill: {len(acked_before_kill)}/{REQUESTS}, retried: {retried}")
    assert not client.errors
    assert client.acked == set(range(REQUESTS))
    assert process.stop() == 0

    ids, batches, spans = committed(db)
    batch_ids = expected_ids(set(range(REQUESTS)))
    gauge_points = REQUESTS - len(batch_ids)
    assert batch_ids <= ids  # nothing lost
    assert len(ids - batch_ids) == gauge_points  # one record per gauge point: none doubled by a retry
    assert (batches, spans) == (len(batch_ids), len(batch_ids))
    assert table_counts(db)["pending_spans"] == 0
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()
    assert retried >= 1  # requests in flight or sent while the collector was down were retried
