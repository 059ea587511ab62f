"""Replay a workspace as OTLP: the runs it holds, re-sent to any OpenTelemetry backend.

What a replay sends, for each run (or the one asked for):

- the **run span** (root of the run's trace), its **stage, batch and sample spans** with their
  historical start and end times, ``contexta.status`` and the OTel span status (ERROR when
  failed, with the exception message when one was recorded);
- every **record as a span event** on the span of its scope: ``contexta.metric``,
  ``contexta.event``, ``contexta.degraded`` (an ``exception`` event for exceptions the capture
  API recorded), with the record ref, the original RFC 3339 ``recorded_at``, the producer, the
  completeness and degradation markers, and a metric's aggregation scope and value type when
  they are not the defaults, so records written through the explicit API come back exactly;
- ``contexta.artifact`` and ``contexta.environment`` events;
- **span records** (``record_type == "span"``: HTTP, DB... spans captured under a stage) as
  plain spans under the span of their scope, with their own ids, kind, status, attributes and
  their producer as ``service.name``;
- **deployments** as spans in their own trace, linked to the run's span;
- **metric points**: one gauge per metric key (``contexta.metric.<key>``), one data point per
  metric record at its historical time, with the same point attributes live capture uses.

Ids come from the stored ones when the run was captured live (so a backend that already holds
the live spans deduplicates them) and otherwise from the refs (:mod:`contexta.exporters.ids`):
replaying twice sends identical trace and span ids.

Why spans are built by hand and metrics as SDK data, not through a tracer and a meter: the
SDK's instruments stamp the current time (a ``Gauge`` keeps only the last value per attribute
set per collection) and its tracer draws random ids. ``ReadableSpan`` and the SDK's metric data
classes (``MetricsData`` ... ``NumberDataPoint``) carry any time and id, and the *official*
OTLP exporters (http/protobuf or gRPC, built by :mod:`contexta.exporters.otlp`) encode and send
them with their retries, headers, TLS and compression: no second OTLP encoder or transport.

The way back is :func:`spans_from_otlp` (protobuf -> :class:`SpanData`) and
:func:`writes_for_spans` (-> the rows :func:`~contexta.exporters.mapping.map_span` makes):
a replayed workspace maps back to the same rows (``tests/test_replay.py`` checks it).
An entity that is still ``open`` (a running or a crashed run) is sent **without an end time**:
the mapping turns a finished span into a terminal row whatever its ``contexta.status``, and an
unset end time is what keeps it open on the way back. Trace UIs may show such a span with no
or a negative duration.

Not carried, because the semantic conventions have no attribute for them: a run's
``description``, and the free-form ``attributes`` of stages, batches, samples, deployments and
environment snapshots.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from contexta._version import __version__
from contexta.config import CaptureConfig
from contexta.contract._base import to_micros
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import ConfigError, ContextaError, NotFoundError, ValidationError
from contexta.exporters.ids import span_id_for, trace_id_for
from contexta.exporters.mapping import Scope, Writes, map_span, scope_of
from contexta.exporters.otlp import (
    PROTOCOLS,
    OtlpSettings,
    build_metric_exporter,
    build_span_exporter,
    resolve_otlp,
)
from contexta.exporters.spandata import EventData, LinkData, SpanData
from contexta.semconv import attributes as sc
from contexta.store.base import RecordView, RunBundle, WorkspaceStore

log = logging.getLogger("contexta.exporters")

Progress = Callable[[int, int], None]
SCOPE_NAME = "contexta.replay"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_KINDS = {kind.name.lower(): kind for kind in SpanKind}
_STATUS_CODES = {"ok": StatusCode.OK, "error": StatusCode.ERROR, "unset": StatusCode.UNSET}


# -- the summary -------------------------------------------------------------------------------
@dataclass(slots=True)
class ReplaySummary:
    """What a replay sent and what the backend refused. ``ok`` when nothing failed."""

    runs: int = 0
    deployments: int = 0
    spans: int = 0
    events: int = 0
    metric_points: int = 0
    span_batches: int = 0
    metric_batches: int = 0
    failures: int = 0  # batches the backend did not accept (or that were not tried after giving up)
    failed_spans: int = 0
    failed_metric_points: int = 0
    skipped_records: int = 0  # records whose run row is missing (nothing to hang them on)
    rescoped_records: int = 0  # records naming a stage/batch/sample that is missing: sent on its parent
    traces_endpoint: str | None = None
    metrics_endpoint: str | None = None
    protocol: str | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0 and self.skipped_records == 0

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


# -- ids and small helpers ---------------------------------------------------------------------
def _ns(text: str) -> int:
    return to_micros(text) * 1000


def _context(trace_id: int, stored_span: str | None, ref: str) -> SpanContext:
    span_id = int(stored_span, 16) if stored_span else span_id_for(ref)
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=_SAMPLED)


def run_span_context(run_ref: str, trace_id: str | None = None, span_id: str | None = None) -> SpanContext:
    """The span context a replay gives a run: the stored ids, else ids derived from the ref
    (the same context ``ctx.deployment(run_ref=...)`` links to when the run is not live)."""
    if trace_id and span_id:
        return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=_SAMPLED)
    return SpanContext(trace_id_for(run_ref), span_id_for(run_ref), is_remote=False, trace_flags=_SAMPLED)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _status(status: str, message: str | None) -> Status:
    if status == "failed":
        return Status(StatusCode.ERROR, message or "failed")
    return Status(StatusCode.UNSET)


def _provenance(view: RecordView) -> dict[str, Any]:
    return {
        sc.RECORD_REF: view.record_ref,
        sc.RECORD_RECORDED_AT: view.recorded_at,
        sc.RECORD_PRODUCER: view.producer_ref,
        sc.RECORD_COMPLETENESS: view.completeness_marker,
        sc.RECORD_DEGRADATION: view.degradation_marker,
    }


def _is_exception(view: RecordView) -> bool:
    """An exception the capture API recorded (mapping rebuilds it from an ``exception`` event)."""
    return (
        view.record_type == "event"
        and view.key == "exception"
        and view.level == "error"
        and view.details.get("origin_marker") == "auto_capture"
        and not view.details.get("attributes")
        and ": " in (view.message or "")
    )


def record_event(view: RecordView) -> Event | None:
    """The span event a stored record becomes (None for span records, which become spans)."""
    when = _ns(view.observed_at)
    details = view.details
    if view.record_type == "metric":
        attrs: dict[str, Any] = {sc.METRIC_KEY: view.key, sc.METRIC_VALUE: float(view.value or 0.0)}
        if view.step is not None:
            attrs[sc.METRIC_STEP] = view.step
        if view.unit:
            attrs[sc.METRIC_UNIT] = view.unit
        if details.get("value_type", "float64") != "float64":
            attrs[sc.METRIC_VALUE_TYPE] = details["value_type"]
        if details.get("aggregation_scope") is not None:
            attrs[sc.METRIC_AGGREGATION_SCOPE] = details["aggregation_scope"]
        return Event(sc.EVENT_METRIC, {**attrs, **_provenance(view)}, when)
    if view.record_type == "event" and _is_exception(view):
        kind, _, message = (view.message or "").partition(": ")
        attrs = {"exception.type": kind, "exception.message": message, **_provenance(view)}
        return Event("exception", attrs, when)
    if view.record_type == "event":
        attrs = {
            sc.EVENT_KEY: view.key,
            sc.EVENT_LEVEL: view.level or "info",
            sc.EVENT_MESSAGE: view.message or "",
        }
        name = sc.EVENT_EVENT
    elif view.record_type == "degraded":
        attrs = {
            sc.DEGRADED_ISSUE_KEY: view.key,
            sc.DEGRADED_CATEGORY: view.category,
            sc.DEGRADED_SEVERITY: view.severity,
            sc.DEGRADED_SUMMARY: view.message or "",
        }
        name = sc.EVENT_DEGRADED
    else:
        return None
    if details.get("attributes"):
        attrs[sc.RECORD_ATTRIBUTES] = _dumps(details["attributes"])
    attrs.update(_provenance(view))
    attrs[sc.RECORD_ORIGIN] = details.get("origin_marker", "explicit_capture")
    return Event(name, attrs, when)


def _gauge_point(
    view: RecordView, run_name: str, project: str
) -> tuple[str, str, tuple[tuple[str, str], ...], int, float | int]:
    stage_name = view.stage_ref.rsplit(".", 1)[1] if view.stage_ref else ""
    attrs = ((sc.PROJECT, project), (sc.RUN_NAME, run_name), (sc.STAGE_NAME, stage_name))
    value: float | int = float(view.value or 0.0)
    if view.details.get("value_type") == "int64" and float(value).is_integer():
        value = int(value)
    return view.key, view.unit or "1", attrs, _ns(view.observed_at), value


# -- one run -> spans and points ---------------------------------------------------------------
@dataclass(slots=True)
class RunReplay:
    """The spans and gauge points of one run, ready to export."""

    spans: list[ReadableSpan]
    points: list[tuple[str, str, tuple[tuple[str, str], ...], int, float | int]]
    events: int
    skipped_records: int = 0
    rescoped_records: int = 0


class _Resources:
    """One ``Resource`` per service name (spans of one resource share one OTLP ResourceSpans).

    ``service.name`` resolves as live capture resolves it: ``service_name`` > the capture
    config's > ``OTEL_SERVICE_NAME`` > ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES`` > the
    run's project; the other ``OTEL_RESOURCE_ATTRIBUTES`` are kept."""

    def __init__(self, service_name: str | None, environ: Mapping[str, str]) -> None:
        self.attributes: dict[str, Any] = {}
        for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
            key, sep, value = item.partition("=")
            if sep and key.strip():
                self.attributes[key.strip()] = unquote(value.strip())
        self.service_name = (
            service_name or environ.get("OTEL_SERVICE_NAME") or self.attributes.get("service.name") or None
        )
        self._cache: dict[str, Resource] = {}

    def for_project(self, project: str) -> Resource:
        return self.named(self.service_name or project, base=True)

    def named(self, name: str, *, base: bool = False) -> Resource:
        """The resource of ``name``; ``base``: with the ``OTEL_RESOURCE_ATTRIBUTES`` too (contexta
        spans; a plain span record keeps only its own producer as ``service.name``)."""
        key = f"{int(base)}:{name}"
        resource = self._cache.get(key)
        if resource is None:
            attributes = {**self.attributes, "service.name": name} if base else {"service.name": name}
            resource = self._cache[key] = Resource.create(attributes)
        return resource


