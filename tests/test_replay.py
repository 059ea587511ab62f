"""``contexta.exporters.replay``: a workspace re-sent as OTLP, received by an in-process OTLP/HTTP
receiver, and mapped back into a new workspace that must answer every query the same way."""

from __future__ import annotations

import io
import itertools
import json
import re
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from otlp_receiver import OtlpReceiver, ReceivedPoint

from contexta import Contexta
from contexta.collector.convert import iter_spans
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
)
from contexta.errors import ConfigError, NotFoundError
from contexta.exporters.ids import span_id_for, trace_id_for
from contexta.exporters.mapping import Scope, Writes, map_span, scope_of
from contexta.exporters.replay import main_replay, replay_workspace
from contexta.exporters.spandata import SpanData
from contexta.semconv import attributes as sc

PROJECT = "nightly"
DAYS = ("2025-03-18", "2025-03-19")


# -- the shared in-process OTLP receiver (tests/otlp_receiver.py), read back as SpanData --------
class Receiver:
    """:class:`OtlpReceiver` with the received spans converted as the collector converts them."""

    def __init__(self, rx: OtlpReceiver) -> None:
        self.rx = rx
        self.endpoint = rx.http_endpoint

    def spans(self, transport: str | None = None) -> list[SpanData]:
        return [
            span
            for r in self.rx.requests("traces", transport)
            for span in iter_spans(r.message.resource_spans)
        ]

    def gauges(self) -> dict[str, list[ReceivedPoint]]:
        """Metric name -> data points, over every metrics request."""
        out: dict[str, list[ReceivedPoint]] = {}
        for point in self.rx.metric_points():
            assert point.kind == "gauge"
            out.setdefault(point.name, []).append(point)
        return out

    def requests(self, signal: str) -> int:
        return len(self.rx.requests(signal))

    def clear(self) -> None:
        with self.rx._state.lock:
            self.rx._state.requests.clear()


def writes_for_spans(spans: Iterable[SpanData]) -> Writes:
    """The workspace rows a set of received spans stands for, mapped as the collector maps them:
    every received span is final, and one without an end time (how replay sends an entity that
    is still open) maps as ``open``. A plain span is kept under the contexta span it ran in when
    that span is among ``spans`` (looked up by parent span id)."""
    spans = list(spans)
    scopes: dict[str, Scope] = {}
    for span in spans:
        scope = scope_of(span.attributes)
        if scope is not None:
            scopes[span.span_id] = scope
    total = Writes()
    for span in spans:
        writes = map_span(span, finished=True, parent_scope=scopes.get)
        total.projects += writes.projects
        total.entities += writes.entities
        total.records += writes.records
        total.rejected += writes.rejected
        total.problems += writes.problems
    return total


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with OtlpReceiver() as rx:
        yield Receiver(rx)


