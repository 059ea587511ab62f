"""Spans with contexta semantic attributes -> workspace entities and records.

This is the single translation used by the in-process local exporter and by the collector.
It validates everything through the contract models (telemetry from other processes is
untrusted input); an item that breaks a rule is skipped and reported in
:attr:`Writes.rejected`, never raised.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, get_args

from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DegradedPayload,
    DegradedRecord,
    DeploymentExecution,
    EnvironmentSnapshot,
    MetricPayload,
    MetricRecord,
    Project,
    RecordEnvelope,
    Run,
    SampleObservation,
    StageExecution,
    StructuredEventPayload,
    StructuredEventRecord,
    TraceSpanPayload,
    TraceSpanRecord,
)
from contexta.contract._base import (
    AggregationScope,
    CompletenessMarker,
    DegradationMarker,
    from_micros,
    normalize_timestamp,
    to_micros,
)
from contexta.contract.records import _KEY
from contexta.contract.refs import MAX_COMPONENT, RECORD_ID, extends, make_ref, parse_ref
from contexta.errors import ContextaError
from contexta.exporters.spandata import EventData, SpanData
from contexta.semconv import attributes as sc
from contexta.store.base import Entity
from contexta.store.codec import RECORD_TYPE_CODE, RecordFields, dumps, pack_flags, record_fields

TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a span sits: the refs its records hang from."""

    project: str
    run_ref: str
    stage_ref: str | None = None
    batch_ref: str | None = None
    sample_ref: str | None = None


@dataclass(slots=True)
class Writes:
    projects: list[Project] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    records: list[RecordFields] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def reject(self, what: str, exc: Exception) -> None:
        self.rejected += 1
        if len(self.problems) < 20:
            self.problems.append(f"{what}: {exc}")


