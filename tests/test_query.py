"""The query API on Contexta: listing, snapshots, comparison, best run, diagnostics, lineage and reports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contexta import Contexta, NotFoundError, ValidationError
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
)

DAY = "2025-01-01"


def at(clock: str) -> str:
    return f"{DAY}T{clock}Z"


class Seeder:
    """Writes contract models for one test through the public write API."""

    def __init__(self, ctx: Contexta) -> None:
        self.ctx = ctx
        self.ms = ctx.metadata_store
        self.counter = 0
        self.ms.projects.put_project(Project(project_ref="project:demo", name="demo"))

    def run(
        self,
        name: str,
        status: str = "completed",
        start: str = "00:00:00",
        end: str | None = "01:00:00",
        **kw: Any,
    ) -> str:
        self.ms.runs.put_run(
            Run(
                run_ref=f"run:demo.{name}",
                project_ref="project:demo",
                name=name,
                status=status,
                started_at=kw.pop("started_at", at(start)),
                ended_at=at(end) if end else None,
                **kw,
            )
        )
        return f"run:demo.{name}"

    def stage(
        self, run: str, name: str, order: int | None, status: str = "completed", start: str = "00:00:00"
    ) -> str:
        ref = f"stage:{run[4:]}.{name}"
        self.ms.stages.put_stage_execution(
            StageExecution(
                stage_execution_ref=ref,
                run_ref=run,
                stage_name=name,
                status=status,
                started_at=at(start),
                ended_at=None if status == "open" else at("00:30:00"),
                order_index=order,
            )
        )
        return ref

    def batch(self, stage: str, name: str, status: str = "completed", order: int = 0) -> str:
        ref = f"batch:{stage[6:]}.{name}"
        self.ms.batches.put_batch_execution(
            BatchExecution(
                batch_execution_ref=ref,
                run_ref="run:" + ".".join(stage[6:].split(".")[:2]),
                stage_execution_ref=stage,
                batch_name=name,
                status=status,
                started_at=at("00:01:00"),
                ended_at=None if status == "open" else at("00:02:00"),
                order_index=order,
            )
        )
        return ref

    def sample(self, parent: str, name: str) -> str:
        kind, body = parent.split(":")
        parts = body.split(".")
        ref = f"sample:{body}.{name}"
        self.ms.samples.put_sample_observation(
            SampleObservation(
                sample_observation_ref=ref,
                run_ref=f"run:{parts[0]}.{parts[1]}",
                stage_execution_ref=f"stage:{'.'.join(parts[:3])}",
                batch_execution_ref=parent if kind == "batch" else None,
                sample_name=name,
                observed_at=at("00:01:30"),
            )
        )
        return ref

    def deployment(
        self,
        name: str,
        run: str | None,
        status: str = "completed",
        order: int | None = None,
        start: str = "02:00:00",
        **kw: Any,
    ) -> str:
        ref = f"deployment:demo.{name}"
        self.ms.deployments.put_deployment_execution(
            DeploymentExecution(
                deployment_execution_ref=ref,
                project_ref="project:demo",
                deployment_name=name,
                status=status,
                started_at=at(start),
                ended_at=None if status == "open" else at("23:00:00"),
                order_index=order,
                run_ref=run,
                **kw,
            )
        )
        return ref

    def artifact(self, run: str, key: str) -> str:
        ref = f"artifact:{run[4:]}.{key}"
        self.ms.artifacts.put_artifact_manifest(
            ArtifactManifest(
                artifact_ref=ref,
                run_ref=run,
                artifact_kind="model",
                uri=f"file:///{key}.pkl",
                sha256="ab" * 32,
                size_bytes=10,
                created_at=at("00:50:00"),
            )
        )
        return ref

    def environment(self, run: str) -> str:
        ref = f"environment:{run[4:]}"
        self.ms.environments.put_environment_snapshot(
            EnvironmentSnapshot(
                environment_snapshot_ref=ref,
                run_ref=run,
                captured_at=at("00:00:00"),
                python_version="3.11.7",
                packages={"numpy": "2.0"},
            )
        )
        return ref

    def _envelope(self, run: str, kind: str, observed: str, stage: str | None, **refs: Any) -> RecordEnvelope:
        self.counter += 1
        return RecordEnvelope(
            record_ref=f"record:{run[4:]}.r{self.counter:05d}",
            record_type=kind,
            recorded_at=at(observed),
            observed_at=at(observed),
            run_ref=run,
            stage_execution_ref=stage,
            **refs,
        )

    def metric(
        self,
        run: str,
        key: str,
        value: float,
        stage: str | None = None,
        observed: str = "00:10:00",
        step: int | None = None,
        **refs: Any,
    ) -> str:
        record = MetricRecord(
            envelope=self._envelope(run, "metric", observed, stage, **refs),
            payload=MetricPayload(metric_key=key, value=value, step=step),
        )
        self.ctx.record_store.append(record)
        return record.record_ref

    def degraded(self, run: str, stage: str | None, severity: str, summary: str) -> str:
        record = DegradedRecord(
            envelope=self._envelope(run, "degraded", "00:20:00", stage),
            payload=DegradedPayload(
                issue_key="rows.empty", category="data", severity=severity, summary=summary
            ),
        )
        self.ctx.record_store.append(record)
        return record.record_ref

    def event(self, run: str, stage: str | None, message: str, level: str = "info") -> str:
        record = StructuredEventRecord(
            envelope=self._envelope(run, "event", "00:15:00", stage),
            payload=StructuredEventPayload(event_key="note", level=level, message=message),
        )
        self.ctx.record_store.append(record)
        return record.record_ref


@pytest.fixture
def seed(ctx: Contexta) -> Seeder:
    return Seeder(ctx)


def open_ctx(workspace: Path, **config: Any) -> Contexta:
    return Contexta(workspace=workspace, config={"project_name": "demo", **config}, environ={})


def codes(ctx: Contexta, run: str) -> list[tuple[str, str, str]]:
    return [(issue.severity, issue.code, issue.subject_ref) for issue in ctx.diagnose_run(run).issues]


# -- listing ---------------------------------------------------------------------------------------------


def test_list_runs_orders_by_start_then_name_with_id_name_status(ctx: Contexta, seed: Seeder) -> None:
    """list_runs returns rows ordered by started_at then name, each with run_id, name and status."""
    seed.run("r-b", start="00:30:00")
    seed.run("r-c", status="failed")
    seed.run("r-a", status="open", end=None)
    rows = ctx.list_runs()
    assert [(row.run_id, row.name, row.status) for row in rows] == [
        ("run:demo.r-a", "r-a", "open"),
        ("run:demo.r-c", "r-c", "failed"),
        ("run:demo.r-b", "r-b", "completed"),
    ]
    assert (rows[0].project, rows[0].started_at, rows[0].ended_at) == ("demo", at("00:00:00"), None)
    assert rows[2].run_ref == "run:demo.r-b"
    assert ctx.list_runs("demo") == ctx.list_runs("project:demo") == rows
    assert [row.name for row in ctx.list_runs(status="failed")] == ["r-c"]
    assert ctx.list_runs("other") == []


def test_list_runs_without_a_project_needs_one_configured(workspace: Path) -> None:
    """With no project_name configured, list_runs() asks for the project."""
    message = r"^project: is required when no project_name is configured"
    with Contexta(workspace=workspace, environ={}) as ctx, pytest.raises(ValidationError, match=message):
        ctx.list_runs()


def test_list_deployments_orders_by_order_index_then_start(ctx: Contexta, seed: Seeder) -> None:
    """Deployments come by order_index, then started_at; those without order_index come last."""
    run = seed.run("r1")
    seed.deployment("d-one", run, order=1, start="00:00:00")
    seed.deployment("d-late", run, order=0, start="05:00:00", environment="staging")
    seed.deployment("d-early", None, order=0, start="03:00:00", status="failed")
    seed.deployment("d-none", run, order=None, start="00:00:00", status="open")
    views = ctx.list_deployments()
    assert [(v.deployment_id, v.run_id, v.name, v.status) for v in views] == [
        ("deployment:demo.d-early", None, "d-early", "failed"),
        ("deployment:demo.d-late", run, "d-late", "completed"),
        ("deployment:demo.d-one", run, "d-one", "completed"),
        ("deployment:demo.d-none", run, "d-none", "open"),
    ]
    assert [v.name for v in ctx.list_deployments("demo", environment="staging")] == ["d-late"]


# -- one run ---------------------------------------------------------------------------------------------


def test_snapshot_orders_stages_by_order_index_and_records_by_time(ctx: Contexta, seed: Seeder) -> None:
    """Stages come in order_index order; records in observation-time order, sub-second times included."""
    run = seed.run("r1")
    seed.stage(run, "evaluate", 2, start="00:00:01")
    seed.stage(run, "ingest", 0, start="00:00:03")
    seed.stage(run, "train", 1, start="00:00:02")
    train = "stage:demo.r1.train"
    late = seed.metric(run, "loss", 0.3, train, observed="00:00:01")
    mid = seed.metric(run, "loss", 0.2, train, observed="00:00:00.300")
    first = seed.metric(run, "loss", 0.1, train, observed="00:00:00.100")
    second = seed.metric(run, "acc", 0.9, None, observed="00:00:00.200001")
    snapshot = ctx.get_run_snapshot(run)
    assert [s.name for s in snapshot.stages] == ["ingest", "train", "evaluate"]
    assert [s.order_index for s in snapshot.stages] == [0, 1, 2]
    assert [r.record_ref for r in snapshot.records] == [first, second, mid, late]
    assert [r.observed_at for r in snapshot.records] == [
        at("00:00:00.100000"),
        at("00:00:00.200001"),
        at("00:00:00.300000"),
        at("00:00:01"),
    ]
    assert snapshot.run.name == "r1"


def test_snapshot_holds_batches_samples_deployments_artifacts_and_environment(
    ctx: Contexta, seed: Seeder
) -> None:
    """A snapshot carries every kind of thing the run owns."""
    run = seed.run("r1")
    stage = seed.stage(run, "train", 0)
    b1 = seed.batch(stage, "epoch-1", status="failed", order=1)
    b0 = seed.batch(stage, "epoch-0", order=0)
    s1 = seed.sample(b0, "s-1")
    s0 = seed.sample(stage, "s-0")
    artifact = seed.artifact(run, "model")
    deployment = seed.deployment("prod", run, artifact_ref=artifact)
    seed.environment(run)
    snapshot = ctx.get_run_snapshot(run)
    assert [(b.ref, b.stage_ref, b.status) for b in snapshot.batches] == [
        (b0, stage, "completed"),
        (b1, stage, "failed"),
    ]
    assert {(s.ref, s.batch_ref) for s in snapshot.samples} == {(s1, b0), (s0, None)}
    assert [(d.deployment_id, d.artifact_ref) for d in snapshot.deployments] == [(deployment, artifact)]
    assert [a.artifact_ref for a in snapshot.artifacts] == [artifact]
    assert snapshot.environment is not None and snapshot.environment.python_version == "3.11.7"
    assert [b.name for b in ctx.list_batches(run)] == ["epoch-0", "epoch-1"]
    assert {s.name for s in ctx.list_samples(run)} == {"s-0", "s-1"}
    assert json.loads(json.dumps(snapshot.to_dict()))["run"]["run_ref"] == run


def test_snapshot_deployments_follow_the_list_deployments_order(ctx: Contexta, seed: Seeder) -> None:
    """A run's deployments appear in its snapshot in the same order as list_deployments."""
    run = seed.run("r1")
    seed.deployment("unordered", run, order=None, start="00:00:00")
    seed.deployment("first", run, order=0, start="05:00:00")
    listed = [d.name for d in ctx.list_deployments()]
    assert listed == ["first", "unordered"]
    assert [d.name for d in ctx.get_run_snapshot(run).deployments] == listed