# -- a seeded workspace --------------------------------------------------------------------------
class Seed:
    def __init__(self, ctx: Contexta) -> None:
        self.ctx = ctx
        self.ms = ctx.metadata_store
        self.n = 0

    def _env(self, run: str, stage: str | None, ts: str, record_type: str, **kw: Any) -> RecordEnvelope:
        self.n += 1
        return RecordEnvelope(
            record_ref=f"record:{PROJECT}.{run}.r{self.n:05d}",
            record_type=record_type,
            recorded_at=kw.pop("recorded_at", ts),
            observed_at=ts,
            producer_ref="contexta.seed",
            run_ref=f"run:{PROJECT}.{run}",
            stage_execution_ref=f"stage:{PROJECT}.{run}.{stage}" if stage else None,
            **kw,
        )

    def metric(self, run: str, stage: str | None, key: str, value: float, ts: str, **payload: Any) -> None:
        env_kw = {
            k: payload.pop(k)
            for k in (
                "batch_execution_ref",
                "sample_observation_ref",
                "recorded_at",
                "completeness_marker",
                "degradation_marker",
            )
            if k in payload
        }
        self.ctx.record_store.append(
            MetricRecord(
                envelope=self._env(run, stage, ts, "metric", **env_kw),
                payload=MetricPayload(metric_key=key, value=value, **payload),
            )
        )

    def event(
        self, run: str, stage: str | None, key: str, message: str, level: str, ts: str, **payload: Any
    ) -> None:
        self.ctx.record_store.append(
            StructuredEventRecord(
                envelope=self._env(run, stage, ts, "event"),
                payload=StructuredEventPayload(event_key=key, level=level, message=message, **payload),
            )
        )

    def degraded(self, run: str, stage: str, ts: str) -> None:
        self.ctx.record_store.append(
            DegradedRecord(
                envelope=self._env(
                    run,
                    stage,
                    ts,
                    "degraded",
                    completeness_marker="partial",
                    degradation_marker="capture_gap",
                ),
                payload=DegradedPayload(
                    issue_key="validate.empty_dataframe_passthrough",
                    category="capture",
                    severity="error",
                    summary="Validate stage received 0 rows.",
                    origin_marker="explicit_capture",
                    attributes={"row_count": 0, "expected_minimum_rows": 10000},
                ),
            )
        )

    def day(self, index: int, *, bad: bool) -> str:
        date = DAYS[index]
        name = f"day{index + 1}"
        run_ref = f"run:{PROJECT}.{name}"
        self.ms.runs.put_run(
            Run(
                run_ref=run_ref,
                project_ref=f"project:{PROJECT}",
                name=name,
                status="completed",
                started_at=f"{date}T02:00:00Z",
                ended_at=f"{date}T04:30:00Z",
                params={"lr": 0.01, "layers": [64, 32]},
                tags={"team": "ml"},
                dataset_refs=("dataset:warehouse.events",),
            )
        )
        stages = [
            ("ingest", "02:00:00", "02:20:00", "completed"),
            ("validate", "02:20:00", "03:00:00", "completed"),
            ("train", "03:00:00", "04:00:00", "failed" if bad else "completed"),
            ("evaluate", "04:00:00", "04:30:00", "completed"),
        ]
        for order, (stage, start, end, status) in enumerate(stages):
            self.ms.stages.put_stage_execution(
                StageExecution(
                    stage_execution_ref=f"stage:{PROJECT}.{name}.{stage}",
                    run_ref=run_ref,
                    stage_name=stage,
                    status=status,
                    started_at=f"{date}T{start}Z",
                    ended_at=f"{date}T{end}Z",
                    order_index=order,
                )
            )
        stage_ref = f"stage:{PROJECT}.{name}.train"
        batch_ref = f"batch:{PROJECT}.{name}.train.epoch-0"
        sample_ref = f"sample:{PROJECT}.{name}.train.epoch-0.row-7"
        self.ms.batches.put_batch_execution(
            BatchExecution(
                batch_execution_ref=batch_ref,
                run_ref=run_ref,
                stage_execution_ref=stage_ref,
                batch_name="epoch-0",
                status="completed",
                started_at=f"{date}T03:00:00Z",
                ended_at=f"{date}T03:30:00Z",
                order_index=0,
            )
        )
        self.ms.samples.put_sample_observation(
            SampleObservation(
                sample_observation_ref=sample_ref,
                run_ref=run_ref,
                stage_execution_ref=stage_ref,
                batch_execution_ref=batch_ref,
                sample_name="row-7",
                observed_at=f"{date}T03:10:00Z",
            )
        )
        self.event(
            name,
            "ingest",
            "pipeline.ingest-complete",
            "Loaded 120000 rows.",
            "info",
            f"{date}T02:19:00Z",
            attributes={"rows": 120000},
        )
        if bad:
            self.degraded(name, "validate", f"{date}T02:59:00Z")
        loss = 2.31 if bad else 0.28
        self.metric(
            name,
            "train",
            "train.loss",
            loss,
            f"{date}T03:59:00Z",
            aggregation_scope="stage",
            unit="1",
            recorded_at=f"{date}T03:59:00.123456+00:00",
        )
        self.metric(
            name, "train", "train.rows", 0 if bad else 117800, f"{date}T03:59:00Z", value_type="int64"
        )
        self.metric(
            name, "train", "batch.loss", 2.5, f"{date}T03:29:00Z", step=0, batch_execution_ref=batch_ref
        )
        self.metric(
            name,
            "train",
            "sample.score",
            0.7,
            f"{date}T03:10:00Z",
            batch_execution_ref=batch_ref,
            sample_observation_ref=sample_ref,
            completeness_marker="partial",
            degradation_marker="partial_failure",
        )
        self.metric(name, "evaluate", "eval.accuracy", 0.12 if bad else 0.93, f"{date}T04:29:00Z")
        self.metric(name, None, "run.duration", 9000.0, f"{date}T04:30:00Z", unit="s")
        self.event(
            name, "evaluate", "evaluation.complete", "done", "warning" if bad else "info", f"{date}T04:29:00Z"
        )
        if bad:
            self.event(
                name,
                "train",
                "exception",
                "ValueError: empty frame",
                "error",
                f"{date}T03:59:30Z",
                origin_marker="auto_capture",
            )
        self.ms.artifacts.put_artifact_manifest(
            ArtifactManifest(
                artifact_ref=f"artifact:{PROJECT}.{name}.model",
                run_ref=run_ref,
                artifact_kind="model",
                uri=f"s3://models/{name}.pkl",
                sha256="ab" * 32,
                size_bytes=2048,
                created_at=f"{date}T04:00:00Z",
                stage_execution_ref=stage_ref,
                attributes={"framework": "sklearn"},
            )
        )
        self.ms.environments.put_environment_snapshot(
            EnvironmentSnapshot(
                environment_snapshot_ref=f"environment:{PROJECT}.{name}",
                run_ref=run_ref,
                captured_at=f"{date}T02:00:00Z",
                python_version="3.11.9",
                platform="Linux-x86_64",
                packages={"numpy": "1.26.4"},
                git_commit="3f2a9c1d",
                git_dirty=False,
            )
        )
        return run_ref


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, Any]:
    """Two explicit-API runs (2025, one failing with a degraded record), an open run, a captured
    run with a plain span, and deployments of both kinds."""
    app = TracerProvider()
    ctx = Contexta(
        workspace=tmp_path / "src", config={"project_name": PROJECT}, environ={}, tracer_provider=app
    )
    ctx.metadata_store.projects.put_project(
        Project(
            project_ref=f"project:{PROJECT}",
            name=PROJECT,
            created_at="2025-01-01T00:00:00Z",
            description="seeded",
        )
    )
    seed = Seed(ctx)
    good = seed.day(0, bad=False)
    bad = seed.day(1, bad=True)
    open_ref = f"run:{PROJECT}.still-running"
    ctx.metadata_store.runs.put_run(
        Run(
            run_ref=open_ref,
            project_ref=f"project:{PROJECT}",
            name="still-running",
            status="open",
            started_at="2025-03-20T01:00:00Z",
        )
    )
    ctx.metadata_store.stages.put_stage_execution(
        StageExecution(
            stage_execution_ref=f"stage:{PROJECT}.still-running.train",
            run_ref=open_ref,
            stage_name="train",
            status="open",
            started_at="2025-03-20T01:00:00Z",
            order_index=0,
        )
    )
    seed.metric("still-running", "train", "train.loss", 0.9, "2025-03-20T01:30:00Z")
    ctx.metadata_store.deployments.put_deployment_execution(
        DeploymentExecution(
            deployment_execution_ref=f"deployment:{PROJECT}.prod-march",
            project_ref=f"project:{PROJECT}",
            deployment_name="prod-march",
            status="completed",
            started_at="2025-03-19T06:00:00Z",
            ended_at="2025-03-19T06:05:00Z",
            run_ref=good,
            environment="prod",
            artifact_ref=f"artifact:{PROJECT}.day1.model",
            order_index=0,
        )
    )
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    with ctx.run("captured", params={"epochs": 2}, tags={"kind": "live"}) as run:
        with run.stage("train") as stage:
            for step in range(3):
                stage.metric("loss", 1.0 / (step + 1), step=step)
            with app.get_tracer("app").start_as_current_span("GET /features", kind=SpanKind.CLIENT) as http:
                http.set_attribute("http.request.method", "GET")
                http.set_status(Status(StatusCode.ERROR, "timeout"))
            with stage.batch("b0") as batch:
                batch.metric("acc", 0.5)
                with batch.sample("s0") as sample:
                    sample.event("seen", "hello", attributes={"x": 1})
            stage.register_artifact("model", model)
        with pytest.raises(ValueError), run.stage("evaluate"):
            raise ValueError("boom")
        run.degraded("data.skew", "skewed input", category="data")
        captured = run.ref
    ctx.record_deployment(
        "canary",
        run_ref=captured,
        environment="staging",
        started_at="2025-04-01T00:00:00Z",
        ended_at="2025-04-01T00:01:00Z",
    )
    ctx.flush()
    yield {
        "ctx": ctx,
        "good": good,
        "bad": bad,
        "open": open_ref,
        "captured": captured,
        "runs": [good, bad, open_ref, captured],
        "path": tmp_path,
    }
    ctx.close()


