"""Delivery guarantees and mapping rules, end to end: duplicates, ack after commit, loose signals,
plain spans and invalid contexta attributes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from contexta import Contexta

from .conftest import Collector, answers, canonical, post_bytes, table_counts
from .otlp import (
    PROJECT,
    RUN,
    SpanSpec,
    batch_span,
    gauge_request,
    http_span,
    logs_request,
    metric_event,
    pipeline,
    run_span,
    stage_ref,
    stage_span,
    trace_request,
)
from .test_arrival_order import ORDERS, deliver


def _records(workspace: Any, record_type: str) -> list[dict[str, Any]]:
    snapshot = answers(workspace, RUN)["snapshot"]
    return [record for record in snapshot["records"] if record["record_type"] == record_type]


def test_the_same_requests_posted_twice_change_nothing(start_collector: Callable[..., Collector]) -> None:
    """Replaying every request of a run (traces, metrics, logs) keeps counts and snapshot identical."""
    collector = start_collector()
    deliver(collector, pipeline(), ORDERS["children_first"])
    db = collector.workspace / "contexta.db"
    before_counts, before = table_counts(db), canonical(answers(collector.workspace, RUN))
    deliver(collector, pipeline(), ORDERS["children_first"])
    deliver(collector, pipeline(), ORDERS["parents_first"])
    assert table_counts(db) == before_counts
    assert canonical(answers(collector.workspace, RUN)) == before


def test_a_retried_grpc_export_changes_nothing(start_collector: Callable[..., Collector]) -> None:
    """The same ExportTraceServiceRequest sent over gRPC twice, then over HTTP, is stored once."""
    collector = start_collector(grpc_port=0)
    telemetry = pipeline()
    request = trace_request(telemetry.spans.values())
    with grpc.insecure_channel(collector.grpc_target) as channel:
        stub = TraceServiceStub(channel)
        first = stub.Export(request, timeout=30)
        db = collector.workspace / "contexta.db"
        counts, snapshot = table_counts(db), canonical(answers(collector.workspace, RUN))
        second = stub.Export(request, timeout=30)
    collector.send(request)
    assert first == second
    assert table_counts(db) == counts
    assert canonical(answers(collector.workspace, RUN)) == snapshot
    assert counts["records"] == 7 + 3  # span events of contexta spans + the three plain spans


def test_data_is_visible_to_another_contexta_as_soon_as_the_request_is_acknowledged(
    start_collector: Callable[..., Collector],
) -> None:
    """After the 200, a second Contexta on the workspace reads the data without any flush."""
    collector = start_collector(commit_interval=3600.0)  # no background commit could help
    telemetry = pipeline()
    for names in (["run"], ["train", "epoch-0"]):
        collector.send(trace_request(telemetry.spans[name] for name in names))
        with Contexta(workspace=collector.workspace, config={"project_name": PROJECT}, environ={}) as reader:
            snapshot = reader.get_run_snapshot(RUN)
            batches = reader.list_batches(RUN)
        assert snapshot.run.status == "completed"
    assert [stage.name for stage in snapshot.stages] == ["train"]
    assert [batch.name for batch in batches] == ["epoch-0"]
    assert sorted(record.key for record in snapshot.records) == [
        "final.accuracy",
        "loss",
        "train.empty_shard",
    ]


def test_metric_points_with_a_run_ref_become_metric_records(
    start_collector: Callable[..., Collector],
) -> None:
    """Gauge points naming their run are stored; the SDK's own gauge points are acknowledged only."""
    collector = start_collector()
    collector.send(trace_request([pipeline().spans["run"], pipeline().spans["train"]]))
    points = [
        (
            "contexta.metric.gpu.util",
            0.75,
            {"contexta.run.ref": RUN, "contexta.stage.ref": stage_ref("train"), "contexta.metric.step": 3},
            45,
        ),
        ("throughput", 120.0, {"contexta.run.ref": RUN}, 46),
        ("contexta.metric.loss", 0.5, {"contexta.project": PROJECT, "contexta.run.name": "nightly"}, 47),
        ("contexta.metric.loss", 0.4, {"contexta.project": PROJECT, "contexta.run.name": "nightly"}, 48),
    ]
    response = collector.send(gauge_request(points))
    assert response.partial_success.rejected_data_points == 0
    assert "2 item(s) without contexta.run.ref not stored" in response.partial_success.error_message
    metrics = {record["key"]: record for record in _records(collector.workspace, "metric")}
    assert sorted(metrics) == ["final.accuracy", "gpu.util", "throughput"]
    assert metrics["gpu.util"]["value"] == 0.75
    assert metrics["gpu.util"]["step"] == 3
    assert metrics["gpu.util"]["stage_ref"] == stage_ref("train")
    assert metrics["throughput"]["stage_ref"] is None
    assert metrics["throughput"]["producer_ref"] == "contexta.collector"