def build_run(
    bundle: RunBundle, resources: _Resources, *, metrics: bool = True, max_span_events: int | None = None
) -> RunReplay:
    """Turn one stored run into spans (tree order: run, stages, batches, samples, span records)
    and gauge points. ``max_span_events`` keeps only the last N events of a span, as the SDK's
    span limit does (the rest is counted in the span's ``dropped_events_count``)."""
    run = bundle.run
    if run is None:
        return RunReplay([], [], 0, skipped_records=len(bundle.records))
    project = parse_ref(run.run_ref, "run_ref", "run").project
    resource = resources.for_project(project)
    scope = InstrumentationScope(SCOPE_NAME, __version__)
    run_ctx = run_span_context(run.run_ref, run.trace_id, run.span_id)
    trace_id = run_ctx.trace_id
    base = {sc.PROJECT: project, sc.RUN_REF: run.run_ref}

    contexts: dict[str, SpanContext] = {run.run_ref: run_ctx}
    stage_ctx = {
        s.stage_execution_ref: _context(trace_id, s.span_id, s.stage_execution_ref) for s in bundle.stages
    }
    batch_ctx = {
        b.batch_execution_ref: _context(trace_id, b.span_id, b.batch_execution_ref) for b in bundle.batches
    }
    sample_ctx = {
        s.sample_observation_ref: _context(trace_id, s.span_id, s.sample_observation_ref)
        for s in bundle.samples
    }
    contexts.update(stage_ctx)
    contexts.update(batch_ctx)
    contexts.update(sample_ctx)

    # records -> events on the span of their scope (or the nearest existing ancestor)
    events: dict[str, list[Event]] = {ref: [] for ref in contexts}
    plain: list[tuple[str, RecordView]] = []
    exceptions: dict[str, str] = {}
    rescoped = 0
    points = []
    for view in bundle.records:
        owner = next((ref for ref in (view.sample_ref, view.batch_ref, view.stage_ref) if ref), run.run_ref)
        if owner not in contexts:
            owner = next(
                (ref for ref in (view.batch_ref, view.stage_ref) if ref and ref in contexts), run.run_ref
            )
            rescoped += 1
        if view.record_type == "span":
            plain.append((owner, view))
            continue
        event = record_event(view)
        if event is None:
            continue
        events[owner].append(event)
        if event.name == "exception":
            exceptions.setdefault(owner, view.message or "")
        if metrics and view.record_type == "metric":
            points.append(_gauge_point(view, run.name, project))
    for artifact in bundle.artifacts:
        attrs: dict[str, Any] = {
            sc.ARTIFACT_REF: artifact.artifact_ref,
            sc.ARTIFACT_KIND: artifact.artifact_kind,
            sc.ARTIFACT_URI: artifact.uri,
        }
        if artifact.sha256 is not None:
            attrs[sc.ARTIFACT_SHA256] = artifact.sha256
        if artifact.size_bytes is not None:
            attrs[sc.ARTIFACT_SIZE_BYTES] = artifact.size_bytes
        if artifact.attributes:
            attrs[sc.RECORD_ATTRIBUTES] = _dumps(artifact.attributes)
        owner = artifact.stage_execution_ref if artifact.stage_execution_ref in contexts else run.run_ref
        events[owner].append(Event(sc.EVENT_ARTIFACT, attrs, _ns(artifact.created_at)))
    env = bundle.environment
    if env is not None:
        attrs = {
            key: value
            for key, value in (
                (sc.ENVIRONMENT_PYTHON_VERSION, env.python_version),
                (sc.ENVIRONMENT_PLATFORM, env.platform),
                (sc.ENVIRONMENT_GIT_COMMIT, env.git_commit),
                (sc.ENVIRONMENT_GIT_DIRTY, env.git_dirty),
                (sc.ENVIRONMENT_PACKAGES, _dumps(env.packages) if env.packages else None),
                (sc.ENVIRONMENT_ENV_VARS, _dumps(env.env_vars) if env.env_vars else None),
            )
            if value is not None
        }
        events[run.run_ref].append(Event(sc.EVENT_ENVIRONMENT, attrs, _ns(env.captured_at)))

    def end_of(ref: str, start: int, ended_at: str | None, status: str) -> int | None:
        if ended_at is not None:
            return _ns(ended_at)
        # Still open (a running or crashed run): no end time, which is how the mapping (and so
        # the collector) knows an entity is open; a completed sample without an end: its start
        return None if status == "open" else start

    spans: list[ReadableSpan] = []

    def add(
        name: str,
        ref: str,
        parent: SpanContext | None,
        attrs: dict[str, Any],
        status: str,
        start: int,
        end: int | None,
    ) -> None:
        spans.append(
            ReadableSpan(
                name=name,
                context=contexts[ref],
                parent=parent,
                resource=resource,
                attributes=attrs,
                events=_limited(events.get(ref, []), max_span_events),
                kind=SpanKind.INTERNAL,
                status=_status(status, exceptions.get(ref)),
                start_time=start,
                end_time=end,
                instrumentation_scope=scope,
            )
        )

    run_attrs: dict[str, Any] = {sc.ENTITY_KIND: "run", **base, sc.RUN_NAME: run.name, sc.STATUS: run.status}
    if run.params:
        run_attrs[sc.RUN_PARAMS] = _dumps(run.params)
    if run.tags:
        run_attrs[sc.RUN_TAGS] = _dumps(run.tags)
    if run.dataset_refs:
        run_attrs[sc.DATASET_REFS] = tuple(run.dataset_refs)
    start = _ns(run.started_at)
    add(
        f"run {run.name}",
        run.run_ref,
        None,
        run_attrs,
        run.status,
        start,
        end_of(run.run_ref, start, run.ended_at, run.status),
    )

    for stage in bundle.stages:
        ref = stage.stage_execution_ref
        attrs = {
            sc.ENTITY_KIND: "stage",
            **base,
            sc.RUN_NAME: run.name,
            sc.STAGE_REF: ref,
            sc.STAGE_NAME: stage.stage_name,
            sc.STATUS: stage.status,
        }
        if stage.order_index is not None:
            attrs[sc.ORDER_INDEX] = stage.order_index
        begin = _ns(stage.started_at)
        add(
            f"stage {stage.stage_name}",
            ref,
            run_ctx,
            attrs,
            stage.status,
            begin,
            end_of(ref, begin, stage.ended_at, stage.status),
        )
    for batch in bundle.batches:
        ref = batch.batch_execution_ref
        attrs = {
            sc.ENTITY_KIND: "batch",
            **base,
            sc.STAGE_REF: batch.stage_execution_ref,
            sc.BATCH_REF: ref,
            sc.BATCH_NAME: batch.batch_name,
            sc.STATUS: batch.status,
        }
        if batch.order_index is not None:
            attrs[sc.ORDER_INDEX] = batch.order_index
        begin = _ns(batch.started_at)
        add(
            f"batch {batch.batch_name}",
            ref,
            stage_ctx.get(batch.stage_execution_ref, run_ctx),
            attrs,
            batch.status,
            begin,
            end_of(ref, begin, batch.ended_at, batch.status),
        )
    for sample in bundle.samples:
        ref = sample.sample_observation_ref
        attrs = {sc.ENTITY_KIND: "sample", **base, sc.STAGE_REF: sample.stage_execution_ref}
        if sample.batch_execution_ref:
            attrs[sc.BATCH_REF] = sample.batch_execution_ref
        attrs.update({sc.SAMPLE_REF: ref, sc.SAMPLE_NAME: sample.sample_name, sc.STATUS: sample.status})
        if sample.order_index is not None:
            attrs[sc.ORDER_INDEX] = sample.order_index
        parent = (
            batch_ctx.get(sample.batch_execution_ref or "")
            or stage_ctx.get(sample.stage_execution_ref)
            or run_ctx
        )
        begin = _ns(sample.observed_at)
        add(
            f"sample {sample.sample_name}",
            ref,
            parent,
            attrs,
            sample.status,
            begin,
            end_of(ref, begin, sample.ended_at, sample.status),
        )
    for owner, view in plain:
        spans.append(_plain_span(view, contexts[owner], resources, scope))
    count = sum(len(span.events) for span in spans)
    return RunReplay(spans, points, count, rescoped_records=rescoped)


