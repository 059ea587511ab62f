"""contexta next to the application's own OpenTelemetry providers: never replaced, always nested."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contexta import Contexta
from contexta.semconv import attributes as sc

GLOBAL_PROVIDER_APP = textwrap.dedent("""
    import json, sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from contexta import Contexta

    exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(app_provider)
    app_tracer = trace.get_tracer("app")

    ctx = Contexta(workspace=sys.argv[1], config={"project_name": "app"}, environ={})
    with ctx.run("r1") as run:
        during_run = trace.get_tracer_provider() is app_provider
        with run.stage("train"):
            with app_tracer.start_as_current_span("db.query"):
                with app_tracer.start_as_current_span("db.fetch"):
                    pass
    run_row = ctx.metadata_store.runs.get_run(run.ref)
    stage_row = ctx.metadata_store.stages.get_stage_execution("stage:app.r1.train")
    records = [r.record_type for r in ctx.get_run_snapshot(run.ref).records]
    ctx.close()
    facts = {
        "during_run": during_run,
        "after_close": trace.get_tracer_provider() is app_provider,
        "run": [run_row.trace_id, run_row.span_id],
        "stage": [stage_row.trace_id, stage_row.span_id],
        "app_spans": {
            s.name: [f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}",
                     f"{s.parent.span_id:016x}" if s.parent else None]
            for s in exporter.get_finished_spans()
        },
        "records": records,
    }
    app_provider.shutdown()
    print(json.dumps(facts))
""")


def test_a_global_app_provider_is_kept_and_app_spans_nest_under_the_stage(tmp_path: Path) -> None:
    """contexta never replaces the app's global provider; the app's span in a stage is the stage's child."""
    done = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDER_APP, str(tmp_path / ".contexta")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["during_run"] is True and facts["after_close"] is True
    run_trace, run_span = facts["run"]
    stage_trace, stage_span = facts["stage"]
    assert stage_trace == run_trace and stage_span != run_span
    assert set(facts["app_spans"]) == {"db.query", "db.fetch"}, (
        "contexta's own spans leaked to the app provider"
    )
    query_trace, query_span, query_parent = facts["app_spans"]["db.query"]
    fetch_trace, _fetch_span, fetch_parent = facts["app_spans"]["db.fetch"]
    assert (query_trace, query_parent) == (run_trace, stage_span)
    assert (fetch_trace, fetch_parent) == (run_trace, query_span)
    assert "span" not in facts["records"], "plain spans of a foreign provider are not workspace records"


@pytest.fixture
def app_tracing() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """The application's TracerProvider (not global), recording to memory; shut down after the test."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_an_injected_tracer_provider_keeps_plain_spans_as_records_under_the_stage(
    app_tracing: tuple[TracerProvider, InMemorySpanExporter], open_ctx: Callable[..., Contexta]
) -> None:
    """A plain span made with the injected provider inside a stage becomes a span record of that stage."""
    provider, exporter = app_tracing
    ctx = open_ctx(tracer_provider=provider)
    tracer = provider.get_tracer("app")
    with ctx.run("r1") as run, run.stage("load") as stage:
        with tracer.start_as_current_span("GET /features", attributes={"http.request.method": "GET"}):
            pass
        stage.metric("rows", 150.0)
    snapshot = ctx.get_run_snapshot(run.ref)
    [record] = [r for r in snapshot.records if r.record_type == "span"]
    assert (record.key, record.stage_ref, record.batch_ref) == ("GET /features", stage.ref, None)
    stage_row = ctx.metadata_store.stages.get_stage_execution(stage.ref)
    assert stage_row is not None
    spans = {span.name: span for span in exporter.get_finished_spans()}
    app_span = spans["GET /features"]
    assert app_span.parent is not None and f"{app_span.parent.span_id:016x}" == stage_row.span_id
    assert record.details["parent_span_id"] == stage_row.span_id
    assert record.details["attributes"] == {"http.request.method": "GET"}
    assert {"run r1", "stage load"} <= set(spans), "contexta's spans go through the injected provider"
    assert spans["stage load"].attributes[sc.STATUS] == "completed"


def test_an_injected_meter_provider_receives_the_gauge_points(open_ctx: Callable[..., Contexta]) -> None:
    """Every metric value is set on the gauge contexta.metric.<key> of the injected MeterProvider."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        ctx = open_ctx(meter_provider=provider)
        with ctx.run("r1") as run:
            with run.stage("evaluate") as stage, stage.batch("holdout") as batch:
                batch.metric("accuracy", 0.93, unit="ratio")
            run.metric("wall_seconds", 12.0, unit="s")
        ctx.close()
        data = reader.get_metrics_data()
        assert data is not None
        points = {
            metric.name: (metric.unit, [(p.value, dict(p.attributes)) for p in metric.data.data_points])
            for rm in data.resource_metrics
            for scope in rm.scope_metrics
            for metric in scope.metrics
        }
        assert points["contexta.metric.accuracy"] == (
            "ratio",
            [(0.93, {sc.PROJECT: "iris-svm", sc.RUN_NAME: "r1", sc.STAGE_NAME: "evaluate"})],
        )
        unit, [(value, attributes)] = points["contexta.metric.wall_seconds"]
        assert (unit, value) == ("s", 12.0)
        assert (attributes[sc.PROJECT], attributes[sc.RUN_NAME]) == ("iris-svm", "r1")
    finally:
        provider.shutdown()


def test_an_injected_tracer_provider_used_after_close_does_not_pile_spans_up(
    open_ctx: Callable[..., Contexta],
) -> None:
    """After ctx.close() the app's provider lives on; contexta's processor must stop queueing its spans."""
    provider = TracerProvider()
    try:
        ctx = open_ctx(tracer_provider=provider)
        with ctx.run("r1"):
            pass
        ctx.close()
        tracer = provider.get_tracer("app")
        for _ in range(500):
            with tracer.start_as_current_span("request after close"):
                pass
        # the processor's queue is internal; nothing drains it once the workspace is closed
        assert len(ctx.capture.processor._queue) == 0
    finally:
        provider.shutdown()
