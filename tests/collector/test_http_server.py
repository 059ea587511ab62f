"""The OTLP/HTTP receiver with real clients: the official exporters and raw http.client."""

from __future__ import annotations

import gzip
import http.client
import json
import socket

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from contexta.collector import PartialResult

from .conftest import post
from .test_decode import otlp_json_trace

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def one_span_request(name: str = "train") -> bytes:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(
        name=name, trace_id=b"\1" * 16, span_id=b"\2" * 8
    )
    return request.SerializeToString()


def status_of(body: bytes) -> Status:
    return Status.FromString(body)


def http_url(server, path: str) -> str:
    host, port = server.http_address
    return f"http://{host}:{port}{path}"


def test_official_http_span_exporter_delivers_names_attributes_events_and_ids(collector, sink):
    """Spans from a real TracerProvider arrive with their names, attributes, events and ids."""
    exporter = OTLPSpanExporter(endpoint=http_url(collector, "/v1/traces"))
    provider = TracerProvider(resource=Resource.create({"service.name": "trainer"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("contexta.tests")
    try:
        with (
            tracer.start_as_current_span("pipeline") as parent,
            tracer.start_as_current_span("train", attributes={"ml.epochs": 3}) as child,
        ):
            child.set_attribute("ml.model", "resnet")
            child.add_event("epoch_end", {"loss": 0.25})
    finally:
        provider.shutdown()

    spans = {
        span.name: (span, resource_spans.resource)
        for request in sink.requests("traces")
        for resource_spans in request.resource_spans
        for scope in resource_spans.scope_spans
        for span in scope.spans
    }
    train, resource = spans["train"]
    assert {a.key: a.value for a in resource.attributes}["service.name"].string_value == "trainer"
    attributes = {a.key: a.value for a in train.attributes}
    assert attributes["ml.epochs"].int_value == 3
    assert attributes["ml.model"].string_value == "resnet"
    assert [e.name for e in train.events] == ["epoch_end"]
    assert train.events[0].attributes[0].value.double_value == 0.25
    assert train.trace_id == child.get_span_context().trace_id.to_bytes(16, "big")
    assert train.span_id == child.get_span_context().span_id.to_bytes(8, "big")
    assert train.parent_span_id == parent.get_span_context().span_id.to_bytes(8, "big")
    assert spans["pipeline"][0].trace_id == train.trace_id


def test_official_http_metric_exporter_delivers_data_points(collector, sink):
    """Metrics collected by a real MeterProvider arrive as data points with their values."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "trainer"}))
    provider.get_meter("contexta.tests").create_counter("samples_seen").add(128, {"split": "train"})
    exporter = OTLPMetricExporter(endpoint=http_url(collector, "/v1/metrics"))
    try:
        assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    finally:
        exporter.shutdown()
        provider.shutdown()

    (request,) = sink.requests("metrics")
    metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.name == "samples_seen"
    assert metric.sum.data_points[0].as_int == 128
    assert collector.counters["metrics.items"] == 1


def test_logs_endpoint_accepts_protobuf_log_records(collector, sink):
    """POST /v1/logs hands an ExportLogsServiceRequest to the sink."""
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add(
        severity_number=9
    ).body.string_value = "hello"

    reply = post(collector, "/v1/logs", request.SerializeToString(), PROTOBUF)

    assert reply.status == 200
    assert sink.requests("logs") == [request]


def test_otlp_json_request_gets_a_json_response_and_hex_ids_reach_the_sink(collector, sink):
    """A JSON body is answered in JSON and its hex ids arrive as raw bytes."""
    reply = post(collector, "/v1/traces", json.dumps(otlp_json_trace()).encode(), JSON)

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert json.loads(reply.body) == {}
    span = sink.requests("traces")[0].resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"


def test_gzip_compressed_body_is_accepted(collector, sink):
    """Content-Encoding: gzip bodies are inflated before decoding."""
    reply = post(
        collector, "/v1/traces", gzip.compress(one_span_request()), {**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert reply.status == 200
    assert sink.requests("traces")[0].resource_spans[0].scope_spans[0].spans[0].name == "train"


def test_chunked_body_without_content_length_is_accepted(collector, sink):
    """A chunked upload (as the Node.js exporter sends) is reassembled."""
    body = one_span_request("chunked")

    reply = post(collector, "/v1/traces", iter([body[:7], body[7:]]), PROTOBUF, chunked=True)

    assert reply.status == 200
    assert sink.requests("traces")[0].resource_spans[0].scope_spans[0].spans[0].name == "chunked"


def test_request_without_token_gets_401_and_writes_nothing(start_collector, sink):
    """A token-protected collector refuses a request without Authorization before the sink."""
    server = start_collector(sink, token="s3cret")

    reply = post(server, "/v1/traces", one_span_request(), PROTOBUF)

    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in status_of(reply.body).message
    assert sink.received == []


def test_request_with_wrong_token_gets_401_and_the_right_token_gets_200(start_collector, sink):
    """Only the exact bearer token is accepted (the scheme name is case-insensitive)."""
    server = start_collector(sink, token="s3cret")

    wrong = post(server, "/v1/traces", one_span_request(), {**PROTOBUF, "Authorization": "Bearer s3cre"})
    assert wrong.status == 401
    assert sink.received == []

    right = post(server, "/v1/traces", one_span_request(), {**PROTOBUF, "Authorization": "bearer s3cret"})
    assert right.status == 200
    assert len(sink.received) == 1


def test_official_exporter_with_token_header_is_accepted(start_collector, sink):
    """The exporter's headers option carries the bearer token."""
    server = start_collector(sink, token="s3cret")
    exporter = OTLPSpanExporter(
        endpoint=http_url(server, "/v1/traces"), headers={"Authorization": "Bearer s3cret"}
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        provider.get_tracer("t").start_span("authorized").end()
    finally:
        provider.shutdown()

    assert sink.requests("traces")[0].resource_spans[0].scope_spans[0].spans[0].name == "authorized"


def test_body_over_the_limit_gets_413_and_writes_nothing(start_collector, sink):
    """A declared Content-Length over max_body_bytes is refused before reading it."""
    server = start_collector(sink, max_body_bytes=1024)

    reply = post(server, "/v1/traces", b"\0" * 4096, PROTOBUF)

    assert reply.status == 413
    assert "1024" in status_of(reply.body).message
    assert sink.received == []


def test_chunked_body_growing_over_the_limit_gets_413(start_collector, sink):
    """Chunked uploads are cut off as soon as they pass the limit."""
    server = start_collector(sink, max_body_bytes=1024)

    reply = post(server, "/v1/traces", iter([b"\0" * 800, b"\0" * 800]), PROTOBUF, chunked=True)

    assert reply.status == 413
    assert sink.received == []


def test_gzip_body_inflating_over_the_limit_gets_413(start_collector, sink):
    """The limit also applies to the decompressed size."""
    server = start_collector(sink, max_body_bytes=1024)

    reply = post(
        server, "/v1/traces", gzip.compress(b"\0" * 100_000), {**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert reply.status == 413
    assert sink.received == []


def test_malformed_protobuf_gets_400_with_a_message(collector, sink):
    """Undecodable protobuf is 400 (not retryable) with a Status message."""
    reply = post(collector, "/v1/traces", b"\x0a\x05garbage", PROTOBUF)

    assert reply.status == 400
    assert "protobuf" in status_of(reply.body).message
    assert sink.received == []


def test_malformed_json_gets_400_with_a_json_status(collector, sink):
    """A JSON request gets its error Status in JSON."""
    reply = post(collector, "/v1/traces", b'{"resourceSpans": [', JSON)

    assert reply.status == 400
    assert reply.headers["Content-Type"] == "application/json"
    assert "not valid JSON" in json.loads(reply.body)["message"]
    assert sink.received == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/v1/spans", PROTOBUF, 404),
        ("GET", "/v1/traces", {}, 405),
        ("PUT", "/v1/metrics", PROTOBUF, 405),
        ("POST", "/health", PROTOBUF, 405),
        ("POST", "/v1/traces", {"Content-Type": "text/plain"}, 415),
        ("POST", "/v1/traces", {}, 415),
        ("POST", "/v1/traces", {**PROTOBUF, "Content-Encoding": "br"}, 415),
    ],
)
def test_wrong_path_method_or_content_type_is_refused_without_calling_the_sink(
    collector, sink, method, path, headers, status
):
    """Unknown paths are 404, wrong methods 405, unsupported media or encodings 415."""
    reply = post(collector, path, one_span_request(), headers, method=method)

    assert reply.status == status
    assert status_of(reply.body).message
    assert sink.received == []
    if status == 405:
        assert reply.headers["Allow"] in ("GET", "POST")


def test_sink_rejecting_items_is_reported_as_partial_success(start_collector, sink):
    """PartialResult(rejected>0) becomes partial_success.rejected_spans and error_message."""
    sink.result = PartialResult(rejected=1, message="span name is empty")
    server = start_collector(sink)

    reply = post(server, "/v1/traces", one_span_request(), PROTOBUF)

    assert reply.status == 200
    response = ExportTraceServiceResponse.FromString(reply.body)
    assert response.HasField("partial_success")
    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message == "span name is empty"
    assert server.counters["traces.rejected"] == 1


def test_partial_success_in_json_uses_the_metrics_field_name(start_collector, sink):
    """For metrics the JSON response carries partialSuccess.rejectedDataPoints."""
    sink.result = PartialResult(rejected=2, message="duplicate points")
    server = start_collector(sink)

    reply = post(server, "/v1/metrics", b"{}", JSON)

    assert reply.status == 200
    assert json.loads(reply.body) == {
        "partialSuccess": {"rejectedDataPoints": "2", "errorMessage": "duplicate points"}
    }
    assert sink.requests("metrics") == [ExportMetricsServiceRequest()]


def test_full_success_leaves_partial_success_unset(collector):
    """The spec requires partial_success to be absent when everything was accepted."""
    reply = post(collector, "/v1/traces", one_span_request(), PROTOBUF)

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(reply.body).HasField("partial_success")


def test_sink_raising_gets_503_and_the_server_keeps_serving(start_collector, sink, caplog):
    """A failing sink is a retryable 503 with a message, logged, and the next request still works."""
    sink.error = RuntimeError("disk full")
    server = start_collector(sink)

    reply = post(server, "/v1/traces", one_span_request(), PROTOBUF)

    assert reply.status == 503
    assert "retry" in status_of(reply.body).message
    assert "disk full" in caplog.text
    assert server.counters["sink.failures"] == 1
    sink.error = None
    assert post(server, "/v1/traces", one_span_request(), PROTOBUF).status == 200


def test_health_reports_status_and_counters(collector):
    """GET /health answers 200 JSON with the status and the request counters."""
    post(collector, "/v1/traces", one_span_request(), PROTOBUF)
    post(collector, "/v1/nowhere", b"", PROTOBUF)

    reply = post(collector, "/health", b"", method="GET")

    assert reply.status == 200
    health = json.loads(reply.body)
    assert health["status"] == "ok"
    assert health["counters"]["traces.requests"] == 1
    assert health["counters"]["traces.items"] == 1
    assert health["counters"]["http.404"] == 1


def test_keep_alive_connection_survives_a_refused_request(collector, sink):
    """After a 400 whose body was read, the same connection serves the next request."""
    connection = http.client.HTTPConnection(*collector.http_address, timeout=30)
    try:
        connection.request("POST", "/v1/traces", body=b"\x0a\x05garbage", headers=PROTOBUF)
        first = connection.getresponse()
        first.read()
        connection.request("POST", "/v1/traces", body=one_span_request(), headers=PROTOBUF)
        second = connection.getresponse()
        second.read()
    finally:
        connection.close()

    assert (first.status, second.status) == (400, 200)
    assert len(sink.received) == 1


def test_expect_100_continue_is_refused_before_the_body_when_the_token_is_wrong(start_collector, sink):
    """With Expect: 100-continue a bad token gets 401 instead of 100, so no body is sent."""
    server = start_collector(sink, token="s3cret")
    head = (
        "POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/x-protobuf\r\n"
        "Authorization: Bearer wrong\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
    )

    with socket.create_connection(server.http_address, timeout=30) as client:
        client.sendall(head.encode())
        reply = b""
        while chunk := client.recv(4096):  # the server closes after answering
            reply += chunk

    assert reply.startswith(b"HTTP/1.1 401 ")
    assert b"100 Continue" not in reply
    assert sink.received == []
