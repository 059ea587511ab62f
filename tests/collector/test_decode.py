"""Decoding OTLP/HTTP bodies: OTLP/JSON quirks, compression, malformed input."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from contexta.collector import OtlpDecodeError, decode_request, decompress
from contexta.collector.decode import parse_content_type

TRACE_ID = "5B8EFFF798038103D269B633813FC60C"
SPAN_ID = "EEE19B7EC3C1B174"
PARENT_ID = "EEE19B7EC3C1B173"
LINK_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
LINK_SPAN_ID = "b7ad6b7169203331"


def otlp_json_trace() -> dict:
    """A trace request written the way the OTLP/JSON spec shows it (hex ids, int enums)."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "trainer"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "contexta.tests"},
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "parentSpanId": PARENT_ID,
                                "name": "train",
                                "kind": 2,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": 1544712661000000000,
                                "attributes": [
                                    {"key": "epochs", "value": {"intValue": "3"}},
                                    {"key": "traceId", "value": {"stringValue": "not-an-id"}},
                                ],
                                "events": [{"name": "epoch_end", "timeUnixNano": "1544712660500000000"}],
                                "links": [{"traceId": LINK_TRACE_ID, "spanId": LINK_SPAN_ID}],
                                "status": {"code": 2, "message": "diverged"},
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def expected_trace_protobuf() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value="trainer"))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "contexta.tests"
    span = scope_spans.spans.add(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
        parent_span_id=bytes.fromhex(PARENT_ID),
        name="train",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1544712660000000000,
        end_time_unix_nano=1544712661000000000,
    )
    span.attributes.extend(
        [
            KeyValue(key="epochs", value=AnyValue(int_value=3)),
            KeyValue(key="traceId", value=AnyValue(string_value="not-an-id")),
        ]
    )
    span.events.add(name="epoch_end", time_unix_nano=1544712660500000000)
    span.links.add(trace_id=bytes.fromhex(LINK_TRACE_ID), span_id=bytes.fromhex(LINK_SPAN_ID))
    span.status.code = 2
    span.status.message = "diverged"
    return request


def test_otlp_json_trace_with_hex_ids_decodes_to_the_same_message_as_protobuf():
    """Hex ids become 16/8 raw bytes; int enums, string int64s and unknown fields are handled."""
    decoded = decode_request("traces", json.dumps(otlp_json_trace()).encode(), "json")

    assert decoded == expected_trace_protobuf()
    span = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert len(span.trace_id) == 16 and len(span.span_id) == 8 and len(span.parent_span_id) == 8
    assert span.links[0].trace_id.hex() == LINK_TRACE_ID


def test_otlp_json_log_and_exemplar_ids_are_read_as_hex():
    """Log record ids and metric exemplar ids use the same hex encoding as spans."""
    logs = {
        "resourceLogs": [
            {"scopeLogs": [{"logRecords": [{"traceId": TRACE_ID, "spanId": SPAN_ID, "severityNumber": 9}]}]}
        ]
    }
    metrics = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "loss",
                                "gauge": {
                                    "dataPoints": [
                                        {
                                            "asDouble": 0.25,
                                            "exemplars": [
                                                {"asDouble": 0.3, "traceId": TRACE_ID, "spanId": SPAN_ID}
                                            ],
                                        }
                                    ]
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }

    log_request = decode_request("logs", json.dumps(logs).encode(), "json")
    metric_request = decode_request("metrics", json.dumps(metrics).encode(), "json")

    assert isinstance(log_request, ExportLogsServiceRequest)
    record = log_request.resource_logs[0].scope_logs[0].log_records[0]
    assert (record.trace_id, record.span_id, record.severity_number) == (
        bytes.fromhex(TRACE_ID),
        bytes.fromhex(SPAN_ID),
        9,
    )
    assert isinstance(metric_request, ExportMetricsServiceRequest)
    exemplar = (
        metric_request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].exemplars[0]
    )
    assert (exemplar.trace_id, exemplar.span_id) == (bytes.fromhex(TRACE_ID), bytes.fromhex(SPAN_ID))


def test_base64_ids_of_the_right_size_are_accepted_from_plain_protobuf_json_writers():
    """A writer using the standard protobuf JSON mapping (base64 ids) is understood too."""
    document = otlp_json_trace()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["spanId"] = "7uGbfsPBsXQ="  # base64 of EEE19B7EC3C1B174

    decoded = decode_request("traces", json.dumps(document).encode(), "json")

    assert decoded.resource_spans[0].scope_spans[0].spans[0].span_id == bytes.fromhex(SPAN_ID)


def test_an_id_that_is_neither_hex_nor_base64_of_the_right_size_is_a_400_naming_the_field():
    """A broken id is refused with the JSON path of the field in the message."""
    document = otlp_json_trace()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not hex"

    with pytest.raises(OtlpDecodeError) as caught:
        decode_request("traces", json.dumps(document).encode(), "json")

    assert caught.value.status == 400
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "encoding", "fragment"),
    [
        (b"\x0a\x05garbage", "protobuf", "protobuf"),
        (b'{"resourceSpans": [', "json", "not valid JSON"),
        (b"[1, 2]", "json", "must be a JSON object"),
        (b'{"resourceSpans": 5}', "json", "resourceSpans"),
        (b"\xff\xfe\x00", "json", "not valid JSON"),
    ],
)
def test_malformed_bodies_raise_a_400_with_a_message(body, encoding, fragment):
    """Undecodable bodies raise OtlpDecodeError(400) whose message says what is wrong."""
    with pytest.raises(OtlpDecodeError) as caught:
        decode_request("traces", body, encoding)

    assert caught.value.status == 400
    assert fragment in str(caught.value)


def test_empty_bodies_decode_to_empty_requests():
    """An empty export is valid in both encodings (the spec says answer success)."""
    assert decode_request("logs", b"", "protobuf") == ExportLogsServiceRequest()
    assert decode_request("logs", b"", "json") == ExportLogsServiceRequest()


def test_gzip_and_both_deflate_variants_are_decompressed():
    """gzip (also multi-member), zlib-wrapped deflate and raw deflate all decode."""
    payload = b"otlp" * 100
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)

    assert decompress(gzip.compress(payload), "gzip", 1024) == payload
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 1024) == b"abcd"
    assert decompress(zlib.compress(payload), "deflate", 1024) == payload
    assert decompress(raw_deflate.compress(payload) + raw_deflate.flush(), "deflate", 1024) == payload
    assert decompress(payload, None, 1024) == payload


def test_decompression_stops_at_the_limit_with_413():
    """A small gzip body that inflates past the limit is refused without inflating it all."""
    bomb = gzip.compress(b"\0" * 10_000_000)

    with pytest.raises(OtlpDecodeError) as caught:
        decompress(bomb, "gzip", 4096)

    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("body", "coding", "status"),
    [(b"not gzip", "gzip", 400), (gzip.compress(b"abc")[:-4], "gzip", 400), (b"x", "br", 415)],
)
def test_corrupt_or_unsupported_compression_is_refused(body, coding, status):
    """Corrupt compressed data is 400; an unknown Content-Encoding is 415."""
    with pytest.raises(OtlpDecodeError) as caught:
        decompress(body, coding, 1024)

    assert caught.value.status == status


def test_content_types_map_to_encodings_and_others_are_415():
    """Parameters and case are ignored; unknown media types are 415."""
    assert parse_content_type("application/x-protobuf") == "protobuf"
    assert parse_content_type("Application/JSON; charset=utf-8") == "json"
    with pytest.raises(OtlpDecodeError) as caught:
        parse_content_type("text/plain")
    assert caught.value.status == 415