def test_log_records_with_a_run_ref_become_event_records(start_collector: Callable[..., Collector]) -> None:
    """A log record naming its run is an event record (level from severity); others are not stored."""
    collector = start_collector()
    collector.send(trace_request([pipeline().spans["run"], pipeline().spans["train"]]))
    entries = [
        (
            "WARN",
            "disk almost full",
            {
                "contexta.run.ref": RUN,
                "contexta.stage.ref": stage_ref("train"),
                "contexta.event.key": "disk.low",
            },
            46,
        ),
        ("ERROR", "worker lost", {"contexta.run.ref": RUN}, 47),
        ("INFO", "request served", {"http.route": "/healthz"}, 5),
    ]
    response = collector.send(logs_request(entries))
    assert response.partial_success.rejected_log_records == 0
    assert "1 item(s) without contexta.run.ref" in response.partial_success.error_message
    events = {record["key"]: record for record in _records(collector.workspace, "event")}
    assert sorted(events) == ["disk.low", "log"]
    assert (events["disk.low"]["level"], events["disk.low"]["message"]) == ("warning", "disk almost full")
    assert events["disk.low"]["stage_ref"] == stage_ref("train")
    assert (events["log"]["level"], events["log"]["message"]) == ("error", "worker lost")


def test_plain_spans_under_a_stage_are_kept_and_unrelated_roots_are_ignored(
    start_collector: Callable[..., Collector],
) -> None:
    """HTTP/DB spans below a stage or batch become span records there; other traces leave no record."""
    collector = start_collector()
    telemetry = pipeline()
    under_run = http_span(30, 1, "/config", 0.5, 0.6)  # a plain span directly under the run: no stage
    collector.send(trace_request([*telemetry.spans.values(), under_run]))
    spans = {record["key"]: record for record in _records(collector.workspace, "span")}
    assert sorted(spans) == ["GET /features", "GET /weights", "SELECT features"]
    features, weights, select = spans["GET /features"], spans["GET /weights"], spans["SELECT features"]
    assert (features["stage_ref"], features["batch_ref"]) == (stage_ref("train"), None)
    assert weights["batch_ref"] == "batch:e2e.nightly.train.epoch-1"
    assert select["details"]["parent_span_id"] == features["details"]["span_id"]
    assert features["details"]["kind"] == "client"
    assert features["details"]["attributes"]["http.response.status_code"] == 200
    assert weights["details"]["status_code"] == "error"
    assert features["producer_ref"] == "trainer"
    every_key = {r["key"] for r in answers(collector.workspace, RUN)["snapshot"]["records"]}
    assert "GET /healthz" not in every_key and "GET /db" not in every_key and "GET /config" not in every_key


