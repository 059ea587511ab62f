"""Deterministic OpenTelemetry ids derived from refs (replay, links to runs of other processes).

The same ref always gives the same id, so replaying a workspace twice, or after an outage,
sends the same trace and span ids, and a backend deduplicates or overwrites instead of
showing two copies. Ids are never zero (zero is invalid in OTel).
"""

from __future__ import annotations

import hashlib

from opentelemetry.trace import SpanContext, TraceFlags


def _digest(kind: str, ref: str) -> bytes:
    return hashlib.sha256(f"contexta:{kind}:{ref}".encode()).digest()


def trace_id_for(run_or_deployment_ref: str) -> int:
    """A trace per run (and per deployment): 128 bits of the ref's digest."""
    return int.from_bytes(_digest("trace", run_or_deployment_ref)[:16], "big") or 1


def span_id_for(ref: str) -> int:
    """A span per entity or record ref: 64 bits of the ref's digest."""
    return int.from_bytes(_digest("span", ref)[:8], "big") or 1


def span_context_for(trace_ref: str, span_ref: str) -> SpanContext:
    return SpanContext(
        trace_id_for(trace_ref),
        span_id_for(span_ref),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def stored_span_context(trace_id: str | None, span_id: str | None) -> SpanContext | None:
    """The span context recorded on a stored entity, if it has one."""
    if not trace_id or not span_id:
        return None
    return SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