def test_snapshot_metrics_give_latest_value_per_stage(ctx: Contexta, seed: Seeder) -> None:
    """RunSnapshot.metrics() gives the latest value of each metric, overall or for one stage."""
    run = seed.run("r1")
    train = seed.stage(run, "train", 0)
    seed.metric(run, "loss", 0.9, train, step=1)
    seed.metric(run, "loss", 0.4, train, step=2, observed="00:05:00")
    seed.metric(run, "acc", 0.8, None)
    snapshot = ctx.get_run_snapshot(run)
    assert snapshot.metrics("train") == {"loss": 0.4}
    assert snapshot.metrics() == {"loss": 0.4, "acc": 0.8}
    assert snapshot.metrics("nowhere") == {}


@pytest.mark.parametrize(
    "call",
    [
        lambda ctx: ctx.get_run_snapshot("run:demo.nope"),
        lambda ctx: ctx.diagnose_run("run:demo.nope"),
        lambda ctx: ctx.build_snapshot_report("run:demo.nope"),
        lambda ctx: ctx.list_batches("run:demo.nope"),
        lambda ctx: ctx.compare_runs("run:demo.r1", "run:demo.nope"),
        lambda ctx: ctx.select_best_run(["run:demo.r1", "run:demo.nope"], "acc"),
    ],
    ids=["snapshot", "diagnose", "report", "batches", "compare", "select_best"],
)
def test_unknown_run_is_not_found_error_naming_the_ref(ctx: Contexta, seed: Seeder, call: Any) -> None:
    """Asking about a run the workspace does not hold raises NotFoundError (a KeyError) naming the ref."""
    seed.run("r1")
    with pytest.raises(NotFoundError) as caught:
        call(ctx)
    assert str(caught.value) == "run not found: 'run:demo.nope'"
    assert caught.value.ref == "run:demo.nope"
    assert isinstance(caught.value, KeyError)


