"""Execution entities: projects, runs, stages, batches, samples, deployments, environments."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contexta.contract._base import (
    Attributes,
    ContractModel,
    Status,
    Timestamp,
    check_interval,
)
from contexta.contract.refs import Ref, check_component, extends, parse_ref

TraceId = Annotated[str | None, Field(default=None, pattern=r"^[0-9a-f]{32}$")]
SpanId = Annotated[str | None, Field(default=None, pattern=r"^[0-9a-f]{16}$")]


class _Checks(ContractModel):
    def _ref(self, field: str, kind: str) -> Ref:
        return parse_ref(getattr(self, field), f"{type(self).__name__}.{field}", kind)

    def _child(self, field: str, kind: str, parent: Ref, parent_field: str) -> Ref:
        ref = self._ref(field, kind)
        if not extends(ref, parent) or len(ref.parts) != len(parent.parts) + 1:
            raise self._fail(field, f"must extend {parent_field} {str(parent)!r} by one component", str(ref))
        return ref

    def _name_matches(self, field: str, ref: Ref, ref_field: str) -> None:
        name = getattr(self, field)
        check_component(name, f"{type(self).__name__}.{field}")
        if ref.parts[-1] != name:
            raise self._fail(field, f"must equal the last component of {ref_field} {str(ref)!r}", name)


class Project(_Checks):
    """A project: the namespace of runs and deployments."""

    project_ref: str
    name: str
    created_at: Timestamp | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    def _check(self) -> None:
        self._name_matches("name", self._ref("project_ref", "project"), "project_ref")


class Run(_Checks):
    """One execution of a pipeline or training job."""

    run_ref: str
    project_ref: str
    name: str
    status: Status
    started_at: Timestamp
    ended_at: Timestamp | None = None
    description: str | None = None
    dataset_refs: tuple[str, ...] = ()
    params: Attributes = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    trace_id: TraceId = None
    span_id: SpanId = None

    def _check(self) -> None:
        project = self._ref("project_ref", "project")
        run = self._child("run_ref", "run", project, "project_ref")
        self._name_matches("name", run, "run_ref")
        check_interval(self, self.status, self.started_at, self.ended_at)
        for index, ref in enumerate(self.dataset_refs):
            parse_ref(ref, f"Run.dataset_refs[{index}]", "dataset")


class StageExecution(_Checks):
    """One stage (ingest, train, evaluate...) of a run."""

    stage_execution_ref: str
    run_ref: str
    stage_name: str
    status: Status
    started_at: Timestamp
    ended_at: Timestamp | None = None
    order_index: int | None = Field(default=None, ge=0, le=2**63 - 1)
    attributes: Attributes = Field(default_factory=dict)

    trace_id: TraceId = None
    span_id: SpanId = None

    def _check(self) -> None:
        run = self._ref("run_ref", "run")
        stage = self._child("stage_execution_ref", "stage", run, "run_ref")
        self._name_matches("stage_name", stage, "stage_execution_ref")
        check_interval(self, self.status, self.started_at, self.ended_at)


class BatchExecution(_Checks):
    """One unit of data processing (an epoch, a chunk, a file) inside a stage."""

    batch_execution_ref: str
    run_ref: str
    stage_execution_ref: str
    batch_name: str
    status: Status
    started_at: Timestamp
    ended_at: Timestamp | None = None
    order_index: int | None = Field(default=None, ge=0, le=2**63 - 1)
    attributes: Attributes = Field(default_factory=dict)

    trace_id: TraceId = None
    span_id: SpanId = None

    def _check(self) -> None:
        run = self._ref("run_ref", "run")
        stage = self._child("stage_execution_ref", "stage", run, "run_ref")
        batch = self._child("batch_execution_ref", "batch", stage, "stage_execution_ref")
        self._name_matches("batch_name", batch, "batch_execution_ref")
        check_interval(self, self.status, self.started_at, self.ended_at)


class SampleObservation(_Checks):
    """One item (a row, an image, a prediction) observed in a stage or a batch."""

    sample_observation_ref: str
    run_ref: str
    stage_execution_ref: str
    batch_execution_ref: str | None = None
    sample_name: str
    observed_at: Timestamp
    status: Status = "completed"
    ended_at: Timestamp | None = None
    order_index: int | None = Field(default=None, ge=0, le=2**63 - 1)
    attributes: Attributes = Field(default_factory=dict)

    trace_id: TraceId = None
    span_id: SpanId = None

    def _check(self) -> None:
        run = self._ref("run_ref", "run")
        stage = self._child("stage_execution_ref", "stage", run, "run_ref")
        parent, parent_field = stage, "stage_execution_ref"
        if self.batch_execution_ref is not None:
            parent = self._child("batch_execution_ref", "batch", stage, "stage_execution_ref")
            parent_field = "batch_execution_ref"
        sample = self._child("sample_observation_ref", "sample", parent, parent_field)
        self._name_matches("sample_name", sample, "sample_observation_ref")
        if self.ended_at is not None:
            check_interval(self, self.status, self.observed_at, self.ended_at)


class DeploymentExecution(_Checks):
    """One rollout of a run's model or artifact to an environment."""

    deployment_execution_ref: str
    project_ref: str
    deployment_name: str
    status: Status
    started_at: Timestamp
    ended_at: Timestamp | None = None
    order_index: int | None = Field(default=None, ge=0, le=2**63 - 1)
    run_ref: str | None = None
    environment: str | None = None
    artifact_ref: str | None = None
    attributes: Attributes = Field(default_factory=dict)

    trace_id: TraceId = None
    span_id: SpanId = None

    def _check(self) -> None:
        project = self._ref("project_ref", "project")
        deployment = self._child("deployment_execution_ref", "deployment", project, "project_ref")
        self._name_matches("deployment_name", deployment, "deployment_execution_ref")
        check_interval(self, self.status, self.started_at, self.ended_at)
        if self.run_ref is not None:
            run = self._ref("run_ref", "run")
            if run.project != project.project:
                raise self._fail("run_ref", f"must belong to project {project.project!r}", self.run_ref)
        if self.artifact_ref is not None:
            self._ref("artifact_ref", "artifact")
        if self.environment is not None:
            check_component(self.environment, "DeploymentExecution.environment")


class EnvironmentSnapshot(_Checks):
    """Where a run executed: interpreter, platform, packages, git state, selected variables."""

    environment_snapshot_ref: str
    run_ref: str
    captured_at: Timestamp
    python_version: str | None = None
    platform: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    env_vars: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    attributes: Attributes = Field(default_factory=dict)

    def _check(self) -> None:
        run = self._ref("run_ref", "run")
        env = self._ref("environment_snapshot_ref", "environment")
        if env.parts != run.parts:
            raise self._fail(
                "environment_snapshot_ref", f"must be 'environment:{'.'.join(run.parts)}'", str(env)
            )
