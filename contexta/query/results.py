"""Result types of the query API: plain frozen dataclasses with ``to_dict()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DeploymentExecution,
    EnvironmentSnapshot,
    Run,
    SampleObservation,
    StageExecution,
)
from contexta.store.base import RecordView


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {key: _plain(getattr(value, key)) for key in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class _Result:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (what ``--json`` prints)."""
        return _plain(self)  # type: ignore[no-any-return]


class _Tabular:
    """``to_pandas()`` / ``to_polars()`` of a result whose ``_table()`` is ``(columns, rows)``."""

    __slots__ = ()

    def _table(self) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        raise NotImplementedError

    def to_pandas(self) -> Any:
        """A pandas DataFrame (needs ``pip install 'contexta[pandas]'``)."""
        from contexta.query.frames import to_frame

        return to_frame(*self._table(), "pandas")

    def to_polars(self) -> Any:
        """A polars DataFrame (needs ``pip install 'contexta[polars]'``)."""
        from contexta.query.frames import to_frame

        return to_frame(*self._table(), "polars")


@dataclass(frozen=True, slots=True)
class StageView(_Result):
    """A stage as a snapshot shows it."""

    name: str
    ref: str
    status: str
    started_at: str
    ended_at: str | None
    order_index: int | None

    @classmethod
    def of(cls, stage: StageExecution) -> StageView:
        return cls(
            stage.stage_name,
            stage.stage_execution_ref,
            stage.status,
            stage.started_at,
            stage.ended_at,
            stage.order_index,
        )


@dataclass(frozen=True, slots=True)
class BatchView(_Result):
    name: str
    ref: str
    stage_ref: str
    status: str
    started_at: str
    ended_at: str | None
    order_index: int | None

    @classmethod
    def of(cls, batch: BatchExecution) -> BatchView:
        return cls(
            batch.batch_name,
            batch.batch_execution_ref,
            batch.stage_execution_ref,
            batch.status,
            batch.started_at,
            batch.ended_at,
            batch.order_index,
        )


@dataclass(frozen=True, slots=True)
class SampleView(_Result):
    name: str
    ref: str
    stage_ref: str
    batch_ref: str | None
    observed_at: str
    status: str

    @classmethod
    def of(cls, sample: SampleObservation) -> SampleView:
        return cls(
            sample.sample_name,
            sample.sample_observation_ref,
            sample.stage_execution_ref,
            sample.batch_execution_ref,
            sample.observed_at,
            sample.status,
        )


@dataclass(frozen=True, slots=True)
class DeploymentView(_Result):
    deployment_id: str
    name: str
    status: str
    run_id: str | None
    environment: str | None
    started_at: str
    ended_at: str | None
    order_index: int | None
    artifact_ref: str | None = None

    @classmethod
    def of(cls, deployment: DeploymentExecution) -> DeploymentView:
        return cls(
            deployment.deployment_execution_ref,
            deployment.deployment_name,
            deployment.status,
            deployment.run_ref,
            deployment.environment,
            deployment.started_at,
            deployment.ended_at,
            deployment.order_index,
            deployment.artifact_ref,
        )


@dataclass(frozen=True, slots=True)
class RunSnapshot(_Result):
    """Everything about one run, in one object."""

    run: Run
    stages: list[StageView]
    records: list[RecordView]
    batches: list[BatchView] = field(default_factory=list)
    samples: list[SampleView] = field(default_factory=list)
    deployments: list[DeploymentView] = field(default_factory=list)
    artifacts: list[ArtifactManifest] = field(default_factory=list)
    environment: EnvironmentSnapshot | None = None

    def metrics(self, stage_name: str | None = None) -> dict[str, float]:
        """Latest value (by step, then time) of each metric, optionally of one stage."""
        from contexta.query.compare import latest_metrics

        groups = latest_metrics(self.records)
        if stage_name is None:
            merged: dict[str, float] = {}
            for values in groups.values():
                merged.update(values)
            return merged
        return dict(groups.get(stage_name, {}))

    def to_pandas(self) -> Any:
        """The run's metric records as a tidy pandas DataFrame (the columns of ``metrics_frame``)."""
        from contexta.query.frames import metrics_frame

        return metrics_frame([self.records], backend="pandas")

    def to_polars(self) -> Any:
        """The run's metric records as a tidy polars DataFrame (the columns of ``metrics_frame``)."""
        from contexta.query.frames import metrics_frame

        return metrics_frame([self.records], backend="polars")

    def _repr_html_(self) -> str:
        from contexta.html.notebook import snapshot_html

        return snapshot_html(self)