def _by_name(spans: list[SpanData]) -> dict[str, list[SpanData]]:
    out: dict[str, list[SpanData]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


def _span(spans: list[SpanData], ref_key: str, ref: str) -> SpanData:
    found = [
        s
        for s in spans
        if s.attributes.get(ref_key) == ref
        and sc.ENTITY_KIND in s.attributes
        and s.attributes.get(sc.ENTITY_KIND) == ref_key.split(".")[1]
    ]
    assert len(found) == 1, (ref, found)
    return found[0]


def _ns(text: str) -> int:
    from contexta.contract._base import normalize_timestamp, to_micros

    return to_micros(normalize_timestamp(text)) * 1000


# -- tests ----------------------------------------------------------------------------------------
def test_replay_sends_the_span_tree_with_historical_times(seeded: dict[str, Any], receiver: Receiver) -> None:
    progress: list[tuple[int, int]] = []
    summary = replay_workspace(
        seeded["ctx"], endpoint=receiver.endpoint, progress=lambda d, t: progress.append((d, t))
    )
    assert summary.ok, summary.problems
    assert (summary.runs, summary.deployments) == (4, 2)
    spans = receiver.spans()
    assert summary.spans == len(spans)
    assert summary.events == sum(len(s.events) for s in spans)
    assert progress[0][0] == 0 and progress[-1][0] == progress[-1][1] == progress[0][1]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(progress))

    good = seeded["good"]
    run = _span(spans, sc.RUN_REF, good)
    assert run.parent_span_id is None
    assert run.trace_id == f"{trace_id_for(good):032x}" and run.span_id == f"{span_id_for(good):016x}"
    assert (run.start_ns, run.end_ns) == (_ns("2025-03-18T02:00:00Z"), _ns("2025-03-18T04:30:00Z"))
    assert run.attributes[sc.RUN_PARAMS] == json.dumps({"layers": [64, 32], "lr": 0.01}, sort_keys=True)
    assert run.attributes[sc.DATASET_REFS] == ("dataset:warehouse.events",)
    assert run.resource["service.name"] == PROJECT
    train = _span(spans, sc.STAGE_REF, f"stage:{PROJECT}.day1.train")
    assert (train.parent_span_id, train.trace_id) == (run.span_id, run.trace_id)
    assert (train.start_ns, train.end_ns) == (_ns("2025-03-18T03:00:00Z"), _ns("2025-03-18T04:00:00Z"))
    assert train.attributes[sc.ORDER_INDEX] == 2 and train.attributes[sc.STATUS] == "completed"
    batch = _span(spans, sc.BATCH_REF, f"batch:{PROJECT}.day1.train.epoch-0")
    sample = _span(spans, sc.SAMPLE_REF, f"sample:{PROJECT}.day1.train.epoch-0.row-7")
    assert batch.parent_span_id == train.span_id and sample.parent_span_id == batch.span_id
    assert sample.start_ns == _ns("2025-03-18T03:10:00Z")

    # the failed stage: contexta.status and OTel status, with the recorded exception
    bad_train = _span(spans, sc.STAGE_REF, f"stage:{PROJECT}.day2.train")
    assert bad_train.attributes[sc.STATUS] == "failed"
    assert (bad_train.status_code, bad_train.status_message) == ("error", "ValueError: empty frame")
    exception = next(e for e in bad_train.events if e.name == "exception")
    assert exception.attributes["exception.type"] == "ValueError"

    # records as events, with every provenance attribute
    loss = next(
        e for e in train.events if e.name == sc.EVENT_METRIC and e.attributes[sc.METRIC_KEY] == "train.loss"
    )
    assert loss.time_ns == _ns("2025-03-18T03:59:00Z")
    assert dict(loss.attributes) == {
        sc.METRIC_KEY: "train.loss",
        sc.METRIC_VALUE: 0.28,
        sc.METRIC_UNIT: "1",
        sc.METRIC_AGGREGATION_SCOPE: "stage",
        sc.RECORD_REF: loss.attributes[sc.RECORD_REF],
        sc.RECORD_RECORDED_AT: "2025-03-18T03:59:00.123456Z",
        sc.RECORD_PRODUCER: "contexta.seed",
        sc.RECORD_COMPLETENESS: "complete",
        sc.RECORD_DEGRADATION: "none",
    }
    rows = next(e for e in train.events if e.attributes.get(sc.METRIC_KEY) == "train.rows")
    assert rows.attributes[sc.METRIC_VALUE_TYPE] == "int64" and rows.attributes[sc.METRIC_VALUE] == 117800.0
    assert [e.attributes[sc.METRIC_KEY] for e in sample.events] == ["sample.score"]
    assert sample.events[0].attributes[sc.RECORD_DEGRADATION] == "partial_failure"
    validate = _span(spans, sc.STAGE_REF, f"stage:{PROJECT}.day2.validate")
    (degraded,) = validate.events
    assert degraded.name == sc.EVENT_DEGRADED and degraded.attributes[sc.DEGRADED_SEVERITY] == "error"
    assert degraded.attributes[sc.RECORD_COMPLETENESS] == "partial"
    assert json.loads(degraded.attributes[sc.RECORD_ATTRIBUTES]) == {
        "expected_minimum_rows": 10000,
        "row_count": 0,
    }
    artifact = next(e for e in train.events if e.name == sc.EVENT_ARTIFACT)
    assert artifact.attributes[sc.ARTIFACT_SIZE_BYTES] == 2048
    assert [e.name for e in run.events] == [sc.EVENT_METRIC, sc.EVENT_ENVIRONMENT]

    # the open run is sent without an end time: that is how a receiver's mapping keeps it open
    still = _span(spans, sc.RUN_REF, seeded["open"])
    assert still.attributes[sc.STATUS] == "open" and still.end_ns is None

    # the captured run keeps its live ids; its plain span comes back under its stage
    captured = seeded["ctx"].get_run_snapshot(seeded["captured"]).run
    live = _span(spans, sc.RUN_REF, seeded["captured"])
    assert (live.trace_id, live.span_id) == (captured.trace_id, captured.span_id)
    (http,) = _by_name(spans)["GET /features"]
    live_train = _span(spans, sc.STAGE_REF, f"stage:{PROJECT}.captured.train")
    assert (http.trace_id, http.parent_span_id) == (live.trace_id, live_train.span_id)
    assert (http.kind, http.status_code, http.status_message) == ("client", "error", "timeout")
    assert http.attributes == {"http.request.method": "GET"}

    # deployments: their own traces, linked to the run span
    (march,) = _by_name(spans)["deployment prod-march"]
    assert march.parent_span_id is None and march.trace_id != run.trace_id
    (link,) = march.links
    assert (link.trace_id, link.span_id, dict(link.attributes)) == (
        run.trace_id,
        run.span_id,
        {sc.LINK_KIND: "deployed_run"},
    )
    (canary,) = _by_name(spans)["deployment canary"]
    assert (canary.links[0].trace_id, canary.links[0].span_id) == (live.trace_id, live.span_id)


