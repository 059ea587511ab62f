"""Configuration: one model, one precedence rule.

Every setting resolves as **argument > environment variable > default**. The table
:data:`ENVIRONMENT` lists the variables; :func:`resolve_config` applies them. Variables are
read when a :class:`~contexta.Contexta` is built, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from contexta.errors import ConfigError

DEFAULT_WORKSPACE = ".contexta"


class WorkspaceConfig(BaseModel):
    """Where the workspace lives. ``store_uri`` overrides the default SQLite file in ``root_path``."""

    model_config = ConfigDict(extra="forbid")

    root_path: Path = Path(DEFAULT_WORKSPACE)
    store_uri: str | None = None
    commit_interval_seconds: float = Field(default=0.2, gt=0, le=10)


class DiagnosticsConfig(BaseModel):
    """Thresholds of ``diagnose_run``."""

    model_config = ConfigDict(extra="forbid")

    stale_after_seconds: float = Field(default=3600.0, gt=0)


class CaptureConfig(BaseModel):
    """The OpenTelemetry side: service name, OTLP mirror, environment capture."""

    model_config = ConfigDict(extra="forbid")

    service_name: str | None = None
    otlp_endpoint: str | None = None
    otlp_traces_endpoint: str | None = None
    otlp_metrics_endpoint: str | None = None
    otlp_protocol: str | None = None
    otlp_headers: dict[str, str] = Field(default_factory=dict)
    sdk_disabled: bool = False
    capture_environment: bool = True
    env_var_allowlist: tuple[str, ...] = (
        "CUDA_VISIBLE_DEVICES",
        "PYTHONHASHSEED",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TOKENIZERS_PARALLELISM",
        "CUBLAS_WORKSPACE_CONFIG",
    )


class UnifiedConfig(BaseModel):
    """Everything a :class:`~contexta.Contexta` needs."""

    model_config = ConfigDict(extra="forbid")

    project_name: str | None = None
    workspace: WorkspaceConfig = Field(default_factory=WorkspaceConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)


#: environment variable -> (dotted setting, how to read the text)
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "CONTEXTA_PROJECT": ("project_name", "str"),
    "CONTEXTA_WORKSPACE": ("workspace.root_path", "str"),
    "CONTEXTA_STORE_URI": ("workspace.store_uri", "str"),
    "CONTEXTA_STALE_AFTER_SECONDS": ("diagnostics.stale_after_seconds", "float"),
}


def _plain(value: Any) -> Any:
    """Models and mappings -> plain nested dicts (what an explicit argument set, nothing more)."""
    if isinstance(value, BaseModel):
        return {key: _plain(item) for key, item in value.model_dump(exclude_unset=True).items()}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _set_default(data: dict[str, Any], dotted: str, value: Any) -> bool:
    """Set ``dotted`` unless an argument already did; True when the environment value was used."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    if leaf in data:
        return False
    data[leaf] = value
    return True


def resolve_config(
    config: UnifiedConfig | Mapping[str, Any] | None = None,
    *,
    workspace: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> UnifiedConfig:
    """Build the effective configuration: arguments first, then ``environ``, then defaults."""
    env = os.environ if environ is None else environ
    if config is not None and not isinstance(config, UnifiedConfig | Mapping):
        raise ConfigError(f"config: must be a UnifiedConfig or a mapping (got {type(config).__name__})")
    data: dict[str, Any] = _plain(config) if config is not None else {}
    if workspace is not None:
        data.setdefault("workspace", {})["root_path"] = workspace
    from_env: dict[str, str] = {}
    for variable, (dotted, _kind) in ENVIRONMENT.items():
        text = env.get(variable)
        if text and _set_default(data, dotted, text):
            from_env[dotted] = variable
    try:
        return UnifiedConfig.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        origin = f" (from ${from_env[field]})" if field in from_env else ""
        raise ConfigError(f"config.{field}{origin}: {first['msg']} (got {first.get('input')!r})") from exc
