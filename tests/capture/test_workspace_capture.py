"""The local workspace answers for captured data exactly as for data written through the explicit API."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import wait_for

from contexta import ConflictError, Contexta, ValidationError
from contexta.capture import LocalJsonlSink
from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DegradedPayload,
    DegradedRecord,
    DeploymentExecution,
    EnvironmentSnapshot,
    MetricPayload,
    MetricRecord,
    RecordEnvelope,
    Run,
    SampleObservation,
    StageExecution,
    StructuredEventPayload,
    StructuredEventRecord,
)
from contexta.query.results import RunSnapshot

from .conftest import IRIS_METRICS, PROJECT, IrisRun

# -- an explicit twin of the iris workflow ------------------------------------------------------------


def write_explicit_twin(ctx: Contexta, captured: IrisRun, name: str = "explicit-svm") -> str:
    """Write, through the explicit store API, the run the iris workflow captures (same shape, values)."""
    ms, rs = ctx.metadata_store, ctx.record_store
    body = f"{PROJECT}.{name}"
    run_ref, train, evaluate = f"run:{body}", f"stage:{body}.train", f"stage:{body}.evaluate"
    batch, sample = (
        f"batch:{body}.evaluate.holdout-split",
        f"sample:{body}.evaluate.holdout-split.first-prediction",
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def at(seconds: float) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    ms.runs.put_run(
        Run(
            run_ref=run_ref,
            project_ref=f"project:{PROJECT}",
            name=name,
            status="completed",
            started_at=at(0),
            ended_at=at(10),
            dataset_refs=("dataset:sklearn.iris",),
            params={"C": 1.0, "kernel": "linear"},
            tags={"team": "vision"},
        )
    )
    for order, stage in enumerate((train, evaluate)):
        ms.stages.put_stage_execution(
            StageExecution(
                stage_execution_ref=stage,
                run_ref=run_ref,
                stage_name=stage.rsplit(".", 1)[1],
                status="completed",
                started_at=at(1 + order),
                ended_at=at(2 + order),
                order_index=order,
            )
        )
    ms.batches.put_batch_execution(
        BatchExecution(
            batch_execution_ref=batch,
            run_ref=run_ref,
            stage_execution_ref=evaluate,
            batch_name="holdout-split",
            status="completed",
            started_at=at(2.1),
            ended_at=at(2.5),
            order_index=0,
        )
    )
    ms.samples.put_sample_observation(
        SampleObservation(
            sample_observation_ref=sample,
            run_ref=run_ref,
            stage_execution_ref=evaluate,
            batch_execution_ref=batch,
            sample_name="first-prediction",
            observed_at=at(2.2),
            ended_at=at(2.3),
            order_index=0,
        )
    )
    counter = iter(range(1, 100))

    def envelope(kind: str, where: str, seconds: float) -> RecordEnvelope:
        refs = {
            "train": (train, None, None),
            "evaluate": (evaluate, None, None),
            "batch": (evaluate, batch, None),
            "sample": (evaluate, batch, sample),
            "run": (None, None, None),
        }[where]
        return RecordEnvelope(
            record_ref=f"record:{body}.r{next(counter):08d}",
            record_type=kind,
            observed_at=at(seconds),
            recorded_at=at(seconds),
            run_ref=run_ref,
            stage_execution_ref=refs[0],
            batch_execution_ref=refs[1],
            sample_observation_ref=refs[2],
        )

    for index, (key, (where, _value, _step, _unit)) in enumerate(IRIS_METRICS.items()):
        value, step, unit = captured.metrics[key]
        rs.append(
            MetricRecord(
                envelope=envelope("metric", where, 3 + index),
                payload=MetricPayload(metric_key=key, value=value, step=step, unit=unit),
            )
        )
    rs.append(
        StructuredEventRecord(
            envelope=envelope("event", "evaluate", 4),
            payload=StructuredEventPayload(
                event_key="evaluation.finished",
                level="info",
                message="45 rows scored",
                attributes={"rows": 45},
            ),
        )
    )
    rs.append(
        DegradedRecord(
            envelope=envelope("degraded", "evaluate", 5),
            payload=DegradedPayload(
                issue_key="rows.missing_label",
                category="data",
                severity="warning",
                summary="2 rows had no label",
            ),
        )
    )
    content = captured.model_path.read_bytes()
    artifact_ref = f"artifact:{body}.model-{captured.model_path.stem.lower().replace('_', '-')}"
    ms.artifacts.put_artifact_manifest(
        ArtifactManifest(
            artifact_ref=artifact_ref,
            run_ref=run_ref,
            artifact_kind="model",
            uri=captured.model_path.resolve().as_uri(),
            sha256=hashlib.sha256(content).hexdigest(),
            size_bytes=len(content),
            created_at=at(9),
            attributes={"candidate": captured.label},
        )
    )
    ms.environments.put_environment_snapshot(
        EnvironmentSnapshot(
            environment_snapshot_ref=f"environment:{body}",
            run_ref=run_ref,
            captured_at=at(0),
            python_version="3",
            platform="linux",
        )
    )
    ms.deployments.put_deployment_execution(
        DeploymentExecution(
            deployment_execution_ref=f"deployment:{PROJECT}.{name}-prod",
            project_ref=f"project:{PROJECT}",
            deployment_name=f"{name}-prod",
            status="completed",
            started_at=at(20),
            ended_at=at(20),
            order_index=1,
            run_ref=run_ref,
            environment="prod",
            artifact_ref=artifact_ref,
        )
    )
    ctx.flush()
    return run_ref


def shape(snapshot: RunSnapshot) -> dict[str, Any]:
    """Everything a snapshot says, minus times, record ids and the run's own name."""
    run = snapshot.run
    body = run.run_ref.split(":", 1)[1]

    def rel(value: Any) -> Any:
        return value.replace(body, "<run>") if isinstance(value, str) else value

    return {
        "run": (run.status, run.dataset_refs, run.params, run.tags, run.ended_at is not None),
        "stages": [
            (s.name, rel(s.ref), s.status, s.order_index, s.ended_at is not None) for s in snapshot.stages
        ],
        "batches": [
            (b.name, rel(b.ref), rel(b.stage_ref), b.status, b.order_index) for b in snapshot.batches
        ],
        "samples": [
            (s.name, rel(s.ref), rel(s.stage_ref), rel(s.batch_ref), s.status) for s in snapshot.samples
        ],
        "records": sorted(
            (
                r.record_type,
                r.key,
                r.value,
                r.step,
                r.unit,
                r.scope,
                rel(r.stage_ref),
                rel(r.batch_ref),
                rel(r.sample_ref),
                r.level,
                r.severity,
                r.category,
                r.message,
                json.dumps(r.attributes, sort_keys=True),
                r.producer_ref,
                r.completeness_marker,
                r.degradation_marker,
            )
            for r in snapshot.records
        ),
        "artifacts": [
            (a.artifact_kind, a.uri, a.sha256, a.size_bytes, rel(a.stage_execution_ref), a.attributes)
            for a in snapshot.artifacts
        ],
        "deployments": [(d.status, d.environment, d.order_index is not None) for d in snapshot.deployments],
        "environment": snapshot.environment is not None,
        "metrics": snapshot.metrics(),
        "metrics_by_stage": {stage: snapshot.metrics(stage) for stage in ("train", "evaluate")},
    }


