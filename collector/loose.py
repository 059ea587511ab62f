"""Metric points and log records that name their run become workspace records.

A data point (gauge, sum, histogram count/sum are not values: only gauge and sum points are
taken) or a log record becomes a record when its attributes carry ``contexta.run.ref``;
``contexta.stage.ref``, ``contexta.batch.ref`` and ``contexta.sample.ref`` place it deeper.
The record id is derived from the content, so a retried request writes nothing new.
Everything else is acknowledged and not stored (the count is returned).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from contexta.collector.convert import any_value, attributes
from contexta.contract import (
    MetricPayload,
    MetricRecord,
    RecordEnvelope,
    StructuredEventPayload,
    StructuredEventRecord,
)
from contexta.contract._base import from_micros
from contexta.errors import ContextaError
from contexta.exporters.mapping import Writes
from contexta.semconv import attributes as sc
from contexta.store.codec import record_fields

log = logging.getLogger("contexta.collector")

_LEVELS = {
    "TRACE": "debug",
    "DEBUG": "debug",
    "INFO": "info",
    "WARN": "warning",
    "WARNING": "warning",
    "ERROR": "error",
    "FATAL": "critical",
    "CRITICAL": "critical",
}


def _level(severity_text: str, severity_number: int) -> str:
    """The event level of a log record: its severity text if known, else its severity number."""
    level = _LEVELS.get(severity_text.upper())
    if level is not None or not severity_number:
        return level or "info"
    # SeverityNumber: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL
    return ("debug", "debug", "info", "warning", "error", "critical")[
        (min(max(severity_number, 1), 24) - 1) // 4
    ]


def stable_local_id(prefix: str, *parts: Any) -> str:
    """A record id derived from content, so a retried request maps to the same ref."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f"{prefix}-{digest}"


def micros_text(time_unix_nano: int) -> str:
    return from_micros(time_unix_nano // 1000)


def _envelope(attrs: dict[str, Any], local_id: str, record_type: str, observed: str) -> RecordEnvelope:
    run_ref = attrs[sc.RUN_REF]
    return RecordEnvelope(
        record_ref=f"record:{run_ref[4:]}.{local_id}",
        record_type=record_type,
        observed_at=observed,
        recorded_at=observed,
        producer_ref="contexta.collector",
        run_ref=run_ref,
        stage_execution_ref=attrs.get(sc.STAGE_REF),
        batch_execution_ref=attrs.get(sc.BATCH_REF),
        sample_observation_ref=attrs.get(sc.SAMPLE_REF),
    )


def metric_records(request: Any, writes: Writes) -> int:
    ignored = 0
    for group in request.resource_metrics:
        for scope in group.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind not in ("gauge", "sum"):
                    ignored += len(getattr(metric, kind).data_points) if kind else 0
                    continue
                key = metric.name.removeprefix(sc.METRIC_NAME_PREFIX)
                for point in getattr(metric, kind).data_points:
                    attrs = attributes(point.attributes)
                    if sc.RUN_REF not in attrs:
                        ignored += 1
                        continue
                    value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
                    try:
                        local = stable_local_id("m", metric.name, sorted(attrs.items()), point.time_unix_nano)
                        record = MetricRecord(
                            envelope=_envelope(attrs, local, "metric", micros_text(point.time_unix_nano)),
                            payload=MetricPayload(
                                metric_key=key,
                                value=value,
                                step=attrs.get(sc.METRIC_STEP),
                                unit=metric.unit if metric.unit not in ("", "1") else None,
                            ),
                        )
                        writes.records.append(record_fields(record))
                    except (ContextaError, KeyError, ValueError, TypeError, AttributeError) as exc:
                        writes.reject(f"metric point {metric.name!r}", exc)
    return ignored


def log_records(request: Any, writes: Writes) -> int:
    ignored = 0
    for group in request.resource_logs:
        for scope in group.scope_logs:
            for entry in scope.log_records:
                attrs = attributes(entry.attributes)
                if sc.RUN_REF not in attrs:
                    ignored += 1
                    continue
                moment = entry.time_unix_nano or entry.observed_time_unix_nano
                body = any_value(entry.body)
                try:
                    local = stable_local_id("l", sorted(attrs.items()), moment, str(body))
                    record = StructuredEventRecord(
                        envelope=_envelope(attrs, local, "event", micros_text(moment)),
                        payload=StructuredEventPayload(
                            event_key=attrs.get(sc.EVENT_KEY, "log"),
                            level=_level(entry.severity_text, entry.severity_number),
                            message="" if body is None else str(body),
                            origin_marker="collected",
                        ),
                    )
                    writes.records.append(record_fields(record))
                except (ContextaError, KeyError, ValueError, TypeError, AttributeError) as exc:
                    writes.reject("log record", exc)
    return ignored