def test_malformed_run_ref_is_a_validation_error(ctx: Contexta) -> None:
    """A stage ref where a run is expected is a ValidationError, not NotFoundError."""
    with pytest.raises(ValidationError, match=r"^run: must be a 'run' ref"):
        ctx.get_run_snapshot("stage:demo.r1.train")


# -- comparisons -----------------------------------------------------------------------------------------


def test_compare_runs_pairs_stages_by_name_and_takes_latest_metric(ctx: Contexta, seed: Seeder) -> None:
    """Stages pair by name; a metric seen several times resolves to the latest by step, then time."""
    left, right = seed.run("left"), seed.run("right")
    for run in (left, right):
        seed.stage(run, "train", 0)
    seed.stage(left, "evaluate", 1, status="failed")
    seed.stage(right, "evaluate", 1)
    lt, rt = "stage:demo.left.train", "stage:demo.right.train"
    seed.metric(left, "loss", 0.50, lt, step=3, observed="00:01:00")
    seed.metric(left, "loss", 0.90, lt, step=1, observed="00:09:00")  # later in time, earlier step
    seed.metric(right, "loss", 0.40, rt, step=2, observed="00:01:00")
    seed.metric(right, "loss", 0.30, rt, step=2, observed="00:02:00")  # same step, later: wins
    seed.metric(left, "acc", 0.80, "stage:demo.left.evaluate")
    seed.metric(right, "acc", 0.85, "stage:demo.right.evaluate")
    comparison = ctx.compare_runs(left, right)
    assert (comparison.left_run_id, comparison.right_run_id) == (left, right)
    stages = {s.stage_name: s for s in comparison.stage_comparisons}
    assert [s.stage_name for s in comparison.stage_comparisons] == ["train", "evaluate"]
    (loss,) = stages["train"].metric_deltas
    assert (loss.metric_key, loss.left_value, loss.right_value) == ("loss", 0.50, 0.30)
    assert loss.delta == pytest.approx(-0.20)
    assert (stages["evaluate"].left_status, stages["evaluate"].right_status) == ("failed", "completed")
    assert stages["evaluate"].metric_deltas[0].delta == pytest.approx(0.05)


