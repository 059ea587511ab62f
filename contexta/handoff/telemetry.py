"""Handoff decisions as OpenTelemetry spans: one span per decision, one event per check.

The span is started on ``ctx.capture.tracer`` in a trace of its own, linked to the span of the
run it is about, so a tracing backend shows the gate next to the run. It carries no
``contexta.entity.kind``: the local exporter ignores it (the workspace already holds the
decision in its own table) and the OTLP mirror, when configured, delivers it.
Telemetry never fails a decision: an error here is logged once and swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Link

from contexta.contract import Run
from contexta.semconv import attributes as sc

log = logging.getLogger("contexta.handoff")

GATE_EVALUATION_REF = "contexta.gate.evaluation_ref"
GATE_POLICY_ID = "contexta.gate.policy.id"
GATE_POLICY_VERSION = "contexta.gate.policy.version"
GATE_POLICY_HASH = "contexta.gate.policy.hash"
GATE_PASSED = "contexta.gate.passed"
GATE_ENVIRONMENT = "contexta.gate.environment"
GATE_BASELINE_RUN_REF = "contexta.gate.baseline.run_ref"
GATE_EVALUATOR = "contexta.gate.evaluator"
GATE_CHECK_EVENT = "contexta.gate.check"
GATE_CHECK_NAME = "contexta.gate.check.name"
GATE_CHECK_PASSED = "contexta.gate.check.passed"
GATE_CHECK_DETAIL = "contexta.gate.check.detail"
GATE_CHECK_EVIDENCE = "contexta.gate.check.evidence_refs"
MODEL_REF = "contexta.model.ref"
MODEL_STAGE_FROM = "contexta.model.stage.from"
MODEL_STAGE_TO = "contexta.model.stage.to"
MODEL_OVERRIDE = "contexta.model.override"
APPROVAL_REF = "contexta.approval.ref"
APPROVAL_SUBJECT_REF = "contexta.approval.subject_ref"
APPROVAL_DECISION = "contexta.approval.decision"
ACTOR = "contexta.handoff.actor"
RUN_REF = sc.RUN_REF
PROJECT = sc.PROJECT

_warned = False


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values and turn sequences into tuples of strings (OTel attribute types)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        out[key] = tuple(str(item) for item in value) if isinstance(value, list | tuple) else value
    return out


def _run_link(ctx: Any, run_ref: str | None) -> list[Link]:
    if run_ref is None:
        return []
    from contexta.exporters.ids import span_context_for, stored_span_context

    run = ctx.store.get(Run, run_ref)
    context = (
        stored_span_context(run.trace_id, run.span_id) if run is not None else None
    ) or span_context_for(run_ref, run_ref)
    return [Link(context, {sc.LINK_KIND: "subject_run"})]


def emit(
    ctx: Any,
    name: str,
    attributes: Mapping[str, Any],
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    run_ref: str | None = None,
) -> None:
    """Start and end one span ``name`` with ``attributes`` and ``events``, linked to ``run_ref``'s span."""
    global _warned
    try:
        tracer = ctx.capture.tracer
        span = tracer.start_span(
            name, context=otel_context.Context(), attributes=_clean(attributes), links=_run_link(ctx, run_ref)
        )
        for event_name, event_attributes in events:
            span.add_event(event_name, _clean(event_attributes))
        span.end()
    except Exception as exc:  # a decision is stored already; telemetry must not undo it
        if not _warned:
            _warned = True
            log.warning("contexta: handoff span %r not emitted: %s (later failures are silent)", name, exc)