@pytest.fixture
def twins(open_ctx: Callable[..., Contexta], iris: Callable[..., IrisRun]) -> tuple[Contexta, IrisRun, str]:
    """A captured iris run and its explicit twin in one workspace."""
    ctx = open_ctx()
    captured = iris(ctx)
    return ctx, captured, write_explicit_twin(ctx, captured)


def test_snapshot_of_a_captured_run_equals_the_snapshot_of_its_explicit_twin(twins: Any) -> None:
    """Stages, batches, samples, records, artifacts, deployments and environment match field by field."""
    ctx, captured, explicit = twins
    got, want = shape(ctx.get_run_snapshot(captured.run_ref)), shape(ctx.get_run_snapshot(explicit))
    assert got == want
    assert got["stages"][0][:4] == ("train", "stage:<run>.train", "completed", 0)
    assert got["metrics"]["accuracy"] == pytest.approx(0.9556)
    snapshot = ctx.get_run_snapshot(captured.run_ref)
    assert snapshot.environment is not None
    assert snapshot.environment.python_version and snapshot.environment.packages


def test_compare_runs_of_a_captured_run_and_its_twin_has_zero_deltas(twins: Any) -> None:
    """compare_runs pairs the same stages and metrics, every delta 0, statuses equal."""
    ctx, captured, explicit = twins
    comparison = ctx.compare_runs(captured.run_ref, explicit)
    stages = {c.stage_name: c for c in comparison.stage_comparisons}
    assert set(stages) == {None, "train", "evaluate"}
    assert {(c.left_status, c.right_status) for name, c in stages.items() if name} == {
        ("completed", "completed")
    }
    deltas = {
        (c.stage_name, d.metric_key): d.delta for c in comparison.stage_comparisons for d in c.metric_deltas
    }
    assert deltas == {
        ("train", "loss"): 0.0,
        ("train", "fit_seconds"): 0.0,
        ("evaluate", "accuracy"): 0.0,
        ("evaluate", "macro.f1"): 0.0,
        ("evaluate", "correct"): 0.0,
        (None, "wall_seconds"): 0.0,
    }