def test_replay_sends_gauge_points_at_their_historical_times(
    seeded: dict[str, Any], receiver: Receiver
) -> None:
    summary = replay_workspace(seeded["ctx"], endpoint=receiver.endpoint)
    gauges = receiver.gauges()
    assert summary.metric_points == sum(len(points) for points in gauges.values())
    (point,) = [p for p in gauges["contexta.metric.train.loss"] if p.attributes[sc.RUN_NAME] == "day1"]
    assert (point.time_ns, point.value) == (_ns("2025-03-18T03:59:00Z"), 0.28)
    assert point.attributes == {sc.PROJECT: PROJECT, sc.RUN_NAME: "day1", sc.STAGE_NAME: "train"}
    assert point.resource["service.name"] == PROJECT
    (duration,) = [p for p in gauges["contexta.metric.run.duration"] if p.attributes[sc.RUN_NAME] == "day2"]
    assert (duration.attributes[sc.STAGE_NAME], duration.unit) == ("", "s")
    live = sorted(gauges["contexta.metric.loss"], key=lambda p: p.time_ns)
    assert [p.value for p in live] == [1.0, 0.5, 1.0 / 3]
    # an int64 metric is an integer point
    rows = [
        p
        for r in receiver.rx.requests("metrics")
        for rm in r.message.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "contexta.metric.train.rows"
        for p in m.gauge.data_points
    ]
    assert sorted((p.WhichOneof("value"), p.as_int) for p in rows) == [("as_int", 0), ("as_int", 117800)]


