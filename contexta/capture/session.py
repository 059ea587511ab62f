"""The capture session: OpenTelemetry providers, the local exporter, the mirror, open runs.

Built lazily by :class:`~contexta.Contexta` on the first ``run()`` or ``deployment()``. It
never touches the global providers: it builds its own ``TracerProvider`` (local exporter +
optional OTLP mirror) unless one is injected, in which case the local exporter is added to
the injected provider. Spans the application starts inside a stage nest under the stage span
anyway, because OpenTelemetry's context is process-wide.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from opentelemetry.metrics import MeterProvider as ApiMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.trace import Span

from contexta._version import __version__
from contexta.capture.environment import capture_environment, installed_distributions
from contexta.capture.scopes import CaptureScope, RunScope
from contexta.capture.sinks import LocalJsonlSink
from contexta.config import UnifiedConfig
from contexta.contract import Run
from contexta.contract._base import from_micros
from contexta.contract.refs import check_component, make_ref, parse_ref, slugify
from contexta.errors import ConflictError, ValidationError
from contexta.exporters.mapping import Scope, Writes
from contexta.exporters.mirror import (
    CountingMetricExporter,
    CountingSpanExporter,
    MirrorSpanProcessor,
    MirrorStats,
)
from contexta.exporters.otlp import build_metric_exporter, build_span_exporter, resolve_otlp
from contexta.exporters.spandata import EventData, SpanData
from contexta.exporters.workspace import WorkspaceSpanProcessor
from contexta.semconv import attributes as sc
from contexta.store.codec import RecordFields
from contexta.store.sqlite_store import SQLiteStore

log = logging.getLogger("contexta.capture")
HEARTBEAT_SECONDS = 2.0
#: what a closing Contexta waits for a slow or dead OTLP backend, per signal
MIRROR_CLOSE_SECONDS = 1.0


@dataclass(slots=True)
class RunState:
    """Per-run bookkeeping shared by the run's scopes."""

    project: str
    run_name: str
    run_ref: str
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: set[str] = field(default_factory=set)
    span: Span | None = None
    _counter: Any = field(default_factory=lambda: itertools.count(1))

    def next_record_ref(self) -> str:
        return f"record:{self.project}.{self.run_name}.r{next(self._counter):08d}"