def test_diagnose_captured_run_reports_its_degraded_record_like_the_explicit_twin(twins: Any) -> None:
    """The only issue of both runs is the degraded record, as a warning on the evaluate stage."""
    ctx, captured, explicit = twins
    for run in (captured.run_ref, explicit):
        issues = ctx.diagnose_run(run).issues
        body = run.split(":", 1)[1]
        assert [(i.severity, i.code, i.subject_ref, i.summary) for i in issues] == [
            ("warning", "degraded_record", f"stage:{body}.evaluate", "2 rows had no label")
        ]
        record = next(r for r in ctx.get_run_snapshot(run).records if r.record_type == "degraded")
        assert issues[0].evidence_refs == (record.record_ref,)


def test_list_batches_and_samples_of_a_captured_run_match_the_twin(twins: Any) -> None:
    """list_batches/list_samples name the same entities under the same parents."""
    ctx, captured, explicit = twins

    def listed(run: str) -> tuple[list[Any], list[Any]]:
        body = run.split(":", 1)[1]
        batches = [
            (b.name, b.ref.replace(body, "R"), b.stage_ref.replace(body, "R"), b.status)
            for b in ctx.list_batches(run)
        ]
        samples = [
            (s.name, s.ref.replace(body, "R"), (s.batch_ref or "").replace(body, "R"), s.status)
            for s in ctx.list_samples(run)
        ]
        return batches, samples

    assert listed(captured.run_ref) == listed(explicit)
    assert listed(captured.run_ref)[0] == [
        ("holdout-split", "batch:R.evaluate.holdout-split", "stage:R.evaluate", "completed")
    ]


def test_lineage_from_a_captured_deployment_reaches_run_artifact_dataset_and_stages(twins: Any) -> None:
    """Upstream of the deployment: its run, artifact, dataset, environment; the run's stages downstream."""
    ctx, captured, explicit = twins

    def graph(deployment: str, run: str) -> tuple[set[tuple[str, str, str]], set[str]]:
        body = run.split(":", 1)[1]

        def rel(ref: str) -> str:  # the run's refs, and its deployment's, without the run name
            return re.sub(re.escape(body) + r"(?=[.-]|$)", "R", ref)

        up = ctx.traverse_lineage(deployment, direction="upstream")
        down = ctx.traverse_lineage(run, direction="downstream")
        return {(rel(e.source_ref), rel(e.target_ref), e.relation_type) for e in up.edges}, {
            rel(node.ref) for node in down.nodes
        }

    got_edges, got_nodes = graph(captured.deployment_ref, captured.run_ref)
    want_edges, want_nodes = graph("deployment:iris-svm.explicit-svm-prod", explicit)
    assert (got_edges, got_nodes) == (want_edges, want_nodes)
    assert ("run:R", "deployment:R-prod", "deployed") in got_edges
    assert ("artifact:R.model-linear-svm", "deployment:R-prod", "deployed") in got_edges
    assert ("dataset:sklearn.iris", "run:R", "used") in got_edges
    assert {"stage:R.train", "stage:R.evaluate", "batch:R.evaluate.holdout-split"} <= got_nodes