def _limited(events: list[Event], limit: int | None) -> Sequence[Event]:
    if limit is None or len(events) <= limit:
        return tuple(events)
    return BoundedList.from_seq(limit, events)


def _plain_span(
    view: RecordView, parent: SpanContext, resources: _Resources, scope: InstrumentationScope
) -> ReadableSpan:
    d = view.details
    span_id = int(d["span_id"], 16) if d.get("span_id") else span_id_for(view.record_ref)
    code = _STATUS_CODES.get(d.get("status_code") or "unset", StatusCode.UNSET)
    status = Status(code, d.get("status_message")) if code is StatusCode.ERROR else Status(code)
    attrs = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in (d.get("attributes") or {}).items()
    }
    start = _ns(d.get("started_at") or view.observed_at)
    return ReadableSpan(
        name=d.get("name") or view.key,
        context=SpanContext(parent.trace_id, span_id, False, _SAMPLED),
        parent=parent,
        resource=resources.named(view.producer_ref),
        attributes=attrs,
        kind=_KINDS.get(d.get("kind") or "internal", SpanKind.INTERNAL),
        status=status,
        start_time=start,
        end_time=_ns(d.get("ended_at") or view.recorded_at),
        instrumentation_scope=scope,
    )


def build_deployment(
    deployment: Any, resources: _Resources, run_contexts: Mapping[str, SpanContext]
) -> ReadableSpan:
    """A deployment span: the root of its own trace, linked to the producing run's span."""
    ref = deployment.deployment_execution_ref
    project = parse_ref(ref, "deployment_ref", "deployment").project
    trace_id = (
        int(deployment.trace_id, 16) if deployment.trace_id and deployment.span_id else trace_id_for(ref)
    )
    context = _context(trace_id, deployment.span_id if deployment.trace_id else None, ref)
    attrs: dict[str, Any] = {
        sc.ENTITY_KIND: "deployment",
        sc.PROJECT: project,
        sc.DEPLOYMENT_REF: ref,
        sc.DEPLOYMENT_NAME: deployment.deployment_name,
        sc.STATUS: deployment.status,
    }
    if deployment.environment is not None:
        attrs[sc.DEPLOYMENT_ENVIRONMENT] = deployment.environment
    if deployment.artifact_ref is not None:
        attrs[sc.DEPLOYMENT_ARTIFACT_REF] = deployment.artifact_ref
    links: list[Link] = []
    if deployment.run_ref is not None:
        attrs[sc.RUN_REF] = deployment.run_ref
        run_ctx = run_contexts.get(deployment.run_ref) or run_span_context(deployment.run_ref)
        links.append(Link(run_ctx, {sc.LINK_KIND: "deployed_run"}))
    if deployment.order_index is not None:
        attrs[sc.ORDER_INDEX] = deployment.order_index
    start = _ns(deployment.started_at)
    end = _ns(deployment.ended_at) if deployment.ended_at else None if deployment.status == "open" else start
    return ReadableSpan(
        name=f"deployment {deployment.deployment_name}",
        context=context,
        parent=None,
        resource=resources.for_project(project),
        attributes=attrs,
        links=tuple(links),
        kind=SpanKind.INTERNAL,
        status=_status(deployment.status, None),
        start_time=start,
        end_time=end,
        instrumentation_scope=InstrumentationScope(SCOPE_NAME, __version__),
    )