def test_invalid_contexta_attributes_are_rejected_without_half_writes(
    start_collector: Callable[..., Collector],
) -> None:
    """Spans with bad refs are counted in rejected_spans with a message; they leave no row behind."""
    telemetry = pipeline()
    valid = [telemetry.spans[name] for name in ("run", "ingest", "train", "epoch-0", "http")]
    bad_stage = stage_span(40, 1, "broken", 2, 51, 55, events=[metric_event("m-bad", "bad", 1.0, 52)])
    bad_stage.attrs["contexta.stage.ref"] = "stage:e2e.nightly.Not A Ref"
    bad_batch = batch_span(41, 3, "train", "epoch-9", 9, 20, 21)
    bad_batch.attrs["contexta.run.ref"] = "run:E2E.nightly"
    missing = SpanSpec(42, 3, "batch without refs", {"contexta.entity.kind": "batch"}, 21, 22)
    bad_child = http_span(43, 40, "/under-the-broken-stage", 53, 54)
    bad_event = run_span(1, 0, 60, events=[metric_event("M-Bad", "bad", 1.0, 30)])

    clean = start_collector("clean")
    clean.send(trace_request(valid))
    mixed = start_collector("mixed")
    response = mixed.send(trace_request([bad_stage, bad_child, *valid, bad_batch, missing]))
    again = mixed.send(trace_request([bad_event]))

    assert response.partial_success.rejected_spans == 3
    message = response.partial_success.error_message
    assert "stage broken" in message and "batch epoch-9" in message and "batch without refs" in message
    assert again.partial_success.rejected_spans == 1
    assert "contexta.metric" in again.partial_success.error_message
    db_clean, db_mixed = clean.workspace / "contexta.db", mixed.workspace / "contexta.db"
    counts = table_counts(db_mixed)
    assert counts.pop("pending_spans") == 1  # the plain child of the rejected stage never resolves
    expected = table_counts(db_clean)
    assert expected.pop("pending_spans") == 0
    assert counts == expected
    assert canonical(answers(mixed.workspace, RUN)) == canonical(answers(clean.workspace, RUN))


def test_malformed_protobuf_is_a_400_and_writes_nothing(start_collector: Callable[..., Collector]) -> None:
    """A body that is not an OTLP message is refused before the sink; the workspace stays empty."""
    collector = start_collector()
    reply = post_bytes(collector.http, "traces", b"\xff\xff\xff\xff not protobuf")
    assert reply.status == 400
    assert table_counts(collector.workspace / "contexta.db")["records"] == 0


def test_log_level_falls_back_on_the_severity_number(start_collector: Callable[..., Collector]) -> None:
    """A log record with only a SeverityNumber (no text) keeps its level: 17 is error, 13 warning."""
    collector = start_collector()
    collector.send(trace_request([pipeline().spans["run"]]))
    request = logs_request(
        [
            ("", "worker lost", {"contexta.run.ref": RUN, "contexta.event.key": "worker.lost"}, 47),
            ("", "slow shard", {"contexta.run.ref": RUN, "contexta.event.key": "shard.slow"}, 48),
        ]
    )
    records = request.resource_logs[0].scope_logs[0].log_records
    records[0].severity_number, records[1].severity_number = 17, 13
    collector.send(request)
    levels = {record["key"]: record["level"] for record in _records(collector.workspace, "event")}
    assert levels == {"worker.lost": "error", "shard.slow": "warning"}


def test_a_request_that_fails_midway_leaves_nothing_and_its_retry_completes_it(
    start_collector: Callable[..., Collector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage failure after the entities were written rolls the request back (503); the retry stores it."""
    collector = start_collector(commit_interval=0.0)  # any half-written request would be committed at once
    telemetry = pipeline()
    request = trace_request(telemetry.spans.values())
    db = collector.workspace / "contexta.db"
    empty = table_counts(db)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(collector.store.records, "insert_trusted", fail)
        reply = post_bytes(collector.http, "traces", request.SerializeToString())
    assert reply.status == 503
    collector.store.flush()
    assert table_counts(db) == empty
    collector.send(request)
    reference = start_collector("reference")
    reference.send(request)
    assert table_counts(db) == table_counts(reference.workspace / "contexta.db")
    assert canonical(answers(collector.workspace, RUN)) == canonical(answers(reference.workspace, RUN))