class CaptureSession:
    def __init__(
        self,
        config: UnifiedConfig,
        store: SQLiteStore,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: ApiMeterProvider | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.environ = os.environ if environ is None else environ
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.processor = WorkspaceSpanProcessor(store)
        self.mirror_stats = MirrorStats()
        self.settings = resolve_otlp(config.capture, self.environ)
        self._own_tracer = tracer_provider is None
        self._mirror: MirrorSpanProcessor | None = None
        resource = self._resource()
        if tracer_provider is None:
            limit = None if "OTEL_SPAN_EVENT_COUNT_LIMIT" in self.environ else 4096
            tracer_provider = TracerProvider(
                resource=resource, span_limits=SpanLimits(max_events=limit), shutdown_on_exit=False
            )
            exporter = build_span_exporter(self.settings) if self.settings.enabled else None
            if exporter is not None:
                self._mirror = MirrorSpanProcessor(CountingSpanExporter(exporter, self.mirror_stats))
                tracer_provider.add_span_processor(self._mirror)
        tracer_provider.add_span_processor(self.processor)
        self.tracer_provider = tracer_provider
        self.tracer = tracer_provider.get_tracer("contexta", __version__)
        self._own_meter = meter_provider is None
        readers: list[PeriodicExportingMetricReader] = []
        if meter_provider is None:
            metric_exporter = build_metric_exporter(self.settings) if self.settings.enabled else None
            if metric_exporter is not None:
                interval = float(self.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "10000"))
                readers.append(
                    PeriodicExportingMetricReader(
                        CountingMetricExporter(metric_exporter, self.mirror_stats),
                        export_interval_millis=interval,
                    )
                )
            meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
        self.meter_provider = meter_provider
        self.meter = meter_provider.get_meter("contexta", __version__)
        self._gauges: dict[str, Any] = {}
        # Gauge values are queued by the hot path and set on the instruments by the committer
        # thread (_set_gauges): Gauge.set costs 4-12 us in the SDK (measurement, attribute
        # cleaning, exemplar sampling, aggregation), a deque append under 0.1 us. Our own
        # MeterProvider without a reader exports nothing, so nothing is queued then.
        self.gauges_wanted = not (self._own_meter and not readers)
        self.gauge_points: deque[tuple[str, str | None, float, dict[str, str]]] = deque()
        self.runs: dict[str, RunState] = {}
        self.dropped_counts: Counter[str] = Counter()
        self._warned: set[str] = set()
        self._last_beat = 0.0
        self._packages: dict[str, str] | None = None
        self._closed = False
        self.sinks: list[Any] = [LocalJsonlSink(self._workspace_path(), store)]
        store.db.add_flush_hook(self._heartbeat)
        store.db.add_flush_hook(self._set_gauges)

    def _workspace_path(self) -> Any:
        return self.store.path.parent

    def _resource(self) -> Resource:
        # OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME are read from ``self.environ`` as the SDK's
        # OTELResourceDetector reads them from os.environ (which ignores an ``environ=`` argument)
        attributes: dict[str, Any] = {}
        for item in self.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
            key, sep, value = item.partition("=")
            if sep and key.strip():
                attributes[key.strip()] = unquote(value.strip())
        name = (
            self.config.capture.service_name
            or self.environ.get("OTEL_SERVICE_NAME")
            or attributes.get("service.name")
            or self.config.project_name
            or "contexta"
        )
        attributes["service.name"] = name
        return Resource.create(attributes)

    # -- scopes ----------------------------------------------------------------------------------
    def run(
        self,
        name: str,
        dataset_refs: tuple[str, ...],
        params: Mapping[str, Any] | None,
        tags: Mapping[str, str] | None,
    ) -> RunScope:
        project = self.config.project_name
        if not project:
            raise ValidationError.for_field("project_name", "must be configured to capture runs", project)
        check_component(project, "project_name")
        run_name = slugify(name, "run name")
        run_ref = make_ref("run", project, run_name)
        if run_ref in self.runs or self.store.get(Run, run_ref) is not None:
            raise ConflictError(run_ref, "a run with this name exists in the workspace; choose another name")
        for index, dataset in enumerate(dataset_refs):
            parse_ref(dataset, f"dataset_refs[{index}]", "dataset")
        state = RunState(
            project, run_name, run_ref, dict(params or {}), {k: str(v) for k, v in (tags or {}).items()}
        )
        attrs: dict[str, Any] = {
            sc.ENTITY_KIND: "run",
            sc.PROJECT: project,
            sc.RUN_REF: run_ref,
            sc.RUN_NAME: run_name,
            sc.STATUS: "open",
        }
        if dataset_refs:
            attrs[sc.DATASET_REFS] = tuple(dataset_refs)
        if state.params:
            attrs[sc.RUN_PARAMS] = json.dumps(state.params, sort_keys=True, default=str)
        if state.tags:
            attrs[sc.RUN_TAGS] = json.dumps(state.tags, sort_keys=True)
        return RunScope(self, state, run_ref, run_name, Scope(project, run_ref), attrs, None)

    def child(self, parent: CaptureScope, cls: type[Any], name: str) -> Any:
        component = parent._child_name(name, cls.kind)
        order = parent._next_order()
        scope = parent._scope
        body = parent.ref.split(":", 1)[1]
        ref = f"{cls.kind}:{body}.{component}"
        attrs: dict[str, Any] = {
            sc.ENTITY_KIND: cls.kind,
            sc.PROJECT: scope.project,
            sc.RUN_REF: scope.run_ref,
            sc.ORDER_INDEX: order,
            sc.STATUS: "open",
        }
        if cls.kind == "stage":
            attrs[sc.STAGE_REF] = ref
            child_scope = Scope(scope.project, scope.run_ref, ref)
        elif cls.kind == "batch":
            attrs.update({sc.STAGE_REF: scope.stage_ref, sc.BATCH_REF: ref})
            child_scope = Scope(scope.project, scope.run_ref, scope.stage_ref, ref)
        else:
            attrs.update({sc.STAGE_REF: scope.stage_ref, sc.SAMPLE_REF: ref})
            if scope.batch_ref:
                attrs[sc.BATCH_REF] = scope.batch_ref
            child_scope = Scope(scope.project, scope.run_ref, scope.stage_ref, scope.batch_ref, ref)
        attrs[{"stage": sc.STAGE_NAME, "batch": sc.BATCH_NAME, "sample": sc.SAMPLE_NAME}[cls.kind]] = (
            component
        )
        return cls(self, parent._state, ref, component, child_scope, attrs, parent._span)

    # -- spans -----------------------------------------------------------------------------------
    def start_span(self, scope: CaptureScope, parent_ctx: Any) -> Span:
        span = self.tracer.start_span(
            f"{scope.kind} {scope.name}", context=parent_ctx, attributes=scope._attributes
        )
        scope._start_ns = time.time_ns()  # type: ignore[attr-defined]
        if span.is_recording():
            self.processor.mark_live(span.get_span_context().span_id)
        else:  # SDK disabled or sampled out: the workspace still gets the entity
            self.processor.submit_span(self._fallback(scope, finished=False))
        if isinstance(scope, RunScope):
            self._run_started(scope, span)
        return span

    def end_span(self, scope: CaptureScope) -> None:
        span = scope._span
        recording = span.is_recording()  # False for every span once it has ended
        span.end()
        if not recording:
            self.processor.submit_span(self._fallback(scope, finished=True))

    def _fallback(self, scope: CaptureScope, finished: bool) -> SpanData:
        attrs = dict(scope._attributes)
        attrs[sc.STATUS] = scope.status
        return SpanData(
            "",
            "",
            None,
            f"{scope.kind} {scope.name}",
            "internal",
            scope._start_ns,  # type: ignore[attr-defined]
            time.time_ns() if finished else None,
            "error" if scope.status == "failed" else "unset",
            None,
            attrs,
        )

    def _run_started(self, scope: RunScope, span: Span) -> None:
        state = scope._state
        state.span = span
        self.runs[state.run_ref] = state
        capture = self.config.capture
        if not capture.capture_environment:
            return
        try:
            if self._packages is None:
                self._packages = installed_distributions()
            now = time.time_ns()
            snapshot = capture_environment(
                state.run_ref, capture.env_var_allowlist, self.environ, captured_at=from_micros(now // 1000)
            )
            attrs: dict[str, Any] = {
                sc.ENVIRONMENT_PYTHON_VERSION: snapshot.python_version or "",
                sc.ENVIRONMENT_PLATFORM: snapshot.platform or "",
                sc.ENVIRONMENT_PACKAGES: _dumps(snapshot.packages),
                sc.ENVIRONMENT_ENV_VARS: _dumps(snapshot.env_vars),
            }
            if snapshot.git_commit:
                attrs[sc.ENVIRONMENT_GIT_COMMIT] = snapshot.git_commit
            if snapshot.git_dirty is not None:
                attrs[sc.ENVIRONMENT_GIT_DIRTY] = snapshot.git_dirty
            from contexta.exporters.mapping import event_item

            item = event_item(scope._scope, EventData(sc.EVENT_ENVIRONMENT, now, attrs))
            span.add_event(sc.EVENT_ENVIRONMENT, attrs, now)
            self.submit_item(item)
        except Exception as exc:
            self.dropped("environment", exc)

    def run_finished(self, scope: RunScope) -> None:
        self.runs.pop(scope.ref, None)
        try:
            self.store.flush()
            for sink in self.sinks:
                sink.export_run(scope.ref)
        except Exception as exc:  # the run's data is in the workspace; a sink failing must not raise
            self.dropped("sink", exc)

    # -- writes ----------------------------------------------------------------------------------
    def submit_record(self, fields: RecordFields) -> None:
        self.processor.submit_record(fields)

    def submit_item(self, item: Any) -> None:
        from contexta.store.codec import record_fields

        if hasattr(item, "envelope"):
            self.processor.submit(Writes(records=[record_fields(item)]))
        elif item is not None:
            self.processor.submit(Writes(entities=[item]))

    def gauge(self, key: str, unit: str | None) -> Any:
        gauge = self._gauges.get(key)
        if gauge is None:
            gauge = self.meter.create_gauge(
                sc.METRIC_NAME_PREFIX + key, unit=unit or "1", description=f"contexta metric {key}"
            )
            self._gauges[key] = gauge
        return gauge

    def _set_gauges(self) -> None:
        """Set the queued gauge values (committer thread, every ``commit_interval / 2`` and on flush).

        Only the last value per (key, scope) is set, and in the order of those last writes, so
        the instrument ends with the value it would have had (a stage and its batch share point
        attributes: whichever wrote last wins). The queued tuples keep each point dict alive,
        so ``id(point)`` is unique within one drain."""
        points = self.gauge_points
        if not points:
            return
        last: dict[tuple[str, int], tuple[str | None, float, dict[str, str]]] = {}
        for _ in range(len(points)):
            key, unit, value, point = points.popleft()
            series = (key, id(point))
            last.pop(series, None)  # re-insert: dict order = order of last writes
            last[series] = (unit, value, point)
        for (key, _id), (unit, value, point) in last.items():
            try:
                self.gauge(key, unit).set(value, point)
            except Exception as exc:  # a metrics failure never stops the committer
                self.dropped("gauge", exc)

    def dropped(self, what: str, exc: BaseException) -> None:
        self.dropped_counts[what] += 1
        if what not in self._warned:
            self._warned.add(what)
            log.warning(
                "contexta: %s not recorded: %s (later ones are counted in telemetry_stats())", what, exc
            )

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if not self.runs or now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        seen = from_micros(time.time_ns() // 1000)
        for run_ref in list(self.runs):
            self.store.touch_run(run_ref, seen, self.owner)

    def stats(self) -> dict[str, Any]:
        local = self.processor.stats
        return {
            "local": {
                "spans_written": local.spans_written,
                "items_rejected": local.items_rejected,
                "failures": local.failures,
            },
            "mirror": {
                "enabled": self._mirror is not None,
                **{k: getattr(self.mirror_stats, k) for k in self.mirror_stats.__dataclass_fields__},
            },
            "dropped": dict(self.dropped_counts),
        }

    def close(self) -> None:
        """Flush the local exporter, then give the OTLP mirror a bounded chance to deliver: at most
        ``MIRROR_CLOSE_SECONDS`` for spans and the same again for metrics. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.processor.force_flush()
        if self._mirror is not None:
            self._mirror.shutdown(timeout_millis=int(MIRROR_CLOSE_SECONDS * 1000))
        if self._own_meter:
            try:
                self.meter_provider.shutdown(timeout_millis=MIRROR_CLOSE_SECONDS * 1000)  # type: ignore[attr-defined]
            except Exception as exc:
                self.dropped("metrics shutdown", exc)
        # flush and stop: an injected provider outlives this session and must not queue spans into it
        self.processor.shutdown()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