def build_metrics(
    points: Sequence[tuple[str, str, tuple[tuple[str, str], ...], int, float | int]],
    resource: Resource,
    start_ns: int = 0,
) -> MetricsData:
    """Gauge data points (key, unit, attributes, time, value) as one ``MetricsData``: one metric per
    key, points of each series in time order."""
    by_key: dict[str, tuple[str, list[NumberDataPoint]]] = {}
    for key, unit, attrs, when, value in sorted(points, key=lambda p: (p[0], p[2], p[3])):
        entry = by_key.setdefault(key, (unit, []))
        entry[1].append(
            NumberDataPoint(
                attributes=dict(attrs), start_time_unix_nano=start_ns, time_unix_nano=when, value=value
            )
        )
    metrics = [
        Metric(
            name=sc.METRIC_NAME_PREFIX + key,
            description=f"contexta metric {key}",
            unit=unit,
            data=Gauge(data_points=data),
        )
        for key, (unit, data) in by_key.items()
    ]
    scope = ScopeMetrics(scope=InstrumentationScope(SCOPE_NAME, __version__), metrics=metrics, schema_url="")
    return MetricsData(
        resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[scope], schema_url="")]
    )


def count_items(bundle: RunBundle, *, metrics: bool = True) -> int:
    """How many progress units :func:`build_run` makes of ``bundle``: spans + events + points."""
    if bundle.run is None:
        return 0
    spans = 1 + len(bundle.stages) + len(bundle.batches) + len(bundle.samples)
    records = len(bundle.records)  # span records count once, as a span
    extra = len(bundle.artifacts) + (1 if bundle.environment is not None else 0)
    points = sum(1 for view in bundle.records if view.record_type == "metric") if metrics else 0
    return spans + records + extra + points


