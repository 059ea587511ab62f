"""Replay, part 2: one stored run (or deployment) -> the OTLP spans and metric points that carry it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from contexta._version import __version__
from contexta.contract.refs import parse_ref
from contexta.exporters.ids import span_id_for, trace_id_for
from contexta.exporters.replay_events import (
    SAMPLED,
    SCOPE_NAME,
    SPAN_KINDS,
    STATUS_CODES,
    entity_context,
    gauge_point,
    json_text,
    otel_status,
    record_event,
    run_span_context,
    to_ns,
)
from contexta.semconv import attributes as sc
from contexta.store.base import RecordView, RunBundle

log = logging.getLogger("contexta.exporters")

Progress = Callable[[int, int], None]


# -- one run -> spans and points ---------------------------------------------------------------
@dataclass(slots=True)
class RunReplay:
    """The spans and gauge points of one run, ready to export."""

    spans: list[ReadableSpan]
    points: list[tuple[str, str, tuple[tuple[str, str], ...], int, float | int]]
    events: int
    skipped_records: int = 0
    rescoped_records: int = 0


class Resources:
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
    bundle: RunBundle, resources: Resources, *, metrics: bool = True, max_span_events: int | None = None
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
        s.stage_execution_ref: entity_context(trace_id, s.span_id, s.stage_execution_ref)
        for s in bundle.stages
    }
    batch_ctx = {
        b.batch_execution_ref: entity_context(trace_id, b.span_id, b.batch_execution_ref)
        for b in bundle.batches
    }
    sample_ctx = {
        s.sample_observation_ref: entity_context(trace_id, s.span_id, s.sample_observation_ref)
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
            points.append(gauge_point(view, run.name, project))
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
            attrs[sc.RECORD_ATTRIBUTES] = json_text(artifact.attributes)
        owner = artifact.stage_execution_ref if artifact.stage_execution_ref in contexts else run.run_ref
        events[owner].append(Event(sc.EVENT_ARTIFACT, attrs, to_ns(artifact.created_at)))
    env = bundle.environment
    if env is not None:
        attrs = {
            key: value
            for key, value in (
                (sc.ENVIRONMENT_PYTHON_VERSION, env.python_version),
                (sc.ENVIRONMENT_PLATFORM, env.platform),
                (sc.ENVIRONMENT_GIT_COMMIT, env.git_commit),
                (sc.ENVIRONMENT_GIT_DIRTY, env.git_dirty),
                (sc.ENVIRONMENT_PACKAGES, json_text(env.packages) if env.packages else None),
                (sc.ENVIRONMENT_ENV_VARS, json_text(env.env_vars) if env.env_vars else None),
            )
            if value is not None
        }
        events[run.run_ref].append(Event(sc.EVENT_ENVIRONMENT, attrs, to_ns(env.captured_at)))

    def end_of(ref: str, start: int, ended_at: str | None, status: str) -> int | None:
        if ended_at is not None:
            return to_ns(ended_at)
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
                status=otel_status(status, exceptions.get(ref)),
                start_time=start,
                end_time=end,
                instrumentation_scope=scope,
            )
        )

    run_attrs: dict[str, Any] = {sc.ENTITY_KIND: "run", **base, sc.RUN_NAME: run.name, sc.STATUS: run.status}
    if run.params:
        run_attrs[sc.RUN_PARAMS] = json_text(run.params)
    if run.tags:
        run_attrs[sc.RUN_TAGS] = json_text(run.tags)
    if run.dataset_refs:
        run_attrs[sc.DATASET_REFS] = tuple(run.dataset_refs)
    start = to_ns(run.started_at)
    add(
        f"run {run.name}",
        run.run_ref,
        None,
        run_attrs,
        run.status,
        start,
        end_of(run.run_ref, start, run.ended_at, run.status),
    )

    def add_child(
        kind: str,
        name: str,
        ref: str,
        parent: SpanContext,
        extra: dict[str, Any],
        entity: Any,
        started_at: str,
    ) -> None:
        """One stage, batch or sample span: the same shape for all three kinds."""
        attrs = {sc.ENTITY_KIND: kind, **base, **extra, sc.STATUS: entity.status}
        if entity.order_index is not None:
            attrs[sc.ORDER_INDEX] = entity.order_index
        begin = to_ns(started_at)
        add(
            f"{kind} {name}",
            ref,
            parent,
            attrs,
            entity.status,
            begin,
            end_of(ref, begin, entity.ended_at, entity.status),
        )

    for stage in bundle.stages:
        ref = stage.stage_execution_ref
        add_child(
            "stage",
            stage.stage_name,
            ref,
            run_ctx,
            {sc.RUN_NAME: run.name, sc.STAGE_REF: ref, sc.STAGE_NAME: stage.stage_name},
            stage,
            stage.started_at,
        )
    for batch in bundle.batches:
        ref = batch.batch_execution_ref
        add_child(
            "batch",
            batch.batch_name,
            ref,
            stage_ctx.get(batch.stage_execution_ref, run_ctx),
            {sc.STAGE_REF: batch.stage_execution_ref, sc.BATCH_REF: ref, sc.BATCH_NAME: batch.batch_name},
            batch,
            batch.started_at,
        )
    for sample in bundle.samples:
        ref = sample.sample_observation_ref
        extra = {sc.STAGE_REF: sample.stage_execution_ref}
        if sample.batch_execution_ref:
            extra[sc.BATCH_REF] = sample.batch_execution_ref
        extra.update({sc.SAMPLE_REF: ref, sc.SAMPLE_NAME: sample.sample_name})
        parent = (
            batch_ctx.get(sample.batch_execution_ref or "")
            or stage_ctx.get(sample.stage_execution_ref)
            or run_ctx
        )
        add_child("sample", sample.sample_name, ref, parent, extra, sample, sample.observed_at)
    for owner, view in plain:
        spans.append(_plain_span(view, contexts[owner], resources, scope))
    count = sum(len(span.events) for span in spans)
    return RunReplay(spans, points, count, rescoped_records=rescoped)


def _limited(events: list[Event], limit: int | None) -> Sequence[Event]:
    if limit is None or len(events) <= limit:
        return tuple(events)
    return BoundedList.from_seq(limit, events)


def _plain_span(
    view: RecordView, parent: SpanContext, resources: Resources, scope: InstrumentationScope
) -> ReadableSpan:
    d = view.details
    span_id = int(d["span_id"], 16) if d.get("span_id") else span_id_for(view.record_ref)
    code = STATUS_CODES.get(d.get("status_code") or "unset", StatusCode.UNSET)
    status = Status(code, d.get("status_message")) if code is StatusCode.ERROR else Status(code)
    attrs = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in (d.get("attributes") or {}).items()
    }
    start = to_ns(d.get("started_at") or view.observed_at)
    return ReadableSpan(
        name=d.get("name") or view.key,
        context=SpanContext(parent.trace_id, span_id, False, SAMPLED),
        parent=parent,
        resource=resources.named(view.producer_ref),
        attributes=attrs,
        kind=SPAN_KINDS.get(d.get("kind") or "internal", SpanKind.INTERNAL),
        status=status,
        start_time=start,
        end_time=to_ns(d.get("ended_at") or view.recorded_at),
        instrumentation_scope=scope,
    )


def build_deployment(
    deployment: Any, resources: Resources, run_contexts: Mapping[str, SpanContext]
) -> ReadableSpan:
    """A deployment span: the root of its own trace, linked to the producing run's span."""
    ref = deployment.deployment_execution_ref
    project = parse_ref(ref, "deployment_ref", "deployment").project
    trace_id = (
        int(deployment.trace_id, 16) if deployment.trace_id and deployment.span_id else trace_id_for(ref)
    )
    context = entity_context(trace_id, deployment.span_id if deployment.trace_id else None, ref)
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
    start = to_ns(deployment.started_at)
    end = (
        to_ns(deployment.ended_at) if deployment.ended_at else None if deployment.status == "open" else start
    )
    return ReadableSpan(
        name=f"deployment {deployment.deployment_name}",
        context=context,
        parent=None,
        resource=resources.for_project(project),
        attributes=attrs,
        links=tuple(links),
        kind=SpanKind.INTERNAL,
        status=otel_status(deployment.status, None),
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