def test_compare_runs_puts_run_level_metrics_in_their_own_group(ctx: Contexta, seed: Seeder) -> None:
    """Metrics recorded on the run (no stage) form a group with stage_name=None, ahead of the stages."""
    left, right = seed.run("left"), seed.run("right")
    seed.stage(left, "train", 0)
    seed.stage(right, "train", 0)
    seed.metric(left, "final.acc", 0.7, None)
    seed.metric(right, "final.acc", 0.75, None)
    seed.metric(left, "final.acc", 0.1, "stage:demo.left.train")
    comparison = ctx.compare_runs(left, right)
    run_level = comparison.stage_comparisons[0]
    assert run_level.stage_name is None
    assert (run_level.left_status, run_level.right_status) == (None, None)
    assert [(d.metric_key, d.left_value, d.right_value) for d in run_level.metric_deltas] == [
        ("final.acc", 0.7, 0.75)
    ]
    train = comparison.stage_comparisons[1]
    assert (train.stage_name, train.metric_deltas[0].left_value, train.metric_deltas[0].right_value) == (
        "train",
        0.1,
        None,
    )


def test_one_sided_metric_has_none_on_the_other_side_and_no_delta(ctx: Contexta, seed: Seeder) -> None:
    """A metric only one run has shows None for the other run and delta None."""
    left, right = seed.run("left"), seed.run("right")
    seed.stage(left, "train", 0)
    seed.stage(right, "train", 0)
    seed.metric(left, "only.left", 1.0, "stage:demo.left.train")
    seed.metric(right, "only.right", 2.0, "stage:demo.right.train")
    (train,) = ctx.compare_runs(left, right).stage_comparisons
    assert [(d.metric_key, d.left_value, d.right_value, d.delta) for d in train.metric_deltas] == [
        ("only.left", 1.0, None, None),
        ("only.right", None, 2.0, None),
    ]


def test_compare_runs_accepts_list_runs_rows_and_snapshots(ctx: Contexta, seed: Seeder) -> None:
    """compare_runs takes a ref, a list_runs row or a snapshot for each side."""
    seed.run("a")
    seed.run("b", start="00:00:01")
    row_a, row_b = ctx.list_runs()
    comparison = ctx.compare_runs(row_a, ctx.get_run_snapshot("run:demo.b"))
    assert (comparison.left_run_id, comparison.right_run_id) == ("run:demo.a", "run:demo.b")
    assert ctx.compare_runs(row_b, "run:demo.a").left_run_id == row_b.run_id


def test_compare_multiple_runs_tabulates_latest_values_with_none_for_missing(
    ctx: Contexta, seed: Seeder
) -> None:
    """compare_multiple_runs has a row per (stage, metric) with a value per run, plus pairwise comparisons."""
    runs = [seed.run(name) for name in ("r1", "r2", "r3")]
    for run in runs:
        seed.stage(run, "train", 0)
    seed.metric(runs[0], "loss", 0.5, "stage:demo.r1.train")
    seed.metric(runs[1], "loss", 0.4, "stage:demo.r2.train")
    seed.metric(runs[2], "acc", 0.9, "stage:demo.r3.train")
    seed.metric(runs[2], "auc", 0.8, None)
    result = ctx.compare_multiple_runs(runs)
    assert result.run_ids == runs
    assert result.table == [
        (None, "auc", [None, None, 0.8]),
        ("train", "loss", [0.5, 0.4, None]),
        ("train", "acc", [None, None, 0.9]),
    ]
    assert [(p.left_run_id, p.right_run_id) for p in result.pairwise] == [
        (runs[0], runs[1]),
        (runs[0], runs[2]),
    ]
    with pytest.raises(ValidationError, match=r"^runs: needs at least two runs"):
        ctx.compare_multiple_runs(runs[:1])


