"""The embedded workspace store: one SQLite file, ``<workspace>/contexta.db``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DeploymentExecution,
    EnvironmentSnapshot,
    LineageEdge,
    Project,
    Run,
    SampleObservation,
    StageExecution,
)
from contexta.contract._base import from_micros, to_micros
from contexta.contract.records import AnyRecord
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import ValidationError
from contexta.store.base import Entity, RecordView, RunBundle, RunRow
from contexta.store.codec import RecordFields
from contexta.store.sqlite_db import SQLiteDatabase
from contexta.store.sqlite_records import Interner, RecordTable

# A write of status "open" never replaces a terminal row (a late heartbeat must not reopen a run).
_KEEP_TERMINAL = "WHERE {t}.status = 'open' OR excluded.status <> 'open'"

_BODY_TABLE: dict[type[Any], tuple[str, str]] = {
    StageExecution: ("stages", "stage_execution_ref"),
    BatchExecution: ("batches", "batch_execution_ref"),
    SampleObservation: ("samples", "sample_observation_ref"),
    ArtifactManifest: ("artifacts", "artifact_ref"),
}


def _body(model: Any) -> str:
    return str(model.model_dump_json(exclude_defaults=False))


def _load(model: type[Any], body: str) -> Any:
    """Rebuild a stored model (cross-field rules were checked on the way in)."""
    return model.model_validate_json(body)


class SQLiteStore:
    """Implements :class:`contexta.store.base.WorkspaceStore` on one SQLite database."""

    def __init__(self, path: Path, *, commit_interval: float = 0.2) -> None:
        self.path = path
        self.uri = f"sqlite:///{path}"
        self.db = SQLiteDatabase(path, commit_interval=commit_interval)
        self.interner = Interner(self.db)
        self.records = RecordTable(self.db, self.interner)

    # -- writes ---------------------------------------------------------------------------------
    def put(self, entity: Entity) -> None:
        """Upsert one entity by its ref."""
        with self.db.write() as conn:
            self._put(conn, entity)

    def _put(self, conn: sqlite3.Connection, entity: Entity) -> None:
        rid = self.interner.ref_id
        if isinstance(entity, Project):
            conn.execute(
                "INSERT INTO projects (id, name, body) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, body = excluded.body",
                (rid(conn, entity.project_ref), entity.name, _body(entity)),
            )
        elif isinstance(entity, Run):
            run_id = rid(conn, entity.run_ref)
            conn.execute(
                "INSERT INTO runs (id, project_id, name, status, started_at, ended_at, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
                " started_at = excluded.started_at, ended_at = excluded.ended_at, body = excluded.body "
                + _KEEP_TERMINAL.format(t="runs"),
                (
                    run_id,
                    rid(conn, entity.project_ref),
                    entity.name,
                    entity.status,
                    to_micros(entity.started_at),
                    to_micros(entity.ended_at) if entity.ended_at else None,
                    _body(entity),
                ),
            )
            for dataset in entity.dataset_refs:
                self._relate(conn, dataset, entity.run_ref, "used", entity.started_at)
        elif isinstance(entity, DeploymentExecution):
            conn.execute(
                "INSERT INTO deployments (id, project_id, run_id, order_index, started_at, status, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id,"
                " order_index = excluded.order_index, started_at = excluded.started_at,"
                " status = excluded.status, body = excluded.body " + _KEEP_TERMINAL.format(t="deployments"),
                (
                    rid(conn, entity.deployment_execution_ref),
                    rid(conn, entity.project_ref),
                    rid(conn, entity.run_ref) if entity.run_ref else None,
                    entity.order_index,
                    to_micros(entity.started_at),
                    entity.status,
                    _body(entity),
                ),
            )
            if entity.artifact_ref:  # lineage walks downstream from an artifact to where it runs
                self._relate(
                    conn, entity.artifact_ref, entity.deployment_execution_ref, "deployed", entity.started_at
                )
        elif isinstance(entity, EnvironmentSnapshot):
            conn.execute(
                "INSERT INTO environments (run_id, body) VALUES (?, ?)"
                " ON CONFLICT (run_id) DO UPDATE SET body = excluded.body",
                (rid(conn, entity.run_ref), _body(entity)),
            )
        elif isinstance(entity, LineageEdge):
            self._relate(
                conn,
                entity.source_ref,
                entity.target_ref,
                entity.relation_type,
                entity.recorded_at,
                _body(entity),
            )
        elif type(entity) in _BODY_TABLE:
            table, ref_field = _BODY_TABLE[type(entity)]
            values = (rid(conn, getattr(entity, ref_field)), rid(conn, entity.run_ref), _body(entity))
            if table in ("stages", "batches"):
                conn.execute(
                    f"INSERT INTO {table} (id, run_id, body, status) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET body = excluded.body, status = excluded.status "
                    + _KEEP_TERMINAL.format(t=table),
                    (*values, entity.status),  # type: ignore[union-attr]
                )
            else:
                conn.execute(
                    f"INSERT INTO {table} (id, run_id, body) VALUES (?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                    values,
                )
        else:
            raise ValidationError.for_field("entity", "must be a contexta.contract entity model", entity)

    def _relate(
        self, conn: sqlite3.Connection, source: str, target: str, kind: str, at: str, body: str | None = None
    ) -> None:
        if body is None:
            body = _body(
                LineageEdge(source_ref=source, target_ref=target, relation_type=kind, recorded_at=at)
            )
        conn.execute(
            "INSERT INTO relations (source_id, target_id, relation_type, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (source_id, target_id, relation_type) DO UPDATE SET body = excluded.body",
            (self.interner.ref_id(conn, source), self.interner.ref_id(conn, target), kind, body),
        )

    def put_many(self, entities: Iterable[Entity]) -> None:
        """Upsert several entities in one transaction (all or none)."""
        with self.db.write() as conn:
            conn.execute("SAVEPOINT contexta_put")
            try:
                for entity in entities:
                    self._put(conn, entity)
            except BaseException:
                conn.execute("ROLLBACK TO contexta_put")
                conn.execute("RELEASE contexta_put")
                self.interner.forget()
                raise
            conn.execute("RELEASE contexta_put")

    def append_records(self, records: Iterable[AnyRecord]) -> int:
        return self.records.append(records)

    def apply(
        self, projects: Iterable[Project], entities: Iterable[Entity], records: Iterable[RecordFields]
    ) -> None:
        """Write trusted telemetry (exporter, collector): projects only if absent, entities upserted,
        records inserted unless their ref exists (the first write of a ref wins)."""
        with self.db.write() as conn:
            self.apply_in(conn, projects, entities, records)

    def apply_in(
        self,
        conn: sqlite3.Connection,
        projects: Iterable[Project],
        entities: Iterable[Entity],
        records: Iterable[RecordFields],
    ) -> None:
        """:meth:`apply` inside a write transaction the caller already holds."""
        for project in projects:
            conn.execute(
                "INSERT INTO projects (id, name, body) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (self.interner.ref_id(conn, project.project_ref), project.name, _body(project)),
            )
        for entity in entities:
            self._put(conn, entity)
        self.records.insert_trusted(conn, records)

    def touch_run(self, run_ref: str, seen_at: str, owner: str | None) -> None:
        """Heartbeat of a capturing process: when it last wrote, and who it is (host:pid)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE runs SET last_seen_at = ?, owner = COALESCE(?, owner) WHERE id = ?",
                (to_micros(seen_at), owner, self.interner.ref_id(conn, run_ref)),
            )

    # -- reads ----------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return self.db.schema_version()

    def get(self, model: type[Any], ref: str) -> Any | None:
        table = {
            Project: "projects",
            Run: "runs",
            DeploymentExecution: "deployments",
            StageExecution: "stages",
            BatchExecution: "batches",
            SampleObservation: "samples",
            ArtifactManifest: "artifacts",
        }.get(model)
        if model is EnvironmentSnapshot:  # stored under its run's id: environment:p.r <-> run:p.r
            ref = make_ref("run", *parse_ref(ref, "ref", "environment").parts)
        with self.db.read() as conn:
            ref_id = self.interner.lookup_ref(conn, ref)
            if ref_id is None:
                return None
            if model is EnvironmentSnapshot:
                row = conn.execute("SELECT body FROM environments WHERE run_id = ?", (ref_id,)).fetchone()
            elif table is None:
                raise ValidationError.for_field("model", "must be a stored entity type", model)
            else:
                row = conn.execute(f"SELECT body FROM {table} WHERE id = ?", (ref_id,)).fetchone()
        return _load(model, row[0]) if row else None

    def list_projects(self) -> list[Project]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT body FROM projects ORDER BY name").fetchall()
        return [_load(Project, body) for (body,) in rows]

    def list_runs(self, project_ref: str) -> list[RunRow]:
        project = parse_ref(project_ref, "project", "project").project
        with self.db.read() as conn:
            project_id = self.interner.lookup_ref(conn, project_ref)
            if project_id is None:
                return []
            rows = conn.execute(
                "SELECT id, name, status, started_at, ended_at, last_seen_at, owner FROM runs"
                " WHERE project_id = ? ORDER BY started_at, name",
                (project_id,),
            ).fetchall()
        prefix = f"run:{project}."
        return [
            RunRow(
                prefix + name,
                project,
                name,
                status,
                from_micros(started),
                from_micros(ended) if ended is not None else None,
                from_micros(seen) if seen is not None else None,
                owner,
            )
            for _id, name, status, started, ended, seen, owner in rows
        ]

    def list_deployments(self, project_ref: str) -> list[DeploymentExecution]:
        with self.db.read() as conn:
            project_id = self.interner.lookup_ref(conn, project_ref)
            if project_id is None:
                return []
            rows = conn.execute(
                "SELECT body FROM deployments WHERE project_id = ?"
                " ORDER BY order_index IS NULL, order_index, started_at, id",
                (project_id,),
            ).fetchall()
        return [_load(DeploymentExecution, body) for (body,) in rows]

    def read_run(self, run_ref: str) -> RunBundle:
        parse_ref(run_ref, "run_ref", "run")
        with self.db.read() as conn:
            run_id = self.interner.lookup_ref(conn, run_ref)
            if run_id is None:
                return RunBundle(run_ref=run_ref, run=None)
            row = conn.execute(
                "SELECT body, last_seen_at, owner FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            bundle = RunBundle(run_ref=run_ref, run=_load(Run, row[0]) if row else None)
            if row:
                bundle.last_seen_at = from_micros(row[1]) if row[1] is not None else None
                bundle.owner = row[2]
            for attr, table, model in (
                ("stages", "stages", StageExecution),
                ("batches", "batches", BatchExecution),
                ("samples", "samples", SampleObservation),
                ("artifacts", "artifacts", ArtifactManifest),
            ):
                bodies = conn.execute(f"SELECT body FROM {table} WHERE run_id = ?", (run_id,)).fetchall()
                setattr(bundle, attr, [_load(model, body) for (body,) in bodies])
            bodies = conn.execute(
                "SELECT body FROM deployments WHERE run_id = ?"
                " ORDER BY order_index IS NULL, order_index, started_at, id",
                (run_id,),
            ).fetchall()
            bundle.deployments = [_load(DeploymentExecution, body) for (body,) in bodies]
            env = conn.execute("SELECT body FROM environments WHERE run_id = ?", (run_id,)).fetchone()
            bundle.environment = _load(EnvironmentSnapshot, env[0]) if env else None
            bundle.records = self.records.read_run(conn, run_ref, run_id)
        _order(bundle)
        return bundle

    def relations_of(self, ref: str) -> list[LineageEdge]:
        with self.db.read() as conn:
            ref_id = self.interner.lookup_ref(conn, ref)
            if ref_id is None:
                return []
            rows = conn.execute(
                "SELECT body FROM relations WHERE source_id = ? UNION ALL"
                " SELECT body FROM relations WHERE target_id = ?",
                (ref_id, ref_id),
            ).fetchall()
        return [_load(LineageEdge, body) for (body,) in rows]

    def records_of(self, run_ref: str) -> list[RecordView]:
        return self.read_run(run_ref).records

    def flush(self) -> None:
        self.db.flush()

    def close(self) -> None:
        self.db.close()

    # -- production handoff (contexta.handoff; migration 2) -------------------------------------
    # Owned by contexta/handoff: rows are the JSON bodies of its models (validated there), keyed
    # by the interned ref ids of their own refs. Inserts are append-only (ON CONFLICT DO NOTHING);
    # the ``add_*`` methods say whether the row was new, so a caller can retry a taken number.
    def _handoff_insert(self, sql: str, refs: tuple[str, ...], values: tuple[Any, ...]) -> bool:
        with self.db.write() as conn:
            ids = tuple(self.interner.ref_id(conn, ref) for ref in refs)
            return bool(conn.execute(sql, ids + values).rowcount == 1)

    def _handoff_bodies(self, sql: str, ref: str, *values: Any) -> list[str]:
        with self.db.read() as conn:
            ref_id = self.interner.lookup_ref(conn, ref)
            if ref_id is None:
                return []
            return [body for (body,) in conn.execute(sql, (ref_id, *values)).fetchall()]

    def add_gate_evaluation(
        self, ref: str, run_ref: str, policy: tuple[str, str, str], passed: bool, at: str, body: str
    ) -> bool:
        """Store one gate evaluation; ``policy`` is (id, version, content hash)."""
        return self._handoff_insert(
            "INSERT INTO gate_evaluations (id, run_id, policy_id, policy_version, policy_hash, passed,"
            " evaluated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ref, run_ref),
            (*policy, int(passed), to_micros(at), body),
        )

    def list_gate_evaluations(self, run_ref: str) -> list[str]:
        """Bodies of a run's gate evaluations, oldest first."""
        return self._handoff_bodies(
            "SELECT body FROM gate_evaluations WHERE run_id = ? ORDER BY evaluated_at, id", run_ref
        )

    def get_gate_evaluation(self, ref: str) -> str | None:
        found = self._handoff_bodies("SELECT body FROM gate_evaluations WHERE id = ?", ref)
        return found[0] if found else None

    def add_model_version(
        self, ref: str, project_ref: str, name: str, version: int, run_ref: str, at: str, body: str
    ) -> bool:
        """Store a model version; False when ``(project, name, version)`` is already taken."""
        return self._handoff_insert(
            "INSERT INTO model_versions (id, project_id, run_id, name, version, created_at, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ref, project_ref, run_ref),
            (name, version, to_micros(at), body),
        )

    def list_model_versions(self, project_ref: str, name: str | None = None) -> list[str]:
        """Bodies of the model versions of a project (of one name), by name then version."""
        if name is None:
            return self._handoff_bodies(
                "SELECT body FROM model_versions WHERE project_id = ? ORDER BY name, version", project_ref
            )
        return self._handoff_bodies(
            "SELECT body FROM model_versions WHERE project_id = ? AND name = ? ORDER BY version",
            project_ref,
            name,
        )

    def get_model_version(self, ref: str) -> str | None:
        found = self._handoff_bodies("SELECT body FROM model_versions WHERE id = ?", ref)
        return found[0] if found else None

    def model_versions_of_run(self, run_ref: str) -> list[str]:
        return self._handoff_bodies(
            "SELECT body FROM model_versions WHERE run_id = ? ORDER BY name, version", run_ref
        )

    def add_model_transition(
        self, project_ref: str, name: str, seq: int, model_ref: str, at: str, body: str
    ) -> bool:
        """Append transition number ``seq`` of a model name; False when that number is taken."""
        return self._handoff_insert(
            "INSERT INTO model_transitions (project_id, model_id, name, seq, at, body)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (project_ref, model_ref),
            (name, seq, to_micros(at), body),
        )

    def list_model_transitions(self, project_ref: str, name: str) -> list[str]:
        return self._handoff_bodies(
            "SELECT body FROM model_transitions WHERE project_id = ? AND name = ? ORDER BY seq",
            project_ref,
            name,
        )

    def add_approval(self, ref: str, subject_ref: str, at: str, body: str) -> bool:
        return self._handoff_insert(
            "INSERT INTO approvals (id, subject_id, decided_at, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (ref, subject_ref),
            (to_micros(at), body),
        )

    def list_approvals(self, subject_ref: str) -> list[str]:
        """Bodies of the approvals and rejections of one subject, oldest first."""
        return self._handoff_bodies(
            "SELECT body FROM approvals WHERE subject_id = ? ORDER BY decided_at, id", subject_ref
        )


def _order(bundle: RunBundle) -> None:
    def position(item: Any) -> tuple[Any, ...]:
        index = item.order_index
        started = getattr(item, "started_at", None) or getattr(item, "observed_at", "")
        return (index is None, index if index is not None else 0, to_micros(started))

    bundle.stages.sort(key=position)
    bundle.batches.sort(key=position)
    bundle.samples.sort(key=position)
    bundle.artifacts.sort(key=lambda artifact: to_micros(artifact.created_at))
