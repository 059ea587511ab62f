"""The explicit write API: ``ctx.metadata_store.<repo>.put_*`` and ``ctx.record_store``.

Thin, typed doors onto one :class:`~contexta.store.base.WorkspaceStore`. Each ``put_*``
checks the model type at the boundary (a wrong type is a ValidationError naming the
argument) and upserts by ref; ``get_*`` returns ``None`` for an unknown ref; ``list_*`` is
bounded by one run or one project.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from contexta.contract.records import AnyRecord
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import ValidationError
from contexta.store.base import RecordView, RunRow, WorkspaceStore


def _expect(value: Any, model: type[Any], argument: str) -> None:
    if not isinstance(value, model):
        raise ValidationError.for_field(argument, f"must be a {model.__name__}", type(value).__name__)


class _Repo:
    def __init__(self, store: WorkspaceStore) -> None:
        self._store = store

    def _put(self, value: Any, model: type[Any], argument: str) -> None:
        _expect(value, model, argument)
        self._store.put(value)


class ProjectRepository(_Repo):
    def put_project(self, project: Project) -> None:
        self._put(project, Project, "project")

    def get_project(self, project_ref: str) -> Project | None:
        return self._store.get(Project, project_ref)  # type: ignore[no-any-return]

    def list_projects(self) -> list[Project]:
        return self._store.list_projects()


class RunRepository(_Repo):
    def put_run(self, run: Run) -> None:
        self._put(run, Run, "run")

    def get_run(self, run_ref: str) -> Run | None:
        return self._store.get(Run, run_ref)  # type: ignore[no-any-return]

    def list_runs(self, project_ref: str) -> list[RunRow]:
        return self._store.list_runs(project_ref)


class StageRepository(_Repo):
    def put_stage_execution(self, stage: StageExecution) -> None:
        self._put(stage, StageExecution, "stage")

    def get_stage_execution(self, stage_ref: str) -> StageExecution | None:
        return self._store.get(StageExecution, stage_ref)  # type: ignore[no-any-return]

    def list_stage_executions(self, run_ref: str) -> list[StageExecution]:
        return self._store.read_run(run_ref).stages


class BatchRepository(_Repo):
    def put_batch_execution(self, batch: BatchExecution) -> None:
        self._put(batch, BatchExecution, "batch")

    def get_batch_execution(self, batch_ref: str) -> BatchExecution | None:
        return self._store.get(BatchExecution, batch_ref)  # type: ignore[no-any-return]

    def list_batch_executions(self, run_ref: str) -> list[BatchExecution]:
        return self._store.read_run(run_ref).batches


class SampleRepository(_Repo):
    def put_sample_observation(self, sample: SampleObservation) -> None:
        self._put(sample, SampleObservation, "sample")

    def get_sample_observation(self, sample_ref: str) -> SampleObservation | None:
        return self._store.get(SampleObservation, sample_ref)  # type: ignore[no-any-return]

    def list_sample_observations(self, run_ref: str) -> list[SampleObservation]:
        return self._store.read_run(run_ref).samples


class DeploymentRepository(_Repo):
    def put_deployment_execution(self, deployment: DeploymentExecution) -> None:
        self._put(deployment, DeploymentExecution, "deployment")

    def get_deployment_execution(self, deployment_ref: str) -> DeploymentExecution | None:
        return self._store.get(DeploymentExecution, deployment_ref)  # type: ignore[no-any-return]

    def list_deployment_executions(self, project_ref: str) -> list[DeploymentExecution]:
        return self._store.list_deployments(project_ref)


class EnvironmentRepository(_Repo):
    def put_environment_snapshot(self, snapshot: EnvironmentSnapshot) -> None:
        self._put(snapshot, EnvironmentSnapshot, "snapshot")

    def get_environment_snapshot(self, run_ref: str) -> EnvironmentSnapshot | None:
        ref = make_ref("environment", *parse_ref(run_ref, "run_ref", "run").parts)
        return self._store.get(EnvironmentSnapshot, ref)  # type: ignore[no-any-return]


class ArtifactRepository(_Repo):
    def put_artifact_manifest(self, artifact: ArtifactManifest) -> None:
        self._put(artifact, ArtifactManifest, "artifact")

    def get_artifact_manifest(self, artifact_ref: str) -> ArtifactManifest | None:
        return self._store.get(ArtifactManifest, artifact_ref)  # type: ignore[no-any-return]

    def list_artifact_manifests(self, run_ref: str) -> list[ArtifactManifest]:
        return self._store.read_run(run_ref).artifacts


class RelationRepository(_Repo):
    def put_relation(self, edge: LineageEdge) -> None:
        self._put(edge, LineageEdge, "edge")

    def list_relations(self, ref: str) -> list[LineageEdge]:
        return list(self._store.relations_of(ref))


class MetadataStore:
    """``ctx.metadata_store``: one repository per entity kind, sharing one store."""

    def __init__(self, store: WorkspaceStore) -> None:
        self._store = store
        self.projects = ProjectRepository(store)
        self.runs = RunRepository(store)
        self.stages = StageRepository(store)
        self.batches = BatchRepository(store)
        self.samples = SampleRepository(store)
        self.deployments = DeploymentRepository(store)
        self.environments = EnvironmentRepository(store)
        self.artifacts = ArtifactRepository(store)
        self.relations = RelationRepository(store)

    def flush(self) -> None:
        self._store.flush()

    def close(self) -> None:
        """Flush and close the workspace. Idempotent."""
        self._store.close()


class RecordStore:
    """``ctx.record_store``: immutable, idempotent records."""

    def __init__(self, store: WorkspaceStore) -> None:
        self._store = store

    def append(self, record: AnyRecord) -> None:
        """Write one record; the same record twice is a no-op, the same ref with other content a conflict."""
        self._store.append_records([record])

    def append_many(self, records: Iterable[AnyRecord]) -> int:
        """Write several records, all or none; returns how many were new."""
        return self._store.append_records(list(records))

    def list_records(self, run_ref: str, record_type: str | None = None) -> list[RecordView]:
        """A run's records in observation order, optionally of one type."""
        records = self._store.read_run(run_ref).records
        return [r for r in records if record_type is None or r.record_type == record_type]

    def flush(self) -> None:
        self._store.flush()