# -- sending -----------------------------------------------------------------------------------
class _Sender:
    """Batches spans and points to the exporters; counts; gives up after repeated failures."""

    def __init__(
        self,
        summary: ReplaySummary,
        span_exporter: SpanExporter,
        metric_exporter: MetricExporter | None,
        *,
        batch_size: int,
        batch_events: int,
        batch_points: int,
        timeout: float,
        give_up_after: int,
        progress: Callable[[int], None],
    ) -> None:
        self.summary = summary
        self.span_exporter = span_exporter
        self.metric_exporter = metric_exporter
        self.batch_size = max(1, batch_size)
        self.batch_events = max(1, batch_events)
        self.batch_points = max(1, batch_points)
        self.timeout_millis = timeout * 1000
        self.give_up_after = give_up_after
        self.progress = progress
        self._spans: list[ReadableSpan] = []
        self._span_events = 0
        self._points: list[tuple[Resource, int, tuple[Any, ...]]] = []
        self._span_failures_in_row = 0
        self._metric_failures_in_row = 0

    def span(self, span: ReadableSpan) -> None:
        events = len(span.events)
        if self._spans and (
            len(self._spans) >= self.batch_size or self._span_events + events > self.batch_events
        ):
            self.flush_spans()
        self._spans.append(span)
        self._span_events += events

    def points(self, resource: Resource, start_ns: int, points: Iterable[tuple[Any, ...]]) -> None:
        for point in points:
            self._points.append((resource, start_ns, point))
            if len(self._points) >= self.batch_points:
                self.flush_points()

    def flush_spans(self) -> None:
        batch, self._spans, events, self._span_events = self._spans, [], self._span_events, 0
        if not batch:
            return
        s = self.summary
        s.span_batches += 1
        accepted = False
        if self._span_failures_in_row < self.give_up_after:
            try:
                accepted = self.span_exporter.export(batch) is SpanExportResult.SUCCESS
            except Exception as exc:  # an exporter bug must not stop the replay
                s.problem(f"span export raised {type(exc).__name__}: {exc}")
        if accepted:
            self._span_failures_in_row = 0
            s.spans += len(batch)
            s.events += events
        else:
            self._note_failure("span", len(batch), self._span_failures_in_row)
            self._span_failures_in_row += 1
            s.failed_spans += len(batch)
        self.progress(len(batch) + events)

    def flush_points(self) -> None:
        batch, self._points = self._points, []
        if not batch:
            return
        s = self.summary
        s.metric_batches += 1
        accepted = False
        if self._metric_failures_in_row < self.give_up_after and self.metric_exporter is not None:
            by_resource: dict[int, tuple[Resource, int, list[tuple[Any, ...]]]] = {}
            for resource, start_ns, point in batch:
                by_resource.setdefault(id(resource), (resource, start_ns, []))[2].append(point)
            data = [
                build_metrics(points, resource, start_ns).resource_metrics[0]
                for resource, start_ns, points in by_resource.values()
            ]
            try:
                result = self.metric_exporter.export(
                    MetricsData(resource_metrics=data), timeout_millis=self.timeout_millis
                )
                accepted = result is MetricExportResult.SUCCESS
            except Exception as exc:
                s.problem(f"metric export raised {type(exc).__name__}: {exc}")
        if accepted:
            self._metric_failures_in_row = 0
            s.metric_points += len(batch)
        else:
            self._note_failure("metric", len(batch), self._metric_failures_in_row)
            self._metric_failures_in_row += 1
            s.failed_metric_points += len(batch)
        self.progress(len(batch))

    def _note_failure(self, signal: str, size: int, in_row: int) -> None:
        s = self.summary
        s.failures += 1
        endpoint = s.traces_endpoint if signal == "span" else s.metrics_endpoint
        if in_row < self.give_up_after:
            s.problem(f"{signal} batch of {size} was not accepted by {endpoint or 'the exporter'}")
            if in_row + 1 == self.give_up_after:
                s.problem(f"gave up sending {signal}s after {self.give_up_after} failed batches in a row")

    def flush(self) -> None:
        self.flush_spans()
        self.flush_points()