def test_select_best_run_by_higher_or_lower_is_better(ctx: Contexta, seed: Seeder) -> None:
    """select_best_run picks the highest value, or the lowest with higher_is_better=False."""
    runs = [seed.run(name) for name in ("r1", "r2", "r3")]
    for run, value in zip(runs, (0.7, 0.9, 0.8), strict=True):
        seed.metric(run, "acc", value)
    assert ctx.select_best_run(runs, "acc") == "run:demo.r2"
    assert ctx.select_best_run(runs, "acc", higher_is_better=False) == "run:demo.r1"
    assert ctx.select_best_run(ctx.list_runs(), "acc") == "run:demo.r2"


def test_select_best_run_filters_by_stage_name(ctx: Contexta, seed: Seeder) -> None:
    """With stage_name only that stage's metric counts; a run without it is skipped."""
    r1, r2, r3 = seed.run("r1"), seed.run("r2"), seed.run("r3")
    for run in (r1, r2, r3):
        seed.stage(run, "train", 0)
        seed.stage(run, "evaluate", 1)
    seed.metric(r1, "acc", 0.99, "stage:demo.r1.train")
    seed.metric(r1, "acc", 0.60, "stage:demo.r1.evaluate")
    seed.metric(r2, "acc", 0.70, "stage:demo.r2.train")
    seed.metric(r2, "acc", 0.80, "stage:demo.r2.evaluate")
    seed.metric(r3, "acc", 0.95, "stage:demo.r3.train")
    assert ctx.select_best_run([r1, r2, r3], "acc", stage_name="evaluate") == r2
    assert ctx.select_best_run([r1, r2, r3], "acc", stage_name="train") == r1
    assert ctx.select_best_run([r1, r2, r3], "acc", stage_name="evaluate", higher_is_better=False) == r1


def test_select_best_run_is_none_when_no_run_has_the_metric(ctx: Contexta, seed: Seeder) -> None:
    """No run with the metric (or none in that stage) gives None."""
    r1, r2 = seed.run("r1"), seed.run("r2")
    seed.metric(r1, "acc", 0.5)
    assert ctx.select_best_run([r1, r2], "f1") is None
    assert ctx.select_best_run([r1, r2], "acc", stage_name="train") is None
    assert ctx.select_best_run([], "acc") is None


# -- diagnostics -----------------------------------------------------------------------------------------


def test_clean_run_has_no_issues(ctx: Contexta, seed: Seeder) -> None:
    """A completed run with completed stages and plain metrics diagnoses clean."""
    run = seed.run("r1")
    seed.metric(run, "loss", 0.1, seed.stage(run, "train", 0))
    diagnosis = ctx.diagnose_run(run)
    assert (diagnosis.run_id, diagnosis.issues, diagnosis.errors, diagnosis.warnings) == (run, [], [], [])


@pytest.mark.parametrize("severity", ["warning", "error"])
def test_degraded_record_issue_takes_severity_and_summary_from_payload(
    ctx: Contexta, seed: Seeder, severity: str
) -> None:
    """degraded_record takes severity and summary from the payload; subject stage, evidence record."""
    run = seed.run("r1")
    stage = seed.stage(run, "validate", 0)
    record = seed.degraded(run, stage, severity, "Validate received 0 rows")
    (issue,) = ctx.diagnose_run(run).issues
    assert (issue.severity, issue.code, issue.summary, issue.subject_ref, issue.evidence_refs) == (
        severity,
        "degraded_record",
        "Validate received 0 rows",
        stage,
        (record,),
    )


def test_failed_and_cancelled_runs_are_reported(ctx: Contexta, seed: Seeder) -> None:
    """A failed run is a failed_run error; a cancelled run a cancelled_run warning."""
    failed, cancelled = seed.run("f", status="failed"), seed.run("c", status="cancelled")
    assert codes(ctx, failed) == [("error", "failed_run", failed)]
    assert codes(ctx, cancelled) == [("warning", "cancelled_run", cancelled)]


def test_failed_and_incomplete_stages_are_reported(ctx: Contexta, seed: Seeder) -> None:
    """A failed stage is failed_stage (error); an open stage of an ended run is incomplete_stage (warning)."""
    run = seed.run("r1")
    failed = seed.stage(run, "train", 0, status="failed")
    still_open = seed.stage(run, "evaluate", 1, status="open")
    seed.stage(run, "ingest", 2)
    assert codes(ctx, run) == [("error", "failed_stage", failed), ("warning", "incomplete_stage", still_open)]


def test_open_stage_of_open_run_is_not_incomplete(ctx: Contexta, seed: Seeder) -> None:
    """While the run is still open (and alive), an open stage is normal."""
    run = seed.run("r1", status="open", end=None, started_at=datetime.now(UTC))
    seed.stage(run, "train", 0, status="open")
    assert codes(ctx, run) == []


