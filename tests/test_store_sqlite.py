"""The SQLite workspace store, through ``ctx.metadata_store`` and ``ctx.record_store``, on real files."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from contexta import ConfigError, ConflictError, Contexta, SchemaError, StoreError, ValidationError
from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DegradedPayload,
    DegradedRecord,
    DeploymentExecution,
    EnvironmentSnapshot,
    LineageEdge,
    MetricPayload,
    MetricRecord,
    Project,
    RecordEnvelope,
    Run,
    SampleObservation,
    StageExecution,
    StructuredEventPayload,
    StructuredEventRecord,
    TraceSpanPayload,
    TraceSpanRecord,
)
from contexta.store import DB_FILENAME, open_store
from contexta.store.migrations import LATEST_VERSION, MIGRATIONS

T0 = "2025-01-01T00:00:00Z"
T1 = "2025-01-01T01:00:00Z"
RUN = "run:demo.r1"
STAGE = "stage:demo.r1.train"


def project() -> Project:
    return Project(project_ref="project:demo", name="demo", created_at=T0, description="d", tags={"t": "1"})


def run(status: str = "completed", name: str = "r1", **extra: Any) -> Run:
    return Run(
        run_ref=f"run:demo.{name}",
        project_ref="project:demo",
        name=name,
        status=status,
        started_at=T0,
        ended_at=None if status == "open" else T1,
        **extra,
    )


def stage(status: str = "completed", name: str = "train", order_index: int | None = 0) -> StageExecution:
    return StageExecution(
        stage_execution_ref=f"stage:demo.r1.{name}",
        run_ref=RUN,
        stage_name=name,
        status=status,
        started_at=T0,
        ended_at=None if status == "open" else T1,
        order_index=order_index,
        attributes={"rows": 10},
    )


def batch(status: str = "completed", name: str = "epoch-0") -> BatchExecution:
    return BatchExecution(
        batch_execution_ref=f"batch:demo.r1.train.{name}",
        run_ref=RUN,
        stage_execution_ref=STAGE,
        batch_name=name,
        status=status,
        started_at=T0,
        ended_at=None if status == "open" else T1,
        order_index=0,
    )


def sample() -> SampleObservation:
    return SampleObservation(
        sample_observation_ref="sample:demo.r1.train.epoch-0.s-0001",
        run_ref=RUN,
        stage_execution_ref=STAGE,
        batch_execution_ref="batch:demo.r1.train.epoch-0",
        sample_name="s-0001",
        observed_at=T0,
        attributes={"label": 3},
    )


def deployment(status: str = "completed", name: str = "prod") -> DeploymentExecution:
    return DeploymentExecution(
        deployment_execution_ref=f"deployment:demo.{name}",
        project_ref="project:demo",
        deployment_name=name,
        status=status,
        started_at=T0,
        ended_at=None if status == "open" else T1,
        run_ref=RUN,
        environment="production",
        artifact_ref="artifact:demo.r1.model",
    )


def environment() -> EnvironmentSnapshot:
    return EnvironmentSnapshot(
        environment_snapshot_ref="environment:demo.r1",
        run_ref=RUN,
        captured_at=T0,
        python_version="3.11.7",
        platform="linux",
        packages={"numpy": "2.0.0"},
        git_commit="abc123",
        git_dirty=False,
    )


def artifact() -> ArtifactManifest:
    return ArtifactManifest(
        artifact_ref="artifact:demo.r1.model",
        run_ref=RUN,
        artifact_kind="model",
        uri="file:///tmp/model.pkl",
        sha256="0" * 64,
        size_bytes=1234,
        created_at=T1,
        stage_execution_ref=STAGE,
    )


def relation() -> LineageEdge:
    return LineageEdge(
        source_ref="dataset:raw.sales",
        target_ref="dataset:clean.sales",
        relation_type="derived_from",
        recorded_at=T0,
    )


def metric(
    local: str = "m1", value: float = 0.5, run_ref: str = RUN, stage_ref: str | None = STAGE
) -> MetricRecord:
    return MetricRecord(
        envelope=RecordEnvelope(
            record_ref=f"record:{run_ref[4:]}.{local}",
            record_type="metric",
            recorded_at=T0,
            observed_at=T0,
            run_ref=run_ref,
            stage_execution_ref=stage_ref,
        ),
        payload=MetricPayload(metric_key="loss", value=value, step=1, unit="nats"),
    )


def count_records(ctx: Contexta, run_ref: str = RUN) -> int:
    return len(ctx.record_store.list_records(run_ref))


def open_workspace(path: Path, **config: Any) -> Contexta:
    return Contexta(workspace=path, config={"project_name": "demo", **config}, environ={})


def test_every_entity_kind_round_trips_through_put_get_list(ctx: Contexta) -> None:
    """put_* then get_*/list_* returns an equal model for every entity kind."""
    ms = ctx.metadata_store
    ms.projects.put_project(project())
    ms.runs.put_run(run())
    ms.stages.put_stage_execution(stage())
    ms.batches.put_batch_execution(batch())
    ms.samples.put_sample_observation(sample())
    ms.deployments.put_deployment_execution(deployment())
    ms.environments.put_environment_snapshot(environment())
    ms.artifacts.put_artifact_manifest(artifact())
    ms.relations.put_relation(relation())

    assert ms.projects.get_project("project:demo") == project()
    assert ms.projects.list_projects() == [project()]
    assert ms.runs.get_run(RUN) == run()
    assert [(row.run_id, row.name, row.status) for row in ms.runs.list_runs("project:demo")] == [
        (RUN, "r1", "completed")
    ]
    assert ms.stages.get_stage_execution(STAGE) == stage()
    assert ms.stages.list_stage_executions(RUN) == [stage()]
    assert ms.batches.get_batch_execution("batch:demo.r1.train.epoch-0") == batch()
    assert ms.batches.list_batch_executions(RUN) == [batch()]
    assert ms.samples.get_sample_observation("sample:demo.r1.train.epoch-0.s-0001") == sample()
    assert ms.samples.list_sample_observations(RUN) == [sample()]
    assert ms.deployments.get_deployment_execution("deployment:demo.prod") == deployment()
    assert ms.deployments.list_deployment_executions("project:demo") == [deployment()]
    assert ms.artifacts.get_artifact_manifest("artifact:demo.r1.model") == artifact()
    assert ms.artifacts.list_artifact_manifests(RUN) == [artifact()]
    assert ms.relations.list_relations("dataset:clean.sales") == [relation()]
    assert ms.relations.list_relations("dataset:raw.sales") == [relation()]
    assert ctx.get_run_snapshot(RUN).environment == environment()


def test_environment_snapshot_round_trips_through_get(ctx: Contexta) -> None:
    """get_environment_snapshot(run_ref) returns the snapshot that was put."""
    ctx.metadata_store.runs.put_run(run())
    ctx.metadata_store.environments.put_environment_snapshot(environment())
    assert ctx.metadata_store.environments.get_environment_snapshot(RUN) == environment()


def test_every_record_kind_round_trips(ctx: Contexta) -> None:
    """Metric, event, degraded and span records come back equal to what was appended."""
    env = {"recorded_at": T0, "observed_at": T0, "run_ref": RUN, "stage_execution_ref": STAGE}
    records = [
        metric(),
        StructuredEventRecord(
            envelope=RecordEnvelope(record_ref="record:demo.r1.e1", record_type="event", **env),
            payload=StructuredEventPayload(
                event_key="epoch.end", level="warning", message="slow", attributes={"n": 1}
            ),
        ),
        DegradedRecord(
            envelope=RecordEnvelope(
                record_ref="record:demo.r1.d1",
                record_type="degraded",
                completeness_marker="partial",
                degradation_marker="capture_gap",
                **env,
            ),
            payload=DegradedPayload(
                issue_key="rows.empty", category="data", severity="error", summary="0 rows"
            ),
        ),
        TraceSpanRecord(
            envelope=RecordEnvelope(record_ref="record:demo.r1.s1", record_type="span", **env),
            payload=TraceSpanPayload(
                trace_id="a" * 32,
                span_id="b" * 16,
                name="GET /features",
                started_at=T0,
                ended_at=T1,
                status_code="ok",
                attributes={"http.status_code": 200},
            ),
        ),
    ]
    assert ctx.record_store.append_many(records) == 4
    stored = {view.record_ref: view.to_model() for view in ctx.record_store.list_records(RUN)}
    assert stored == {record.record_ref: record for record in records}
    assert [v.record_type for v in ctx.record_store.list_records(RUN, record_type="degraded")] == ["degraded"]


def test_run_upsert_by_ref_shows_latest_terminal_state(ctx: Contexta) -> None:
    """An open run written again as completed reads back as completed, with its ended_at."""
    ctx.metadata_store.runs.put_run(run("open"))
    ctx.metadata_store.runs.put_run(run("completed"))
    assert ctx.metadata_store.runs.get_run(RUN) == run("completed")
    assert [row.status for row in ctx.list_runs()] == ["completed"]


LATE_OPEN_CASES = [
    ("runs", "put_run", "get_run", run, RUN),
    ("stages", "put_stage_execution", "get_stage_execution", stage, STAGE),
    ("batches", "put_batch_execution", "get_batch_execution", batch, "batch:demo.r1.train.epoch-0"),
]


@pytest.mark.parametrize(
    ("repo", "put", "get", "build", "ref"), LATE_OPEN_CASES, ids=["run", "stage", "batch"]
)
@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_late_open_write_never_reopens_a_terminal_entity(
    ctx: Contexta, repo: str, put: str, get: str, build: Any, ref: str, final: str
) -> None:
    """A late 'open' write (heartbeat, replay) leaves a terminal run, stage or batch as it was."""
    repository = getattr(ctx.metadata_store, repo)
    ctx.metadata_store.runs.put_run(run("open"))
    getattr(repository, put)(build(final))
    getattr(repository, put)(build("open"))
    assert getattr(repository, get)(ref) == build(final)


def test_terminal_status_can_still_change_to_another_terminal_status(ctx: Contexta) -> None:
    """A completed run later marked failed reads back failed (only 'open' is refused)."""
    ctx.metadata_store.runs.put_run(run("completed"))
    ctx.metadata_store.runs.put_run(run("failed"))
    assert ctx.metadata_store.runs.get_run(RUN).status == "failed"


def test_late_open_write_never_reopens_a_completed_deployment(ctx: Contexta) -> None:
    """A deployment written completed and then (late) open stays completed."""
    ctx.metadata_store.deployments.put_deployment_execution(deployment("completed"))
    ctx.metadata_store.deployments.put_deployment_execution(deployment("open"))
    assert (
        ctx.metadata_store.deployments.get_deployment_execution("deployment:demo.prod").status == "completed"
    )


def test_same_record_twice_is_a_no_op(ctx: Contexta) -> None:
    """Appending an identical record again writes nothing (count stays 1) and raises nothing."""
    ctx.record_store.append(metric())
    ctx.record_store.append(metric())
    assert ctx.record_store.append_many([metric(), metric("m2")]) == 1
    assert [v.record_ref for v in ctx.record_store.list_records(RUN)] == [
        "record:demo.r1.m1",
        "record:demo.r1.m2",
    ]


def test_same_ref_with_other_content_raises_conflict_naming_the_ref(ctx: Contexta) -> None:
    """A record ref written again with another value is a ConflictError naming it; the first write stands."""
    ctx.record_store.append(metric(value=0.5))
    with pytest.raises(ConflictError) as caught:
        ctx.record_store.append(metric(value=0.6))
    assert caught.value.ref == "record:demo.r1.m1"
    assert str(caught.value) == (
        "conflict: 'record:demo.r1.m1' already exists with different content: "
        "records are immutable once written"
    )
    assert [v.value for v in ctx.record_store.list_records(RUN)] == [0.5]


def test_append_many_with_one_conflict_writes_nothing(workspace: Path) -> None:
    """append_many is all or none: with one conflicting record none of the batch is stored, even later."""
    with open_workspace(workspace) as ctx:
        ctx.record_store.append(metric("m1", 0.5))
        batch_ = [
            metric("m2", 1.0),
            metric("m3", 2.0, stage_ref="stage:demo.r1.eval"),
            metric("m1", 9.9),
            metric("m4"),
        ]
        with pytest.raises(ConflictError, match=r"record:demo\.r1\.m1"):
            ctx.record_store.append_many(batch_)
        assert [v.record_ref for v in ctx.record_store.list_records(RUN)] == ["record:demo.r1.m1"]
    with open_workspace(workspace) as ctx:
        assert [(v.record_ref, v.value) for v in ctx.record_store.list_records(RUN)] == [
            ("record:demo.r1.m1", 0.5)
        ]


def test_refs_interned_in_a_rolled_back_batch_are_not_confused_later(ctx: Contexta) -> None:
    """After a refused batch that named new stages, later records keep their own stage refs."""
    ctx.record_store.append(metric("m1"))
    with pytest.raises(ConflictError):
        ctx.record_store.append_many([metric("x1", stage_ref="stage:demo.r1.ghost"), metric("m1", 7.0)])
    ctx.record_store.append(metric("m2", stage_ref="stage:demo.r1.eval"))
    ctx.record_store.append(metric("m3", stage_ref="stage:demo.r1.ghost"))
    ctx.flush()
    stages = {v.record_ref: v.stage_ref for v in ctx.record_store.list_records(RUN)}
    assert stages == {
        "record:demo.r1.m1": STAGE,
        "record:demo.r1.m2": "stage:demo.r1.eval",
        "record:demo.r1.m3": "stage:demo.r1.ghost",
    }


def test_record_of_unknown_run_is_kept_and_diagnosed_missing_run(ctx: Contexta) -> None:
    """A record naming a run never written is stored; diagnose_run on that ref reports missing_run (error)."""
    ctx.record_store.append(metric(run_ref="run:demo.ghost", stage_ref=None))
    assert [v.record_ref for v in ctx.record_store.list_records("run:demo.ghost")] == ["record:demo.ghost.m1"]
    diagnosis = ctx.diagnose_run("run:demo.ghost")
    assert [(i.severity, i.code, i.subject_ref) for i in diagnosis.issues] == [
        ("error", "missing_run", "run:demo.ghost")
    ]


def test_record_of_unknown_stage_is_diagnosed_orphan_record(ctx: Contexta) -> None:
    """A record naming a stage the known run does not hold is an orphan_record warning."""
    ctx.metadata_store.runs.put_run(run())
    ctx.record_store.append(metric(stage_ref="stage:demo.r1.nowhere"))
    diagnosis = ctx.diagnose_run(RUN)
    assert [(i.severity, i.code, i.subject_ref) for i in diagnosis.issues] == [
        ("warning", "orphan_record", "record:demo.r1.m1")
    ]
    assert "stage:demo.r1.nowhere" in diagnosis.issues[0].summary


@pytest.mark.parametrize(
    ("repo", "method", "argument", "model"),
    [
        ("projects", "put_project", "project", "Project"),
        ("runs", "put_run", "run", "Run"),
        ("stages", "put_stage_execution", "stage", "StageExecution"),
        ("batches", "put_batch_execution", "batch", "BatchExecution"),
        ("samples", "put_sample_observation", "sample", "SampleObservation"),
        ("deployments", "put_deployment_execution", "deployment", "DeploymentExecution"),
        ("environments", "put_environment_snapshot", "snapshot", "EnvironmentSnapshot"),
        ("artifacts", "put_artifact_manifest", "artifact", "ArtifactManifest"),
        ("relations", "put_relation", "edge", "LineageEdge"),
    ],
)
def test_put_of_wrong_type_names_the_argument(
    ctx: Contexta, repo: str, method: str, argument: str, model: str
) -> None:
    """Another model (or a dict) given to put_* is a ValidationError naming the argument and the type."""
    wrong = project() if model != "Project" else run()
    with pytest.raises(ValidationError) as caught:
        getattr(getattr(ctx.metadata_store, repo), method)(wrong)
    assert str(caught.value) == f"{argument}: must be a {model} (got {type(wrong).__name__!r})"
    with pytest.raises(ValidationError, match=rf"^{argument}: must be a {model} \(got 'dict'\)$"):
        getattr(getattr(ctx.metadata_store, repo), method)({"name": "x"})


def test_append_of_non_record_is_a_validation_error(ctx: Contexta) -> None:
    """record_store.append of a plain dict is refused naming 'record'."""
    with pytest.raises(ValidationError, match=r"^record: must be a contexta\.contract record model"):
        ctx.record_store.append({"value": 1.0})  # type: ignore[arg-type]


def test_data_survives_close_and_reopen(workspace: Path) -> None:
    """A new Contexta on the same folder reads everything the closed one wrote."""
    with open_workspace(workspace) as ctx:
        ctx.metadata_store.projects.put_project(project())
        ctx.metadata_store.runs.put_run(run())
        ctx.metadata_store.stages.put_stage_execution(stage())
        ctx.record_store.append_many([metric("m1", 0.25), metric("m2", 0.125)])
    assert (workspace / DB_FILENAME).is_file()
    with open_workspace(workspace) as ctx:
        assert ctx.metadata_store.runs.get_run(RUN) == run()
        assert ctx.metadata_store.stages.list_stage_executions(RUN) == [stage()]
        assert [(v.record_ref, v.value, v.unit, v.step) for v in ctx.record_store.list_records(RUN)] == [
            ("record:demo.r1.m1", 0.25, "nats", 1),
            ("record:demo.r1.m2", 0.125, "nats", 1),
        ]


def test_schema_version_is_latest_and_reopen_does_not_migrate_again(workspace: Path) -> None:
    """A new workspace is at the latest migration; reopening leaves schema_migrations untouched."""
    with open_workspace(workspace) as ctx:
        assert ctx.store.schema_version() == LATEST_VERSION == MIGRATIONS[-1].version
    db = workspace / DB_FILENAME
    with sqlite3.connect(db) as conn:
        before = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    conn.close()
    with open_workspace(workspace) as ctx:
        assert ctx.store.schema_version() == LATEST_VERSION
    with sqlite3.connect(db) as conn:
        after = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    conn.close()
    assert after == before
    assert [version for version, _, _ in before] == [m.version for m in MIGRATIONS]


def _mark_future_schema(workspace: Path) -> None:
    open_workspace(workspace).close()
    conn = sqlite3.connect(workspace / DB_FILENAME)
    with conn:
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')")
    conn.close()


def test_newer_schema_is_refused_with_schema_error(workspace: Path) -> None:
    """A workspace migrated by a newer contexta raises SchemaError (a StoreError) saying to upgrade."""
    _mark_future_schema(workspace)
    with pytest.raises(SchemaError) as caught:
        open_workspace(workspace)
    assert isinstance(caught.value, StoreError)
    assert str(caught.value) == (
        f"workspace {workspace / DB_FILENAME} has schema version 99; this contexta knows up to "
        f"{LATEST_VERSION}: upgrade contexta"
    )


def test_refused_newer_schema_leaves_the_workspace_unlocked(workspace: Path) -> None:
    """After SchemaError the database is not left locked (another writer can begin at once)."""
    _mark_future_schema(workspace)
    with pytest.raises(SchemaError):
        open_workspace(workspace)
    other = sqlite3.connect(workspace / DB_FILENAME, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_sqlite_uri_opens_that_file(tmp_path: Path) -> None:
    """store_uri 'sqlite:///<path>' puts the database at that path instead of <workspace>/contexta.db."""
    db = tmp_path / "elsewhere" / "custom.db"
    with open_workspace(tmp_path / "ws", workspace={"store_uri": f"sqlite:///{db}"}) as ctx:
        ctx.metadata_store.runs.put_run(run())
        assert ctx.store.uri == f"sqlite:///{db}"
    assert db.is_file()
    assert not (tmp_path / "ws" / DB_FILENAME).exists()
    with open_workspace(tmp_path / "other", workspace={"store_uri": f"sqlite:///{db}"}) as ctx:
        assert ctx.metadata_store.runs.get_run(RUN) == run()


@pytest.mark.parametrize(("uri", "scheme"), [("postgresql://x", "postgresql"), ("mysql://u@h/db", "mysql")])
def test_unsupported_store_scheme_is_a_config_error_naming_it(tmp_path: Path, uri: str, scheme: str) -> None:
    """An unsupported URI scheme raises ConfigError naming the URI and the scheme."""
    expected = f"store URI {uri!r}: scheme {scheme!r} is not supported (supported: sqlite:///)"
    with pytest.raises(ConfigError) as caught:
        open_workspace(tmp_path, workspace={"store_uri": uri})
    assert str(caught.value) == expected
    with pytest.raises(ConfigError, match="postgresql"):
        open_store("postgresql://x")


def test_own_writes_are_readable_before_commit_and_others_see_them_after_flush(workspace: Path) -> None:
    """The writing Contexta reads its writes at once; a second Contexta sees them after flush()."""
    writer = open_workspace(workspace, workspace={"commit_interval_seconds": 10})
    reader = open_workspace(workspace)
    try:
        writer.metadata_store.runs.put_run(run())
        writer.record_store.append(metric())
        assert writer.metadata_store.runs.get_run(RUN) == run()
        assert count_records(writer) == 1
        assert reader.metadata_store.runs.get_run(RUN) is None  # not committed yet (interval is 10 s)
        writer.flush()
        assert reader.metadata_store.runs.get_run(RUN) == run()
        assert count_records(reader) == 1
    finally:
        reader.close()
        writer.close()


def test_close_is_idempotent_and_use_after_close_is_a_store_error(workspace: Path) -> None:
    """close() twice is fine; a write after close raises StoreError saying the workspace is closed."""
    ctx = open_workspace(workspace)
    ctx.close()
    ctx.close()
    with pytest.raises(StoreError, match="is closed"):
        ctx.metadata_store.runs.put_run(run())


def test_get_of_unknown_ref_returns_none(ctx: Contexta) -> None:
    """get_* of a ref the workspace never saw returns None; list_* of an unknown run is empty."""
    assert ctx.metadata_store.runs.get_run("run:demo.nope") is None
    assert ctx.metadata_store.stages.get_stage_execution("stage:demo.nope.train") is None
    assert ctx.metadata_store.stages.list_stage_executions("run:demo.nope") == []
    assert ctx.metadata_store.runs.list_runs("project:nope") == []


def test_step_beyond_int64_is_refused_as_a_contexta_error(ctx: Contexta) -> None:
    """A step too large for the store is a ValidationError naming MetricPayload.step; nothing is stored."""
    with pytest.raises(ValidationError, match=r"^MetricPayload\.step: "):
        ctx.record_store.append(
            MetricRecord(
                envelope=metric().envelope,
                payload=MetricPayload(metric_key="loss", value=1.0, step=2**63),
            )
        )
    assert count_records(ctx) == 0
