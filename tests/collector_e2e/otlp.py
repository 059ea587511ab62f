"""Hand-built OTLP protobuf: spans with contexta attributes, plain spans, gauge points, log records.

The e2e tests build requests byte by byte (no SDK), so they control exactly which span
arrives in which request and in which order. :func:`pipeline` is the telemetry of one small
run: two stages, batches, a sample, metric/event/degraded span events, plain HTTP and DB spans
under a stage and a batch, an unrelated trace, run-scoped gauge points and log records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from contexta.semconv import attributes as sc

PROJECT = "e2e"
RUN = f"run:{PROJECT}.nightly"
T0 = 1_717_243_200_000_000_000  # 2024-06-01T12:00:00Z in ns
SECOND = 1_000_000_000
TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
OTHER_TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list | tuple):
        out = AnyValue()
        out.array_value.values.extend(any_value(item) for item in value)
        return out
    return AnyValue(string_value=str(value))


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attrs.items()]


def span_id(number: int) -> bytes:
    return number.to_bytes(8, "big")


@dataclass
class SpanSpec:
    """One span to build: ids are small ints, times are offsets in seconds from ``T0``."""

    number: int
    parent: int | None
    name: str
    attrs: dict[str, Any]
    start: float
    end: float
    events: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    trace: bytes = TRACE
    kind: int = Span.SPAN_KIND_INTERNAL
    error: bool = False

    def proto(self) -> Span:
        span = Span(
            trace_id=self.trace,
            span_id=span_id(self.number),
            name=self.name,
            kind=self.kind,
            start_time_unix_nano=T0 + int(self.start * SECOND),
            end_time_unix_nano=T0 + int(self.end * SECOND),
        )
        if self.parent is not None:
            span.parent_span_id = span_id(self.parent)
        span.attributes.extend(key_values(self.attrs))
        for name, at, attrs in self.events:
            event = span.events.add(name=name, time_unix_nano=T0 + int(at * SECOND))
            event.attributes.extend(key_values(attrs))
        if self.error:
            span.status.code = Status.STATUS_CODE_ERROR
        return span


def trace_request(spans: Iterable[SpanSpec | Span], service: str = "trainer") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    group.resource.attributes.extend(key_values({"service.name": service}))
    scope = group.scope_spans.add()
    scope.scope.name = "contexta.e2e"
    scope.spans.extend(item if isinstance(item, Span) else item.proto() for item in spans)
    return request


def gauge_request(
    points: Sequence[tuple[str, float, Mapping[str, Any], float]],
) -> ExportMetricsServiceRequest:
    """``points``: (instrument name, value, point attributes, time offset in s); one gauge each."""
    request = ExportMetricsServiceRequest()
    group = request.resource_metrics.add()
    group.resource.attributes.extend(key_values({"service.name": "trainer"}))
    scope = group.scope_metrics.add()
    for name, value, attrs, at in points:
        metric = scope.metrics.add(name=name, unit="1")
        point = metric.gauge.data_points.add(time_unix_nano=T0 + int(at * SECOND), as_double=value)
        point.attributes.extend(key_values(attrs))
    return request


def logs_request(entries: Sequence[tuple[str, str, Mapping[str, Any], float]]) -> ExportLogsServiceRequest:
    """``entries``: (severity text, body, attributes, time offset in s)."""
    request = ExportLogsServiceRequest()
    group = request.resource_logs.add()
    group.resource.attributes.extend(key_values({"service.name": "trainer"}))
    scope = group.scope_logs.add()
    for severity, body, attrs, at in entries:
        record = scope.log_records.add(time_unix_nano=T0 + int(at * SECOND), severity_text=severity)
        record.body.string_value = body
        record.attributes.extend(key_values(attrs))
    return request


# -- contexta spans and events, set by hand as any OTel SDK would -----------------------------------
def stage_ref(stage: str, run: str = RUN) -> str:
    return f"stage:{run[4:]}.{stage}"


def run_span(number: int, start: float, end: float, *, run: str = RUN, events: Any = ()) -> SpanSpec:
    project, name = run[4:].split(".")
    attrs = {
        sc.ENTITY_KIND: "run",
        sc.PROJECT: project,
        sc.RUN_REF: run,
        sc.RUN_NAME: name,
        sc.STATUS: "completed",
        sc.RUN_PARAMS: '{"lr": 0.01}',
        sc.DATASET_REFS: ["dataset:warehouse.orders-v7"],
    }
    return SpanSpec(number, None, f"run {name}", attrs, start, end, list(events))


def stage_span(
    number: int,
    parent: int,
    stage: str,
    order: int,
    start: float,
    end: float,
    *,
    run: str = RUN,
    events: Any = (),
) -> SpanSpec:
    attrs = {
        sc.ENTITY_KIND: "stage",
        sc.PROJECT: run[4:].split(".")[0],
        sc.RUN_REF: run,
        sc.RUN_NAME: run.split(".")[-1],
        sc.STAGE_REF: stage_ref(stage, run),
        sc.STAGE_NAME: stage,
        sc.ORDER_INDEX: order,
        sc.STATUS: "completed",
    }
    return SpanSpec(number, parent, f"stage {stage}", attrs, start, end, list(events))


def batch_span(
    number: int,
    parent: int,
    stage: str,
    batch: str,
    order: int,
    start: float,
    end: float,
    *,
    run: str = RUN,
    events: Any = (),
) -> SpanSpec:
    attrs = {
        sc.ENTITY_KIND: "batch",
        sc.PROJECT: run[4:].split(".")[0],
        sc.RUN_REF: run,
        sc.STAGE_REF: stage_ref(stage, run),
        sc.BATCH_REF: f"batch:{run[4:]}.{stage}.{batch}",
        sc.BATCH_NAME: batch,
        sc.ORDER_INDEX: order,
        sc.STATUS: "completed",
    }
    return SpanSpec(number, parent, f"batch {batch}", attrs, start, end, list(events))


def sample_span(
    number: int,
    parent: int,
    stage: str,
    batch: str,
    sample: str,
    start: float,
    end: float,
    *,
    run: str = RUN,
    events: Any = (),
) -> SpanSpec:
    attrs = {
        sc.ENTITY_KIND: "sample",
        sc.PROJECT: run[4:].split(".")[0],
        sc.RUN_REF: run,
        sc.STAGE_REF: stage_ref(stage, run),
        sc.BATCH_REF: f"batch:{run[4:]}.{stage}.{batch}",
        sc.SAMPLE_REF: f"sample:{run[4:]}.{stage}.{batch}.{sample}",
        sc.SAMPLE_NAME: sample,
        sc.STATUS: "completed",
    }
    return SpanSpec(number, parent, f"sample {sample}", attrs, start, end, list(events))


def metric_event(
    record_id: str, key: str, value: float, at: float, step: int | None = None, run: str = RUN
) -> tuple[str, float, dict[str, Any]]:
    attrs: dict[str, Any] = {
        sc.METRIC_KEY: key,
        sc.METRIC_VALUE: float(value),
        sc.RECORD_REF: f"record:{run[4:]}.{record_id}",
    }
    if step is not None:
        attrs[sc.METRIC_STEP] = step
    return sc.EVENT_METRIC, at, attrs


def event_event(
    record_id: str, key: str, message: str, at: float, level: str = "info", run: str = RUN
) -> tuple[str, float, dict[str, Any]]:
    attrs = {
        sc.EVENT_KEY: key,
        sc.EVENT_LEVEL: level,
        sc.EVENT_MESSAGE: message,
        sc.RECORD_REF: f"record:{run[4:]}.{record_id}",
    }
    return sc.EVENT_EVENT, at, attrs


def degraded_event(
    record_id: str, issue: str, summary: str, at: float, severity: str = "error", run: str = RUN
) -> tuple[str, float, dict[str, Any]]:
    attrs = {
        sc.DEGRADED_ISSUE_KEY: issue,
        sc.DEGRADED_CATEGORY: "verification",
        sc.DEGRADED_SEVERITY: severity,
        sc.DEGRADED_SUMMARY: summary,
        sc.RECORD_REF: f"record:{run[4:]}.{record_id}",
        sc.RECORD_ATTRIBUTES: '{"expected": 1000}',
    }
    return sc.EVENT_DEGRADED, at, attrs


def http_span(
    number: int,
    parent: int | None,
    path: str,
    start: float,
    end: float,
    *,
    trace: bytes = TRACE,
    error: bool = False,
) -> SpanSpec:
    attrs = {
        "http.request.method": "GET",
        "url.full": f"http://features.internal{path}",
        "http.response.status_code": 500 if error else 200,
    }
    return SpanSpec(
        number, parent, f"GET {path}", attrs, start, end, trace=trace, kind=Span.SPAN_KIND_CLIENT, error=error
    )


def db_span(number: int, parent: int, statement: str, start: float, end: float) -> SpanSpec:
    attrs = {"db.system": "postgresql", "db.query.text": statement}
    return SpanSpec(number, parent, "SELECT features", attrs, start, end, kind=Span.SPAN_KIND_CLIENT)


# -- the scenario of the ordering tests ------------------------------------------------------------
@dataclass
class Pipeline:
    """The spans (by name), gauge points and log records of one run."""

    spans: dict[str, SpanSpec]
    metrics: ExportMetricsServiceRequest
    logs: ExportLogsServiceRequest


def pipeline() -> Pipeline:
    train = stage_ref("train")
    spans = [
        ("run", run_span(1, 0, 60, events=[metric_event("m-final", "final.accuracy", 0.93, 59)])),
        (
            "ingest",
            stage_span(
                2,
                1,
                "ingest",
                0,
                1,
                10,
                events=[
                    event_event("e-loaded", "ingest.complete", "Loaded 1200 rows.", 9),
                    metric_event("m-rows", "rows", 1200, 9),
                ],
            ),
        ),
        (
            "train",
            stage_span(
                3,
                1,
                "train",
                1,
                11,
                50,
                events=[
                    degraded_event("d-empty", "train.empty_shard", "shard 3 was empty", 40),
                ],
            ),
        ),
        (
            "epoch-0",
            batch_span(
                4,
                3,
                "train",
                "epoch-0",
                0,
                12,
                30,
                events=[
                    metric_event("m-loss-0", "loss", 1.0, 29, step=0),
                ],
            ),
        ),
        (
            "epoch-1",
            batch_span(
                5,
                3,
                "train",
                "epoch-1",
                1,
                31,
                49,
                events=[
                    metric_event("m-loss-1", "loss", 0.5, 48, step=1),
                ],
            ),
        ),
        (
            "first",
            sample_span(
                6,
                4,
                "train",
                "epoch-0",
                "first",
                13,
                14,
                events=[
                    metric_event("m-correct", "correct", 1.0, 13.5),
                ],
            ),
        ),
        # plain spans: HTTP under the stage, DB under that HTTP call, HTTP under a batch
        ("http", http_span(7, 3, "/features", 11.5, 11.9)),
        ("db", db_span(8, 7, "SELECT * FROM features", 11.6, 11.8)),
        ("http-batch", http_span(9, 5, "/weights", 32, 33, error=True)),
        # unrelated: a plain root span of another trace and its child
        ("other-root", http_span(20, None, "/healthz", 5, 6, trace=OTHER_TRACE)),
        ("other-child", http_span(21, 20, "/db", 5.1, 5.2, trace=OTHER_TRACE)),
    ]
    metrics = gauge_request(
        [
            ("contexta.metric.gpu.util", 0.75, {sc.RUN_REF: RUN, sc.STAGE_REF: train, sc.METRIC_STEP: 1}, 45),
            (
                "contexta.metric.loss",
                0.5,
                {sc.PROJECT: PROJECT, sc.RUN_NAME: "nightly", sc.STAGE_NAME: "train"},
                48,
            ),
        ]
    )
    logs = logs_request(
        [
            (
                "WARN",
                "disk almost full",
                {sc.RUN_REF: RUN, sc.STAGE_REF: train, sc.EVENT_KEY: "disk.low"},
                46,
            ),
            ("INFO", "request served", {"http.route": "/healthz"}, 5),
        ]
    )
    return Pipeline(dict(spans), metrics, logs)
