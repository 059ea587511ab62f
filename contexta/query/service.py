"""The offline query API, on any :class:`~contexta.store.base.WorkspaceStore`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contexta.contract.refs import parse_ref
from contexta.errors import NotFoundError, ValidationError
from contexta.query.compare import compare_bundles, compare_many, latest_metrics
from contexta.query.diagnose import diagnose_bundle
from contexta.query.environment import EnvironmentDiff, ReproducibilityAudit, audit_bundle, diff_environments
from contexta.query.lineage import Direction, traverse
from contexta.query.report import Report, multi_run_report, snapshot_report
from contexta.query.results import (
    BatchView,
    DeploymentView,
    DiagnosisResult,
    LineageGraph,
    MultiRunComparison,
    RunComparison,
    RunSnapshot,
    SampleView,
    StageView,
)
from contexta.store.base import RunBundle, RunRow, WorkspaceStore

RunLike = str | RunRow | RunSnapshot


def run_ref_of(run: Any, field: str = "run") -> str:
    """Accept a run ref, a ``list_runs`` row or a snapshot."""
    if isinstance(run, RunRow):
        return run.run_id
    if isinstance(run, RunSnapshot):
        return run.run.run_ref
    parse_ref(run, field, "run")
    return str(run)


def project_ref_of(project: str, field: str = "project") -> str:
    """Accept ``"my-proj"`` or ``"project:my-proj"``."""
    if not isinstance(project, str):
        raise ValidationError.for_field(field, "must be a project name or 'project:' ref", project)
    ref = project if project.startswith("project:") else f"project:{project}"
    parse_ref(ref, field, "project")
    return ref


class QueryService:
    """Read-side methods shared by :class:`~contexta.Contexta` and the CLI."""

    def __init__(
        self, store: WorkspaceStore, *, stale_after: float = 3600.0, default_project: str | None = None
    ) -> None:
        self.store = store
        self.stale_after = stale_after
        self.default_project = default_project

    # -- helpers ----------------------------------------------------------------------------
    def _project(self, project: str | None) -> str:
        if project is None:
            if self.default_project is None:
                raise ValidationError.for_field(
                    "project", "is required when no project_name is configured", None
                )
            project = self.default_project
        return project_ref_of(project)

    def _bundle(self, run: RunLike, field: str = "run") -> RunBundle:
        ref = run_ref_of(run, field)
        bundle = self.store.read_run(ref)
        if bundle.run is None and not bundle.records:
            raise NotFoundError(ref, "run")
        return bundle

    # -- listing ----------------------------------------------------------------------------
    def list_projects(self) -> list[Any]:
        return self.store.list_projects()

    def list_runs(self, project: str | None = None, *, status: str | None = None) -> list[RunRow]:
        rows = self.store.list_runs(self._project(project))
        return [row for row in rows if status is None or row.status == status]

    def list_deployments(
        self, project: str | None = None, *, environment: str | None = None
    ) -> list[DeploymentView]:
        views = [DeploymentView.of(d) for d in self.store.list_deployments(self._project(project))]
        return [view for view in views if environment is None or view.environment == environment]

    def list_batches(self, run: RunLike) -> list[BatchView]:
        return [BatchView.of(batch) for batch in self._bundle(run).batches]

    def list_samples(self, run: RunLike) -> list[SampleView]:
        return [SampleView.of(sample) for sample in self._bundle(run).samples]

    # -- one run ----------------------------------------------------------------------------
    def _snapshot(self, bundle: RunBundle) -> RunSnapshot:
        if bundle.run is None:
            raise NotFoundError(bundle.run_ref, "run")
        return RunSnapshot(
            run=bundle.run,
            stages=[StageView.of(stage) for stage in bundle.stages],
            records=list(bundle.records),
            batches=[BatchView.of(batch) for batch in bundle.batches],
            samples=[SampleView.of(sample) for sample in bundle.samples],
            deployments=[DeploymentView.of(d) for d in bundle.deployments],
            artifacts=list(bundle.artifacts),
            environment=bundle.environment,
        )

    def get_run_snapshot(self, run: RunLike) -> RunSnapshot:
        return self._snapshot(self._bundle(run))

    def diagnose_run(self, run: RunLike) -> DiagnosisResult:
        return diagnose_bundle(self._bundle(run), stale_after=self.stale_after)

    # -- several runs -----------------------------------------------------------------------
    def compare_runs(self, left: RunLike, right: RunLike) -> RunComparison:
        return compare_bundles(self._bundle(left, "left"), self._bundle(right, "right"))

    def compare_multiple_runs(self, runs: Sequence[RunLike]) -> MultiRunComparison:
        if len(runs) < 2:
            raise ValidationError.for_field("runs", "needs at least two runs", list(runs))
        return compare_many([self._bundle(run, f"runs[{i}]") for i, run in enumerate(runs)])

    def select_best_run(
        self,
        runs: Sequence[RunLike],
        metric: str,
        stage_name: str | None = None,
        higher_is_better: bool = True,
    ) -> str | None:
        """The run whose latest ``metric`` (in ``stage_name``, or anywhere) is best; None if none has it."""
        best: tuple[float, str] | None = None
        for index, run in enumerate(runs):
            bundle = self._bundle(run, f"runs[{index}]")
            groups = latest_metrics(bundle.records)
            values = (
                [groups.get(stage_name, {}).get(metric)]
                if stage_name
                else [group.get(metric) for group in groups.values()]
            )
            found = [value for value in values if value is not None]
            if not found:
                continue
            score = max(found) if higher_is_better else min(found)
            if best is None or (score > best[0] if higher_is_better else score < best[0]):
                best = (score, bundle.run_ref)
        return best[1] if best else None

    def traverse_lineage(
        self, ref: str, direction: Direction = "both", max_depth: int | None = None
    ) -> LineageGraph:
        return traverse(self.store, ref, direction, max_depth)

    # -- reports ----------------------------------------------------------------------------
    def build_snapshot_report(self, run: RunLike) -> Report:
        bundle = self._bundle(run)
        return snapshot_report(self._snapshot(bundle), diagnose_bundle(bundle, stale_after=self.stale_after))

    def build_multi_run_report(self, runs: Sequence[RunLike]) -> Report:
        bundles = [self._bundle(run, f"runs[{i}]") for i, run in enumerate(runs)]
        if len(bundles) < 2:
            raise ValidationError.for_field("runs", "needs at least two runs", list(runs))
        diagnoses = [diagnose_bundle(bundle, stale_after=self.stale_after) for bundle in bundles]
        return multi_run_report(compare_many(bundles), diagnoses, [bundle.records for bundle in bundles])

    def compare_environments(self, left: RunLike, right: RunLike) -> EnvironmentDiff:
        """Interpreter, platform, git, package and variable differences of two runs."""
        return diff_environments(self._bundle(left, "left"), self._bundle(right, "right"))

    def audit_reproducibility(self, run: RunLike) -> ReproducibilityAudit:
        """Could this run be reproduced? Code version, clean tree, packages, data, artifact hashes."""
        return audit_bundle(self._bundle(run))

    # -- DataFrames -------------------------------------------------------------------------
    def metrics_frame(
        self,
        runs: RunLike | Sequence[RunLike],
        keys: str | Sequence[str] | None = None,
        backend: str = "pandas",
    ) -> Any:
        """One tidy DataFrame of every metric record of ``runs`` (one run or several), exactly as stored:
        columns run, stage, batch, sample, key, step, value, time. ``backend`` is "pandas" or "polars"."""
        from contexta.query.frames import metrics_frame

        several = [runs] if isinstance(runs, str | RunRow | RunSnapshot) else list(runs)
        bundles = [self._bundle(run, f"runs[{i}]") for i, run in enumerate(several)]
        return metrics_frame([bundle.records for bundle in bundles], keys, backend)