def test_failed_and_incomplete_batches_are_reported(ctx: Contexta, seed: Seeder) -> None:
    """A failed batch is failed_batch (error); an open batch of an ended stage incomplete_batch (warning)."""
    run = seed.run("r1")
    stage = seed.stage(run, "train", 0)
    failed = seed.batch(stage, "epoch-0", status="failed")
    still_open = seed.batch(stage, "epoch-1", status="open", order=1)
    assert codes(ctx, run) == [("error", "failed_batch", failed), ("warning", "incomplete_batch", still_open)]


def test_failed_deployment_of_the_run_is_reported(ctx: Contexta, seed: Seeder) -> None:
    """A failed deployment of this run is failed_deployment (error); a completed one is not reported."""
    run = seed.run("r1")
    seed.deployment("ok", run)
    failed = seed.deployment("retry", run, status="failed", start="03:00:00")
    assert codes(ctx, run) == [("error", "failed_deployment", failed)]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_open_run_of_a_dead_process_is_stale(ctx: Contexta, seed: Seeder) -> None:
    """An open run whose owner is a dead pid on this host is stale_open_run (error), however recent."""
    now = datetime.now(UTC)
    run = seed.run("r1", status="open", end=None, started_at=now)
    pid = _dead_pid()
    owner = f"{socket.gethostname()}:{pid}"
    ctx.store.touch_run(run, now.isoformat(), owner=owner)
    (issue,) = ctx.diagnose_run(run).issues
    assert (issue.severity, issue.code, issue.subject_ref) == ("error", "stale_open_run", run)
    assert owner in issue.summary
    assert ctx.list_runs()[0].owner == owner


def test_open_run_of_a_live_process_is_not_stale(ctx: Contexta, seed: Seeder) -> None:
    """An open run owned by this (live) process and recently seen has no issue."""
    now = datetime.now(UTC)
    run = seed.run("r1", status="open", end=None, started_at=now)
    ctx.store.touch_run(run, now.isoformat(), owner=f"{socket.gethostname()}:{os.getpid()}")
    assert codes(ctx, run) == []


def test_open_run_idle_longer_than_configured_limit_is_stale(workspace: Path) -> None:
    """An open run with no activity for more than diagnostics.stale_after_seconds is stale_open_run."""
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    with open_ctx(workspace, diagnostics={"stale_after_seconds": 60}) as ctx:
        run = Seeder(ctx).run("r1", status="open", end=None, started_at=two_minutes_ago)
        (issue,) = ctx.diagnose_run(run).issues
        assert (issue.code, issue.severity) == ("stale_open_run", "error")
        assert "limit 60s" in issue.summary
    with open_ctx(workspace, diagnostics={"stale_after_seconds": 3600}) as ctx:
        assert codes(ctx, run) == []


def test_recent_heartbeat_keeps_an_old_open_run_fresh(workspace: Path) -> None:
    """touch_run with a recent time (no owner) counts as activity: an old open run is then not stale."""
    with open_ctx(workspace, diagnostics={"stale_after_seconds": 60}) as ctx:
        run = Seeder(ctx).run(
            "r1", status="open", end=None, started_at=datetime.now(UTC) - timedelta(hours=2)
        )
        assert [c for _, c, _ in codes(ctx, run)] == ["stale_open_run"]
        ctx.store.touch_run(run, datetime.now(UTC).isoformat(), owner=None)
        assert codes(ctx, run) == []


# -- lineage ---------------------------------------------------------------------------------------------


@pytest.fixture
def lineage(ctx: Contexta, seed: Seeder) -> dict[str, str]:
    ctx.metadata_store.relations.put_relation(
        LineageEdge(
            source_ref="dataset:raw.sales",
            target_ref="dataset:clean.sales",
            relation_type="derived_from",
            recorded_at=at("00:00:00"),
        )
    )
    run = seed.run("r1", dataset_refs=("dataset:clean.sales",))
    train = seed.stage(run, "train", 0)
    evaluate = seed.stage(run, "evaluate", 1)
    batch = seed.batch(train, "epoch-0")
    sample = seed.sample(batch, "s-1")
    artifact = seed.artifact(run, "model")
    deployment = seed.deployment("prod", run, artifact_ref=artifact)
    env = seed.environment(run)
    return {
        "run": run,
        "train": train,
        "evaluate": evaluate,
        "batch": batch,
        "sample": sample,
        "artifact": artifact,
        "deployment": deployment,
        "environment": env,
        "clean": "dataset:clean.sales",
        "raw": "dataset:raw.sales",
    }


def _refs(graph: Any) -> set[str]:
    return {node.ref for node in graph.nodes}


