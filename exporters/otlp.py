"""Resolve the OTLP mirror's settings and build the official exporters.

Each setting resolves **config argument > signal-specific variable > generic variable >
default**, one line per setting (the table is tested). The SDK does not apply
``OTEL_EXPORTER_OTLP_PROTOCOL`` to a provider built by hand, so it is resolved here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from opentelemetry.sdk.metrics.export import MetricExporter
from opentelemetry.sdk.trace.export import SpanExporter

from contexta.config import CaptureConfig
from contexta.errors import ConfigError

PROTOCOLS = ("http/protobuf", "grpc", "http/json")
DEFAULT_PROTOCOL = "http/protobuf"


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    traces_endpoint: str | None
    metrics_endpoint: str | None
    traces_protocol: str
    metrics_protocol: str
    headers: dict[str, str] = field(default_factory=dict)
    disabled: bool = False

    @property
    def enabled(self) -> bool:
        return not self.disabled and bool(self.traces_endpoint or self.metrics_endpoint)


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)


def _signal_endpoint(specific: str | None, generic: str | None, protocol: str, path: str) -> str | None:
    if specific:
        return specific
    if not generic:
        return None
    if protocol == "grpc":
        return generic
    return generic.rstrip("/") + path


def parse_headers(text: str | None) -> dict[str, str]:
    """``k1=v1,k2=v2`` (W3C baggage-like, as the OTLP spec says) -> dict; values are percent-decoded
    (``Authorization=Basic%20...``), as the SDK's own parser does."""
    headers: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"OTEL_EXPORTER_OTLP_HEADERS: entry {item!r} is not 'key=value'")
        headers[key.strip().lower()] = unquote(value.strip())
    return headers


def resolve_otlp(capture: CaptureConfig, environ: Mapping[str, str]) -> OtlpSettings:
    env = environ.get
    generic = _first(capture.otlp_endpoint, env("OTEL_EXPORTER_OTLP_ENDPOINT"))
    traces_protocol = (
        _first(
            capture.otlp_protocol,
            env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
            env("OTEL_EXPORTER_OTLP_PROTOCOL"),
        )
        or DEFAULT_PROTOCOL
    )
    metrics_protocol = (
        _first(
            capture.otlp_protocol,
            env("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
            env("OTEL_EXPORTER_OTLP_PROTOCOL"),
        )
        or DEFAULT_PROTOCOL
    )
    for protocol in (traces_protocol, metrics_protocol):
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL: must be one of {list(PROTOCOLS)} (got {protocol!r})"
            )
    traces = _signal_endpoint(
        _first(capture.otlp_traces_endpoint, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
        generic,
        traces_protocol,
        "/v1/traces",
    )
    metrics = _signal_endpoint(
        _first(capture.otlp_metrics_endpoint, env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")),
        generic,
        metrics_protocol,
        "/v1/metrics",
    )
    headers = dict(capture.otlp_headers) or parse_headers(env("OTEL_EXPORTER_OTLP_HEADERS"))
    disabled = capture.sdk_disabled or env("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return OtlpSettings(traces, metrics, traces_protocol, metrics_protocol, headers, disabled)


def build_span_exporter(settings: OtlpSettings, timeout: float = 5.0) -> SpanExporter | None:
    if not settings.traces_endpoint:
        return None
    headers = settings.headers or None
    if settings.traces_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        insecure = settings.traces_endpoint.startswith("http://")
        return GrpcSpanExporter(
            endpoint=settings.traces_endpoint, insecure=insecure, headers=headers, timeout=int(timeout)
        )
    if settings.traces_protocol == "http/json":
        raise ConfigError(
            "OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' is not offered by the official Python "
            "exporters; use 'http/protobuf' or 'grpc'"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    return HttpSpanExporter(endpoint=settings.traces_endpoint, headers=headers, timeout=timeout)


def build_metric_exporter(settings: OtlpSettings, timeout: float = 5.0) -> MetricExporter | None:
    if not settings.metrics_endpoint:
        return None
    headers = settings.headers or None
    if settings.metrics_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        insecure = settings.metrics_endpoint.startswith("http://")
        return GrpcMetricExporter(
            endpoint=settings.metrics_endpoint, insecure=insecure, headers=headers, timeout=int(timeout)
        )
    if settings.metrics_protocol == "http/json":
        raise ConfigError(
            "OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' is not offered by the official Python "
            "exporters; use 'http/protobuf' or 'grpc'"
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(endpoint=settings.metrics_endpoint, headers=headers, timeout=timeout)