@dataclass(frozen=True, slots=True)
class MetricDelta(_Result):
    metric_key: str
    left_value: float | None
    right_value: float | None

    @property
    def delta(self) -> float | None:
        if self.left_value is None or self.right_value is None:
            return None
        return self.right_value - self.left_value


@dataclass(frozen=True, slots=True)
class StageComparison(_Result):
    """Metrics of one stage (``stage_name=None``: metrics recorded on the run itself)."""

    stage_name: str | None
    left_status: str | None
    right_status: str | None
    metric_deltas: list[MetricDelta]


@dataclass(frozen=True, slots=True)
class RunComparison(_Result, _Tabular):
    left_run_id: str
    right_run_id: str
    stage_comparisons: list[StageComparison]

    def _table(self) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        columns = ("stage", "key", "left", "right", "delta", "left_status", "right_status")
        rows = [
            (s.stage_name, d.metric_key, d.left_value, d.right_value, d.delta, s.left_status, s.right_status)
            for s in self.stage_comparisons
            for d in s.metric_deltas
        ]
        return columns, rows

    def _repr_html_(self) -> str:
        from contexta.html.notebook import run_comparison_html

        return run_comparison_html(self)


@dataclass(frozen=True, slots=True)
class MultiRunComparison(_Result, _Tabular):
    run_ids: list[str]
    #: ``(stage_name, metric_key) -> [value per run, None where missing]``
    table: list[tuple[str | None, str, list[float | None]]]
    pairwise: list[RunComparison]

    def _table(self) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """``stage``, ``key``, then one column per run: its name, or its ref when names repeat."""
        names = [ref.rsplit(".", 1)[1] for ref in self.run_ids]
        runs = names if len(set(names)) == len(names) else list(self.run_ids)
        return ("stage", "key", *runs), [(stage, key, *values) for stage, key, values in self.table]

    def _repr_html_(self) -> str:
        from contexta.html.notebook import multi_comparison_html

        return multi_comparison_html(self)


@dataclass(frozen=True, slots=True)
class DiagnosticIssue(_Result):
    severity: str
    code: str
    summary: str
    subject_ref: str
    evidence_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DiagnosisResult(_Result, _Tabular):
    run_id: str
    issues: list[DiagnosticIssue]

    def _table(self) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        columns = ("severity", "code", "subject", "summary", "evidence")
        return columns, [
            (i.severity, i.code, i.subject_ref, i.summary, list(i.evidence_refs)) for i in self.issues
        ]

    def _repr_html_(self) -> str:
        from contexta.html.notebook import diagnosis_html

        return diagnosis_html(self)

    @property
    def errors(self) -> list[DiagnosticIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[DiagnosticIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]


@dataclass(frozen=True, slots=True)
class LineageNode(_Result):
    ref: str
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class LineageEdgeView(_Result):
    source_ref: str
    target_ref: str
    relation_type: str
    derived: bool


@dataclass(frozen=True, slots=True)
class LineageGraph(_Result):
    root_ref: str
    direction: str
    nodes: list[LineageNode]
    edges: list[LineageEdgeView]

    def _repr_html_(self) -> str:
        from contexta.html.notebook import lineage_html

        return lineage_html(self)
