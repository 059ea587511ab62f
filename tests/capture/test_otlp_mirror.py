"""The OTLP mirror through the official exporters: what a backend receives from a captured run."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from otlp_receiver import OtlpReceiver, ReceivedPoint, ReceivedSpan, wait_for

from contexta import Contexta
from contexta.config import CaptureConfig
from contexta.errors import ConfigError
from contexta.exporters.otlp import OtlpSettings, resolve_otlp
from contexta.semconv import attributes as sc

from .conftest import IRIS_METRICS, PROJECT, IrisRun

RUN_TREE = (
    "run linear-svm",
    "stage train",
    "stage evaluate",
    "batch holdout-split",
    "sample first-prediction",
)


def endpoint_environ(receiver: OtlpReceiver, protocol: str, **extra: str) -> dict[str, str]:
    """Environment sending both signals to ``receiver`` over ``protocol`` (metrics every 200 ms)."""
    environ = {"OTEL_METRIC_EXPORT_INTERVAL": "200", **extra}
    if protocol == "grpc":
        environ.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    else:
        environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.http_endpoint
    return environ


def spans_by_name(receiver: OtlpReceiver, count: int) -> dict[str, ReceivedSpan]:
    spans = wait_for(
        lambda: (found := receiver.spans()) and len(found) >= count and found,
        f"{count} spans at the receiver",
    )
    by_name = {span.name: span for span in spans}
    assert len(by_name) == len(spans), f"duplicate span names: {sorted(s.name for s in spans)}"
    return by_name


def last_points(receiver: OtlpReceiver) -> dict[str, ReceivedPoint]:
    """The latest point of each gauge (several exports may have happened)."""
    latest: dict[str, ReceivedPoint] = {}
    for point in receiver.metric_points():
        if point.name not in latest or point.time_ns >= latest[point.name].time_ns:
            latest[point.name] = point
    return latest


def one_event(span: ReceivedSpan, name: str, **where: Any) -> dict[str, Any]:
    found = [
        event.attributes
        for event in span.events_named(name)
        if all(event.attributes.get(key) == value for key, value in where.items())
    ]
    assert len(found) == 1, f"{span.name}: expected one {name} event with {where}, got {found}"
    return found[0]


@pytest.fixture(params=["http/protobuf", "grpc"])
def mirrored(
    request: pytest.FixtureRequest,
    receiver: OtlpReceiver,
    open_ctx: Callable[..., Contexta],
    iris: Callable[..., IrisRun],
) -> tuple[OtlpReceiver, Contexta, IrisRun, str]:
    """The iris workflow exported over one protocol; the Contexta is closed (everything delivered)."""
    ctx = open_ctx(endpoint_environ(receiver, request.param))
    logged = iris(ctx)
    ctx.close()
    return receiver, ctx, logged, request.param


def test_mirror_delivers_the_run_as_one_trace_rooted_at_the_run_span(mirrored: Any) -> None:
    """run -> stage -> batch -> sample arrive as one trace with the right parent ids."""
    receiver, _ctx, _logged, protocol = mirrored
    spans = spans_by_name(receiver, len(RUN_TREE) + 1)
    assert {request.transport for request in receiver.requests("traces")} == {
        "grpc" if protocol == "grpc" else "http"
    }
    run, train, evaluate = spans["run linear-svm"], spans["stage train"], spans["stage evaluate"]
    batch, sample = spans["batch holdout-split"], spans["sample first-prediction"]
    assert run.parent_span_id is None
    assert train.parent_span_id == evaluate.parent_span_id == run.span_id
    assert batch.parent_span_id == evaluate.span_id
    assert sample.parent_span_id == batch.span_id
    assert {spans[name].trace_id for name in RUN_TREE} == {run.trace_id}
    assert all(spans[name].kind == "internal" for name in spans)
    assert all(spans[name].status_code != "error" for name in spans)


def test_mirror_spans_carry_the_documented_contexta_attributes(mirrored: Any) -> None:
    """Each span has its entity kind, project, own ref and name, ancestor refs and final status."""
    receiver, _ctx, logged, _protocol = mirrored
    spans = spans_by_name(receiver, len(RUN_TREE) + 1)
    run_ref = logged.run_ref
    assert run_ref == "run:iris-svm.linear-svm"
    stage = "stage:iris-svm.linear-svm."
    expected = {
        "run linear-svm": {
            sc.ENTITY_KIND: "run",
            sc.RUN_REF: run_ref,
            sc.RUN_NAME: "linear-svm",
            sc.RUN_PARAMS: '{"C": 1.0, "kernel": "linear"}',
            sc.RUN_TAGS: '{"team": "vision"}',
            sc.DATASET_REFS: ("dataset:sklearn.iris",),
        },
        "stage train": {
            sc.ENTITY_KIND: "stage",
            sc.RUN_REF: run_ref,
            sc.STAGE_REF: stage + "train",
            sc.STAGE_NAME: "train",
            sc.ORDER_INDEX: 0,
        },
        "stage evaluate": {
            sc.ENTITY_KIND: "stage",
            sc.RUN_REF: run_ref,
            sc.STAGE_REF: stage + "evaluate",
            sc.STAGE_NAME: "evaluate",
            sc.ORDER_INDEX: 1,
        },
        "batch holdout-split": {
            sc.ENTITY_KIND: "batch",
            sc.RUN_REF: run_ref,
            sc.STAGE_REF: stage + "evaluate",
            sc.BATCH_REF: "batch:iris-svm.linear-svm.evaluate.holdout-split",
            sc.BATCH_NAME: "holdout-split",
        },
        "sample first-prediction": {
            sc.ENTITY_KIND: "sample",
            sc.RUN_REF: run_ref,
            sc.STAGE_REF: stage + "evaluate",
            sc.BATCH_REF: "batch:iris-svm.linear-svm.evaluate.holdout-split",
            sc.SAMPLE_REF: "sample:iris-svm.linear-svm.evaluate.holdout-split.first-prediction",
            sc.SAMPLE_NAME: "first-prediction",
        },
        "deployment linear-svm-prod": {
            sc.ENTITY_KIND: "deployment",
            sc.DEPLOYMENT_REF: "deployment:iris-svm.linear-svm-prod",
            sc.DEPLOYMENT_NAME: "linear-svm-prod",
            sc.DEPLOYMENT_ENVIRONMENT: "prod",
            sc.DEPLOYMENT_ARTIFACT_REF: logged.artifact_ref,
            sc.RUN_REF: run_ref,
        },
    }
    for name, attributes in expected.items():
        got = spans[name].attributes
        assert got[sc.PROJECT] == PROJECT, name
        assert got[sc.STATUS] == "completed", name
        assert {key: got.get(key) for key in attributes} == attributes, name


def test_mirror_span_events_carry_metrics_events_degraded_records_and_artifacts(mirrored: Any) -> None:
    """Metric events keep key/value/step/unit/record ref; event, degraded and artifact events their fields."""
    receiver, ctx, logged, _protocol = mirrored
    spans = spans_by_name(receiver, len(RUN_TREE) + 1)
    span_of = {
        "train": "stage train",
        "batch": "batch holdout-split",
        "sample": "sample first-prediction",
        "run": "run linear-svm",
    }
    exported_refs = set()
    for key, (where, value, step, unit) in IRIS_METRICS.items():
        event = one_event(spans[span_of[where]], sc.EVENT_METRIC, **{sc.METRIC_KEY: key})
        assert event[sc.METRIC_VALUE] == value
        assert event.get(sc.METRIC_STEP) == step
        assert event[sc.METRIC_UNIT] == unit
        assert event[sc.RECORD_REF].startswith("record:iris-svm.linear-svm.")
        exported_refs.add(event[sc.RECORD_REF])
    with Contexta(workspace=ctx.workspace_path, environ={}) as reader:
        stored = {
            r.record_ref for r in reader.get_run_snapshot(logged.run_ref).records if r.record_type == "metric"
        }
    assert exported_refs == stored
    evaluate = spans["stage evaluate"]
    event = one_event(evaluate, sc.EVENT_EVENT)
    assert (event[sc.EVENT_KEY], event[sc.EVENT_LEVEL], event[sc.EVENT_MESSAGE]) == (
        "evaluation.finished",
        "info",
        "45 rows scored",
    )
    assert event[sc.RECORD_ATTRIBUTES] == '{"rows": 45}'
    degraded = one_event(evaluate, sc.EVENT_DEGRADED)
    assert {
        key: degraded[key]
        for key in (sc.DEGRADED_ISSUE_KEY, sc.DEGRADED_CATEGORY, sc.DEGRADED_SEVERITY, sc.DEGRADED_SUMMARY)
    } == {
        sc.DEGRADED_ISSUE_KEY: "rows.missing_label",
        sc.DEGRADED_CATEGORY: "data",
        sc.DEGRADED_SEVERITY: "warning",
        sc.DEGRADED_SUMMARY: "2 rows had no label",
    }
    assert degraded[sc.RECORD_REF].startswith("record:iris-svm.linear-svm.")
    artifact = one_event(spans["run linear-svm"], sc.EVENT_ARTIFACT)
    content = logged.model_path.read_bytes()
    assert artifact[sc.ARTIFACT_SHA256] == hashlib.sha256(content).hexdigest()
    assert artifact[sc.ARTIFACT_SIZE_BYTES] == len(content)
    assert (artifact[sc.ARTIFACT_REF], artifact[sc.ARTIFACT_KIND]) == (logged.artifact_ref, "model")
    assert artifact[sc.ARTIFACT_URI] == logged.model_path.resolve().as_uri()
    environment = one_event(spans["run linear-svm"], sc.EVENT_ENVIRONMENT)
    assert environment[sc.ENVIRONMENT_PYTHON_VERSION]


def test_mirror_deployment_is_its_own_trace_linked_to_the_run_span(mirrored: Any) -> None:
    """The deployment span is a root in another trace, with one deployed_run link to the run span."""
    receiver, ctx, logged, _protocol = mirrored
    spans = spans_by_name(receiver, len(RUN_TREE) + 1)
    run, deployment = spans["run linear-svm"], spans["deployment linear-svm-prod"]
    assert deployment.parent_span_id is None
    assert deployment.trace_id != run.trace_id
    assert [(link.trace_id, link.span_id, link.attributes) for link in deployment.links] == [
        (run.trace_id, run.span_id, {sc.LINK_KIND: "deployed_run"})
    ]
    with Contexta(workspace=ctx.workspace_path, environ={}) as reader:
        row = reader.metadata_store.runs.get_run(logged.run_ref)
        assert [d.run_id for d in reader.list_deployments(PROJECT)] == [logged.run_ref]
    assert row is not None
    assert (row.trace_id, row.span_id) == (run.trace_id, run.span_id)


def test_mirror_resource_service_name_defaults_to_the_project(mirrored: Any) -> None:
    """Without OTEL_SERVICE_NAME every span's resource says service.name = the project."""
    receiver, _ctx, _logged, _protocol = mirrored
    spans = spans_by_name(receiver, len(RUN_TREE) + 1)
    assert {span.resource["service.name"] for span in spans.values()} == {PROJECT}
    assert {point.resource["service.name"] for point in receiver.metric_points()} == {PROJECT}


