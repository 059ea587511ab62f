"""The Contexta collector: an OTLP receiver that fills a workspace from any instrumented service."""

from contexta.collector.decode import OtlpDecodeError, decode_request, decompress, encode_message
from contexta.collector.forward import Forwarder
from contexta.collector.grpc_server import OtlpGrpcServer
from contexta.collector.http_server import OtlpHttpServer
from contexta.collector.ingest import Ingestor, SinkUnavailableError
from contexta.collector.server import CollectorServer, is_loopback
from contexta.collector.sink import OtlpSink, PartialResult, Signal
from contexta.collector.stats import CollectorStats

__all__ = [
    "CollectorServer",
    "CollectorStats",
    "Forwarder",
    "Ingestor",
    "OtlpDecodeError",
    "OtlpGrpcServer",
    "OtlpHttpServer",
    "OtlpSink",
    "PartialResult",
    "Signal",
    "SinkUnavailableError",
    "decode_request",
    "decompress",
    "encode_message",
    "is_loopback",
]
