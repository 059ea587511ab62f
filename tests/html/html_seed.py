"""A rich workspace for the HTML tests: steps, batches, samples, plain OTel spans, failures,
artifacts, deployments; optionally with markup in every free-text field.

(tests/html has no ``__init__.py``: as a package it would be named ``html`` and hide the standard
library module. Its folder is on ``sys.path`` instead, so this module imports as ``html_seed``.)
"""

from __future__ import annotations

from typing import Any

from contexta import Contexta
from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DegradedPayload,
    DegradedRecord,
    DeploymentExecution,
    EnvironmentSnapshot,
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

HOSTILE = "<script>alert(1)</script>\"onload=alert(2) '<img src=x onerror=alert(3)>"


def at(clock: str) -> str:
    return f"2025-01-01T{clock}Z"


def clock(minutes: float) -> str:
    seconds = round(minutes * 60)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Workshop:
    """Writes one run at a time through the public write API (fixed times, so pages are stable)."""

    def __init__(self, ctx: Contexta, text: str = "") -> None:
        self.ctx, self.ms, self.text, self.counter = ctx, ctx.metadata_store, text, 0
        self.ms.projects.put_project(Project(project_ref="project:demo", name="demo"))

    def _envelope(self, run: str, kind: str, minute: float, stage: str | None, **refs: Any) -> RecordEnvelope:
        self.counter += 1
        return RecordEnvelope(
            record_ref=f"record:{run[4:]}.r{self.counter:05d}",
            record_type=kind,
            recorded_at=at(clock(minute)),
            observed_at=at(clock(minute)),
            run_ref=run,
            stage_execution_ref=stage,
            **refs,
        )

    def metric(self, run: str, stage: str | None, key: str, value: float, minute: float, **kw: Any) -> None:
        refs = {k: kw.pop(k) for k in ("batch_execution_ref", "sample_observation_ref") if k in kw}
        payload = MetricPayload(metric_key=key, value=value, **kw)
        envelope = self._envelope(run, "metric", minute, stage, **refs)
        self.ctx.record_store.append(MetricRecord(envelope=envelope, payload=payload))

    def stage(self, run: str, name: str, order: int, start: float, end: float, status: str) -> str:
        ref = f"stage:{run[4:]}.{name}"
        self.ms.stages.put_stage_execution(
            StageExecution(
                stage_execution_ref=ref,
                run_ref=run,
                stage_name=name,
                status=status,
                started_at=at(clock(start)),
                ended_at=at(clock(end)),
                order_index=order,
                attributes={"note": self.text} if self.text else {},
            )
        )
        return ref

    def span(
        self, run: str, stage: str, name: str, start: float, end: float, ids: tuple[str, str | None]
    ) -> None:
        span_id, parent = ids
        payload = TraceSpanPayload(
            trace_id="ab" * 16,
            span_id=span_id * 16,
            parent_span_id=parent * 16 if parent else None,
            name=name,
            kind="client",
            started_at=at(clock(start)),
            ended_at=at(clock(end)),
            status_code="error" if "score" in name else "ok",
            status_message=f"HTTP 503 {self.text}" if "score" in name else None,
            attributes={"http.url": f"http://scorer.local/?q={self.text}"},
        )
        record = TraceSpanRecord(envelope=self._envelope(run, "span", start, stage), payload=payload)
        self.ctx.record_store.append(record)

    def run(self, name: str, *, quality: float, failed: bool) -> str:
        """One training run: prepare, train (5 epochs, 20 steps), evaluate (spans, samples)."""
        run = f"run:demo.{name}"
        self.ms.runs.put_run(
            Run(
                run_ref=run,
                project_ref="project:demo",
                name=name,
                status="failed" if failed else "completed",
                started_at=at("00:00:00"),
                ended_at=at("01:00:00"),
                dataset_refs=("dataset:shop.orders.v3",),
                params={"lr": 0.01 * quality, "notes": self.text or "baseline params"},
            )
        )
        self.stage(run, "prepare", 0, 0.5, 5, "completed")
        train = self.stage(run, "train", 1, 5, 40, "completed")
        for step in range(20):
            loss = 2.0 * (0.86**step) / quality + 0.1
            self.metric(run, train, "loss", loss, 5 + step * 1.7, step=step)
        for epoch in range(5):
            batch = f"batch:{train[6:]}.epoch-{epoch}"
            self.ms.batches.put_batch_execution(
                BatchExecution(
                    batch_execution_ref=batch,
                    run_ref=run,
                    stage_execution_ref=train,
                    batch_name=f"epoch-{epoch}",
                    status="failed" if failed and epoch == 3 else "completed",
                    started_at=at(clock(5 + epoch * 7)),
                    ended_at=at(clock(11.5 + epoch * 7)),
                    order_index=epoch,
                )
            )
            accuracy = min(0.99, 0.6 + 0.07 * epoch * quality)
            self.metric(
                run, train, "val.accuracy", accuracy, 11 + epoch * 7, step=epoch, batch_execution_ref=batch
            )
        evaluate = self.stage(run, "evaluate", 2, 40, 55, "failed" if failed else "completed")
        self.span(run, evaluate, f"GET /features {self.text}".strip(), 41, 43, ("1", None))
        self.span(run, evaluate, "SELECT predictions", 41.2, 42.5, ("2", "1"))
        self.span(run, evaluate, "POST /score", 45, 47, ("3", None))
        for index in range(2):
            self.ms.samples.put_sample_observation(
                SampleObservation(
                    sample_observation_ref=f"sample:{evaluate[6:]}.s-{index}",
                    run_ref=run,
                    stage_execution_ref=evaluate,
                    sample_name=f"s-{index}",
                    observed_at=at(clock(48 + index * 3)),
                )
            )
        self.metric(run, evaluate, "accuracy", 0.8 * quality, 54, unit="ratio")
        self.metric(run, evaluate, "latency_ms", 40 / quality, 54, unit="ms")
        self._notes(run, evaluate, failed)
        self._outputs(run, name)
        return run

    def _notes(self, run: str, stage: str, failed: bool) -> None:
        event = StructuredEventPayload(
            event_key="eval.done",
            level="warning",
            message=f"evaluated {self.text}",
            attributes={"x": self.text},
        )
        self.ctx.record_store.append(
            StructuredEventRecord(envelope=self._envelope(run, "event", 54.5, stage), payload=event)
        )
        if failed:
            summary = f"scorer returned 503 for 12% of rows {self.text}"
            payload = DegradedPayload(
                issue_key="eval.partial",
                category="data",
                severity="error",
                summary=summary,
                attributes={"a": self.text},
            )
            envelope = self._envelope(run, "degraded", 46, stage)
            self.ctx.record_store.append(DegradedRecord(envelope=envelope, payload=payload))

    def _outputs(self, run: str, name: str) -> None:
        model = f"artifact:{run[4:]}.model"
        self.ms.artifacts.put_artifact_manifest(
            ArtifactManifest(
                artifact_ref=model,
                run_ref=run,
                artifact_kind="model",
                uri=f"file:///models/{name}.pkl?{self.text}",
                sha256="ab" * 32,
                size_bytes=20480,
                created_at=at("00:56:00"),
                attributes={"owner": self.text} if self.text else {},
            )
        )
        self.ms.environments.put_environment_snapshot(
            EnvironmentSnapshot(
                environment_snapshot_ref=f"environment:{run[4:]}",
                run_ref=run,
                captured_at=at("00:00:00"),
                python_version="3.11.7",
                platform="Linux",
                packages={"numpy": "2.0"},
            )
        )
        for suffix, status, hour in (("prod", "completed", "02"), ("canary", "failed", "03")):
            self.ms.deployments.put_deployment_execution(
                DeploymentExecution(
                    deployment_execution_ref=f"deployment:demo.{name}-{suffix}",
                    project_ref="project:demo",
                    deployment_name=f"{name}-{suffix}",
                    status=status,
                    started_at=at(f"{hour}:00:00"),
                    ended_at=at(f"{hour}:10:00"),
                    run_ref=run,
                    environment=suffix,
                    artifact_ref=model if suffix == "prod" else None,
                )
            )


def seed_pair(ctx: Contexta, text: str = "") -> tuple[str, str]:
    """A good baseline run and a worse candidate that failed its evaluation."""
    shop = Workshop(ctx, text)
    return shop.run("baseline", quality=1.0, failed=False), shop.run("candidate", quality=0.8, failed=True)
