"""The SQLite connection: WAL, grouped commits, retries on a busy database, migrations.

One :class:`SQLiteDatabase` per store object holds one connection behind a lock. Writes join
an open ``BEGIN IMMEDIATE`` transaction that is committed at the latest ``commit_interval``
seconds after its first write (by the writer itself or by a background committer thread),
when it has ``max_pending`` writes, on :meth:`flush`, on :meth:`close` and at interpreter
exit. With ``synchronous=NORMAL`` in WAL mode a commit survives a killed process; a process
killed with SIGKILL loses at most the writes of the last ``commit_interval`` (0.2 s).
Other processes that write the same workspace wait for the lock inside SQLite's busy handler
and then in :meth:`_begin`'s back-off loop, so "database is locked" never reaches the user.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contexta.errors import SchemaError, StoreError
from contexta.store.migrations import BOOKKEEPING, LATEST_VERSION, MIGRATIONS

log = logging.getLogger("contexta.store")

_LOCK_WAIT_SECONDS = 120.0


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteDatabase:
    """A workspace database file with grouped commits."""

    def __init__(self, path: Path, *, commit_interval: float = 0.2, max_pending: int = 20_000) -> None:
        self.path = path
        self.commit_interval = commit_interval
        self.max_pending = max_pending
        self.lock = threading.RLock()
        self._pending = 0
        self._tx_started = 0.0
        self._in_write = False
        self._closed = False
        self._flush_hooks: list[Any] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=OFF")
            self._migrate()
        except (sqlite3.DatabaseError, StoreError) as exc:
            self._abandon()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open workspace database {path}: {exc}") from exc
        self._stop = threading.Event()
        self._committer = threading.Thread(target=self._commit_loop, name="contexta-committer", daemon=True)
        self._committer.start()
        _OPEN.add(self)

    def _abandon(self) -> None:
        """Roll back and close after a failed open, so a refused workspace stays unlocked."""
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
        except (sqlite3.Error, AttributeError):
            pass
        self._in_write = False

    # -- migrations ---------------------------------------------------------------------------
    def _current_version(self) -> int:
        """The applied schema version, read without taking the write lock (0: a new file)."""
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        return int(self.conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])

    def _migrate(self) -> None:
        current = self._current_version()
        if current > LATEST_VERSION:
            raise SchemaError(
                f"workspace {self.path} has schema version {current}; this contexta knows up to "
                f"{LATEST_VERSION}: upgrade contexta"
            )
        if current == LATEST_VERSION:  # the usual case: readers never queue behind a writer here
            return
        with self.write() as conn:
            conn.execute(BOOKKEEPING)
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            if current > LATEST_VERSION:
                raise SchemaError(
                    f"workspace {self.path} has schema version {current}; this contexta knows up to "
                    f"{LATEST_VERSION}: upgrade contexta"
                )
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, datetime.now(UTC).isoformat()),
                )
        self.commit()

    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    # -- transactions -------------------------------------------------------------------------
    def _begin(self) -> None:
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        delay = 0.005
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise StoreError(f"cannot lock workspace {self.path} for writing: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Join (or open) the grouped write transaction; commit when it is due."""
        with self.lock:
            self._check_open()
            if not self._in_write:
                if self.conn.in_transaction:  # a read transaction is open: end it first
                    self.conn.execute("COMMIT")
                self._begin()
                self._in_write = True
                self._tx_started = time.monotonic()
            try:
                yield self.conn
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace write failed: {exc}") from exc
            self._pending += 1
            if (
                self._pending >= self.max_pending
                or time.monotonic() - self._tx_started >= self.commit_interval
            ):
                self.commit()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read: inside the open write transaction, or in a short read transaction."""
        with self.lock:
            self._check_open()
            own = not self.conn.in_transaction
            if own:
                self.conn.execute("BEGIN")
            try:
                yield self.conn
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"workspace read failed: {exc}") from exc
            finally:
                if own and self.conn.in_transaction and not self._in_write:
                    self.conn.execute("COMMIT")

    def commit(self) -> None:
        """Commit the grouped transaction, if one is open."""
        with self.lock:
            if self._in_write:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"workspace commit failed: {exc}") from exc
                finally:
                    self._in_write = False
                    self._pending = 0

    def add_flush_hook(self, hook: Any) -> None:
        """``hook()`` runs (under the lock) before every flush, e.g. to drain a capture queue."""
        self._flush_hooks.append(hook)

    def flush(self) -> None:
        """Write everything queued and commit it."""
        with self.lock:
            if self._closed:
                return
            for hook in self._flush_hooks:
                hook()
            self.commit()

    def _commit_loop(self) -> None:
        while not self._stop.wait(self.commit_interval / 2):
            try:
                with self.lock:
                    if self._closed:
                        return
                    for hook in self._flush_hooks:
                        hook()
                    if self._in_write and time.monotonic() - self._tx_started >= self.commit_interval:
                        self.commit()
            except Exception:  # the committer must never die; the next round retries
                log.exception("contexta: background commit failed; will retry")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"workspace {self.path} is closed")

    def close(self) -> None:
        """Flush, stop the committer and close the connection. Idempotent."""
        with self.lock:
            if self._closed:
                return
            self.flush()
            self._closed = True
            self._stop.set()
            self.conn.close()
        _OPEN.discard(self)


_OPEN: weakref.WeakSet[SQLiteDatabase] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # a script that never calls close() still keeps its last writes
    for database in list(_OPEN):
        try:
            database.close()
        except Exception:
            log.exception("contexta: closing %s at exit failed", database.path)
