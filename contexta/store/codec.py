"""How a record becomes a compact row and back (shared by every backend and the capture path).

A metric row is all integers and one float: run, stage, batch and sample are interned ref
ids, keys, units and producers interned name ids, times integer microseconds, the two
envelope markers packed into ``flags``. Only what does not fit those columns (event
messages, degraded summaries, attributes) goes into the ``extra`` JSON column, which stays
NULL for ordinary metrics: that is what keeps a metric record near 60 bytes on disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contexta.contract._base import to_micros
from contexta.contract.records import AnyRecord

RECORD_TYPES: tuple[str, ...] = ("metric", "event", "degraded", "span")
RECORD_TYPE_CODE = {name: code for code, name in enumerate(RECORD_TYPES)}
COMPLETENESS: tuple[str, ...] = ("complete", "partial", "missing", "unknown")
DEGRADATION: tuple[str, ...] = (
    "none",
    "capture_gap",
    "partial_failure",
    "compatibility_upgrade",
    "replay_gap",
    "redacted",
)
_COMPLETENESS_CODE = {name: code for code, name in enumerate(COMPLETENESS)}
_DEGRADATION_CODE = {name: code for code, name in enumerate(DEGRADATION)}


def pack_flags(completeness: str, degradation: str) -> int:
    return _COMPLETENESS_CODE[completeness] * 16 + _DEGRADATION_CODE[degradation]


def unpack_flags(flags: int) -> tuple[str, str]:
    return COMPLETENESS[flags // 16], DEGRADATION[flags % 16]


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces (equal content gives equal text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class RecordFields:
    """A record reduced to the row's columns, before ref and name interning."""

    run_ref: str
    local_id: str
    record_type: int
    stage_ref: str | None
    batch_ref: str | None
    sample_ref: str | None
    observed_at: int
    recorded_at: int
    key: str
    value: float | None
    step: int | None
    unit: str | None
    producer: str
    flags: int
    extra: str | None


def record_fields(record: AnyRecord) -> RecordFields:
    """Flatten a validated contract record."""
    return RecordFields(*record_columns(record))


def record_columns(record: AnyRecord) -> tuple[Any, ...]:
    """:func:`record_fields` as a plain tuple in :class:`RecordFields` order (the append hot path:
    a tuple is cheaper to build than the frozen dataclass)."""
    env = record.envelope
    payload = record.payload
    extra: dict[str, Any] = {}
    value: float | None = None
    step: int | None = None
    unit: str | None = None
    if env.record_type == "metric":
        key = payload.metric_key  # type: ignore[union-attr]
        value, step, unit = payload.value, payload.step, payload.unit  # type: ignore[union-attr]
        if payload.value_type != "float64":  # type: ignore[union-attr]
            extra["value_type"] = payload.value_type  # type: ignore[union-attr]
        if payload.aggregation_scope is not None:  # type: ignore[union-attr]
            extra["aggregation_scope"] = payload.aggregation_scope  # type: ignore[union-attr]
    elif env.record_type == "event":
        key = payload.event_key  # type: ignore[union-attr]
        extra = {
            "level": payload.level,
            "message": payload.message,  # type: ignore[union-attr]
            "origin_marker": payload.origin_marker,
        }  # type: ignore[union-attr]
        if payload.attributes:  # type: ignore[union-attr]
            extra["attributes"] = payload.attributes  # type: ignore[union-attr]
    elif env.record_type == "degraded":
        key = payload.issue_key  # type: ignore[union-attr]
        extra = {
            "category": payload.category,  # type: ignore[union-attr]
            "severity": payload.severity,  # type: ignore[union-attr]
            "summary": payload.summary,  # type: ignore[union-attr]
            "origin_marker": payload.origin_marker,  # type: ignore[union-attr]
        }
        if payload.attributes:  # type: ignore[union-attr]
            extra["attributes"] = payload.attributes  # type: ignore[union-attr]
    else:
        key = payload.name  # type: ignore[union-attr]
        extra = payload.model_dump(mode="json")
    return (
        env.run_ref,
        env.record_ref.rsplit(".", 1)[1],
        RECORD_TYPE_CODE[env.record_type],
        env.stage_execution_ref,
        env.batch_execution_ref,
        env.sample_observation_ref,
        to_micros(env.observed_at),
        to_micros(env.recorded_at),
        key,
        value,
        step,
        unit,
        env.producer_ref,
        pack_flags(env.completeness_marker, env.degradation_marker),
        dumps(extra) if extra else None,
    )


def view_details(
    record_type: str, extra: str | None
) -> tuple[dict[str, Any], str | None, str | None, str | None, str | None]:
    """Split ``extra`` into (details for the payload, message, level, severity, category)."""
    data: dict[str, Any] = json.loads(extra) if extra else {}
    if record_type == "event":
        return (
            {k: v for k, v in data.items() if k in ("attributes", "origin_marker")},
            data.get("message", ""),
            data.get("level"),
            None,
            None,
        )
    if record_type == "degraded":
        return (
            {k: v for k, v in data.items() if k in ("attributes", "origin_marker")},
            data.get("summary"),
            None,
            data.get("severity"),
            data.get("category"),
        )
    if record_type == "span":
        return data, data.get("status_message"), None, None, None
    return data, None, None, None, None
