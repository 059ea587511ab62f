"""Record rows in SQLite: interning, idempotent appends, the queued capture path, reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from contexta.contract._base import from_micros
from contexta.contract.records import AnyRecord
from contexta.errors import ConflictError, ValidationError
from contexta.store.base import RecordView
from contexta.store.codec import RECORD_TYPES, RecordFields, record_columns, unpack_flags, view_details
from contexta.store.sqlite_db import SQLiteDatabase

_INSERT = (
    "INSERT INTO records (run_id, local_id, record_type, stage_id, batch_id, sample_id, observed_at,"
    " recorded_at, key_id, value, step, unit_id, producer_id, flags, extra)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, local_id) DO NOTHING"
)
_SELECT_ONE = (
    "SELECT run_id, local_id, record_type, stage_id, batch_id, sample_id, observed_at, recorded_at, key_id,"
    " value, step, unit_id, producer_id, flags, extra FROM records WHERE run_id = ? AND local_id = ?"
)
# RecordFields -> the record_columns tuple
_FIELDS = attrgetter(*RecordFields.__dataclass_fields__)

_SELECT_RUN = (
    "SELECT local_id, record_type, stage_id, batch_id, sample_id, observed_at, recorded_at, key_id,"
    " value, step, unit_id, producer_id, flags, extra FROM records WHERE run_id = ?"
)


class Interner:
    """Ids for refs and names; ids are never reused, so the caches stay valid across processes."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self.ref_ids: dict[str, int] = {}
        self.refs_by_id: dict[int, str] = {}
        self.name_ids: dict[str, int] = {}
        self.names_by_id: dict[int, str] = {}

    def _intern(self, conn: sqlite3.Connection, table: str, column: str, text: str) -> int:
        # RETURNING gives the new id in the same statement; an existing text returns no row.
        row = conn.execute(
            f"INSERT INTO {table} ({column}) VALUES (?) ON CONFLICT ({column}) DO NOTHING RETURNING id",
            (text,),
        ).fetchone()
        if row is None:
            row = conn.execute(f"SELECT id FROM {table} WHERE {column} = ?", (text,)).fetchone()
        return int(row[0])

    def ref_id(self, conn: sqlite3.Connection, ref: str) -> int:
        found = self.ref_ids.get(ref)
        if found is None:
            found = self._intern(conn, "refs", "ref", ref)
            self.ref_ids[ref] = found
            self.refs_by_id[found] = ref
        return found

    def name_id(self, conn: sqlite3.Connection, name: str) -> int:
        found = self.name_ids.get(name)
        if found is None:
            found = self._intern(conn, "names", "name", name)
            self.name_ids[name] = found
            self.names_by_id[found] = name
        return found

    def lookup_ref(self, conn: sqlite3.Connection, ref: str) -> int | None:
        """The id of ``ref`` without creating it (reads never write)."""
        found = self.ref_ids.get(ref)
        if found is None:
            row = conn.execute("SELECT id FROM refs WHERE ref = ?", (ref,)).fetchone()
            if row is None:
                return None
            found = int(row[0])
            self.ref_ids[ref] = found
            self.refs_by_id[found] = ref
        return found

    def ref_of(self, conn: sqlite3.Connection, ref_id: int) -> str:
        found = self.refs_by_id.get(ref_id)
        if found is None:
            found = str(conn.execute("SELECT ref FROM refs WHERE id = ?", (ref_id,)).fetchone()[0])
            self.refs_by_id[ref_id] = found
            self.ref_ids[found] = ref_id
        return found

    def name_of(self, conn: sqlite3.Connection, name_id: int) -> str:
        found = self.names_by_id.get(name_id)
        if found is None:
            found = str(conn.execute("SELECT name FROM names WHERE id = ?", (name_id,)).fetchone()[0])
            self.names_by_id[name_id] = found
            self.name_ids[found] = name_id
        return found

    def forget(self) -> None:
        """Drop the caches (after a rolled-back transaction that may have interned)."""
        self.ref_ids.clear()
        self.refs_by_id.clear()
        self.name_ids.clear()
        self.names_by_id.clear()


