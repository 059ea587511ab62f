"""Capture scopes: ``with ctx.run(...) as run``, ``run.stage``, ``stage.batch``, ``.sample``.

Each scope is one OpenTelemetry span carrying contexta attributes. Record methods add a
span event (for the OTLP mirror and the collector) and queue the same record for the local
workspace at once (queryable before the span ends, durable within 0.2 s). They never raise
into the training code: a bad value is logged once and counted (``ctx.telemetry_stats()``).
Leaving a scope by an exception marks it ``failed``, records the exception on the span and
re-raises it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from contexta.capture.artifacts import hash_path
from contexta.contract.refs import slugify
from contexta.errors import ConflictError, ValidationError
from contexta.exporters.mapping import Scope, event_item
from contexta.exporters.spandata import EventData
from contexta.semconv import attributes as sc
from contexta.store.codec import RecordFields

if TYPE_CHECKING:
    from contexta.capture.session import CaptureSession, RunState

_KEY_OK: set[str] = set()


def _valid_key(key: Any) -> bool:
    if key in _KEY_OK:
        return True
    from contexta.contract.records import _KEY

    if isinstance(key, str) and _KEY.fullmatch(key):
        _KEY_OK.add(key)
        return True
    return False


class CaptureScope:
    """Shared behaviour of run, stage, batch and sample scopes."""

    kind = "scope"

    def __init__(
        self,
        session: CaptureSession,
        state: RunState,
        ref: str,
        name: str,
        scope: Scope,
        attributes: dict[str, Any],
        parent: Span | None,
    ) -> None:
        self._session = session
        self._state = state
        self.ref = ref
        self.name = name
        self._scope = scope
        self._attributes = attributes
        self._parent = parent
        self._span: Span = trace.INVALID_SPAN
        self._token: object | None = None
        self._children: set[str] = set()
        self._child_count = 0
        self.status = "open"
        self._point = {
            sc.PROJECT: scope.project,
            sc.RUN_NAME: state.run_name,
            sc.STAGE_NAME: scope.stage_ref.rsplit(".", 1)[1] if scope.stage_ref else "",
        }

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Any:
        parent_ctx = trace.set_span_in_context(self._parent) if self._parent is not None else None
        self._span = self._session.start_span(self, parent_ctx)
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc is not None:
                self._fail(exc)
            else:
                self.status = "completed"
            self._span.set_attribute(sc.STATUS, self.status)
            self._session.end_span(self)
        finally:
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            self._after_exit()

    def _after_exit(self) -> None:
        return None

    def _fail(self, exc: BaseException) -> None:
        self.status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
        ref = self._state.next_record_ref()
        now = time.time_ns()
        self._span.record_exception(exc, attributes={sc.RECORD_REF: ref}, timestamp=now)
        self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        attrs = {sc.RECORD_REF: ref, "exception.type": type(exc).__name__, "exception.message": str(exc)}
        self._session.submit_item(event_item(self._scope, EventData("exception", now, attrs)))

    def _child_name(self, name: Any, kind: str) -> str:
        component = slugify(name, f"{kind} name")
        if component in self._children:
            raise ConflictError(
                f"{kind}:{self.ref.split(':', 1)[1]}.{component}",  # the child's ref, not the parent's kind
                f"a {kind} named {component!r} already exists here",
            )
        self._children.add(component)
        return component

    def _next_order(self) -> int:
        self._child_count += 1
        return self._child_count - 1

    # -- records ---------------------------------------------------------------------------------
    def metric(self, key: str, value: float, step: int | None = None, unit: str | None = None) -> None:
        """Record one value of ``key`` (kept exactly in the workspace, and set on an OTel Gauge)."""
        try:
            if not _valid_key(key):
                raise ValidationError.for_field("metric key", "must be 1-200 of letters, digits, '_.-/'", key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValidationError.for_field(f"metric {key!r} value", "must be a finite number", value)
            if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
                raise ValidationError.for_field(f"metric {key!r} step", "must be a whole number >= 0", step)
            value = float(value)
            now = time.time_ns()
            ref = self._state.next_record_ref()
            attrs: dict[str, Any] = {sc.METRIC_KEY: key, sc.METRIC_VALUE: value, sc.RECORD_REF: ref}
            if step is not None:
                attrs[sc.METRIC_STEP] = step
            if unit:
                attrs[sc.METRIC_UNIT] = unit
            self._span.add_event(sc.EVENT_METRIC, attrs, now)
            session = self._session
            if session.gauges_wanted:  # the committer sets the Gauge (session._set_gauges)
                session.gauge_points.append((key, unit, value, self._point))
            scope = self._scope
            micros = now // 1000
            session.submit_record(
                RecordFields(
                    scope.run_ref,
                    ref.rsplit(".", 1)[1],
                    0,
                    scope.stage_ref,
                    scope.batch_ref,
                    scope.sample_ref,
                    micros,
                    micros,
                    key,
                    value,
                    step,
                    unit or None,
                    "contexta",
                    0,
                    None,
                )
            )
        except Exception as exc:  # the hot path never raises into training code
            self._session.dropped("metric", exc)

    def event(
        self, key: str, message: str = "", level: str = "info", attributes: dict[str, Any] | None = None
    ) -> None:
        """Record a structured event (a span event and a workspace record)."""
        self._emit(
            sc.EVENT_EVENT, {sc.EVENT_KEY: key, sc.EVENT_LEVEL: level, sc.EVENT_MESSAGE: message}, attributes
        )

    def degraded(
        self,
        issue_key: str,
        summary: str,
        category: str = "data",
        severity: str = "warning",
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Record that something went wrong without failing (``diagnose_run`` reports it)."""
        self._emit(
            sc.EVENT_DEGRADED,
            {
                sc.DEGRADED_ISSUE_KEY: issue_key,
                sc.DEGRADED_SUMMARY: summary,
                sc.DEGRADED_CATEGORY: category,
                sc.DEGRADED_SEVERITY: severity,
            },
            attributes,
        )

    def _emit(self, name: str, attrs: dict[str, Any], extra: dict[str, Any] | None) -> None:
        try:
            attrs[sc.RECORD_REF] = self._state.next_record_ref()
            if extra:
                attrs[sc.RECORD_ATTRIBUTES] = json.dumps(extra, sort_keys=True, default=str)
            now = time.time_ns()
            item = event_item(self._scope, EventData(name, now, attrs))  # validates
            self._span.add_event(name, attrs, now)
            self._session.submit_item(item)
        except Exception as exc:
            self._session.dropped(name, exc)

    def register_artifact(self, kind: str, path: str | Path, attributes: dict[str, Any] | None = None) -> str:
        """Hash and record a file or folder this run produced; returns the artifact ref."""
        target = Path(path)
        if not target.exists():
            raise ValidationError.for_field("path", "must exist", str(path))
        key = slugify(f"{kind}-{target.stem}", "artifact key")
        artifact_ref = f"artifact:{self._scope.run_ref[4:]}.{key}"
        if artifact_ref in self._state.artifacts:
            raise ConflictError(
                artifact_ref, "this run already registered an artifact with that kind and name"
            )
        digest, size = hash_path(target)
        attrs: dict[str, Any] = {
            sc.ARTIFACT_REF: artifact_ref,
            sc.ARTIFACT_KIND: slugify(kind, "artifact kind"),
            sc.ARTIFACT_URI: target.resolve().as_uri(),
            sc.ARTIFACT_SHA256: digest,
            sc.ARTIFACT_SIZE_BYTES: size,
        }
        if attributes:
            attrs[sc.RECORD_ATTRIBUTES] = json.dumps(attributes, sort_keys=True, default=str)
        now = time.time_ns()
        item = event_item(self._scope, EventData(sc.EVENT_ARTIFACT, now, attrs))
        self._state.artifacts.add(artifact_ref)
        self._span.add_event(sc.EVENT_ARTIFACT, attrs, now)
        self._session.submit_item(item)
        return artifact_ref

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ref} {self.status}>"


class SampleScope(CaptureScope):
    kind = "sample"


class BatchScope(CaptureScope):
    kind = "batch"

    def sample(self, name: str) -> SampleScope:
        return self._session.child(self, SampleScope, name)


class StageScope(CaptureScope):
    kind = "stage"

    def batch(self, name: str) -> BatchScope:
        return self._session.child(self, BatchScope, name)

    def sample(self, name: str) -> SampleScope:
        return self._session.child(self, SampleScope, name)


class RunScope(CaptureScope):
    kind = "run"

    def stage(self, name: str) -> StageScope:
        return self._session.child(self, StageScope, name)

    def params(self, **values: Any) -> None:
        """Add parameters to the run (kept on the run span and the run row)."""
        self._state.params.update(values)
        self._span.set_attribute(sc.RUN_PARAMS, json.dumps(self._state.params, sort_keys=True, default=str))

    def tags(self, **values: str) -> None:
        """Add tags to the run."""
        self._state.tags.update({key: str(value) for key, value in values.items()})
        self._span.set_attribute(sc.RUN_TAGS, json.dumps(self._state.tags, sort_keys=True))

    def _after_exit(self) -> None:
        self._session.run_finished(self)