def test_lineage_upstream_of_deployment_reaches_run_datasets_and_environment(
    ctx: Contexta, lineage: dict[str, str]
) -> None:
    """Upstream of a deployment: its run, artifact, datasets (via explicit edges) and environment."""
    graph = ctx.traverse_lineage(lineage["deployment"], direction="upstream")
    assert (graph.root_ref, graph.direction) == (lineage["deployment"], "upstream")
    assert _refs(graph) == {
        lineage[k] for k in ("deployment", "run", "artifact", "clean", "raw", "environment")
    }
    edges = {(e.source_ref, e.target_ref, e.relation_type, e.derived) for e in graph.edges}
    assert (lineage["raw"], lineage["clean"], "derived_from", False) in edges
    assert (lineage["run"], lineage["deployment"], "deployed", True) in edges
    assert (lineage["environment"], lineage["run"], "executed_in", True) in edges
    kinds = {node.ref: (node.kind, node.label) for node in graph.nodes}
    assert kinds[lineage["run"]] == ("run", "r1")


def test_lineage_downstream_of_deployment_is_only_itself(ctx: Contexta, lineage: dict[str, str]) -> None:
    """Nothing is made from a deployment: downstream is the root alone; both equals upstream."""
    assert _refs(ctx.traverse_lineage(lineage["deployment"], direction="downstream")) == {
        lineage["deployment"]
    }
    assert _refs(ctx.traverse_lineage(lineage["deployment"])) == _refs(
        ctx.traverse_lineage(lineage["deployment"], direction="upstream")
    )


def test_lineage_of_run_splits_upstream_and_downstream(ctx: Contexta, lineage: dict[str, str]) -> None:
    """From a run, upstream is its inputs; downstream its stages, batches, samples, artifacts, deployments."""
    up = _refs(ctx.traverse_lineage(lineage["run"], direction="upstream"))
    down = _refs(ctx.traverse_lineage(lineage["run"], direction="downstream"))
    both = _refs(ctx.traverse_lineage(lineage["run"], direction="both"))
    assert up == {lineage[k] for k in ("run", "clean", "raw", "environment")}
    assert down == {
        lineage[k] for k in ("run", "train", "evaluate", "batch", "sample", "artifact", "deployment")
    }
    assert both == up | down


def test_lineage_max_depth_limits_hops(ctx: Contexta, lineage: dict[str, str]) -> None:
    """max_depth=1 keeps direct neighbours only; max_depth=0 is the root alone."""
    down = _refs(ctx.traverse_lineage(lineage["run"], direction="downstream", max_depth=1))
    assert down == {lineage[k] for k in ("run", "train", "evaluate", "artifact", "deployment")}
    up = _refs(ctx.traverse_lineage(lineage["run"], direction="upstream", max_depth=1))
    assert up == {lineage[k] for k in ("run", "clean", "environment")}
    assert _refs(ctx.traverse_lineage(lineage["run"], max_depth=0)) == {lineage["run"]}


def test_lineage_of_sample_goes_up_through_batch_and_stage(ctx: Contexta, lineage: dict[str, str]) -> None:
    """Upstream of a sample under a batch: batch, stage, run and the run's inputs."""
    up = _refs(ctx.traverse_lineage(lineage["sample"], direction="upstream"))
    assert up == {lineage[k] for k in ("sample", "batch", "train", "run", "clean", "raw", "environment")}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "sideways"}, r"^direction: must be 'both', 'upstream' or 'downstream'"),
        ({"max_depth": -1}, r"^max_depth: must be a whole number >= 0 or None"),
    ],
)
def test_lineage_refuses_bad_arguments(ctx: Contexta, kwargs: dict[str, Any], message: str) -> None:
    """An unknown direction or a negative depth is a ValidationError naming the argument."""
    with pytest.raises(ValidationError, match=message):
        ctx.traverse_lineage("run:demo.r1", **kwargs)


# -- reports ---------------------------------------------------------------------------------------------


def test_snapshot_report_has_core_sections_and_only_present_optional_ones(
    ctx: Contexta, seed: Seeder
) -> None:
    """A plain run's report has Run Summary, Stages, Metrics, Artifacts, Diagnostics and no empty extras."""
    run = seed.run("r1", dataset_refs=("dataset:sklearn.iris",))
    seed.metric(run, "loss", 0.25, seed.stage(run, "train", 0))
    seed.metric(run, "acc", 0.5, None)
    report = ctx.build_snapshot_report(run)
    assert report.title == "Run report: run:demo.r1"
    assert [s.title for s in report.sections] == [
        "Run Summary",
        "Stages",
        "Metrics",
        "Artifacts",
        "Diagnostics",
    ]
    assert ("datasets", "dataset:sklearn.iris") in report.section("Run Summary").rows
    assert report.section("Stages").rows == ((0, "train", "completed", at("00:00:00"), at("00:30:00")),)
    assert set(report.section("Metrics").rows) == {("train", "loss", 0.25), ("(run)", "acc", 0.5)}
    assert report.section("Diagnostics").lines == ("No issues found.",)