# -- failures --------------------------------------------------------------------------------------------


def test_a_stage_that_raises_fails_stage_and_run_records_the_exception_and_reraises(
    open_ctx: Callable[..., Contexta],
) -> None:
    """The caller gets its exception back; diagnose reports failed stage and run, and the exception."""
    ctx = open_ctx()
    with pytest.raises(RuntimeError, match="feature matrix is empty"), ctx.run("broken") as run:
        with run.stage("prepare"):
            pass
        with run.stage("train") as train:
            train.metric("loss", 0.7)
            raise RuntimeError("feature matrix is empty")
    snapshot = ctx.get_run_snapshot(run.ref)
    assert snapshot.run.status == "failed"
    assert [(s.name, s.status) for s in snapshot.stages] == [("prepare", "completed"), ("train", "failed")]
    issues = {(i.severity, i.code, i.subject_ref) for i in ctx.diagnose_run(run.ref).issues}
    assert issues == {
        ("error", "failed_run", run.ref),
        ("error", "failed_stage", "stage:iris-svm.broken.train"),
    }
    exceptions = [r for r in snapshot.records if r.record_type == "event" and r.key == "exception"]
    assert exceptions, "the exception was not recorded"
    assert {(r.level, r.message) for r in exceptions} == {("error", "RuntimeError: feature matrix is empty")}
    assert "stage:iris-svm.broken.train" in {r.stage_ref for r in exceptions}


def test_keyboard_interrupt_marks_the_run_cancelled(open_ctx: Callable[..., Contexta]) -> None:
    """Ctrl-C inside a run leaves it cancelled (a warning), not failed, and re-raises."""
    ctx = open_ctx()
    with pytest.raises(KeyboardInterrupt), ctx.run("interrupted") as run:
        raise KeyboardInterrupt
    assert ctx.get_run_snapshot(run.ref).run.status == "cancelled"
    assert [(i.severity, i.code) for i in ctx.diagnose_run(run.ref).issues] == [("warning", "cancelled_run")]


# -- visibility ---------------------------------------------------------------------------------------


def test_an_open_run_is_visible_to_a_second_contexta_after_flush(
    workspace: Path, open_ctx: Callable[..., Contexta]
) -> None:
    """Inside the with block, after ctx.flush(), another Contexta lists the run open with its metrics."""
    ctx = open_ctx()
    with ctx.run("live") as run, run.stage("train") as train:
        for step in range(5):
            train.metric("loss", 1.0 / (step + 1), step=step)
        ctx.flush()
        with Contexta(workspace=workspace, environ={}) as reader:
            assert [(row.run_id, row.status) for row in reader.list_runs(PROJECT)] == [(run.ref, "open")]
            snapshot = reader.get_run_snapshot(run.ref)
            assert [(s.name, s.status) for s in snapshot.stages] == [("train", "open")]
            assert snapshot.metrics("train") == {"loss": 0.2}
            assert len([r for r in snapshot.records if r.key == "loss"]) == 5
    assert ctx.list_runs(status="completed")[0].run_id == run.ref