def test_a_second_replay_sends_identical_ids(seeded: dict[str, Any], receiver: Receiver) -> None:
    replay_workspace(seeded["ctx"], endpoint=receiver.endpoint, metrics=False)
    first = receiver.spans()
    receiver.clear()
    replay_workspace(seeded["ctx"], endpoint=receiver.endpoint, metrics=False, batch_size=3)
    second = receiver.spans()
    assert receiver.requests("traces") > 1  # the smaller batches really were separate requests
    assert receiver.requests("metrics") == 0

    def ids(spans: list[SpanData]) -> list[tuple[str, str, str | None, str]]:
        return sorted((s.trace_id, s.span_id, s.parent_span_id, s.name) for s in spans)

    assert ids(first) == ids(second)
    assert len({s.span_id for s in first}) == len(first)
    assert sorted(first, key=lambda s: s.span_id) == sorted(second, key=lambda s: s.span_id)


def test_replay_over_grpc(seeded: dict[str, Any], receiver: Receiver) -> None:
    summary = replay_workspace(seeded["ctx"], run="day2", endpoint=receiver.rx.grpc_endpoint, protocol="grpc")
    assert summary.ok and summary.protocol == "grpc" and summary.metric_points == 6
    spans = receiver.spans("grpc")
    assert len(spans) == summary.spans == 7
    assert _span(spans, sc.RUN_REF, seeded["bad"]).start_ns == _ns("2025-03-19T02:00:00Z")


