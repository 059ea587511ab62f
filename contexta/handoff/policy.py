"""Promotion gates as code: :class:`GatePolicy`, built in Python or read from YAML or TOML.

A policy is data: an id and a version, an owner and the next action when it fails, and the
rules below. Its :attr:`GatePolicy.content_hash` (SHA-256 of its canonical JSON) is stored
with every evaluation, so an audit can tell exactly which rules let a model through.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from contexta.contract._base import DegradedCategory
from contexta.errors import ConfigError, ValidationError
from contexta.handoff._common import HandoffModel, canonical_json, sha256_text

_METRIC = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,199}")
_STAGE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


def _metric_key(value: Any) -> Any:
    if isinstance(value, str) and not _METRIC.fullmatch(value):
        raise ValueError("must be a metric key: letters, digits, '_', '.', '-', '/', starting alphanumeric")
    return value


def _version_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a version string like '1' or '2025.05'")
    return str(value) if isinstance(value, int | float) else value


def _finite(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


MetricKey = Annotated[str, BeforeValidator(_metric_key)]
StageName = Annotated[str, Field(pattern=_STAGE, max_length=128)]
Number = Annotated[float, BeforeValidator(_finite)]
Tolerance = Annotated[float, BeforeValidator(_finite), Field(ge=0)]


class MetricThreshold(HandoffModel):
    """An absolute bound ``min <= value <= max`` of ``metric`` in ``stage`` (default: evaluation stage)."""

    metric: MetricKey
    stage: StageName | None = None
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _bounds(self) -> MetricThreshold:
        if self.min is None and self.max is None:
            raise ValueError("needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be greater than max ({self.max})")
        return self


class RegressionRule(HandoffModel):
    """The candidate may be worse than the baseline by at most ``max(absolute, relative * |baseline|)``."""

    metric: MetricKey
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    stage: StageName | None = None
    relative_tolerance: Tolerance | None = None
    absolute_tolerance: Tolerance | None = None


class DiagnosticsRule(HandoffModel):
    """No error diagnostics (``diagnose_run``); with ``allow_warnings=False``, no warnings either."""

    allow_warnings: bool = True
    ignore_codes: tuple[str, ...] = ()


class DatasetRule(HandoffModel):
    """Dataset versions of the candidate: equal to the baseline's, and/or each in ``allowed``.

    A run's dataset versions are its ``Run.dataset_refs`` plus the ``attribute`` of every event
    ``event_key`` it recorded (the seed data's ``training.dataset-registered``/``dataset_version``).
    """

    match_baseline: bool = False
    allowed: tuple[str, ...] = ()
    required: bool = True
    event_key: str = "training.dataset-registered"
    attribute: str = "dataset_version"

    @model_validator(mode="after")
    def _something(self) -> DatasetRule:
        if not (self.match_baseline or self.allowed or self.required):
            raise ValueError("checks nothing: set match_baseline, allowed or required")
        return self


class EnvironmentRule(HandoffModel):
    """Drift limits against the baseline's environment snapshot."""

    python: Literal["any", "major", "minor", "exact"] = "minor"
    platform: bool = False
    packages: tuple[str, ...] = ()


class ArtifactRule(HandoffModel):
    """The run registered an artifact of ``kind`` (with a content hash unless ``require_hash=False``)."""

    kind: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64)]
    require_hash: bool = True


class GatePolicy(HandoffModel):
    """What a run must show before it may be promoted. See docs/production-handoff.md."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,127}$")]
    version: Annotated[str, BeforeValidator(_version_text), Field(min_length=1, max_length=64)]
    description: str = ""
    owner: Annotated[str, Field(min_length=1, max_length=256)]
    next_action: Annotated[str, Field(min_length=1, max_length=4096)]
    evaluation_stage: StageName
    required_metrics: tuple[MetricKey, ...] = ()
    thresholds: tuple[MetricThreshold, ...] = ()
    regressions: tuple[RegressionRule, ...] = ()
    diagnostics: DiagnosticsRule | None = DiagnosticsRule()
    blocked_degraded_categories: tuple[DegradedCategory, ...] = ()
    datasets: DatasetRule | None = None
    environment: EnvironmentRule | None = None
    artifacts: tuple[ArtifactRule, ...] = ()
    max_age_days: Annotated[float, Field(gt=0)] | None = None
    required_approvals: Annotated[int, Field(ge=0, le=100)] = 0
    allow_missing_baseline: bool = False

    def _check(self) -> None:
        if len(set(self.required_metrics)) != len(self.required_metrics):
            raise self._fail("required_metrics", "must not name a metric twice", list(self.required_metrics))

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of every field: any change gives another hash."""
        return sha256_text(canonical_json(self.model_dump(mode="json")))

    @property
    def needs_baseline(self) -> bool:
        return bool(self.regressions or (self.datasets and self.datasets.match_baseline) or self.environment)

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> GatePolicy:
        """Validate a mapping; errors name the field (``GatePolicy.thresholds.0.min``) and ``source``."""
        if not isinstance(data, dict):
            raise ValidationError.for_field(
                "policy", "must be a mapping of policy fields", type(data).__name__
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            if not source:
                raise
            raise ValidationError(
                f"{source}: {exc}", field=exc.field, rule=exc.rule, value=exc.value
            ) from None

    @classmethod
    def from_file(cls, path: str | Path) -> GatePolicy:
        """Read a ``.yaml``/``.yml`` (needs PyYAML), ``.toml`` or ``.json`` policy file."""
        file = Path(path)
        suffix = file.suffix.lower()
        if suffix not in (".yaml", ".yml", ".toml", ".json"):
            raise ValidationError.for_field("policy", "must be a .yaml, .yml, .toml or .json file", str(path))
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError.for_field("policy", f"cannot be read: {exc}", str(path)) from None
        return cls.from_dict(_parse(text, suffix, str(path)), str(path))

    @property
    def label(self) -> str:
        """A one-line identity for messages: ``id v<version> (sha256 <12 hex>)``."""
        return f"{self.id} v{self.version} (sha256 {self.content_hash[:12]})"


def _parse(text: str, suffix: str, shown: str) -> Any:
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError.for_field("policy", f"is not valid TOML: {exc}", shown) from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError.for_field("policy", f"is not valid JSON: {exc}", shown) from None
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            f"reading the YAML policy {shown} needs PyYAML: pip install 'contexta[yaml]' "
            "(or write the policy as .toml)"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError.for_field("policy", f"is not valid YAML: {exc}", shown) from None
