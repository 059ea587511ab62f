"""The collector's sink: decoded OTLP requests -> workspace rows, durably, in any order.

- Spans with contexta attributes map through :func:`contexta.exporters.mapping.map_span`, the
  same function the in-process local exporter uses, so both fill a workspace identically.
- Plain spans (HTTP, DB...) are kept as span records under the stage they ran in. Children
  often arrive before their parents, so every scope-bearing span is indexed (``span_index``)
  and a plain span whose ancestry is not known yet waits in ``pending_spans`` until it is;
  pending spans whose ancestry never shows up are dropped after ``pending_ttl`` (24 h).
- Metric points and log records become records only when they name their run
  (``contexta.run.ref``); the SDK's own gauge points do not (their exact values travel as
  ``contexta.metric`` span events), so they are acknowledged and not stored twice.
- ``consume`` returns only after the transaction committed; replays of a request change
  nothing (entities upsert, records keep their first write, indexes ignore duplicates).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from google.protobuf.message import Message

from contexta.collector.convert import iter_spans
from contexta.collector.loose import log_records, metric_records
from contexta.collector.sink import PartialResult, Signal
from contexta.contract import BatchExecution, SampleObservation, StageExecution
from contexta.exporters.mapping import Scope, Writes, map_span_into, plain_span_fields
from contexta.exporters.spandata import EventData, LinkData, SpanData
from contexta.semconv import attributes as sc
from contexta.store.sqlite_store import SQLiteStore

PENDING_TTL_SECONDS = 24 * 3600
CHECKPOINT_SECONDS = 0.25
CACHE_KIB = 32_000  # the page cache of a shared sink's connection
MMAP_BYTES = 1 << 30  # ... and how much of the database file it reads through a memory map

logger = logging.getLogger(__name__)


_OWN_REF: dict[type[Any], str] = {
    StageExecution: "stage_execution_ref",
    BatchExecution: "batch_execution_ref",
    SampleObservation: "sample_observation_ref",
}
_INDEX_INSERT = "INSERT INTO span_index (span_id, scope_id) VALUES (?, ?) ON CONFLICT (span_id) DO NOTHING"


def _deepest(scope: Scope) -> str:
    """The one ref a scope is named by: its sample, batch, stage or run."""
    return scope.sample_ref or scope.batch_ref or scope.stage_ref or scope.run_ref


def _scope_from(ref: str) -> Scope:
    """Inverse of :func:`_deepest`: every enclosing ref is a prefix of the deepest one."""
    kind, body = ref.split(":", 1)
    parts = body.split(".")
    run = f"run:{parts[0]}.{parts[1]}"
    stage = f"stage:{'.'.join(parts[:3])}" if len(parts) >= 3 else None
    batch = (
        f"batch:{'.'.join(parts[:4])}" if kind == "batch" or (kind == "sample" and len(parts) == 5) else None
    )
    return Scope(parts[0], run, stage, batch, ref if kind == "sample" else None)


def _span_key(span_id: str) -> int:
    """A 64-bit span id as SQLite's signed INTEGER (the span_index key: one small B-tree)."""
    value = int(span_id, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _span_json(span: SpanData) -> str:
    return json.dumps(asdict(span), default=list)


def _span_from(text: str) -> SpanData:
    data = json.loads(text)
    data["events"] = tuple(EventData(**event) for event in data["events"])
    data["links"] = tuple(LinkData(**link) for link in data["links"])
    return SpanData(**data)


@dataclass(slots=True)
class _Prepared:
    """A trace request mapped outside the lock: contexta scopes, plain spans attached to them
    within the request, and plain spans whose ancestry must be looked up (or waited for)."""

    known: dict[str, Scope]
    attached: dict[str, Scope]
    waiting: list[SpanData]
    index: list[tuple[int, str]]  # span_index rows of known and attached: (span key, deepest ref)


class _Shared:
    """What a sink does differently when several collector processes write one workspace.

    - **Turns.** One request at a time per process, from decoding to commit. A second thread
      mapping its request while this one runs its SQL would take the GIL at every SQLite call
      (each call releases it), and the writer would wait up to the 5 ms switch interval to get it
      back after each statement - holding the lock every process needs all that time.
    - **The writer lock.** An exclusive ``flock`` on ``<database>-collector.lock`` around each
      request's write transaction and commit. SQLite alone would serialise the processes too, but
      a writer that finds the database locked polls, sleeping 1, 2, 5, 10, 15, 20, 25... ms between
      tries, so the lock would often sit unused while the next writer sleeps; a process blocked in
      ``flock`` wakes as soon as it is released. The kernel drops the lock of a process that dies.
    - **Checkpoints in the background.** The WAL is copied into the database by a thread of each
      process with its own connection (``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval``
      seconds: it never blocks writers), so no request holds the writer lock through a checkpoint
      and its fsyncs. The commit's own automatic checkpoint stays as a fallback, at 10,000 pages.
    - **A cold cache, read cheaply.** A connection drops its page cache whenever another process
      committed, so with several writers every transaction starts cold: the database file is read
      through a memory map (no read() per page), and a 32 MB page cache keeps a request's dirty
      pages in memory until its commit (SQLite's default 2 MB spills them to the WAL mid-request).
    """

    def __init__(self, store: SQLiteStore, interval: float = CHECKPOINT_SECONDS) -> None:
        import fcntl  # POSIX only, as is running several processes (os.fork)

        self._flock = fcntl.flock
        self._exclusive, self._unlock = fcntl.LOCK_EX, fcntl.LOCK_UN
        self.turn = threading.Lock()
        self._fd = os.open(f"{store.path}-collector.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        with store.db.lock:
            conn = store.db.conn
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        self._checkpoints = sqlite3.connect(
            str(store.path), timeout=0.0, isolation_level=None, check_same_thread=False
        )
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._checkpoint, name="contexta-checkpoint", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        self._flock(self._fd, self._exclusive)
        try:
            yield
        finally:
            self._flock(self._fd, self._unlock)

    def _checkpoint(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # busy (another process checkpoints), or closing: next round
                logger.debug("background checkpoint skipped", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._checkpoints.close()
        os.close(self._fd)


class WorkspaceSink:
    """An :class:`~contexta.collector.sink.OtlpSink` that writes a workspace store."""

    def __init__(
        self, store: SQLiteStore, *, pending_ttl: float = PENDING_TTL_SECONDS, shared: bool = False
    ) -> None:
        """``shared=True``: other collector processes write the same workspace (``contexta
        collector --workers N``); see :class:`_Shared`."""
        self.store = store
        self.pending_ttl = pending_ttl
        self._requests = 0
        with store.db.lock:
            # Each request runs inside a savepoint (below), so SQLite copies every page it changes
            # into a statement journal, which it spills to a temporary file (a write() per page)
            # past 64 KiB: kept in memory, that costs a quarter of the request's SQL less.
            store.db.conn.execute("PRAGMA temp_store=MEMORY")
        self._shared = _Shared(store) if shared else None

    def close(self) -> None:
        """Commit what is pending and close the store (the server calls this for sinks it opened)."""
        try:
            if self._shared is not None:
                self._shared.close()
        finally:
            self.store.close()

    def consume(self, signal: Signal, request: Message) -> PartialResult:
        writes = Writes()
        ignored = 0
        # Decoding and mapping need no database: they run before taking the write lock, so one
        # request is converted while another one's SQL and commit run (SQLite releases the GIL).
        shared = self._shared
        with shared.turn if shared else contextlib.nullcontext():
            prepared = None
            if signal == "traces":
                prepared = self._prepare(request, writes)
            else:
                ignored = self._loose(signal, request, writes)
            with shared.writer() if shared else contextlib.nullcontext():
                self._store(prepared, writes)
                self.store.db.commit()  # acknowledged only once durable
        message = "; ".join(writes.problems[:5])
        if ignored:
            message = (
                message + "; " if message else ""
            ) + f"{ignored} item(s) without contexta.run.ref not stored"
        return PartialResult(writes.rejected, message)

    def _store(self, prepared: _Prepared | None, writes: Writes) -> None:
        with self.store.db.write() as conn:
            # One request is all or nothing: the grouped transaction may hold other requests'
            # writes, so a failure rolls back to this savepoint instead of leaving half a request
            # for the next commit (the client gets a 503 and retries the whole request).
            conn.execute("SAVEPOINT collector_request")
            try:
                if prepared is not None:
                    self._traces(conn, prepared, writes)
                else:
                    self.store.apply_in(conn, writes.projects, writes.entities, writes.records)
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back everything itself (I/O error)
                    conn.execute("ROLLBACK TO collector_request")
                    conn.execute("RELEASE collector_request")
                self.store.interner.forget()  # ids interned by the rolled-back writes are gone
                raise
            conn.execute("RELEASE collector_request")

    # -- traces ----------------------------------------------------------------------------------
    def _prepare(self, request: Any, writes: Writes) -> _Prepared:
        """Everything that needs no database: map contexta spans, attach plain spans whose
        ancestry is in this request."""
        known: dict[str, Scope] = {}
        plain: list[SpanData] = []
        for span in iter_spans(request.resource_spans):
            if sc.ENTITY_KIND in span.attributes:
                scope = map_span_into(writes, span, finished=True, include_events=True)
                if scope is not None:
                    known[span.span_id] = scope
            elif span.parent_span_id:
                plain.append(span)
        local = dict(known)
        attached: dict[str, Scope] = {}
        waiting = plain
        progress = True
        while waiting and progress:
            progress = False
            still = []
            for span in waiting:
                scope = local.get(span.parent_span_id or "")
                if scope is None:
                    still.append(span)
                    continue
                progress = True
                local[span.span_id] = attached[span.span_id] = scope
                self._keep(span, scope, writes)
            waiting = still
        index = [(_span_key(span_id), _deepest(scope)) for span_id, scope in known.items()]
        index += [(_span_key(span_id), _deepest(scope)) for span_id, scope in attached.items()]
        return _Prepared(known, attached, waiting, index)

    def _traces(self, conn: sqlite3.Connection, prepared: _Prepared, writes: Writes) -> None:
        known, attached = prepared.known, prepared.attached
        self._intern(conn, writes.entities)
        self.store.apply_in(conn, writes.projects, writes.entities, [])
        interner = self.store.interner
        cached, ref_id = interner.ref_ids, interner.ref_id  # ids start at 1: a hit is truthy
        conn.executemany(
            _INDEX_INSERT, [(key, cached.get(ref) or ref_id(conn, ref)) for key, ref in prepared.index]
        )
        local = {**known, **attached}
        resolved = self._resolve(conn, prepared.waiting, local, writes)
        resolved.update(local)
        self._release_pending(conn, resolved, writes)
        self.store.apply_in(conn, [], [], writes.records)
        self._requests += 1
        if self._requests % 1000 == 0:
            conn.execute(
                "DELETE FROM pending_spans WHERE received_at < ?",
                (int((time.time() - self.pending_ttl) * 1e6),),
            )

    def _intern(self, conn: sqlite3.Connection, entities: list[Any]) -> None:
        """Intern the refs of the request's stages, batches and samples (each one's own ref, then
        its run's: the order the store would intern them in) with one statement per 500 new refs
        instead of one each; the store then finds them all in its interner's cache."""
        interner = self.store.interner
        cached = interner.ref_ids
        new: dict[str, None] = {}
        for entity in entities:
            own = _OWN_REF.get(type(entity))
            if own is not None:
                for ref in (getattr(entity, own), entity.run_ref):
                    if ref not in cached:
                        new[ref] = None
        refs = list(new)
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            rows = conn.execute(
                f"INSERT INTO refs (ref) VALUES {','.join(['(?)'] * len(chunk))}"
                " ON CONFLICT (ref) DO NOTHING RETURNING id, ref",
                chunk,
            ).fetchall()
            if len(rows) < len(chunk):  # some were interned already (by another process)
                inserted = {ref for _, ref in rows}
                old = [ref for ref in chunk if ref not in inserted]
                rows += conn.execute(
                    f"SELECT id, ref FROM refs WHERE ref IN ({','.join(['?'] * len(old))})", old
                ).fetchall()
            for ref_id, ref in rows:
                cached[ref] = ref_id
                interner.refs_by_id[ref_id] = ref

    def _index(self, conn: sqlite3.Connection, scopes: dict[str, Scope]) -> None:
        ids: dict[Scope, int] = {}
        rows = []
        ref_id = self.store.interner.ref_id
        for span_id, scope in scopes.items():
            scope_id = ids.get(scope)
            if scope_id is None:
                scope_id = ids[scope] = ref_id(conn, _deepest(scope))
            rows.append((_span_key(span_id), scope_id))
        conn.executemany(_INDEX_INSERT, rows)

    def _lookup(self, conn: sqlite3.Connection, span_id: str, local: dict[str, Scope]) -> Scope | None:
        if span_id in local:
            return local[span_id]
        row = conn.execute(
            "SELECT scope_id FROM span_index WHERE span_id = ?", (_span_key(span_id),)
        ).fetchone()
        return _scope_from(self.store.interner.ref_of(conn, row[0])) if row else None

    def _resolve(
        self, conn: sqlite3.Connection, plain: list[SpanData], known: dict[str, Scope], writes: Writes
    ) -> dict[str, Scope]:
        """Attach plain spans to their nearest contexta ancestor; park the rest as pending."""
        local = dict(known)
        resolved: dict[str, Scope] = {}
        waiting = list(plain)
        progress = True
        while waiting and progress:
            progress = False
            still = []
            for span in waiting:
                scope = self._lookup(conn, span.parent_span_id or "", local)
                if scope is None:
                    still.append(span)
                    continue
                progress = True
                local[span.span_id] = resolved[span.span_id] = scope
                self._keep(span, scope, writes)
            waiting = still
        now = int(time.time() * 1e6)
        conn.executemany(
            "INSERT INTO pending_spans (span_id, parent_span_id, received_at, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (span_id) DO NOTHING",
            [(span.span_id, span.parent_span_id, now, _span_json(span)) for span in waiting],
        )
        self._index(conn, resolved)
        return resolved

    def _release_pending(self, conn: sqlite3.Connection, resolved: dict[str, Scope], writes: Writes) -> None:
        frontier = dict(resolved)
        while frontier:
            parents = list(frontier)
            frontier = {}
            for start in range(0, len(parents), 500):
                chunk = parents[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT span_id, parent_span_id, body FROM pending_spans"
                    f" WHERE parent_span_id IN ({marks})",
                    chunk,
                ).fetchall()
                for span_id, parent_id, body in rows:
                    scope = resolved.get(parent_id) or self._lookup(conn, parent_id, resolved)
                    if scope is None:
                        continue
                    self._keep(_span_from(body), scope, writes)
                    frontier[span_id] = resolved[span_id] = scope
                    conn.execute("DELETE FROM pending_spans WHERE span_id = ?", (span_id,))
            self._index(conn, frontier)

    @staticmethod
    def _keep(span: SpanData, scope: Scope, writes: Writes) -> None:
        if scope.stage_ref is None:
            return
        try:
            writes.records.append(plain_span_fields(span, scope))
        except Exception as exc:  # invalid foreign data: report, don't fail the request
            writes.reject(f"span {span.name!r} ({span.span_id})", exc)

    # -- metrics and logs ------------------------------------------------------------------------
    def _loose(self, signal: Signal, request: Any, writes: Writes) -> int:
        convert = metric_records if signal == "metrics" else log_records
        return convert(request, writes)
