"""The OTLP/gRPC receiver with real clients: the official gRPC exporters and raw stubs."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from contexta.collector import PartialResult


def grpc_target(server) -> str:
    host, port = server.grpc_address
    return f"{host}:{port}"


@pytest.fixture
def trace_stub(collector) -> Iterator[TraceServiceStub]:
    with grpc.insecure_channel(grpc_target(collector)) as channel:
        yield TraceServiceStub(channel)


def one_span_request(name: str = "train") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(
        name=name, trace_id=b"\1" * 16, span_id=b"\2" * 8
    )
    return request


def export_spans(exporter: OTLPSpanExporter) -> tuple[int, int]:
    """Export one parent/child pair through a real TracerProvider; return the child's ids."""
    provider = TracerProvider(resource=Resource.create({"service.name": "trainer"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        tracer = provider.get_tracer("contexta.tests")
        with (
            tracer.start_as_current_span("pipeline"),
            tracer.start_as_current_span("evaluate", attributes={"ml.metric": "f1"}) as child,
        ):
            child.add_event("threshold_passed", {"f1": 0.91})
        return child.get_span_context().trace_id, child.get_span_context().span_id
    finally:
        provider.shutdown()


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip])
def test_official_grpc_span_exporter_delivers_spans(collector, sink, compression):
    """Spans sent by the gRPC exporter (plain and gzip) arrive with attributes, events and ids."""
    exporter = OTLPSpanExporter(endpoint=grpc_target(collector), insecure=True, compression=compression)

    trace_id, span_id = export_spans(exporter)

    spans = {
        span.name: span
        for request in sink.requests("traces")
        for resource_spans in request.resource_spans
        for scope in resource_spans.scope_spans
        for span in scope.spans
    }
    evaluate = spans["evaluate"]
    assert evaluate.trace_id == trace_id.to_bytes(16, "big")
    assert evaluate.span_id == span_id.to_bytes(8, "big")
    assert evaluate.parent_span_id == spans["pipeline"].span_id
    assert evaluate.attributes[0].key == "ml.metric"
    assert evaluate.attributes[0].value.string_value == "f1"
    assert [event.name for event in evaluate.events] == ["threshold_passed"]


def test_official_grpc_metric_exporter_delivers_data_points(collector, sink):
    """Metrics sent over gRPC reach the sink as ExportMetricsServiceRequest data points."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("contexta.tests").create_histogram("batch_latency_ms").record(12.5)
    exporter = OTLPMetricExporter(endpoint=grpc_target(collector), insecure=True)
    try:
        assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    finally:
        exporter.shutdown()
        provider.shutdown()

    (request,) = sink.requests("metrics")
    metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
    assert (metric.name, metric.histogram.data_points[0].sum) == ("batch_latency_ms", 12.5)


def test_logs_service_hands_log_records_to_the_sink(collector, sink):
    """LogsService/Export is served too."""
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "loaded 3 shards"

    with grpc.insecure_channel(grpc_target(collector)) as channel:
        response = LogsServiceStub(channel).Export(request, timeout=30)

    assert not response.HasField("partial_success")
    assert sink.requests("logs") == [request]


def test_grpc_request_without_token_is_unauthenticated_and_writes_nothing(start_collector, sink):
    """Missing or wrong bearer metadata is UNAUTHENTICATED; the sink sees nothing."""
    server = start_collector(sink, token="s3cret")

    with grpc.insecure_channel(grpc_target(server)) as channel:
        stub = TraceServiceStub(channel)
        for metadata in [(), (("authorization", "Bearer nope"),)]:
            with pytest.raises(grpc.RpcError) as caught:
                stub.Export(one_span_request(), metadata=metadata, timeout=30)
            assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        stub.Export(one_span_request(), metadata=(("authorization", "Bearer s3cret"),), timeout=30)

    assert len(sink.received) == 1
    assert server.counters["grpc.unauthenticated"] == 2


def test_official_grpc_exporter_with_wrong_token_fails_and_writes_nothing(start_collector, sink):
    """The exporter reports failure (UNAUTHENTICATED is not retried) and nothing is stored."""
    server = start_collector(sink, token="s3cret")
    exporter = OTLPSpanExporter(
        endpoint=grpc_target(server), insecure=True, headers={"authorization": "Bearer x"}
    )
    provider = TracerProvider()
    try:
        span = provider.get_tracer("t").start_span("refused")
        span.end()
        assert exporter.export([span]) is SpanExportResult.FAILURE
    finally:
        exporter.shutdown()
        provider.shutdown()

    assert sink.received == []


def test_sink_rejecting_items_is_reported_as_grpc_partial_success(start_collector, sink):
    """PartialResult maps to ExportTraceServiceResponse.partial_success over gRPC too."""
    sink.result = PartialResult(rejected=1, message="unknown stage")
    server = start_collector(sink)

    with grpc.insecure_channel(grpc_target(server)) as channel:
        response = TraceServiceStub(channel).Export(one_span_request(), timeout=30)

    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message == "unknown stage"


def test_sink_raising_is_unavailable_over_grpc(start_collector, sink):
    """A failing sink answers UNAVAILABLE, which OTLP clients retry."""
    sink.error = OSError("database is locked")
    server = start_collector(sink)

    with grpc.insecure_channel(grpc_target(server)) as channel, pytest.raises(grpc.RpcError) as caught:
        TraceServiceStub(channel).Export(one_span_request(), timeout=30)

    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "retry" in caught.value.details()
    assert server.counters["sink.failures"] == 1


def test_grpc_message_over_the_body_limit_is_refused(start_collector, sink):
    """max_body_bytes is also the gRPC receive limit (RESOURCE_EXHAUSTED)."""
    server = start_collector(sink, max_body_bytes=1024)

    with grpc.insecure_channel(grpc_target(server)) as channel, pytest.raises(grpc.RpcError) as caught:
        TraceServiceStub(channel).Export(one_span_request("x" * 4096), timeout=30)

    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sink.received == []


def test_grpc_only_server_reports_no_http_address(start_collector, sink):
    """http_port=None disables OTLP/HTTP; gRPC still works and reports its bound port."""
    server = start_collector(sink, http_port=None)

    with grpc.insecure_channel(grpc_target(server)) as channel:
        TraceServiceStub(channel).Export(one_span_request(), timeout=30)

    assert server.http_address is None
    assert server.grpc_address[1] > 0
    assert len(sink.received) == 1
