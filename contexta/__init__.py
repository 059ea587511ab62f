"""contexta: OpenTelemetry-native observability for ML pipelines."""

from contexta._version import __version__
from contexta.client import Contexta
from contexta.config import UnifiedConfig, WorkspaceConfig
from contexta.errors import (
    ConfigError,
    ConflictError,
    ContextaError,
    NotFoundError,
    SchemaError,
    StoreError,
    TransportError,
    ValidationError,
)

__all__ = [
    "ConfigError",
    "ConflictError",
    "Contexta",
    "ContextaError",
    "NotFoundError",
    "SchemaError",
    "StoreError",
    "TransportError",
    "UnifiedConfig",
    "ValidationError",
    "WorkspaceConfig",
    "__version__",
]