def test_mirror_gauges_are_named_per_key_with_bounded_point_attributes(mirrored: Any) -> None:
    """Each key is a gauge contexta.metric.<key> with project, run name and (in a stage) stage name."""
    receiver, _ctx, _logged, _protocol = mirrored
    names = {sc.METRIC_NAME_PREFIX + key for key in IRIS_METRICS}
    points = wait_for(lambda: names <= set(found := last_points(receiver)) and found, "every gauge")
    for key, (where, value, _step, unit) in IRIS_METRICS.items():
        point = points[sc.METRIC_NAME_PREFIX + key]
        assert point.kind == "gauge"
        assert point.value == value
        assert point.unit == unit
        stage = {"run": "", "train": "train"}.get(where, "evaluate")  # run level: empty, like replay
        assert point.attributes == {sc.PROJECT: PROJECT, sc.RUN_NAME: "linear-svm", sc.STAGE_NAME: stage}, key


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_service_name_and_resource_attributes_come_from_the_given_environ(
    protocol: str, receiver: OtlpReceiver, open_ctx: Callable[..., Contexta]
) -> None:
    """OTEL_SERVICE_NAME overrides the project default; OTEL_RESOURCE_ATTRIBUTES is merged in."""
    environ = endpoint_environ(
        receiver,
        protocol,
        OTEL_SERVICE_NAME="churn-training",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=staging,team=vision%20ml",
    )
    ctx = open_ctx(environ)
    with ctx.run("r1") as run:
        run.metric("m", 1.0)
    ctx.close()
    span = wait_for(lambda: receiver.spans(), "the run span")[0]
    assert span.resource["service.name"] == "churn-training"
    assert span.resource["deployment.environment.name"] == "staging"
    assert span.resource["team"] == "vision ml"
    point = wait_for(lambda: receiver.metric_points(), "a metric point")[0]
    assert point.resource["service.name"] == "churn-training"