def test_snapshot_report_adds_batches_deployments_samples_events_environment(
    ctx: Contexta, seed: Seeder
) -> None:
    """Batches, Deployments, Samples, Events and Environment sections appear when the run has them."""
    run = seed.run("r1")
    stage = seed.stage(run, "train", 0)
    seed.sample(seed.batch(stage, "epoch-0", status="failed"), "s-1")
    seed.deployment("prod", run, status="failed")
    seed.event(run, stage, "epoch done")
    seed.environment(run)
    report = ctx.build_snapshot_report(run)
    assert [s.title for s in report.sections] == [
        "Run Summary",
        "Stages",
        "Metrics",
        "Artifacts",
        "Batches",
        "Deployments",
        "Samples",
        "Events",
        "Environment",
        "Diagnostics",
    ]
    assert {row[1] for row in report.section("Diagnostics").rows} == {"failed_batch", "failed_deployment"}
    assert report.section("Batches").rows == (("epoch-0", "train", "failed", at("00:01:00"), at("00:02:00")),)


def _hostile_report(ctx: Contexta, seed: Seeder) -> Any:
    run = seed.run("r1")
    stage = seed.stage(run, "train", 0)
    seed.degraded(run, stage, "error", "<script>alert('x')</script> | rows")
    seed.event(run, stage, "<b>bold</b>")
    seed.metric(run, "loss", 0.123456, stage)
    return ctx.build_snapshot_report(run)


def test_report_renders_as_text_markdown_json_and_html(ctx: Contexta, seed: Seeder) -> None:
    """The same report renders to text, Markdown, JSON and HTML, each with every section title."""
    report = _hostile_report(ctx, seed)
    text, md, js, page = (report.render(fmt) for fmt in ("text", "markdown", "json", "html"))
    for title in [s.title for s in report.sections]:
        assert f"\n{title}\n{'-' * len(title)}\n" in text
        assert f"\n## {title}\n" in md
        assert f"<h2>{title}</h2>" in page
    assert text.startswith("Run report: run:demo.r1\n=======")
    assert "0.1235" in text
    assert md.startswith("# Run report: run:demo.r1\n")
    assert report.render("md") == md
    assert json.loads(js) == report.to_dict()
    assert json.loads(js)["sections"][0]["title"] == "Run Summary"
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert report._repr_html_() == page


def test_html_and_markdown_escape_user_text(ctx: Contexta, seed: Seeder) -> None:
    """A '<script>' in a degraded summary or event message is escaped in HTML and Markdown."""
    report = _hostile_report(ctx, seed)
    page, md = report.to_html(), report.to_markdown()
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>" not in md
    assert "&lt;script&gt;" in md and "\\| rows" in md


def test_render_refuses_unknown_format(ctx: Contexta, seed: Seeder) -> None:
    """render('pdf') is a ValidationError listing the formats."""
    report = ctx.build_snapshot_report(seed.run("r1"))
    with pytest.raises(
        ValidationError, match=r"^format: must be one of \['html', 'json', 'markdown', 'md', 'text'\]"
    ):
        report.render("pdf")


def test_multi_run_report_tabulates_metrics_and_diagnostics(ctx: Contexta, seed: Seeder) -> None:
    """build_multi_run_report has Runs, Metrics (a column per run) and Diagnostics (error/warning counts)."""
    good, bad = seed.run("good"), seed.run("bad", status="failed")
    seed.metric(good, "acc", 0.9, seed.stage(good, "evaluate", 0))
    seed.metric(bad, "acc", 0.4, seed.stage(bad, "evaluate", 0, status="open"))
    report = ctx.build_multi_run_report([good, bad])
    assert report.title == "Comparison of 2 runs"
    assert [s.title for s in report.sections] == ["Runs", "Metrics", "Diagnostics"]
    assert report.section("Runs").rows == ((good,), (bad,))
    metrics = report.section("Metrics")
    assert metrics.columns == ("stage", "metric", "good", "bad")
    assert metrics.rows == (("evaluate", "acc", 0.9, 0.4),)
    assert report.section("Diagnostics").rows == ((good, 0, 0), (bad, 1, 1))
    assert "<th>good</th><th>bad</th>" in report.to_html()
    with pytest.raises(ValidationError, match=r"^runs: needs at least two runs"):
        ctx.build_multi_run_report([good])


def test_lineage_downstream_of_a_dataset_reaches_the_runs_and_deployments_using_it(
    ctx: Contexta, lineage: dict[str, str]
) -> None:
    """Downstream of a raw dataset: the derived dataset, the run that used it and everything the run made."""
    down = _refs(ctx.traverse_lineage(lineage["raw"], direction="downstream"))
    assert {lineage[k] for k in ("raw", "clean", "run", "artifact", "deployment", "train")} <= down
    assert lineage["environment"] not in down


def test_markdown_table_keeps_one_line_per_row_for_multiline_messages(ctx: Contexta, seed: Seeder) -> None:
    """A message with newlines stays inside its table row in Markdown."""
    run = seed.run("r1")
    seed.event(run, None, "Traceback (most recent call last):\n  File x\nValueError: boom", level="error")
    markdown = ctx.build_snapshot_report(run).to_markdown()
    events = markdown.split("## Events\n\n", 1)[1].split("\n\n", 1)[0]
    assert all(line.startswith("|") for line in events.splitlines())
    assert len(events.splitlines()) == 3