class RecordTable:
    """Appends and per-run reads of the ``records`` table."""

    def __init__(self, db: SQLiteDatabase, interner: Interner) -> None:
        self.db = db
        self.interner = interner

    def _row(self, conn: sqlite3.Connection, f: RecordFields) -> tuple[Any, ...]:
        return self._row_of(conn, _FIELDS(f))

    def _row_of(self, conn: sqlite3.Connection, cols: tuple[Any, ...]) -> tuple[Any, ...]:
        """The ``records`` row for ``cols`` (a :func:`~contexta.store.codec.record_columns` tuple)."""
        (
            run,
            local_id,
            rtype,
            stage,
            batch,
            sample,
            observed,
            recorded,
            key,
            value,
            step,
            unit,
            producer,
            flags,
            extra,
        ) = cols
        interner = self.interner
        refs, names = interner.ref_ids, interner.name_ids  # ids start at 1: a cache hit is truthy
        ref_id, name_id = interner.ref_id, interner.name_id
        return (
            refs.get(run) or ref_id(conn, run),
            local_id,
            rtype,
            (refs.get(stage) or ref_id(conn, stage)) if stage else None,
            (refs.get(batch) or ref_id(conn, batch)) if batch else None,
            (refs.get(sample) or ref_id(conn, sample)) if sample else None,
            observed,
            recorded,
            names.get(key) or name_id(conn, key),
            value,
            step,
            (names.get(unit) or name_id(conn, unit)) if unit else None,
            names.get(producer) or name_id(conn, producer),
            flags,
            extra,
        )

    def append(self, records: Iterable[AnyRecord]) -> int:
        """Write validated records now, all or none.

        The same ref with the same content is a no-op; with other content, a ConflictError
        and nothing of this call is written. Returns how many records were new.
        """
        batch = [self._columns(record) for record in records]
        if not batch:
            return 0
        written = 0
        with self.db.write() as conn:
            guarded = len(batch) > 1
            if guarded:
                conn.execute("SAVEPOINT contexta_append")
            try:
                execute, row_of = conn.execute, self._row_of
                for cols in batch:
                    row = row_of(conn, cols)
                    if execute(_INSERT, row).rowcount == 1:
                        written += 1
                    elif tuple(execute(_SELECT_ONE, row[:2]).fetchone()) != row:
                        raise ConflictError(
                            f"record:{cols[0][4:]}.{cols[1]}",
                            "records are immutable once written",
                        )
            except BaseException:
                if guarded:
                    conn.execute("ROLLBACK TO contexta_append")
                    conn.execute("RELEASE contexta_append")
                    self.interner.forget()
                raise
            if guarded:
                conn.execute("RELEASE contexta_append")
        return written

    @staticmethod
    def _columns(record: object) -> tuple[Any, ...]:
        if not hasattr(record, "envelope") or not hasattr(record, "payload"):
            raise ValidationError.for_field("record", "must be a contexta.contract record model", record)
        return record_columns(record)  # type: ignore[arg-type]

    @staticmethod
    def _fields(record: object) -> RecordFields:
        return RecordFields(*RecordTable._columns(record))

    def insert_trusted(self, conn: sqlite3.Connection, batch: Iterable[RecordFields]) -> None:
        """Insert rows whose content needs no conflict check (first write of a ref wins)."""
        conn.executemany(_INSERT, [self._row(conn, fields) for fields in batch])

    def read_run(self, conn: sqlite3.Connection, run_ref: str, run_id: int) -> list[RecordView]:
        ref_of, name_of = self.interner.ref_of, self.interner.name_of
        views = []
        rows = sorted(conn.execute(_SELECT_RUN, (run_id,)), key=lambda row: (row[5], row[0]))
        for (
            local_id,
            rtype,
            stage_id,
            batch_id,
            sample_id,
            observed,
            recorded,
            key_id,
            value,
            step,
            unit_id,
            producer_id,
            flags,
            extra,
        ) in rows:
            record_type = RECORD_TYPES[rtype]
            details, message, level, severity, category = view_details(record_type, extra)
            completeness, degradation = unpack_flags(flags)
            views.append(
                RecordView(
                    record_ref=f"record:{run_ref[4:]}.{local_id}",
                    record_type=record_type,
                    key=name_of(conn, key_id),
                    value=value,
                    message=message,
                    observed_at=from_micros(observed),
                    recorded_at=from_micros(recorded),
                    run_ref=run_ref,
                    stage_ref=ref_of(conn, stage_id) if stage_id is not None else None,
                    batch_ref=ref_of(conn, batch_id) if batch_id is not None else None,
                    sample_ref=ref_of(conn, sample_id) if sample_id is not None else None,
                    step=step,
                    unit=name_of(conn, unit_id) if unit_id is not None else None,
                    level=level,
                    severity=severity,
                    category=category,
                    producer_ref=name_of(conn, producer_id) if producer_id is not None else "contexta",
                    completeness_marker=completeness,
                    degradation_marker=degradation,
                    details=details,
                )
            )
        return views
