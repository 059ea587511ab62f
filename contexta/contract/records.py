"""Observation records: an envelope (where and when) plus a typed payload (what)."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from contexta.contract._base import (
    AggregationScope,
    Attributes,
    CompletenessMarker,
    ContractModel,
    DegradationMarker,
    DegradedCategory,
    EventLevel,
    FiniteFloat,
    OriginMarker,
    RecordType,
    Severity,
    Timestamp,
    ValueType,
)
from contexta.contract.refs import extends, parse_ref

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,199}")


def _check_key(model: ContractModel, field: str) -> None:
    value = getattr(model, field)
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise model._fail(
            field,
            "must be 1-200 characters of letters, digits, '_', '.', '-', '/', starting alphanumeric",
            value,
        )


class RecordEnvelope(ContractModel):
    """Identity, scope and provenance of one record."""

    record_ref: str
    record_type: RecordType
    recorded_at: Timestamp
    observed_at: Timestamp
    producer_ref: str = "contexta"
    run_ref: str
    stage_execution_ref: str | None = None
    batch_execution_ref: str | None = None
    sample_observation_ref: str | None = None
    completeness_marker: CompletenessMarker = "complete"
    degradation_marker: DegradationMarker = "none"

    def _check(self) -> None:
        name = "RecordEnvelope"
        run = parse_ref(self.run_ref, f"{name}.run_ref", "run")
        record = parse_ref(self.record_ref, f"{name}.record_ref", "record")
        if record.parts[:2] != run.parts:
            raise self._fail(
                "record_ref", f"must start with the run's components {'.'.join(run.parts)!r}", self.record_ref
            )
        parent = run
        if self.stage_execution_ref is not None:
            stage = parse_ref(self.stage_execution_ref, f"{name}.stage_execution_ref", "stage")
            if not extends(stage, run):
                raise self._fail(
                    "stage_execution_ref", f"must extend run_ref {self.run_ref!r}", self.stage_execution_ref
                )
            parent = stage
        if self.batch_execution_ref is not None:
            if self.stage_execution_ref is None:
                raise self._fail("stage_execution_ref", "is required when batch_execution_ref is set", None)
            batch = parse_ref(self.batch_execution_ref, f"{name}.batch_execution_ref", "batch")
            if not extends(batch, parent):
                raise self._fail(
                    "batch_execution_ref",
                    f"must extend stage_execution_ref {str(parent)!r}",
                    self.batch_execution_ref,
                )
            parent = batch
        if self.sample_observation_ref is not None:
            if self.stage_execution_ref is None:
                raise self._fail(
                    "stage_execution_ref", "is required when sample_observation_ref is set", None
                )
            sample = parse_ref(self.sample_observation_ref, f"{name}.sample_observation_ref", "sample")
            if not extends(sample, parent) or len(sample.parts) != len(parent.parts) + 1:
                raise self._fail(
                    "sample_observation_ref",
                    f"must extend {str(parent)!r} by one component",
                    self.sample_observation_ref,
                )

    @property
    def scope(self) -> str:
        """The narrowest scope named: sample, batch, stage or run."""
        if self.sample_observation_ref is not None:
            return "sample"
        if self.batch_execution_ref is not None:
            return "batch"
        return "stage" if self.stage_execution_ref is not None else "run"


class MetricPayload(ContractModel):
    """One numeric observation."""

    metric_key: str
    value: FiniteFloat
    value_type: ValueType = "float64"
    unit: str | None = Field(default=None, max_length=64)
    step: int | None = Field(default=None, ge=0, le=2**63 - 1)
    aggregation_scope: AggregationScope | None = None

    def _check(self) -> None:
        _check_key(self, "metric_key")
        if self.value_type == "int64" and not float(self.value).is_integer():
            raise self._fail("value", "must be a whole number when value_type is 'int64'", self.value)


class StructuredEventPayload(ContractModel):
    """Something that happened, with a level and a message."""

    event_key: str
    level: EventLevel = "info"
    message: str = Field(default="", max_length=65536)
    attributes: Attributes = Field(default_factory=dict)
    origin_marker: OriginMarker = "explicit_capture"

    def _check(self) -> None:
        _check_key(self, "event_key")


class DegradedPayload(ContractModel):
    """Something went wrong without failing: the first-class "succeeded on bad data" record."""

    issue_key: str
    category: DegradedCategory
    severity: Severity
    summary: str = Field(min_length=1, max_length=65536)
    origin_marker: OriginMarker = "explicit_capture"
    attributes: Attributes = Field(default_factory=dict)

    def _check(self) -> None:
        _check_key(self, "issue_key")


class TraceSpanPayload(ContractModel):
    """A plain OpenTelemetry span (e.g. an HTTP or DB call) kept under a stage."""

    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    span_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    parent_span_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
    name: str = Field(min_length=1, max_length=1024)
    kind: str = "internal"
    started_at: Timestamp
    ended_at: Timestamp
    status_code: Literal["unset", "ok", "error"] = "unset"
    status_message: str | None = None
    attributes: Attributes = Field(default_factory=dict)


class _Record(ContractModel):
    envelope: RecordEnvelope
    RECORD_TYPE: ClassVar[str] = ""

    def _check(self) -> None:
        if self.envelope.record_type != self.RECORD_TYPE:
            raise self._fail(
                "envelope.record_type",
                f"must be {self.RECORD_TYPE!r} for {type(self).__name__}",
                self.envelope.record_type,
            )

    @property
    def record_ref(self) -> str:
        return self.envelope.record_ref


class MetricRecord(_Record):
    """A metric observation."""

    payload: MetricPayload
    RECORD_TYPE: ClassVar[str] = "metric"


class StructuredEventRecord(_Record):
    """A structured event."""

    payload: StructuredEventPayload
    RECORD_TYPE: ClassVar[str] = "event"


class DegradedRecord(_Record):
    """A degraded-execution record."""

    payload: DegradedPayload
    RECORD_TYPE: ClassVar[str] = "degraded"


class TraceSpanRecord(_Record):
    """A plain span kept in the workspace."""

    payload: TraceSpanPayload
    RECORD_TYPE: ClassVar[str] = "span"


AnyRecord = MetricRecord | StructuredEventRecord | DegradedRecord | TraceSpanRecord

RECORD_CLASSES: dict[str, type[Any]] = {
    "metric": MetricRecord,
    "event": StructuredEventRecord,
    "degraded": DegradedRecord,
    "span": TraceSpanRecord,
}
