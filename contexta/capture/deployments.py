"""Deployments as spans: each in its own trace, linked to the span of the run it deploys."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode

from contexta.contract import TERMINAL_STATUSES, DeploymentExecution, Run
from contexta.contract._base import normalize_timestamp, to_micros
from contexta.contract.refs import check_component, make_ref, parse_ref, slugify
from contexta.errors import ConflictError, NotFoundError, ValidationError
from contexta.exporters.ids import span_context_for, stored_span_context
from contexta.semconv import attributes as sc

if TYPE_CHECKING:
    from contexta.capture.session import CaptureSession


class DeploymentScope:
    """``with ctx.deployment("prod-v2", run_ref=..., environment="prod") as dep:``."""

    def __init__(
        self, session: CaptureSession, ref: str, attributes: dict[str, Any], links: list[Link]
    ) -> None:
        self._session = session
        self.ref = ref
        self._attributes = attributes
        self._links = links
        self._span: Span | None = None
        self.status = "open"

    def start(self, start_ns: int | None = None) -> DeploymentScope:
        # a new trace: an empty context has no parent span
        self._span = self._session.tracer.start_span(
            f"deployment {self.ref.split('.', 1)[1]}",
            context=otel_context.Context(),
            attributes=self._attributes,
            links=self._links,
            start_time=start_ns,
        )
        return self

    def finish(self, status: str, end_ns: int | None = None, error: str | None = None) -> None:
        assert self._span is not None
        self.status = status
        self._span.set_attribute(sc.STATUS, status)
        if error:
            self._span.set_status(Status(StatusCode.ERROR, error))
        self._span.end(end_time=end_ns)
        self._session.store.flush()

    def __enter__(self) -> DeploymentScope:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and self._span is not None:
            self._span.record_exception(exc)
        self.finish(
            "failed" if exc is not None else "completed",
            error=f"{type(exc).__name__}: {exc}" if exc is not None else None,
        )

    def __repr__(self) -> str:
        return f"<DeploymentScope {self.ref} {self.status}>"


def _run_link(session: CaptureSession, run_ref: str) -> Link:
    state = session.runs.get(run_ref)
    context: SpanContext | None = state.span.get_span_context() if state and state.span else None
    if context is None or not context.is_valid:
        run = session.store.get(Run, run_ref)
        if run is None:
            raise NotFoundError(run_ref, "run")
        context = stored_span_context(run.trace_id, run.span_id) or span_context_for(run_ref, run_ref)
    return Link(context, {sc.LINK_KIND: "deployed_run"})


def open_deployment(
    session: CaptureSession, name: str, run_ref: str | None, environment: str | None, artifact_ref: str | None
) -> DeploymentScope:
    project = session.config.project_name
    if not project:
        raise ValidationError.for_field("project_name", "must be configured to record deployments", project)
    component = slugify(name, "deployment name")
    ref = make_ref("deployment", project, component)
    if session.store.get(DeploymentExecution, ref) is not None:
        raise ConflictError(ref, "a deployment with this name exists; choose another name")
    attrs: dict[str, Any] = {
        sc.ENTITY_KIND: "deployment",
        sc.PROJECT: project,
        sc.DEPLOYMENT_REF: ref,
        sc.DEPLOYMENT_NAME: component,
        sc.STATUS: "open",
        sc.ORDER_INDEX: len(session.store.list_deployments(make_ref("project", project))),
    }
    links = []
    if run_ref is not None:
        if parse_ref(run_ref, "run_ref", "run").project != project:
            raise ValidationError.for_field("run_ref", f"must belong to project {project!r}", run_ref)
        links.append(_run_link(session, run_ref))
        attrs[sc.RUN_REF] = run_ref
    if environment is not None:
        attrs[sc.DEPLOYMENT_ENVIRONMENT] = check_component(environment, "environment")
    if artifact_ref is not None:
        parse_ref(artifact_ref, "artifact_ref", "artifact")
        attrs[sc.DEPLOYMENT_ARTIFACT_REF] = artifact_ref
    return DeploymentScope(session, ref, attrs, links)


def _ns(value: Any, field: str) -> int:
    try:
        return to_micros(normalize_timestamp(value)) * 1000
    except ValueError as exc:
        raise ValidationError.for_field(field, str(exc), value) from None


def record_deployment(
    session: CaptureSession,
    name: str,
    *,
    run_ref: str | None,
    environment: str | None,
    artifact_ref: str | None,
    status: str,
    started_at: Any,
    ended_at: Any,
) -> str:
    """The one-call form: a deployment that already happened (or failed)."""
    if status not in TERMINAL_STATUSES:
        raise ValidationError.for_field("status", f"must be one of {sorted(TERMINAL_STATUSES)}", status)
    end_ns = _ns(ended_at, "ended_at") if ended_at is not None else time.time_ns()
    start_ns = _ns(started_at, "started_at") if started_at is not None else end_ns
    if end_ns < start_ns:
        raise ValidationError.for_field("ended_at", "must not be before started_at", ended_at)
    scope = open_deployment(session, name, run_ref, environment, artifact_ref).start(start_ns)
    scope.finish(status, end_ns, error="deployment failed" if status == "failed" else None)
    return scope.ref
