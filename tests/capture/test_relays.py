"""Real third-party OTLP software between contexta and a backend: rotel (relay) and Phoenix (opt-in)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import LOCALHOST, OtlpReceiver, ReceivedSpan, wait_for

from contexta import Contexta
from contexta.semconv import attributes as sc

from .conftest import IrisRun, closed_port

RUN_TREE = {  # span name -> parent span name
    "run linear-svm": None,
    "stage train": "run linear-svm",
    "stage evaluate": "run linear-svm",
    "batch holdout-split": "stage evaluate",
    "sample first-prediction": "batch holdout-split",
    "deployment linear-svm-prod": None,
}


def listening(port: int) -> bool:
    try:
        socket.create_connection((LOCALHOST, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


# -- rotel ----------------------------------------------------------------------------------------------


def rotel_binary() -> Path | None:
    """The rotel agent shipped in the ``rotel`` wheel (``rotel/rotel-agent``), or one on PATH."""
    try:
        import rotel
    except ImportError:
        found = shutil.which("rotel")
        return Path(found) if found else None
    agent = Path(rotel.__file__).parent / "rotel-agent"
    return agent if agent.exists() else None


@pytest.fixture
def rotel_relay(receiver: OtlpReceiver, tmp_path: Path) -> Iterator[Callable[[str], tuple[str, str]]]:
    """``start(forward_protocol)`` runs rotel forwarding to ``receiver``; returns its (HTTP, gRPC) URLs."""
    binary = rotel_binary()
    if binary is None:
        pytest.skip("rotel is not installed (pip install rotel)")
    started: list[subprocess.Popen[bytes]] = []

    def start(forward: str) -> tuple[str, str]:
        target = receiver.grpc_endpoint if forward == "grpc" else receiver.http_endpoint
        log = tmp_path / "rotel.log"
        for _attempt in range(3):
            # rotel panics on port 0 (it cannot report the port it got), so free ports are reserved here
            grpc_port, http_port = closed_port(), closed_port()
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [
                        str(binary),
                        "start",
                        "--otlp-grpc-endpoint",
                        f"{LOCALHOST}:{grpc_port}",
                        "--otlp-http-endpoint",
                        f"{LOCALHOST}:{http_port}",
                        "--exporter",
                        "otlp",
                        "--otlp-exporter-endpoint",
                        target,
                        "--otlp-exporter-protocol",
                        forward,
                        "--batch-timeout",
                        "50ms",
                        "--pid-file",
                        str(tmp_path / "rotel.pid"),
                        "--log-file",
                        str(tmp_path / "rotel-agent.log"),
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            started.append(process)
            try:
                wait_for(
                    lambda p=process, g=grpc_port, h=http_port: (
                        p.poll() is not None or (listening(g) and listening(h))
                    ),
                    "rotel to listen",
                    timeout=30,
                )
            except AssertionError:
                pytest.skip(f"rotel did not start listening within 30 s:\n{tail(log)}")
            if process.poll() is None:
                return f"http://{LOCALHOST}:{http_port}", f"http://{LOCALHOST}:{grpc_port}"
        pytest.skip(f"rotel could not be started here (exit {process.returncode}):\n{tail(log)}")

    yield start
    for process in started:
        stop(process)


def assert_run_tree(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    by_name = {span.name: span for span in spans}
    assert set(by_name) == set(RUN_TREE) and len(spans) == len(RUN_TREE), sorted(s.name for s in spans)
    for name, parent in RUN_TREE.items():
        expected = by_name[parent].span_id if parent else None
        assert by_name[name].parent_span_id == expected, name
        assert by_name[name].attributes[sc.STATUS] == "completed", name
    run = by_name["run linear-svm"]
    assert {by_name[n].trace_id for n in RUN_TREE if not n.startswith("deployment")} == {run.trace_id}
    [link] = by_name["deployment linear-svm-prod"].links
    assert (link.trace_id, link.span_id, link.attributes) == (
        run.trace_id,
        run.span_id,
        {sc.LINK_KIND: "deployed_run"},
    )
    return by_name


@pytest.mark.parametrize(
    ("inbound", "forward"),
    [("http/protobuf", "grpc"), ("http/protobuf", "http"), ("grpc", "grpc"), ("grpc", "http")],
)
def test_rotel_relays_the_captured_run_to_the_backend(
    inbound: str,
    forward: str,
    receiver: OtlpReceiver,
    rotel_relay: Callable[[str], tuple[str, str]],
    open_ctx: Callable[..., Contexta],
    iris: Callable[..., IrisRun],
) -> None:
    """contexta -> rotel (OTLP/HTTP or gRPC) -> receiver: the span tree, events, link and gauges arrive."""
    http_url, grpc_url = rotel_relay(forward)
    environ = {"OTEL_METRIC_EXPORT_INTERVAL": "200"}
    if inbound == "grpc":
        environ.update(OTEL_EXPORTER_OTLP_ENDPOINT=grpc_url, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    else:
        environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = http_url
    ctx = open_ctx(environ)
    logged = iris(ctx)
    ctx.close()
    mirror = ctx.telemetry_stats()["mirror"]
    assert (mirror["spans_exported"], mirror["spans_failed"], mirror["spans_dropped"]) == (
        len(RUN_TREE),
        0,
        0,
    )

    spans = wait_for(
        lambda: len(found := receiver.spans()) >= len(RUN_TREE) and found, "spans relayed by rotel"
    )
    by_name = assert_run_tree(spans)
    assert {r.transport for r in receiver.requests("traces")} == {"grpc" if forward == "grpc" else "http"}
    assert by_name["run linear-svm"].attributes[sc.RUN_REF] == logged.run_ref
    batch = by_name["batch holdout-split"]
    metric = next(e.attributes for e in batch.events if e.attributes.get(sc.METRIC_KEY) == "accuracy")
    assert (metric[sc.METRIC_VALUE], metric[sc.METRIC_UNIT]) == (0.9556, "ratio")
    assert by_name["run linear-svm"].resource["service.name"] == "iris-svm"
    points = wait_for(
        lambda: {p.name: p for p in receiver.metric_points()}.get("contexta.metric.accuracy"),
        "the accuracy gauge relayed by rotel",
    )
    assert points.value == 0.9556
    assert points.attributes[sc.STAGE_NAME] == "evaluate"


# -- Arize Phoenix (opt-in) --------------------------------------------------------------------------

PHOENIX_PROJECT = "contexta-phoenix-test"


def phoenix_command() -> list[str] | None:
    beside = Path(sys.executable).parent / "phoenix"
    found = str(beside) if beside.exists() else shutil.which("phoenix")
    return [found, "serve"] if found else None


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


def phoenix_spans(base: str) -> list[dict[str, Any]]:
    """Every span of the test project from Phoenix's REST API (following cursors); [] until it exists."""
    spans: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = f"{base}/v1/projects/{PHOENIX_PROJECT}/spans?limit=1000" + (
            f"&cursor={cursor}" if cursor else ""
        )
        try:
            page = http_json(url)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # the project is created by the first span
                return []
            raise
        spans += page.get("data", [])
        cursor = page.get("next_cursor")
        if not cursor:
            return spans


