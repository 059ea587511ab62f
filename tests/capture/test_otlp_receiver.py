"""The test receiver itself: what the official exporters send is decoded faithfully, failures on demand."""

from __future__ import annotations

import http.client

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode
from otlp_receiver import LOCALHOST, OtlpReceiver


def finished_spans() -> list:
    """Two SDK spans (parent, child) with typed attributes, an event, a link and an error status."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "fixture"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("fixture-test")
    with tracer.start_as_current_span("parent") as parent:
        link = Link(parent.get_span_context(), {"why": "test"})
        with tracer.start_as_current_span(
            "child",
            links=[link],
            attributes={"s": "x", "i": 3, "f": 0.5, "b": True, "seq": ("a", "b")},
        ) as child:
            child.add_event("happened", {"n": 1})
            child.set_status(Status(StatusCode.ERROR, "broken"))
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("transport", ["http", "http-gzip", "grpc"])
def test_receiver_decodes_spans_from_the_official_exporters(transport: str, receiver: OtlpReceiver) -> None:
    """Ids, parent, typed attributes, events, links, status and resource survive each transport."""
    if transport == "grpc":
        exporter = GrpcSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True)
    else:
        compression = Compression.Gzip if transport == "http-gzip" else Compression.NoCompression
        exporter = HttpSpanExporter(endpoint=receiver.http_endpoint + "/v1/traces", compression=compression)
    spans = finished_spans()
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    parent, child = spans[1], spans[0]
    got = {span.name: span for span in receiver.spans()}
    assert got["child"].trace_id == f"{child.context.trace_id:032x}"
    assert got["child"].parent_span_id == got["parent"].span_id == f"{parent.context.span_id:016x}"
    assert got["parent"].parent_span_id is None
    assert got["child"].attributes == {"s": "x", "i": 3, "f": 0.5, "b": True, "seq": ("a", "b")}
    assert [(e.name, e.attributes) for e in got["child"].events] == [("happened", {"n": 1})]
    assert [(link.span_id, link.attributes) for link in got["child"].links] == [
        (got["parent"].span_id, {"why": "test"})
    ]
    assert (got["child"].status_code, got["child"].status_message) == ("error", "broken")
    assert got["child"].resource["service.name"] == "fixture"
    if transport == "http-gzip":
        assert receiver.requests("traces")[0].headers["content-encoding"] == "gzip"


def test_receiver_down_refuses_http_with_503_and_grpc_with_unavailable(receiver: OtlpReceiver) -> None:
    """In down mode nothing is kept; HTTP answers 503, gRPC UNAVAILABLE (exporters report failure)."""
    receiver.down = True
    grpc_exporter = GrpcSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True, timeout=1)
    try:
        assert grpc_exporter.export(finished_spans()) is SpanExportResult.FAILURE
    finally:
        grpc_exporter.shutdown()
    connection = http.client.HTTPConnection(LOCALHOST, receiver.http_port, timeout=5)
    try:
        connection.request("POST", "/v1/traces", body=b"", headers={"Content-Type": "application/x-protobuf"})
        assert connection.getresponse().status == 503
    finally:
        connection.close()
    assert receiver.refused >= 2
    assert receiver.requests() == []


def test_receiver_answers_404_for_unknown_paths(receiver: OtlpReceiver) -> None:
    """Only /v1/traces and /v1/metrics are OTLP paths here."""
    connection = http.client.HTTPConnection(LOCALHOST, receiver.http_port, timeout=5)
    try:
        connection.request("POST", "/v1/logs", body=b"")
        assert connection.getresponse().status == 404
    finally:
        connection.close()
