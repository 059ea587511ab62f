"""Numbered, transactional schema migrations, recorded in ``schema_migrations``.

Each migration is a list of portable SQL statements (SQLite and PostgreSQL both accept them;
the ``WITHOUT ROWID`` suffix is dropped by the PostgreSQL dialect). A migration runs in one
transaction together with its bookkeeping row, so a crash leaves the schema at a whole version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial workspace schema",
        (
            # Every ref any row mentions is interned once; entity rows use the ref's id as key,
            # so records can name a run or stage that has not arrived yet (collector order).
            "CREATE TABLE refs (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE)",
            # Metric keys, event keys, units and producers: small dictionary of strings.
            "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
            "CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL)",
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,"
            " status TEXT NOT NULL, started_at BIGINT NOT NULL, ended_at BIGINT, last_seen_at BIGINT,"
            " owner TEXT, body TEXT NOT NULL)",
            "CREATE INDEX runs_by_project ON runs (project_id, started_at)",
            "CREATE TABLE stages (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, status TEXT NOT NULL,"
            " body TEXT NOT NULL)",
            "CREATE INDEX stages_by_run ON stages (run_id)",
            "CREATE TABLE batches (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, status TEXT NOT NULL,"
            " body TEXT NOT NULL)",
            "CREATE INDEX batches_by_run ON batches (run_id)",
            "CREATE TABLE samples (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX samples_by_run ON samples (run_id)",
            "CREATE TABLE deployments (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, run_id INTEGER,"
            " order_index INTEGER, started_at BIGINT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX deployments_by_project ON deployments (project_id, order_index, started_at)",
            "CREATE INDEX deployments_by_run ON deployments (run_id)",
            "CREATE TABLE environments (run_id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE artifacts (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX artifacts_by_run ON artifacts (run_id)",
            "CREATE TABLE relations (source_id INTEGER NOT NULL, target_id INTEGER NOT NULL,"
            " relation_type TEXT NOT NULL, body TEXT NOT NULL,"
            " PRIMARY KEY (source_id, target_id, relation_type))",
            "CREATE INDEX relations_by_target ON relations (target_id)",
            # One row per record, clustered by run: a run's records are one range read.
            "CREATE TABLE records (run_id INTEGER NOT NULL, local_id TEXT NOT NULL,"
            " record_type SMALLINT NOT NULL, stage_id INTEGER, batch_id INTEGER, sample_id INTEGER,"
            " observed_at BIGINT NOT NULL, recorded_at BIGINT NOT NULL, key_id INTEGER NOT NULL,"
            " value DOUBLE PRECISION, step BIGINT, unit_id INTEGER, producer_id INTEGER,"
            " flags SMALLINT NOT NULL, extra TEXT,"
            " PRIMARY KEY (run_id, local_id)) WITHOUT ROWID",
            # The collector: which contexta scope a span id stands for (children arrive first),
            # and plain spans waiting for an ancestor to arrive.
            # span ids as signed 64-bit integers, scopes as the interned ref of their deepest entity
            "CREATE TABLE span_index (span_id INTEGER PRIMARY KEY, scope_id INTEGER NOT NULL)",
            "CREATE TABLE pending_spans (span_id TEXT PRIMARY KEY, parent_span_id TEXT NOT NULL,"
            " received_at BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX pending_by_parent ON pending_spans (parent_span_id)",
        ),
    ),
    Migration(
        2,
        "production handoff: gate evaluations, model registry, approvals",
        (
            # contexta.handoff (docs/production-handoff.md). Each row keeps the JSON body of its
            # model; the other columns are what reads filter and order by. Every id column is the
            # interned ref id of the row's own ref (gate evaluation, model version, approval), so
            # no table needs an auto-increment key.
            "CREATE TABLE gate_evaluations (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL,"
            " policy_id TEXT NOT NULL, policy_version TEXT NOT NULL, policy_hash TEXT NOT NULL,"
            " passed SMALLINT NOT NULL, evaluated_at BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX gate_evaluations_by_run ON gate_evaluations (run_id, evaluated_at)",
            "CREATE TABLE model_versions (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL,"
            " name TEXT NOT NULL, version INTEGER NOT NULL, run_id INTEGER NOT NULL,"
            " created_at BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE UNIQUE INDEX model_versions_by_name ON model_versions (project_id, name, version)",
            "CREATE INDEX model_versions_by_run ON model_versions (run_id)",
            # Stage transitions of one model name: append-only, numbered per name.
            "CREATE TABLE model_transitions (project_id INTEGER NOT NULL, name TEXT NOT NULL,"
            " seq INTEGER NOT NULL, model_id INTEGER NOT NULL, at BIGINT NOT NULL, body TEXT NOT NULL,"
            " PRIMARY KEY (project_id, name, seq))",
            "CREATE TABLE approvals (id INTEGER PRIMARY KEY, subject_id INTEGER NOT NULL,"
            " decided_at BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX approvals_by_subject ON approvals (subject_id, decided_at)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)"
)