def test_service_name_from_resource_attributes_beats_the_project_default(
    receiver: OtlpReceiver, open_ctx: Callable[..., Contexta]
) -> None:
    """service.name inside OTEL_RESOURCE_ATTRIBUTES is honoured (the project is only a default)."""
    ctx = open_ctx(
        endpoint_environ(receiver, "http/protobuf", OTEL_RESOURCE_ATTRIBUTES="service.name=from-attrs")
    )
    with ctx.run("r1"):
        pass
    ctx.close()
    assert wait_for(lambda: receiver.spans(), "the run span")[0].resource["service.name"] == "from-attrs"


def test_traces_endpoint_variable_wins_over_the_generic_endpoint_for_spans_only(
    open_ctx: Callable[..., Contexta],
) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT takes the spans; metrics still go to the generic endpoint."""
    with OtlpReceiver() as generic, OtlpReceiver() as traces:
        ctx = open_ctx(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": generic.http_endpoint,
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": traces.http_endpoint + "/v1/traces",
                "OTEL_METRIC_EXPORT_INTERVAL": "200",
            }
        )
        with ctx.run("r1") as run:
            run.metric("m", 1.0)
        ctx.close()
        assert [span.name for span in wait_for(lambda: traces.spans(), "spans at the traces endpoint")] == [
            "run r1"
        ]
        assert (
            wait_for(lambda: generic.metric_points(), "points at the generic endpoint")[0].name
            == "contexta.metric.m"
        )
        assert generic.spans() == []
        assert traces.metric_points() == []


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_otlp_headers_variable_arrives_at_the_receiver(
    protocol: str, receiver: OtlpReceiver, open_ctx: Callable[..., Contexta]
) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS (percent-encoded values) reaches the backend on spans and metrics."""
    environ = endpoint_environ(
        receiver, protocol, OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20s3cret,x-tenant=ml-team"
    )
    ctx = open_ctx(environ)
    with ctx.run("r1") as run:
        run.metric("m", 1.0)
    ctx.close()
    wait_for(lambda: receiver.requests("traces") and receiver.requests("metrics"), "spans and metrics")
    for request in receiver.requests():
        assert request.headers["authorization"] == "Bearer s3cret", request.signal
        assert request.headers["x-tenant"] == "ml-team", request.signal


