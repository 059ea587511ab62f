"""Fixtures of the handoff tests: workspaces seeded by the real case 04/05 scripts, a factory of
``Contexta`` handles (all closed), an in-memory span exporter and an explicit-API run builder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contexta import Contexta
from contexta.contract import (
    ArtifactManifest,
    DegradedPayload,
    DegradedRecord,
    EnvironmentSnapshot,
    MetricPayload,
    MetricRecord,
    Project,
    RecordEnvelope,
    Run,
    StageExecution,
    StructuredEventPayload,
    StructuredEventRecord,
)

ACCEPTANCE = Path(__file__).resolve().parents[3] / "shared" / "acceptance"
CASE04 = "case04_seed_deployment_traceability_data.py"
CASE05 = "case05_seed_deployment_gate_data.py"


def _seed(tmp_path_factory: pytest.TempPathFactory, script: str) -> Path:
    if not (ACCEPTANCE / script).exists():
        pytest.skip(f"seed script not found at {ACCEPTANCE / script}")
    folder = tmp_path_factory.mktemp(script.split("_", 1)[0])
    done = subprocess.run(
        [sys.executable, str(ACCEPTANCE / script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / ".contexta"


@pytest.fixture(scope="session")
def _case04_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seed(tmp_path_factory, CASE04)


@pytest.fixture(scope="session")
def _case05_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seed(tmp_path_factory, CASE05)


@pytest.fixture
def case04(_case04_template: Path, tmp_path: Path) -> Path:
    """A private copy of the workspace the case 04 seed script wrote (project ctr-ranking-model)."""
    return Path(shutil.copytree(_case04_template, tmp_path / "case04" / ".contexta"))


@pytest.fixture
def case05(_case05_template: Path, tmp_path: Path) -> Path:
    """A private copy of the workspace the case 05 seed script wrote (project product-ranker)."""
    return Path(shutil.copytree(_case05_template, tmp_path / "case05" / ".contexta"))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def open_ctx(spans: InMemorySpanExporter) -> Iterator[Callable[..., Contexta]]:
    """``open_ctx(workspace, project)``: a Contexta whose spans also go to ``spans``; closed at the end."""
    opened: list[Contexta] = []

    def factory(workspace: Path, project: str) -> Contexta:
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(spans))
        handle = Contexta(
            workspace=workspace, config={"project_name": project}, environ={}, tracer_provider=provider
        )
        opened.append(handle)
        return handle

    yield factory
    for handle in reversed(opened):
        handle.close()


def _envelope(run_ref: str, local: str, kind: str, at: str, stage: str | None) -> RecordEnvelope:
    return RecordEnvelope(
        record_ref=f"record:{run_ref[4:]}.{local}",
        record_type=kind,
        recorded_at=at,
        observed_at=at,
        run_ref=run_ref,
        stage_execution_ref=f"stage:{run_ref[4:]}.{stage}" if stage else None,
    )


def build_run(
    ctx: Contexta,
    name: str,
    metrics: Mapping[str, Mapping[str, float]],
    *,
    status: str = "completed",
    started_at: str = "2025-06-01T09:00:00Z",
    ended_at: str = "2025-06-01T10:00:00Z",
    dataset_refs: Sequence[str] = (),
    dataset_version: str | None = None,
    degraded: Sequence[tuple[str, str, str]] = (),
    python: str | None = None,
    artifact: bool = True,
    artifact_sha256: str | None = "ab" * 32,
) -> str:
    """A run written with the explicit API: ``metrics`` is ``stage -> key -> value``; ``degraded``
    holds ``(category, severity, summary)``; ``python`` adds an environment snapshot; ``artifact``
    a ``model`` artifact with ``artifact_sha256``."""
    project = ctx.project_name
    assert project is not None
    run_ref = f"run:{project}.{name}"
    store = ctx.metadata_store
    store.projects.put_project(Project(project_ref=f"project:{project}", name=project))
    store.runs.put_run(
        Run(
            run_ref=run_ref,
            project_ref=f"project:{project}",
            name=name,
            status=status,
            started_at=started_at,
            ended_at=None if status == "open" else ended_at,
            dataset_refs=tuple(dataset_refs),
        )
    )
    records: list[Any] = []
    for index, (stage, values) in enumerate(metrics.items()):
        store.stages.put_stage_execution(
            StageExecution(
                stage_execution_ref=f"stage:{run_ref[4:]}.{stage}",
                run_ref=run_ref,
                stage_name=stage,
                status="completed",
                started_at=started_at,
                ended_at=ended_at,
                order_index=index,
            )
        )
        for key, value in values.items():
            local = f"m{len(records) + 1}"
            records.append(
                MetricRecord(
                    envelope=_envelope(run_ref, local, "metric", ended_at, stage),
                    payload=MetricPayload(metric_key=key, value=value),
                )
            )
    if dataset_version is not None:
        records.append(
            StructuredEventRecord(
                envelope=_envelope(run_ref, "dataset", "event", started_at, None),
                payload=StructuredEventPayload(
                    event_key="training.dataset-registered", attributes={"dataset_version": dataset_version}
                ),
            )
        )
    for index, (category, severity, summary) in enumerate(degraded):
        records.append(
            DegradedRecord(
                envelope=_envelope(run_ref, f"d{index + 1}", "degraded", ended_at, None),
                payload=DegradedPayload(
                    issue_key=f"issue-{index + 1}", category=category, severity=severity, summary=summary
                ),
            )
        )
    ctx.record_store.append_many(records)
    if python is not None:
        store.environments.put_environment_snapshot(
            EnvironmentSnapshot(
                environment_snapshot_ref=f"environment:{run_ref[4:]}",
                run_ref=run_ref,
                captured_at=started_at,
                python_version=python,
                packages={"numpy": "2.0.0"},
            )
        )
    if artifact:
        store.artifacts.put_artifact_manifest(
            ArtifactManifest(
                artifact_ref=f"artifact:{run_ref[4:]}.model",
                run_ref=run_ref,
                artifact_kind="model",
                uri=f"file:///models/{name}.bin",
                sha256=artifact_sha256,
                created_at=ended_at,
            )
        )
    ctx.flush()
    return run_ref


@pytest.fixture
def make_run() -> Callable[..., str]:
    return build_run