def _strip_missing_ids(original: Any, replayed: Any) -> Any:
    """``replayed`` with trace/span ids set to None where ``original`` has none (explicit-API rows)."""
    if isinstance(original, dict) and isinstance(replayed, dict):
        return {
            key: (
                None
                if key in ("trace_id", "span_id") and original.get(key) is None and key in original
                else _strip_missing_ids(original.get(key), value)
            )
            for key, value in replayed.items()
        }
    if isinstance(original, list) and isinstance(replayed, list) and len(original) == len(replayed):
        return [_strip_missing_ids(o, r) for o, r in zip(original, replayed, strict=True)]
    return replayed


def _timeless(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """A diagnosis without the seconds a stale-run summary counts up to now (two calls may differ)."""
    return {
        **diagnosis,
        "issues": [
            {**issue, "summary": re.sub(r"\d+s", "Ns", issue["summary"])} for issue in diagnosis["issues"]
        ],
    }


def test_round_trip_through_the_mapping_rebuilds_the_same_workspace(
    seeded: dict[str, Any], receiver: Receiver, tmp_path: Path
) -> None:
    original: Contexta = seeded["ctx"]
    summary = replay_workspace(original, endpoint=receiver.endpoint)
    assert summary.ok
    writes = writes_for_spans(receiver.spans())
    assert writes.rejected == 0, writes.problems
    with Contexta(workspace=tmp_path / "copy", config={"project_name": PROJECT}, environ={}) as copy:
        copy.store.apply(writes.projects, writes.entities, writes.records)
        copy.flush()
        assert [row.run_ref for row in copy.list_runs()] == [row.run_ref for row in original.list_runs()]
        for run_ref in seeded["runs"]:
            want = original.get_run_snapshot(run_ref).to_dict()
            got = _strip_missing_ids(want, copy.get_run_snapshot(run_ref).to_dict())
            assert got == want, run_ref
            assert _timeless(copy.diagnose_run(run_ref).to_dict()) == _timeless(
                original.diagnose_run(run_ref).to_dict()
            )
        assert copy.diagnose_run(seeded["bad"]).errors  # the degraded record is still found
        for left, right in ((seeded["good"], seeded["bad"]), (seeded["bad"], seeded["captured"])):
            assert copy.compare_runs(left, right).to_dict() == original.compare_runs(left, right).to_dict()
        assert [d.to_dict() for d in copy.list_deployments()] == [
            d.to_dict() for d in original.list_deployments()
        ]
        # the captured run was written with live ids: they survive exactly
        live = copy.get_run_snapshot(seeded["captured"]).run
        assert live.trace_id is not None and live == original.get_run_snapshot(seeded["captured"]).run


def test_replay_of_one_run_sends_only_that_run_and_its_deployments(
    seeded: dict[str, Any], receiver: Receiver
) -> None:
    summary = replay_workspace(seeded["ctx"], run="day1", endpoint=receiver.endpoint)
    assert (summary.runs, summary.deployments) == (1, 1)
    spans = receiver.spans()
    assert {s.attributes.get(sc.RUN_REF) for s in spans} == {seeded["good"]}
    with pytest.raises(NotFoundError):
        replay_workspace(seeded["ctx"], run=f"run:{PROJECT}.nope", endpoint=receiver.endpoint)


def test_a_dead_endpoint_is_counted_and_given_up_on(seeded: dict[str, Any]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    began = time.monotonic()
    summary = replay_workspace(seeded["ctx"], endpoint=f"http://127.0.0.1:{port}", batch_size=2, timeout=0.5)
    assert time.monotonic() - began < 10
    assert not summary.ok and summary.spans == 0 and summary.failed_spans > 0
    assert summary.failures == summary.span_batches + summary.metric_batches
    assert any("gave up sending spans after 3" in problem for problem in summary.problems)


def test_replay_needs_an_endpoint(seeded: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="no OTLP endpoint"):
        replay_workspace(seeded["ctx"], environ={})


def test_main_replay_prints_a_summary(seeded: dict[str, Any], receiver: Receiver) -> None:
    seeded["ctx"].flush()
    out, err = io.StringIO(), io.StringIO()
    code = main_replay(
        [
            "--workspace",
            str(seeded["path"] / "src"),
            "--endpoint",
            receiver.endpoint,
            "--json",
            "--run",
            seeded["bad"],
        ],
        stdout=out,
        stderr=err,
    )
    assert code == 0, err.getvalue()
    result = json.loads(out.getvalue())
    assert result["ok"] and result["runs"] == 1 and result["metric_points"] == 6
    assert result["traces_endpoint"] == receiver.endpoint + "/v1/traces"
    assert (
        main_replay(
            ["--workspace", str(seeded["path"] / "nowhere"), "--endpoint", receiver.endpoint],
            stdout=out,
            stderr=err,
        )
        == 2
    )
    assert "no workspace" in err.getvalue() or "not found" in err.getvalue().lower()


# -- the capture hot path: gauge values are set by the committer (session._set_gauges) ----------
def test_captured_gauges_keep_the_last_value_of_each_series(tmp_path: Path) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with (
        Contexta(
            workspace=tmp_path / "g", config={"project_name": PROJECT}, environ={}, meter_provider=provider
        ) as ctx,
        ctx.run("gauges") as run,
        run.stage("train") as stage,
    ):
        stage.metric("loss", 1.0)
        with stage.batch("b0") as batch:  # same point attributes as its stage
            batch.metric("loss", 2.0)
        stage.metric("loss", 3.0)
        run.metric("loss", 4.0, unit="1")
        ctx.flush()
        data = reader.get_metrics_data()
    (metric,) = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert metric.name == "contexta.metric.loss"
    values = {point.attributes[sc.STAGE_NAME]: point.value for point in metric.data.data_points}
    assert values == {"train": 3.0, "": 4.0}


def test_no_gauge_work_when_nothing_reads_the_metrics(tmp_path: Path) -> None:
    with Contexta(workspace=tmp_path / "n", config={"project_name": PROJECT}, environ={}) as ctx:
        with ctx.run("quiet") as run, run.stage("train") as stage:
            stage.metric("loss", 1.0)
            assert not ctx.capture.gauges_wanted and not ctx.capture.gauge_points
        assert len(ctx.record_store.list_records(run.ref, "metric")) == 1


def test_an_injected_span_exporter_and_resource_attributes(seeded: dict[str, Any]) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    environ = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,team=ml"}
    summary = replay_workspace(seeded["ctx"], run="day1", span_exporter=exporter, environ=environ)
    assert summary.ok and summary.metric_points == 0 and summary.failures == 0  # no metric exporter
    spans = exporter.get_finished_spans()
    assert len(spans) == summary.spans == 8  # run, 4 stages, batch, sample, deployment
    resource = dict(spans[0].resource.attributes)
    assert (resource["service.name"], resource["deployment.environment.name"], resource["team"]) == (
        PROJECT,
        "prod",
        "ml",
    )
    assert {span.instrumentation_scope.name for span in spans} == {"contexta.replay"}


def test_max_span_events_keeps_the_last_events_and_counts_the_rest(seeded: dict[str, Any]) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    replay_workspace(seeded["ctx"], run="captured", span_exporter=exporter, max_span_events=2)
    (train,) = [s for s in exporter.get_finished_spans() if s.name == "stage train"]
    assert [e.attributes.get(sc.METRIC_KEY) for e in train.events] == [
        "loss",
        None,
    ]  # last two: metric, artifact
    assert train.dropped_events == 2  # of three loss values and the artifact


def test_replay_into_the_contexta_collector_rebuilds_the_same_answers(
    seeded: dict[str, Any], tmp_path: Path
) -> None:
    """The same round trip through the real receiver: replay -> OTLP/HTTP -> collector -> workspace."""
    from contexta.collector import CollectorServer
    from contexta.collector.workspace_sink import WorkspaceSink
    from contexta.store.sqlite_store import SQLiteStore

    store = SQLiteStore(tmp_path / "collected" / "contexta.db")
    server = CollectorServer(WorkspaceSink(store), http_port=0, grpc_port=None)
    server.start()
    try:
        host, port = server.http_address  # type: ignore[misc]
        summary = replay_workspace(seeded["ctx"], endpoint=f"http://{host}:{port}")
        assert summary.ok, summary.problems
    finally:
        server.stop()
        store.close()
    original: Contexta = seeded["ctx"]
    with Contexta(workspace=tmp_path / "collected", config={"project_name": PROJECT}, environ={}) as copy:
        for run_ref in seeded["runs"]:
            want = original.get_run_snapshot(run_ref).to_dict()
            assert _strip_missing_ids(want, copy.get_run_snapshot(run_ref).to_dict()) == want, run_ref
            assert _timeless(copy.diagnose_run(run_ref).to_dict()) == _timeless(
                original.diagnose_run(run_ref).to_dict()
            )