def _settings(**kwargs: Any) -> OtlpSettings:
    return OtlpSettings(
        **{
            "traces_endpoint": None,
            "metrics_endpoint": None,
            "traces_protocol": "http/protobuf",
            "metrics_protocol": "http/protobuf",
            **kwargs,
        }
    )


BASE = "http://collector:4318"
RESOLVE_CASES: list[tuple[str, dict[str, Any], dict[str, str], OtlpSettings]] = [
    ("nothing set: mirror off", {}, {}, _settings()),
    (
        "generic http endpoint gets signal paths",
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE + "/"},
        _settings(traces_endpoint=BASE + "/v1/traces", metrics_endpoint=BASE + "/v1/metrics"),
    ),
    (
        "generic grpc endpoint is used as is",
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        _settings(
            traces_endpoint="http://c:4317",
            metrics_endpoint="http://c:4317",
            traces_protocol="grpc",
            metrics_protocol="grpc",
        ),
    ),
    (
        "traces endpoint wins for traces, verbatim",
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/custom"},
        _settings(traces_endpoint="http://t:1/custom", metrics_endpoint=BASE + "/v1/metrics"),
    ),
    (
        "metrics endpoint alone: traces off",
        {},
        {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:1/v1/metrics"},
        _settings(metrics_endpoint="http://m:1/v1/metrics"),
    ),
    (
        "signal protocol beats the generic protocol",
        {},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": BASE,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
        },
        _settings(traces_endpoint=BASE, metrics_endpoint=BASE + "/v1/metrics", traces_protocol="grpc"),
    ),
    (
        "config beats every variable",
        {"otlp_endpoint": "http://cfg:4318", "otlp_protocol": "http/protobuf", "otlp_headers": {"k": "cfg"}},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": BASE,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_HEADERS": "k=env",
        },
        _settings(
            traces_endpoint="http://cfg:4318/v1/traces",
            metrics_endpoint="http://cfg:4318/v1/metrics",
            headers={"k": "cfg"},
        ),
    ),
    (
        "config traces endpoint beats the traces variable",
        {"otlp_traces_endpoint": "http://cfg/t"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env/t"},
        _settings(traces_endpoint="http://cfg/t"),
    ),
    (
        "headers: keys lowercased, values trimmed and percent-decoded",
        {},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": BASE,
            "OTEL_EXPORTER_OTLP_HEADERS": " Api-Key = a%3Db ,x=Basic%20YQ==,",
        },
        _settings(
            traces_endpoint=BASE + "/v1/traces",
            metrics_endpoint=BASE + "/v1/metrics",
            headers={"api-key": "a=b", "x": "Basic YQ=="},
        ),
    ),
    (
        "OTEL_SDK_DISABLED turns the mirror off",
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE, "OTEL_SDK_DISABLED": "TRUE"},
        _settings(traces_endpoint=BASE + "/v1/traces", metrics_endpoint=BASE + "/v1/metrics", disabled=True),
    ),
    (
        "config sdk_disabled turns the mirror off",
        {"sdk_disabled": True},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE},
        _settings(traces_endpoint=BASE + "/v1/traces", metrics_endpoint=BASE + "/v1/metrics", disabled=True),
    ),
]


@pytest.mark.parametrize(
    ("config", "environ", "expected"),
    [case[1:] for case in RESOLVE_CASES],
    ids=[case[0] for case in RESOLVE_CASES],
)
def test_resolve_otlp_follows_config_then_signal_then_generic_then_default(
    config: dict[str, Any], environ: dict[str, str], expected: OtlpSettings
) -> None:
    """Each setting resolves config > signal-specific variable > generic variable > default."""
    settings = resolve_otlp(CaptureConfig(**config), environ)
    assert settings == expected
    assert settings.enabled == (
        not expected.disabled and bool(expected.traces_endpoint or expected.metrics_endpoint)
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
            r"OTEL_EXPORTER_OTLP_PROTOCOL: must be one of .*'thrift'",
        ),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"}, r"must be one of .*'udp'"),
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
            r"OTEL_EXPORTER_OTLP_HEADERS: entry 'novalue' is not 'key=value'",
        ),
    ],
)
def test_resolve_otlp_rejects_bad_settings_naming_the_variable(environ: dict[str, str], message: str) -> None:
    """An unknown protocol or a malformed header is a ConfigError that names the variable and value."""
    with pytest.raises(ConfigError, match=message):
        resolve_otlp(CaptureConfig(), environ)
