"""The store seam: a small protocol and the plain rows it returns.

A store is chosen by URI (:func:`contexta.store.open_store`). It writes batches of contract
models and answers a handful of read primitives that are all bounded by one run or one
project; the query layer (``contexta.query``) builds everything else from those.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
from contexta.contract.records import RECORD_CLASSES, AnyRecord, RecordEnvelope

Entity = (
    Project
    | Run
    | StageExecution
    | BatchExecution
    | SampleObservation
    | DeploymentExecution
    | EnvironmentSnapshot
    | ArtifactManifest
    | LineageEdge
)


@dataclass(frozen=True, slots=True)
class RunRow:
    """One line of ``list_runs``: enough to choose a run without loading it."""

    run_id: str
    project: str
    name: str
    status: str
    started_at: str
    ended_at: str | None
    last_seen_at: str | None = None
    owner: str | None = None

    @property
    def run_ref(self) -> str:
        return self.run_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (what ``--json`` prints)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class RecordView:
    """A stored record, flattened for reading: ``key`` is the metric, event or issue key."""

    record_ref: str
    record_type: str
    key: str
    value: float | None
    message: str | None
    observed_at: str
    recorded_at: str
    run_ref: str
    stage_ref: str | None = None
    batch_ref: str | None = None
    sample_ref: str | None = None
    step: int | None = None
    unit: str | None = None
    level: str | None = None
    severity: str | None = None
    category: str | None = None
    producer_ref: str = "contexta"
    completeness_marker: str = "complete"
    degradation_marker: str = "none"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        if self.sample_ref:
            return "sample"
        if self.batch_ref:
            return "batch"
        return "stage" if self.stage_ref else "run"

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.details.get("attributes") or {})

    def to_model(self) -> AnyRecord:
        """Rebuild the full contract record."""
        envelope = RecordEnvelope(
            record_ref=self.record_ref,
            record_type=self.record_type,  # type: ignore[arg-type]
            recorded_at=self.recorded_at,
            observed_at=self.observed_at,
            producer_ref=self.producer_ref,
            run_ref=self.run_ref,
            stage_execution_ref=self.stage_ref,
            batch_execution_ref=self.batch_ref,
            sample_observation_ref=self.sample_ref,
            completeness_marker=self.completeness_marker,  # type: ignore[arg-type]
            degradation_marker=self.degradation_marker,  # type: ignore[arg-type]
        )
        payload: dict[str, Any]
        if self.record_type == "metric":
            payload = {"metric_key": self.key, "value": self.value, "step": self.step, "unit": self.unit}
            payload.update(self.details)
        elif self.record_type == "event":
            payload = {
                "event_key": self.key,
                "level": self.level,
                "message": self.message or "",
                **self.details,
            }
        elif self.record_type == "degraded":
            payload = {
                "issue_key": self.key,
                "category": self.category,
                "severity": self.severity,
                "summary": self.message,
                **self.details,
            }
        else:
            payload = dict(self.details)
        return RECORD_CLASSES[self.record_type].model_validate({"envelope": envelope, "payload": payload})


@dataclass(slots=True)
class RunBundle:
    """Everything one run owns, read in one go: the input of snapshot, compare and diagnose."""

    run_ref: str
    run: Run | None
    stages: list[StageExecution] = field(default_factory=list)
    batches: list[BatchExecution] = field(default_factory=list)
    samples: list[SampleObservation] = field(default_factory=list)
    deployments: list[DeploymentExecution] = field(default_factory=list)
    artifacts: list[ArtifactManifest] = field(default_factory=list)
    environment: EnvironmentSnapshot | None = None
    records: list[RecordView] = field(default_factory=list)
    last_seen_at: str | None = None
    owner: str | None = None


@runtime_checkable
class WorkspaceStore(Protocol):
    """What every backend provides. Writes are idempotent by ref; reads are per run or project."""

    uri: str

    def schema_version(self) -> int: ...

    def put(self, entity: Entity) -> None: ...

    def append_records(self, records: Iterable[AnyRecord]) -> int: ...

    def get(self, model: type[Any], ref: str) -> Any | None: ...

    def list_projects(self) -> list[Project]: ...

    def list_runs(self, project_ref: str) -> list[RunRow]: ...

    def list_deployments(self, project_ref: str) -> list[DeploymentExecution]: ...

    def read_run(self, run_ref: str) -> RunBundle: ...

    def relations_of(self, ref: str) -> Sequence[LineageEdge]: ...

    def touch_run(self, run_ref: str, seen_at: str, owner: str | None) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