# -- the entry point ---------------------------------------------------------------------------
def replay_settings(
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    capture: CaptureConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> OtlpSettings:
    """Where a replay sends: ``endpoint`` (a base URL, ``/v1/traces`` and ``/v1/metrics`` are added
    for http/protobuf) beats the capture config, which beats ``OTEL_EXPORTER_OTLP_*``.
    ``OTEL_SDK_DISABLED`` is ignored: a replay is an explicit request to send."""
    env = dict(os.environ if environ is None else environ)
    capture = capture or CaptureConfig()
    update: dict[str, Any] = {"sdk_disabled": False}
    if endpoint:  # an explicit endpoint beats every configured one, signal-specific ones included
        update.update(otlp_endpoint=endpoint, otlp_traces_endpoint=None, otlp_metrics_endpoint=None)
        env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
        env.pop("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", None)
    if protocol:
        if protocol not in PROTOCOLS:
            raise ValidationError.for_field("protocol", f"must be one of {list(PROTOCOLS)}", protocol)
        update["otlp_protocol"] = protocol
    if headers:
        update["otlp_headers"] = dict(headers)
    settings = resolve_otlp(capture.model_copy(update=update), env)
    if not settings.traces_endpoint:
        raise ConfigError(
            "replay: no OTLP endpoint; pass endpoint= (--endpoint URL) or set OTEL_EXPORTER_OTLP_ENDPOINT"
        )
    return settings


def _open_source(workspace: Any, environ: Mapping[str, str] | None) -> tuple[WorkspaceStore, Any, Any]:
    """(store, the workspace's UnifiedConfig or None, the object to close or None)."""
    if hasattr(workspace, "store") and hasattr(workspace, "list_runs"):  # Contexta / QueryService
        return workspace.store, getattr(workspace, "config", None), None
    if isinstance(workspace, WorkspaceStore):
        return workspace, None, None
    from contexta.client import Contexta
    from contexta.store.uri import DB_FILENAME

    path = Path(workspace)
    if not (path / DB_FILENAME).is_file() and not path.is_file():
        raise NotFoundError(str(path), "workspace")
    ctx = Contexta(workspace=path if path.is_dir() else path.parent, environ=environ)
    return ctx.store, ctx.config, ctx


def _run_refs(
    store: WorkspaceStore, run: str | None, project: str | None, default_project: str | None
) -> tuple[list[str], list[str]]:
    """(run refs, project refs whose deployments to send)."""
    if project is not None:
        project = project if project.startswith("project:") else make_ref("project", project)
        parse_ref(project, "project", "project")
    if run is not None:
        if not run.startswith("run:"):
            name = project or (f"project:{default_project}" if default_project else None)
            if name is None:
                projects = store.list_projects()
                if len(projects) != 1:
                    raise ValidationError.for_field(
                        "run",
                        "must be a run ref (run:project.name) when the workspace has several projects",
                        run,
                    )
                name = projects[0].project_ref
            run = make_ref("run", parse_ref(name, "project", "project").project, run)
        parse_ref(run, "run", "run")
        return [run], []
    projects = [project] if project is not None else [p.project_ref for p in store.list_projects()]
    return [row.run_ref for ref in projects for row in store.list_runs(ref)], projects


def replay_workspace(
    workspace: Any,
    *,
    run: str | None = None,
    project: str | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    metrics: bool = True,
    service_name: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_exporter: MetricExporter | None = None,
    batch_size: int = 512,
    batch_events: int = 8192,
    batch_points: int = 5000,
    max_span_events: int | None = None,
    timeout: float = 10.0,
    give_up_after: int = 3,
    progress: Progress | None = None,
    environ: Mapping[str, str] | None = None,
) -> ReplaySummary:
    """Send what ``workspace`` holds to an OTLP backend; return what was sent and what failed.

    ``workspace``: a :class:`~contexta.Contexta` (or any ``QueryService``), a ``WorkspaceStore``,
    or a workspace folder. ``run``: one run (ref, or name within ``project``/the only project);
    default every run of ``project`` (default every project), plus their projects' deployments
    (with ``run``: that run's deployments). ``endpoint``/``protocol``/``headers`` override the
    ``OTEL_EXPORTER_OTLP_*`` settings (see :func:`replay_settings`); ``span_exporter`` and
    ``metric_exporter`` replace the OTLP exporters altogether. ``metrics=False`` sends no gauge
    points. Spans go in batches of at most ``batch_size`` spans and ``batch_events`` events (a
    span is never split: ``max_span_events`` keeps the last N events of each span, for backends
    that limit a span's size; the default sends every event, which a round trip needs), points in
    batches of ``batch_points``; after ``give_up_after`` failed
    batches in a row a signal is not tried any more (its remaining batches count as failed).
    ``progress(done, total)`` is called after every batch (units: spans + events + points).
    Never raises for a refused batch (see :attr:`ReplaySummary.failures`); raises
    :class:`~contexta.errors.ContextaError` for bad arguments or a missing workspace/run.
    """
    began = time.monotonic()
    summary = ReplaySummary()
    store, config, owned = _open_source(workspace, environ)
    capture = config.capture if config is not None else None
    env = os.environ if environ is None else environ
    own_spans = own_metrics = False
    try:
        run_refs, project_refs = _run_refs(store, run, project, config.project_name if config else None)
        if span_exporter is None:
            settings = replay_settings(endpoint, protocol, headers, capture=capture, environ=env)
            summary.traces_endpoint, summary.metrics_endpoint = (
                settings.traces_endpoint,
                settings.metrics_endpoint,
            )
            summary.protocol = settings.traces_protocol
            span_exporter = build_span_exporter(settings, timeout=timeout)
            own_spans = True
            if metrics and metric_exporter is None:
                metric_exporter = build_metric_exporter(settings, timeout=timeout)
                own_metrics = metric_exporter is not None
        assert span_exporter is not None
        if metric_exporter is None:  # nowhere to send points: do not build or count them
            metrics = False
        if not metrics:
            metric_exporter = None
        resources = _Resources(service_name or (capture.service_name if capture else None), env)

        # a counting pass (for progress); bundles are kept unless the workspace is large
        total, kept, kept_records = 0, {}, 0
        deployments: list[Any] = []
        for ref in run_refs:
            bundle = store.read_run(ref)
            if run is not None and bundle.run is None and not bundle.records:
                raise NotFoundError(ref, "run")
            total += count_items(bundle, metrics=metrics)
            if run is not None:
                deployments += bundle.deployments
            if kept_records + len(bundle.records) <= 200_000:
                kept[ref] = bundle
                kept_records += len(bundle.records)
        for project_ref in project_refs:
            deployments += store.list_deployments(project_ref)
        total += len(deployments)
        done = 0

        def advance(units: int) -> None:
            nonlocal done
            done = min(total, done + units)
            if progress is not None:
                progress(done, total)

        sender = _Sender(
            summary,
            span_exporter,
            metric_exporter,
            batch_size=batch_size,
            batch_events=batch_events,
            batch_points=batch_points,
            timeout=timeout,
            give_up_after=give_up_after,
            progress=advance,
        )
        if progress is not None:
            progress(0, total)
        run_contexts: dict[str, SpanContext] = {}
        for ref in run_refs:
            bundle = kept.pop(ref, None) or store.read_run(ref)
            built = build_run(bundle, resources, metrics=metrics, max_span_events=max_span_events)
            summary.skipped_records += built.skipped_records
            summary.rescoped_records += built.rescoped_records
            if bundle.run is None:
                summary.problem(f"{ref}: no run row; {built.skipped_records} record(s) not replayed")
                continue
            if built.rescoped_records:
                summary.problem(
                    f"{ref}: {built.rescoped_records} record(s) name a missing stage, batch or "
                    "sample; sent on the nearest parent span"
                )
            summary.runs += 1
            run_contexts[ref] = built.spans[0].get_span_context()
            for span in built.spans:
                sender.span(span)
            if built.points:
                sender.points(built.spans[0].resource, _ns(bundle.run.started_at), built.points)
        for deployment in deployments:
            sender.span(build_deployment(deployment, resources, run_contexts))
            summary.deployments += 1
        sender.flush()
        if progress is not None and done < total:
            progress(total, total)
        return summary
    finally:
        for exporter, own in ((span_exporter, own_spans), (metric_exporter, own_metrics)):
            if own and exporter is not None:
                try:
                    exporter.shutdown()
                except Exception:  # pragma: no cover - shutting down a broken exporter
                    log.debug("contexta: replay exporter shutdown failed", exc_info=True)
        if owned is not None:
            owned.close()
        summary.seconds = round(time.monotonic() - began, 3)


# -- the way back: OTLP protobuf -> SpanData -> rows ------------------------------------------
_PROTO_KINDS = {0: "internal", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_PROTO_STATUS = {0: "unset", 1: "ok", 2: "error"}


def _any_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(_any_value(item) for item in value.array_value.values)
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _attributes(items: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in items}


def spans_from_otlp(request: Any) -> list[SpanData]:
    """An ``ExportTraceServiceRequest`` (or its ``resource_spans``) as :class:`SpanData`, in order.
    An end time of 0 (not set) becomes ``end_ns=None``."""
    resource_spans = getattr(request, "resource_spans", request)
    out = []
    for rs in resource_spans:
        resource = _attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                out.append(
                    SpanData(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=_PROTO_KINDS.get(span.kind, "internal"),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano or None,
                        status_code=_PROTO_STATUS.get(span.status.code, "unset"),
                        status_message=span.status.message or None,
                        attributes=_attributes(span.attributes),
                        events=tuple(
                            EventData(e.name, e.time_unix_nano, _attributes(e.attributes))
                            for e in span.events
                        ),
                        links=tuple(
                            LinkData(link.trace_id.hex(), link.span_id.hex(), _attributes(link.attributes))
                            for link in span.links
                        ),
                        resource=resource,
                    )
                )
    return out


def writes_for_spans(spans: Iterable[SpanData]) -> Writes:
    """The workspace rows a set of received spans stands for, mapped as the collector maps them:
    every received span is final, and one without an end time (how replay sends an entity that
    is still open) maps as ``open``. A plain span is kept under the contexta span it ran in when
    that span is among ``spans`` (looked up by parent span id)."""
    spans = list(spans)
    scopes: dict[str, Scope] = {}
    for span in spans:
        scope = scope_of(span.attributes)
        if scope is not None:
            scopes[span.span_id] = scope
    total = Writes()
    for span in spans:
        writes = map_span(span, finished=True, parent_scope=scopes.get)
        total.projects += writes.projects
        total.entities += writes.entities
        total.records += writes.records
        total.rejected += writes.rejected
        total.problems += writes.problems
    return total


# -- command line ------------------------------------------------------------------------------
def add_replay_arguments(parser: argparse.ArgumentParser, *, common: bool = True) -> argparse.ArgumentParser:
    """Add the ``replay`` options to ``parser``; ``common=False`` leaves out ``--workspace``,
    ``--project`` and ``--json`` (when a parent parser already has them)."""
    if common:
        parser.add_argument(
            "--workspace", metavar="DIR", help="workspace folder (default: $CONTEXTA_WORKSPACE or .contexta)"
        )
        parser.add_argument("--project", metavar="P", help="only this project (default: every project)")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--run", metavar="REF", help="replay one run (run:P.NAME, or a run name)")
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="OTLP endpoint (default: $OTEL_EXPORTER_OTLP_ENDPOINT); "
        "for http/protobuf a base URL such as http://localhost:4318",
    )
    parser.add_argument(
        "--protocol",
        choices=("http/protobuf", "grpc"),
        help="default: $OTEL_EXPORTER_OTLP_PROTOCOL or http/protobuf",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra request header (repeatable; default: $OTEL_EXPORTER_OTLP_HEADERS)",
    )
    parser.add_argument("--no-metrics", action="store_true", help="send spans only, no gauge points")
    parser.add_argument(
        "--service-name",
        metavar="NAME",
        help="service.name of the replayed spans (default: $OTEL_SERVICE_NAME or the project name)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=512, metavar="N", help="spans per request (default 512)"
    )
    parser.add_argument(
        "--max-span-events",
        type=int,
        metavar="N",
        help="keep only the last N events of each span (default: all; contexta's collector needs all)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="per request, retries included (default 10)",
    )
    return parser


def _headers(items: Sequence[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError.for_field("--header", "must be KEY=VALUE", item)
        headers[key.strip().lower()] = value.strip()
    return headers


class ProgressBar:
    """A one-line progress bar on a terminal (``progress(done, total)``); silent elsewhere."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._last = -1.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width if total == 0 else self.width * done // total
        percent = 100 if total == 0 else 100 * done // total
        self.stream.write(
            f"\rreplay [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% {done}/{total}"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def format_summary(summary: ReplaySummary) -> str:
    lines = [
        f"replayed {summary.runs} run(s), {summary.deployments} deployment(s): {summary.spans} spans, "
        f"{summary.events} events, {summary.metric_points} metric points in {summary.seconds:.2f} s"
    ]
    if summary.traces_endpoint:
        lines.append(f"to {summary.traces_endpoint} ({summary.protocol})")
    if summary.failures:
        lines.append(
            f"FAILED: {summary.failures} batch(es); {summary.failed_spans} spans and "
            f"{summary.failed_metric_points} metric points were not accepted"
        )
    lines += [f"  {problem}" for problem in summary.problems]
    return "\n".join(lines)


def replay_command(
    args: argparse.Namespace, ctx: Any = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``replay`` for parsed ``args`` (see :func:`add_replay_arguments`): 0 when everything
    was accepted, 1 when something failed. ``ctx`` (a Contexta) replaces ``--workspace``."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    workspace = (
        ctx
        if ctx is not None
        else (getattr(args, "workspace", None) or os.environ.get("CONTEXTA_WORKSPACE") or ".contexta")
    )
    summary = replay_workspace(
        workspace,
        run=args.run,
        project=getattr(args, "project", None),
        endpoint=args.endpoint,
        protocol=args.protocol,
        headers=_headers(args.header),
        metrics=not args.no_metrics,
        service_name=args.service_name,
        batch_size=args.batch_size,
        max_span_events=getattr(args, "max_span_events", None),
        timeout=args.timeout,
        progress=None if getattr(args, "json", False) else ProgressBar(err),
    )
    if getattr(args, "json", False):
        out.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        out.write(format_summary(summary) + "\n")
    return 0 if summary.ok else 1


def main_replay(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """``python -m contexta.exporters.replay [options]``: 0 ok, 1 failures, 2 bad input."""
    parser = add_replay_arguments(
        argparse.ArgumentParser(
            prog="contexta replay",
            description="Re-send a workspace's runs as OTLP spans, events and metrics.",
        )
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return replay_command(args, stdout=stdout, stderr=stderr)
    except ContextaError as exc:
        (stderr or sys.stderr).write(f"contexta: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_replay())
