"""The Contexta collector: an OTLP receiver that fills a workspace from any instrumented service."""

from .decode import OtlpDecodeError, decode_request, decompress, encode_message
from .forward import Forwarder
from .grpc_server import OtlpGrpcServer
from .http_server import OtlpHttpServer
from .ingest import Ingestor, SinkUnavailableError
from .server import CollectorServer, is_loopback
from .sink import OtlpSink, PartialResult, Signal
from .stats import CollectorStats

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
