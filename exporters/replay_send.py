"""Replay, part 3: send a workspace's runs and deployments to an OTLP endpoint in bounded batches."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext

from contexta.config import CaptureConfig
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import ConfigError, NotFoundError, ValidationError
from contexta.exporters.otlp import (
    PROTOCOLS,
    OtlpSettings,
    build_metric_exporter,
    build_span_exporter,
    resolve_otlp,
)
from contexta.exporters.replay_events import ReplaySummary, to_ns
from contexta.exporters.replay_spans import Resources, build_deployment, build_metrics, build_run, count_items
from contexta.store.base import WorkspaceStore

log = logging.getLogger("contexta.exporters")

Progress = Callable[[int, int], None]


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
        resources = Resources(service_name or (capture.service_name if capture else None), env)

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
                sender.points(built.spans[0].resource, to_ns(bundle.run.started_at), built.points)
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