def flat_attributes(value: Any, prefix: str = "") -> dict[str, Any]:
    """Phoenix may nest attributes by their dots; flatten back to OTel keys."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flat_attributes(item, f"{prefix}.{key}" if prefix else key))
    return flat


@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    """A ``phoenix serve`` on 127.0.0.1 (only with CONTEXTA_TEST_PHOENIX=1); yields its base URL."""
    if os.environ.get("CONTEXTA_TEST_PHOENIX") != "1":
        pytest.skip(
            "opt-in: set CONTEXTA_TEST_PHOENIX=1 (and pip install arize-phoenix) to run against Phoenix"
        )
    command = phoenix_command()
    if command is None:
        pytest.skip("arize-phoenix is not installed (pip install arize-phoenix)")
    # Phoenix does not report a port it was given as 0, so free ports are reserved here
    port, grpc_port = closed_port(), closed_port()
    environ = {
        **os.environ,
        "PHOENIX_HOST": LOCALHOST,
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(tmp_path / "phoenix"),
    }
    log = tmp_path / "phoenix.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=environ, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://{LOCALHOST}:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"phoenix serve exited with {process.returncode}:\n{tail(log)}"
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, f"phoenix serve on {base}", timeout=180)
        yield base
    finally:
        stop(process)


def test_phoenix_stores_the_exported_run_as_a_span_tree(
    phoenix: str, open_ctx: Callable[..., Contexta], iris: Callable[..., IrisRun]
) -> None:
    """contexta -> Phoenix over OTLP/HTTP: its REST API lists the run's spans with parents and attributes."""
    ctx = open_ctx(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{phoenix}/v1/traces",
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PHOENIX_PROJECT}",
        }
    )
    logged = iris(ctx)
    ctx.close()
    assert ctx.telemetry_stats()["mirror"]["spans_exported"] == len(RUN_TREE)

    spans = wait_for(
        lambda: len(found := phoenix_spans(phoenix)) >= len(RUN_TREE) and found,
        "the run's spans in Phoenix",
        timeout=60,
    )
    by_name = {span["name"]: span for span in spans}
    assert set(by_name) == set(RUN_TREE)
    for name, parent in RUN_TREE.items():
        expected = by_name[parent]["context"]["span_id"] if parent else None
        assert by_name[name].get("parent_id") == expected, name
    run = by_name["run linear-svm"]
    assert {by_name[n]["context"]["trace_id"] for n in RUN_TREE if not n.startswith("deployment")} == {
        run["context"]["trace_id"]
    }
    attributes = flat_attributes(run.get("attributes", {}))
    assert attributes[sc.RUN_REF] == logged.run_ref
    assert attributes[sc.ENTITY_KIND] == "run"
    evaluate = by_name["stage evaluate"]
    assert flat_attributes(evaluate.get("attributes", {}))[sc.STAGE_NAME] == "evaluate"
    assert {event["name"] for event in by_name["batch holdout-split"].get("events", [])} == {sc.EVENT_METRIC}
