"""The local exporter: an OpenTelemetry ``SpanProcessor`` that writes a Contexta workspace.

Plugged into a ``TracerProvider`` it turns every span carrying contexta attributes into
workspace rows: an ``open`` row when the span starts (so a run opened an hour ago is
queryable now) and the final row when it ends. Spans without contexta attributes that run
inside a stage (an HTTP call, a DB query) are kept as span records under that stage.

Nothing happens on the caller's thread except a cheap conversion and a queue append: the
store's committer thread maps and writes (within ``commit_interval``), and a failure there is
logged once and counted in :attr:`WorkspaceSpanProcessor.stats`, never raised.

Span events of the capture API's own spans are written live by the capture scopes (records
must be queryable before the span ends and survive a SIGKILL); the processor skips those
(``mark_live``) and converts the events of any other contexta span.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from contexta.exporters.mapping import Scope, Writes, map_span, scope_of
from contexta.exporters.spandata import SpanData, from_readable_span, hex_span_id
from contexta.semconv import attributes as sc
from contexta.store.codec import RecordFields
from contexta.store.sqlite_store import SQLiteStore

log = logging.getLogger("contexta.exporters")


@dataclass(slots=True)
class ExportStats:
    spans_written: int = 0
    items_rejected: int = 0
    failures: int = 0


class WorkspaceSpanProcessor(SpanProcessor):
    """Writes contexta spans (and plain spans under stages) into a workspace store."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.stats = ExportStats()
        self._queue: deque[tuple[SpanData, bool, bool] | Writes] = deque()
        # the capture API's metric rows, queued bare (no Writes wrapper per row: the hot path)
        self._records: deque[RecordFields] = deque()
        self._scopes: dict[str, Scope] = {}
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._warned = False
        self._closed = False
        store.db.add_flush_hook(self._drain)

    def mark_live(self, span_id: int) -> None:
        """The capture API writes this span's events itself; skip them on end."""
        self._live.add(hex_span_id(span_id))

    def submit(self, writes: Writes) -> None:
        """Queue ready-made rows (the capture API's records, artifacts, environment)."""
        self._queue.append(writes)

    def submit_record(self, fields: RecordFields) -> None:
        """Queue one capture-API record row (``stage.metric()``: the hot path, a bare deque append)."""
        self._records.append(fields)

    def submit_span(self, data: SpanData) -> None:
        """Queue a span that the SDK did not record (SDK disabled, or sampled out)."""
        self._queue.append((data, data.end_ns is not None, False))

    def scope_for(self, span_id: str) -> Scope | None:
        return self._scopes.get(span_id)

    # -- SpanProcessor ---------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._closed or not span.attributes or sc.ENTITY_KIND not in span.attributes:
            return
        try:
            data = from_readable_span(span, with_events=False)
            scope = scope_of(data.attributes)
            if scope is not None:
                self._scopes[data.span_id] = scope
            self._queue.append((data, False, False))
        except Exception as exc:  # never raise into the instrumented program
            self._failed(exc)

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed:
            return
        try:
            span_id = hex_span_id(span.get_span_context().span_id)
            live = span_id in self._live
            self._live.discard(span_id)
            # a live span's events were written by the capture API: do not convert them again
            # (a stage with 4096 metric events cost ~20 ms here on every exit)
            data = from_readable_span(span, with_events=not live)
            self._queue.append((data, True, not live))
        except Exception as exc:
            self._failed(exc)

    def shutdown(self) -> None:
        self.force_flush()
        self._closed = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            self.store.flush()
        except Exception as exc:
            self._failed(exc)
            return False
        return True

    # -- the committer side ----------------------------------------------------------------------
    def _drain(self) -> None:
        if not self._queue and not self._records:
            return
        # records first: the span a record names started before the record was submitted, so its
        # entity row is in the batch taken next and both are written by the same apply()
        rows = [self._records.popleft() for _ in range(len(self._records))]
        batch = [self._queue.popleft() for _ in range(len(self._queue))]
        projects, entities, records = [], [], []
        finished: list[str] = []
        for item in batch:
            if isinstance(item, Writes):
                writes = item
                done = False
            else:
                data, done, with_events = item
                writes = map_span(
                    data, finished=done, include_events=with_events, parent_scope=self._scopes.get
                )
            projects += writes.projects
            entities += writes.entities
            records += writes.records
            if writes.rejected:
                self.stats.items_rejected += writes.rejected
                log.warning(
                    "contexta: skipped %d invalid item(s): %s", writes.rejected, "; ".join(writes.problems)
                )
            if done and data.span_id:
                finished.append(data.span_id)
        records += rows
        try:
            self.store.apply(projects, entities, records)
        except BaseException:  # keep the spans and rows for the next round: delay, never drop
            self._queue.extendleft(reversed(batch))
            self._records.extendleft(reversed(rows))
            raise
        self.stats.spans_written += len(finished)
        for span_id in finished:  # a finished scope's children have all ended before it
            self._scopes.pop(span_id, None)

    def _failed(self, exc: BaseException) -> None:
        self.stats.failures += 1
        if not self._warned:
            self._warned = True
            log.warning("contexta: the local exporter failed (%s); later failures are only counted", exc)