def test_an_open_run_becomes_visible_to_a_second_contexta_without_flush(
    workspace: Path, open_ctx: Callable[..., Contexta]
) -> None:
    """Without flush, the committer makes the open run and its metrics visible within its interval."""
    ctx = open_ctx()
    with ctx.run("live") as run, run.stage("train") as train:
        train.metric("loss", 0.5, step=0)
        train.metric("loss", 0.25, step=1)
        with Contexta(workspace=workspace, environ={}) as reader:

            def seen() -> bool:
                rows = reader.list_runs(PROJECT)
                return (
                    bool(rows)
                    and rows[0].status == "open"
                    and reader.get_run_snapshot(run.ref).metrics("train") == {"loss": 0.25}
                )

            wait_for(seen, "the open run and both metrics in the second Contexta", timeout=10)


def test_captured_data_is_readable_right_after_the_with_block_without_flush(
    open_ctx: Callable[..., Contexta],
) -> None:
    """The same Contexta reads its own run, complete, immediately after the block."""
    ctx = open_ctx()
    with ctx.run("quick") as run:
        with run.stage("train") as train:
            train.metric("loss", 0.1)
        run.metric("total", 3.0)
    snapshot = ctx.get_run_snapshot(run.ref)
    assert snapshot.run.status == "completed"
    assert snapshot.metrics() == {"loss": 0.1, "total": 3.0}
    assert ctx.diagnose_run(run.ref).issues == []


# -- names -----------------------------------------------------------------------------------------------


def test_names_are_slugified_into_refs(open_ctx: Callable[..., Contexta]) -> None:
    """'Train Model' becomes train-model in refs and names of runs, stages, batches and samples."""
    ctx = open_ctx()
    with (
        ctx.run("Baseline Run") as run,
        run.stage("Train Model") as stage,
        stage.batch("Epoch 1") as batch,
        batch.sample("Row 17"),
    ):
        pass
    assert run.ref == "run:iris-svm.baseline-run"
    assert (stage.name, stage.ref) == ("train-model", "stage:iris-svm.baseline-run.train-model")
    assert batch.ref == "batch:iris-svm.baseline-run.train-model.epoch-1"
    assert [s.ref for s in ctx.list_samples(run.ref)] == [
        "sample:iris-svm.baseline-run.train-model.epoch-1.row-17"
    ]


def test_the_same_stage_name_twice_in_a_run_is_a_conflict(open_ctx: Callable[..., Contexta]) -> None:
    """run.stage('train') twice raises ConflictError naming the stage ref (also after slugging)."""
    ctx = open_ctx()
    with ctx.run("r1") as run:
        with run.stage("train"):
            pass
        with pytest.raises(ConflictError, match=r"'stage:iris-svm\.r1\.train'"):
            run.stage("train")
        with pytest.raises(ConflictError):
            run.stage("Train")
        with run.stage("evaluate") as evaluate, evaluate.batch("epoch-1") as batch:
            with pytest.raises(ConflictError, match=r"'batch:iris-svm\.r1\.evaluate\.epoch-1'"):
                evaluate.batch("Epoch 1")
            with batch.sample("row-1"):
                pass
            with pytest.raises(ConflictError, match=r"'sample:iris-svm\.r1\.evaluate\.epoch-1\.row-1'"):
                batch.sample("row-1")
    assert [s.name for s in ctx.get_run_snapshot(run.ref).stages] == ["train", "evaluate"]


def test_the_same_run_name_twice_in_a_workspace_is_a_conflict(
    workspace: Path, open_ctx: Callable[..., Contexta]
) -> None:
    """A second run with an existing name raises ConflictError, also from another Contexta."""
    ctx = open_ctx()
    with ctx.run("baseline"):
        pass
    with pytest.raises(ConflictError, match=r"run:iris-svm\.baseline"):
        ctx.run("Baseline")
    other = open_ctx()
    with pytest.raises(ConflictError, match=r"run:iris-svm\.baseline"):
        other.run("baseline")


# -- bad values ----------------------------------------------------------------------------------------