def _ts(ns: int) -> str:
    return from_micros(ns // 1000)


def _json(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    decoded = json.loads(value) if isinstance(value, str) else value
    if not isinstance(decoded, dict):
        raise ValueError(f"expected a JSON object, got {value!r}")
    return decoded


def scope_of(attrs: Any) -> Scope | None:
    """The scope a contexta span defines, or None for a plain span."""
    kind = attrs.get(sc.ENTITY_KIND)
    run_ref = attrs.get(sc.RUN_REF)
    if kind is None or kind == "deployment" or not run_ref:
        return None
    project = parse_ref(run_ref, sc.RUN_REF, "run").project
    return Scope(
        project,
        run_ref,
        attrs.get(sc.STAGE_REF),
        attrs.get(sc.BATCH_REF),
        attrs.get(sc.SAMPLE_REF) if kind == "sample" else None,
    )


def _status(span: SpanData, finished: bool) -> tuple[str, str | None]:
    if not finished or span.end_ns is None:
        return "open", None
    status = span.attributes.get(sc.STATUS, "open")
    if status not in TERMINAL:
        status = "failed" if span.status_code == "error" else "completed"
    return status, _ts(span.end_ns)


def span_entity(span: SpanData, finished: bool) -> tuple[Entity | None, Project | None]:
    """The entity a contexta span stands for (status ``open`` until ``finished``)."""
    a = span.attributes
    kind = a.get(sc.ENTITY_KIND)
    if kind in _FAST_ENTITY_KINDS:
        fast = _fast_entity(span, kind, finished)
        if fast is not None:
            return fast, None
    status, ended = _status(span, finished)
    valid = bool(span.trace_id.strip("0")) and bool(span.span_id.strip("0"))
    common: dict[str, Any] = {
        "status": status,
        "started_at": _ts(span.start_ns),
        "ended_at": ended,
        "trace_id": span.trace_id if valid else None,
        "span_id": span.span_id if valid else None,
    }
    order = a.get(sc.ORDER_INDEX)
    if kind == "run":
        run = parse_ref(a[sc.RUN_REF], sc.RUN_REF, "run")
        project = Project(
            project_ref=make_ref("project", run.project), name=run.project, created_at=common["started_at"]
        )
        return Run(
            run_ref=str(run),
            project_ref=project.project_ref,
            name=run.parts[1],
            dataset_refs=tuple(a.get(sc.DATASET_REFS, ())),
            params=_json(a.get(sc.RUN_PARAMS)),
            tags=_json(a.get(sc.RUN_TAGS)),
            **common,
        ), project
    if kind == "stage":
        return StageExecution(
            stage_execution_ref=a[sc.STAGE_REF],
            run_ref=a[sc.RUN_REF],
            stage_name=a[sc.STAGE_REF].rsplit(".", 1)[1],
            order_index=order,
            **common,
        ), None
    if kind == "batch":
        return BatchExecution(
            batch_execution_ref=a[sc.BATCH_REF],
            run_ref=a[sc.RUN_REF],
            stage_execution_ref=a[sc.STAGE_REF],
            batch_name=a[sc.BATCH_REF].rsplit(".", 1)[1],
            order_index=order,
            **common,
        ), None
    if kind == "sample":
        common["observed_at"] = common.pop("started_at")
        return SampleObservation(
            sample_observation_ref=a[sc.SAMPLE_REF],
            run_ref=a[sc.RUN_REF],
            stage_execution_ref=a[sc.STAGE_REF],
            batch_execution_ref=a.get(sc.BATCH_REF),
            sample_name=a[sc.SAMPLE_REF].rsplit(".", 1)[1],
            order_index=order,
            **common,
        ), None
    if kind == "deployment":
        ref = parse_ref(a[sc.DEPLOYMENT_REF], sc.DEPLOYMENT_REF, "deployment")
        project = Project(
            project_ref=make_ref("project", ref.project), name=ref.project, created_at=common["started_at"]
        )
        return DeploymentExecution(
            deployment_execution_ref=str(ref),
            project_ref=project.project_ref,
            deployment_name=ref.parts[1],
            run_ref=a.get(sc.RUN_REF),
            environment=a.get(sc.DEPLOYMENT_ENVIRONMENT),
            artifact_ref=a.get(sc.DEPLOYMENT_ARTIFACT_REF),
            order_index=order,
            **common,
        ), project
    return None, None


def _envelope(scope: Scope, event: EventData, record_type: str) -> RecordEnvelope:
    a = event.attributes
    observed = _ts(event.time_ns)
    return RecordEnvelope(
        record_ref=a[sc.RECORD_REF],
        record_type=record_type,
        observed_at=observed,
        recorded_at=a.get(sc.RECORD_RECORDED_AT, observed),
        producer_ref=a.get(sc.RECORD_PRODUCER, "contexta"),
        run_ref=scope.run_ref,
        stage_execution_ref=scope.stage_ref,
        batch_execution_ref=scope.batch_ref,
        sample_observation_ref=scope.sample_ref,
        completeness_marker=a.get(sc.RECORD_COMPLETENESS, "complete"),
        degradation_marker=a.get(sc.RECORD_DEGRADATION, "none"),
    )


def event_item(scope: Scope, event: EventData) -> Any:
    """The record, artifact or environment one span event stands for (None if not ours)."""
    a, name = event.attributes, event.name
    if name == sc.EVENT_METRIC:
        return MetricRecord(
            envelope=_envelope(scope, event, "metric"),
            payload=MetricPayload(
                metric_key=a[sc.METRIC_KEY],
                value=a[sc.METRIC_VALUE],
                step=a.get(sc.METRIC_STEP),
                unit=a.get(sc.METRIC_UNIT),
                value_type=a.get(sc.METRIC_VALUE_TYPE, "float64"),
                aggregation_scope=a.get(sc.METRIC_AGGREGATION_SCOPE),
            ),
        )
    if name == sc.EVENT_EVENT:
        return StructuredEventRecord(
            envelope=_envelope(scope, event, "event"),
            payload=StructuredEventPayload(
                event_key=a[sc.EVENT_KEY],
                level=a.get(sc.EVENT_LEVEL, "info"),
                message=a.get(sc.EVENT_MESSAGE, ""),
                attributes=_json(a.get(sc.RECORD_ATTRIBUTES)),
                origin_marker=a.get(sc.RECORD_ORIGIN, "explicit_capture"),
            ),
        )
    if name == "exception" and sc.RECORD_REF in a:
        message = f"{a.get('exception.type', 'Exception')}: {a.get('exception.message', '')}"
        return StructuredEventRecord(
            envelope=_envelope(scope, event, "event"),
            payload=StructuredEventPayload(
                event_key="exception", level="error", message=message, origin_marker="auto_capture"
            ),
        )
    if name == sc.EVENT_DEGRADED:
        return DegradedRecord(
            envelope=_envelope(scope, event, "degraded"),
            payload=DegradedPayload(
                issue_key=a[sc.DEGRADED_ISSUE_KEY],
                category=a[sc.DEGRADED_CATEGORY],
                severity=a[sc.DEGRADED_SEVERITY],
                summary=a[sc.DEGRADED_SUMMARY],
                attributes=_json(a.get(sc.RECORD_ATTRIBUTES)),
                origin_marker=a.get(sc.RECORD_ORIGIN, "explicit_capture"),
            ),
        )
    if name == sc.EVENT_ARTIFACT:
        return ArtifactManifest(
            artifact_ref=a[sc.ARTIFACT_REF],
            run_ref=scope.run_ref,
            artifact_kind=a[sc.ARTIFACT_KIND],
            uri=a[sc.ARTIFACT_URI],
            sha256=a.get(sc.ARTIFACT_SHA256),
            size_bytes=a.get(sc.ARTIFACT_SIZE_BYTES),
            created_at=_ts(event.time_ns),
            stage_execution_ref=scope.stage_ref,
            attributes=_json(a.get(sc.RECORD_ATTRIBUTES)),
        )
    if name == sc.EVENT_ENVIRONMENT:
        return EnvironmentSnapshot(
            environment_snapshot_ref=make_ref("environment", *parse_ref(scope.run_ref).parts),
            run_ref=scope.run_ref,
            captured_at=_ts(event.time_ns),
            python_version=a.get(sc.ENVIRONMENT_PYTHON_VERSION),
            platform=a.get(sc.ENVIRONMENT_PLATFORM),
            packages=_json(a.get(sc.ENVIRONMENT_PACKAGES)),
            env_vars=_json(a.get(sc.ENVIRONMENT_ENV_VARS)),
            git_commit=a.get(sc.ENVIRONMENT_GIT_COMMIT),
            git_dirty=a.get(sc.ENVIRONMENT_GIT_DIRTY),
        )
    return None


def plain_span_record(span: SpanData, scope: Scope) -> TraceSpanRecord:
    """A non-contexta span (HTTP, DB...) kept as a record under the stage it ran in."""
    started, ended = _ts(span.start_ns), _ts(span.end_ns or span.start_ns)
    attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in span.attributes.items()}
    return TraceSpanRecord(
        envelope=RecordEnvelope(
            record_ref=f"record:{scope.run_ref[4:]}.span-{span.span_id}",
            record_type="span",
            observed_at=started,
            recorded_at=ended,
            producer_ref=str(span.resource.get("service.name", "otel")),
            run_ref=scope.run_ref,
            stage_execution_ref=scope.stage_ref,
            batch_execution_ref=scope.batch_ref,
            sample_observation_ref=scope.sample_ref,
        ),
        payload=TraceSpanPayload(
            trace_id=span.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id,
            name=span.name,
            kind=span.kind,
            started_at=started,
            ended_at=ended,
            status_code=span.status_code,
            status_message=span.status_message,
            attributes=attrs,
        ),
    )


# -- fast paths -------------------------------------------------------------------------------------
# Metric events and plain spans are the bulk of the telemetry (every stage.metric(), every HTTP or
# DB call). For them the row is built directly, with the same checks the contract models apply,
# when every value already has its exact type; anything else (a value pydantic would coerce, a
# rule that fails) takes the model path, which gives the identical row or the precise error.
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_SPAN_STATUS = frozenset(("unset", "ok", "error"))
_AGGREGATION = frozenset(get_args(AggregationScope))
_COMPLETENESS = frozenset(get_args(CompletenessMarker))
_DEGRADATION = frozenset(get_args(DegradationMarker))
_METRIC = RECORD_TYPE_CODE["metric"]
_SPAN = RECORD_TYPE_CODE["span"]
_PLAIN_FLAGS = pack_flags("complete", "none")
_MAX_STEP = 2**63 - 1
# codec.dumps's settings (sorted keys, no spaces, UTF-8 as is), one encoder for every call
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_encode_str = json.encoder.encode_basestring  # what that encoder does with one string


def _valid_scope(scope: Scope) -> bool:
    """Whether records may hang from ``scope``: :class:`RecordEnvelope`'s ref rules (each ref of
    its kind, each one extending the one above it, a sample one component below its parent)."""
    parent = _scope_parent(scope.run_ref, scope.stage_ref, scope.batch_ref, scope.sample_ref is not None)
    if parent is None:
        return False
    sample_ref = scope.sample_ref
    if sample_ref is None:
        return True
    try:
        sample = parse_ref(sample_ref, sc.SAMPLE_REF, "sample")
    except (ContextaError, TypeError):
        return False
    return extends(sample, parent) and len(sample.parts) == len(parent.parts) + 1


@lru_cache(maxsize=4096)
def _scope_parent(run_ref: str, stage_ref: str | None, batch_ref: str | None, sampled: bool) -> Any:
    """The deepest of the run, stage and batch refs of a valid scope (what a sample hangs from),
    or None if they break a rule. One per stage or batch: cached (a scope with a sample is
    unique to its sample, so the sample is checked apart)."""
    try:
        run = parse_ref(run_ref, sc.RUN_REF, "run")
        parent = run
        if stage_ref is not None:
            stage = parse_ref(stage_ref, sc.STAGE_REF, "stage")
            if not extends(stage, run):
                return None
            parent = stage
        elif batch_ref is not None or sampled:
            return None
        if batch_ref is not None:
            batch = parse_ref(batch_ref, sc.BATCH_REF, "batch")
            if not extends(batch, parent):
                return None
            parent = batch
    except (ContextaError, TypeError):
        return None
    return parent


def _simple_json(value: Any) -> bool:
    """A JSON scalar (finite float) or a list of them: what a JSON dump keeps exactly as it is."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_simple_json(item) and type(item) is not list for item in value)
    return False


def _metric_columns(scope: Scope, event: EventData) -> tuple[Any, ...] | None:
    """The ``records`` columns of a ``contexta.metric`` event, or None to take the model path."""
    a = event.attributes
    ref, key, value = a.get(sc.RECORD_REF), a.get(sc.METRIC_KEY), a.get(sc.METRIC_VALUE)
    step, unit = a.get(sc.METRIC_STEP), a.get(sc.METRIC_UNIT)
    value_type = a.get(sc.METRIC_VALUE_TYPE, "float64")
    aggregation = a.get(sc.METRIC_AGGREGATION_SCOPE)
    producer = a.get(sc.RECORD_PRODUCER, "contexta")
    completeness = a.get(sc.RECORD_COMPLETENESS, "complete")
    degradation = a.get(sc.RECORD_DEGRADATION, "none")
    recorded = a.get(sc.RECORD_RECORDED_AT)
    if (
        type(ref) is not str
        or type(key) is not str
        or type(producer) is not str
        or not (
            (type(value) is float and math.isfinite(value)) or (type(value) is int and abs(value) < 2**63)
        )
        or not (step is None or (type(step) is int and 0 <= step <= _MAX_STEP))
        or not (unit is None or (type(unit) is str and len(unit) <= 64))
        or not (value_type == "float64" or (value_type == "int64" and float(value).is_integer()))
        or not (aggregation is None or aggregation in _AGGREGATION)
        or completeness not in _COMPLETENESS
        or degradation not in _DEGRADATION
        or not (recorded is None or type(recorded) is str)
        or not _KEY.fullmatch(key)
        or not _valid_scope(scope)
    ):
        return None
    prefix = "record:" + scope.run_ref[4:] + "."
    local_id = ref[len(prefix) :]
    # the record ref grammar: the run's two components and one record id (no dots)
    if not ref.startswith(prefix) or len(local_id) > MAX_COMPONENT or not RECORD_ID.fullmatch(local_id):
        return None
    try:
        _ts(event.time_ns)  # in range (the model path would fail on it otherwise)
        observed = event.time_ns // 1000  # == to_micros(_ts(time_ns)): the two are exact inverses
        recorded_micros = observed if recorded is None else to_micros(normalize_timestamp(recorded))
    except (ContextaError, ValueError, TypeError, OverflowError):
        return None
    extra: dict[str, Any] = {}
    if value_type != "float64":
        extra["value_type"] = value_type
    if aggregation is not None:
        extra["aggregation_scope"] = aggregation
    return (
        scope.run_ref,
        local_id,
        _METRIC,
        scope.stage_ref,
        scope.batch_ref,
        scope.sample_ref,
        observed,
        recorded_micros,
        key,
        float(value),
        step,
        unit,
        producer,
        pack_flags(completeness, degradation),
        dumps(extra) if extra else None,
    )


def _plain_columns(span: SpanData, scope: Scope) -> tuple[Any, ...] | None:
    """The ``records`` columns of a plain span kept under ``scope``, or None for the model path."""
    name, parent = span.name, span.parent_span_id
    if (
        type(name) is not str
        or not 1 <= len(name) <= 1024
        or not _HEX32.fullmatch(span.trace_id)
        or not _HEX16.fullmatch(span.span_id)
        or not (parent is None or _HEX16.fullmatch(parent))
        or type(span.kind) is not str
        or span.status_code not in _SPAN_STATUS
        or not (span.status_message is None or type(span.status_message) is str)
        or not _valid_scope(scope)
    ):
        return None
    attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in span.attributes.items()}
    if not all(type(k) is str and _simple_json(v) for k, v in attrs.items()):
        return None
    try:
        observed, recorded = span.start_ns // 1000, (span.end_ns or span.start_ns) // 1000
        started, ended = from_micros(observed), from_micros(recorded)
    except (ValueError, TypeError, OverflowError):
        return None
    # dumps(payload) written out: the keys in sorted order, ids and timestamps (checked above:
    # hex digits, digits and -:.TZ) as they are, the other strings through json's own encoder
    message = span.status_message
    payload = (
        '{"attributes":'
        + _encode(attrs)
        + ',"ended_at":"'
        + ended
        + '","kind":'
        + _encode_str(span.kind)
        + ',"name":'
        + _encode_str(name)
        + (',"parent_span_id":"' + parent + '"' if parent is not None else ',"parent_span_id":null')
        + ',"span_id":"'
        + span.span_id
        + '","started_at":"'
        + started
        + '","status_code":"'
        + span.status_code
        + ('","status_message":' + _encode_str(message) if message is not None else '","status_message":null')
        + ',"trace_id":"'
        + span.trace_id
        + '"}'
    )
    return (
        scope.run_ref,
        f"span-{span.span_id}",
        _SPAN,
        scope.stage_ref,
        scope.batch_ref,
        scope.sample_ref,
        observed,
        recorded,
        name,
        None,
        None,
        None,
        str(span.resource.get("service.name", "otel")),
        _PLAIN_FLAGS,
        payload,
    )


# Stage, batch and sample spans are the other bulk (a sample span per item). Their entity is
# checked here with the rules of the contract models (field types, ref grammar and nesting, the
# status/ended_at interval) and built without pydantic when all of them hold; anything else takes
# the model path, which gives the identical entity or the precise error.
_FAST_ENTITY_KINDS = frozenset(("stage", "batch", "sample"))


def _layout(model: type[Any]) -> tuple[tuple[str, Callable[[], Any]], ...] | None:
    """Each field of ``model`` in declaration order, with a function giving its default (None if
    a default is one that pydantic would copy: then the model is always validated)."""
    layout = []
    for name, info in model.__pydantic_fields__.items():
        if info.default_factory is not None:
            layout.append((name, info.default_factory))
        elif info.default is None or type(info.default) in (str, int, float, bool):
            layout.append((name, lambda value=info.default: value))
        elif info.is_required():
            layout.append((name, _required))
        else:  # pragma: no cover - a mutable default
            return None
    return tuple(layout)


def _required() -> Any:  # pragma: no cover - _fast_entity passes every required field
    raise KeyError("required field")


def _constructible(model: type[Any]) -> bool:
    """Whether :func:`_build` makes what ``model_construct`` would (no hooks, privates, extras)."""
    return (
        getattr(model, "__pydantic_post_init__", None) is None
        and not getattr(model, "__private_attributes__", None)
        and model.model_config.get("extra") != "allow"
        and not getattr(model, "__pydantic_root_model__", False)
    )


_LAYOUTS: dict[type[Any], tuple[tuple[str, Callable[[], Any]], ...]] = {
    model: layout
    for model in (StageExecution, BatchExecution, SampleObservation)
    if _constructible(model) and (layout := _layout(model)) is not None
}
if len(_LAYOUTS) < 3:  # pragma: no cover - a pydantic or contract change: always validate
    _FAST_ENTITY_KINDS = frozenset()


def _build(model: type[Any], values: dict[str, Any]) -> Any:
    """``model.model_construct(**values)`` at a fraction of its cost: the values are valid."""
    fields = {name: values[name] if name in values else default() for name, default in _LAYOUTS[model]}
    entity = model.__new__(model)
    object.__setattr__(entity, "__dict__", fields)
    object.__setattr__(entity, "__pydantic_fields_set__", set(values))
    object.__setattr__(entity, "__pydantic_extra__", None)
    object.__setattr__(entity, "__pydantic_private__", None)
    return entity


def _child_of(ref: str, kind: str, parent: Any) -> Any:
    """The parsed ``ref`` if it is a valid ``kind`` ref one component below ``parent``, else None."""
    try:
        child = parse_ref(ref, kind, kind)
    except ContextaError:
        return None
    if len(child.parts) != len(parent.parts) + 1 or not extends(child, parent):
        return None
    return child


@lru_cache(maxsize=4096)
def _stage_of(run_ref: str, stage_ref: str) -> Any:
    """The parsed stage ref when both refs are valid and the stage is one of the run's."""
    try:
        run = parse_ref(run_ref, "run", "run")
    except ContextaError:
        return None
    return _child_of(stage_ref, "stage", run)


@lru_cache(maxsize=4096)
def _batch_of(run_ref: str, stage_ref: str, batch_ref: str) -> Any:
    """The parsed batch ref when the run, stage and batch refs are valid and nested."""
    stage = _stage_of(run_ref, stage_ref)
    return None if stage is None else _child_of(batch_ref, "batch", stage)


def _fast_entity(span: SpanData, kind: str, finished: bool) -> Any:
    """The stage, batch or sample entity of ``span`` when it is valid as it is, else None."""
    a = span.attributes
    run_ref, stage_ref, order = a.get(sc.RUN_REF), a.get(sc.STAGE_REF), a.get(sc.ORDER_INDEX)
    if type(run_ref) is not str or type(stage_ref) is not str:
        return None
    if not (order is None or (type(order) is int and 0 <= order <= _MAX_STEP)):
        return None
    try:
        status, ended = _status(span, finished)
        started = _ts(span.start_ns)
    except (ContextaError, ValueError, TypeError, OverflowError):
        return None
    valid = bool(span.trace_id.strip("0")) and bool(span.span_id.strip("0"))
    if valid and not (_HEX32.fullmatch(span.trace_id) and _HEX16.fullmatch(span.span_id)):
        return None
    # check_interval: a terminal status needs ended_at, which may not precede the start
    # (to_micros(_ts(ns)) == ns // 1000: the two are exact inverses)
    if ended is None:
        if status in TERMINAL and kind != "sample":  # a sample checks only what it has
            return None
    elif span.end_ns // 1000 < span.start_ns // 1000:  # type: ignore[operator]
        return None
    ids = {"trace_id": span.trace_id if valid else None, "span_id": span.span_id if valid else None}
    if kind == "stage":
        if _stage_of(run_ref, stage_ref) is None:
            return None
        return _build(
            StageExecution,
            {
                "stage_execution_ref": stage_ref,
                "run_ref": run_ref,
                "stage_name": stage_ref.rsplit(".", 1)[1],
                "order_index": order,
                "status": status,
                "started_at": started,
                "ended_at": ended,
                **ids,
            },
        )
    batch_ref = a.get(sc.BATCH_REF)
    if kind == "batch":
        if type(batch_ref) is not str or _batch_of(run_ref, stage_ref, batch_ref) is None:
            return None
        return _build(
            BatchExecution,
            {
                "batch_execution_ref": batch_ref,
                "run_ref": run_ref,
                "stage_execution_ref": stage_ref,
                "batch_name": batch_ref.rsplit(".", 1)[1],
                "order_index": order,
                "status": status,
                "started_at": started,
                "ended_at": ended,
                **ids,
            },
        )
    sample_ref = a.get(sc.SAMPLE_REF)
    if batch_ref is None:
        parent = _stage_of(run_ref, stage_ref)
    else:
        parent = _batch_of(run_ref, stage_ref, batch_ref) if type(batch_ref) is str else None
    if type(sample_ref) is not str or parent is None or _child_of(sample_ref, "sample", parent) is None:
        return None
    return _build(
        SampleObservation,
        {
            "sample_observation_ref": sample_ref,
            "run_ref": run_ref,
            "stage_execution_ref": stage_ref,
            "batch_execution_ref": batch_ref,
            "sample_name": sample_ref.rsplit(".", 1)[1],
            "order_index": order,
            "status": status,
            "observed_at": started,
            "ended_at": ended,
            **ids,
        },
    )


def plain_span_fields(span: SpanData, scope: Scope) -> RecordFields:
    """``record_fields(plain_span_record(span, scope))``, without the models when it can."""
    columns = _plain_columns(span, scope)
    if columns is None:
        return record_fields(plain_span_record(span, scope))
    return RecordFields(*columns)


def event_fields(scope: Scope, event: EventData) -> Any:
    """What :func:`event_item` gives, with a metric event already flattened to :class:`RecordFields`."""
    if event.name == sc.EVENT_METRIC:
        columns = _metric_columns(scope, event)
        if columns is not None:
            return RecordFields(*columns)
    return event_item(scope, event)


def map_span(
    span: SpanData,
    *,
    finished: bool = True,
    include_events: bool = True,
    parent_scope: Callable[[str], Scope | None] | None = None,
) -> Writes:
    """Everything one span contributes to a workspace."""
    writes = Writes()
    map_span_into(writes, span, finished=finished, include_events=include_events, parent_scope=parent_scope)
    return writes


def map_span_into(
    writes: Writes,
    span: SpanData,
    *,
    finished: bool = True,
    include_events: bool = True,
    parent_scope: Callable[[str], Scope | None] | None = None,
) -> Scope | None:
    """:func:`map_span`, adding to ``writes``; returns the scope the span's entity defines (None
    when it has no entity, was rejected, or is a deployment)."""
    try:
        entity, project = span_entity(span, finished)
    except (ContextaError, KeyError, ValueError, TypeError, AttributeError) as exc:
        writes.reject(f"span {span.name!r} ({span.span_id})", exc)
        return None
    if project is not None:
        writes.projects.append(project)
    if entity is not None:
        writes.entities.append(entity)
    scope = scope_of(span.attributes) if entity is not None else None
    if scope is None and entity is None and finished and parent_scope and span.parent_span_id:
        parent = parent_scope(span.parent_span_id)
        if parent is not None and parent.stage_ref is not None:
            try:
                writes.records.append(plain_span_fields(span, parent))
            except (ContextaError, KeyError, ValueError, TypeError, AttributeError) as exc:
                writes.reject(f"span {span.name!r} ({span.span_id})", exc)
        return None
    if scope is None or not include_events:
        return scope
    records, entities = writes.records, writes.entities
    for event in span.events:
        try:
            item = event_fields(scope, event)
        except (ContextaError, KeyError, ValueError, TypeError, AttributeError) as exc:
            writes.reject(f"event {event.name!r} on {span.span_id}", exc)
            continue
        if item is None:
            continue
        if isinstance(item, RecordFields):
            records.append(item)
        elif isinstance(item, ArtifactManifest | EnvironmentSnapshot):
            entities.append(item)
        else:
            records.append(record_fields(item))
    return scope