def test_bad_metric_values_are_dropped_logged_once_and_counted(
    open_ctx: Callable[..., Contexta], caplog: pytest.LogCaptureFixture
) -> None:
    """NaN, inf, str, bool and a negative step never raise; they are counted and logged once."""
    ctx = open_ctx()
    caplog.set_level(logging.WARNING, logger="contexta")
    with ctx.run("noisy") as run, run.stage("train") as train:
        train.metric("loss", math.nan)
        train.metric("loss", math.inf)
        train.metric("loss", "0.5")  # type: ignore[arg-type]
        train.metric("loss", True)
        train.metric("loss", 0.5, step=-1)
        train.metric("bad key!", 0.5)
        train.metric("loss", 0.4, step=2)
    assert ctx.telemetry_stats()["dropped"] == {"metric": 6}
    warnings = [r for r in caplog.records if r.name.startswith("contexta") and "metric" in r.getMessage()]
    assert len(warnings) == 1
    assert [(r.key, r.value, r.step) for r in ctx.get_run_snapshot(run.ref).records] == [("loss", 0.4, 2)]


def test_register_artifact_on_a_missing_path_raises_naming_the_path(
    tmp_path: Path, open_ctx: Callable[..., Contexta]
) -> None:
    """A missing file is a ValidationError whose message names the path; the run goes on."""
    ctx = open_ctx()
    missing = tmp_path / "nowhere" / "model.pkl"
    with ctx.run("r1") as run:
        with pytest.raises(ValidationError, match=r"model\.pkl") as raised:
            run.register_artifact("model", missing)
        assert str(missing) in str(raised.value)
    assert ctx.get_run_snapshot(run.ref).run.status == "completed"


def test_artifact_hashes_match_hashlib_for_a_file_and_the_folder_rule(
    tmp_path: Path, open_ctx: Callable[..., Contexta]
) -> None:
    """A file's sha256 is hashlib's; a folder's is the documented hash over its sorted files."""
    model = tmp_path / "model.bin"
    model.write_bytes(bytes(range(256)) * 4099)
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "summary.txt").write_text("accuracy 0.95\n")
    (folder / "plots" / "roc.svg").write_text("<svg/>")
    ctx = open_ctx()
    with ctx.run("r1") as run:
        file_ref = run.register_artifact("model", model)
        folder_ref = run.register_artifact("report", folder)
    artifacts = {a.artifact_ref: a for a in ctx.get_run_snapshot(run.ref).artifacts}
    assert artifacts[file_ref].sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert artifacts[file_ref].size_bytes == model.stat().st_size
    expected = hashlib.sha256()
    for child in sorted(p for p in folder.rglob("*") if p.is_file()):
        file_hash = hashlib.sha256(child.read_bytes()).hexdigest()
        expected.update(f"{child.relative_to(folder).as_posix()}\0{file_hash}\n".encode())
    assert artifacts[folder_ref].sha256 == expected.hexdigest()


def test_local_jsonl_sink_holds_one_line_per_captured_record(
    open_ctx: Callable[..., Contexta], iris: Callable[..., IrisRun]
) -> None:
    """file_path_for('RECORD') holds one JSON line per record of each finished run, artifacts likewise."""
    ctx = open_ctx()
    first, second = iris(ctx), iris(ctx, name="RBF SVM", accuracy=0.97)
    sink = next(sink for sink in ctx.sinks if isinstance(sink, LocalJsonlSink))
    lines = [json.loads(line) for line in sink.file_path_for("RECORD").read_text().splitlines()]
    stored = [r for run in (first, second) for r in ctx.get_run_snapshot(run.run_ref).records]
    assert sorted(line["envelope"]["record_ref"] for line in lines) == sorted(r.record_ref for r in stored)
    accuracy = [line["payload"]["value"] for line in lines if line["payload"].get("metric_key") == "accuracy"]
    assert sorted(accuracy) == [0.9556, 0.97]
    artifacts = [json.loads(line) for line in sink.file_path_for("artifact").read_text().splitlines()]
    assert [a["artifact_ref"] for a in artifacts] == [first.artifact_ref, second.artifact_ref]
    assert sink.file_path_for("RECORD").is_absolute()
    with pytest.raises(ValidationError, match="kind"):
        sink.file_path_for("METRIC")
