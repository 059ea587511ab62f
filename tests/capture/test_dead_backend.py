"""A dead or refusing OTLP backend never costs the local workspace anything, and the loss is counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from otlp_receiver import OtlpReceiver, wait_for

from contexta import Contexta

STAGES, BATCHES, PER_BATCH = 4, 10, 100  # 4000 metrics


def endpoint(kind: str, receiver: OtlpReceiver, dead_endpoint: str) -> tuple[str, str]:
    """(endpoint, protocol) for one failure mode; the receiver refuses everything when it is used."""
    if kind.startswith("closed"):
        return dead_endpoint, kind.split("-", 1)[1]
    receiver.down = True
    return (
        (receiver.grpc_endpoint, "grpc") if kind == "unavailable-grpc" else (receiver.http_endpoint, "http")
    )


@pytest.mark.parametrize("kind", ["closed-http", "closed-grpc", "503-http", "unavailable-grpc"])
def test_a_dead_backend_leaves_the_workspace_complete_and_counts_what_it_lost(
    kind: str, receiver: OtlpReceiver, dead_endpoint: str, open_ctx: Callable[..., Contexta]
) -> None:
    """Thousands of metrics with no working backend: all stored locally, close() returns, failures counted."""
    url, protocol = endpoint(kind, receiver, dead_endpoint)
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_METRIC_EXPORT_INTERVAL": "200"}
    if protocol == "grpc":
        environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
    ctx = open_ctx(environ)
    with ctx.run("offline") as run:
        for s in range(STAGES):
            with run.stage(f"train-{s}") as stage:
                for b in range(BATCHES):
                    with stage.batch(f"epoch-{b}") as batch:
                        for i in range(PER_BATCH):
                            batch.metric("loss", 1.0 / (i + 1), step=b * PER_BATCH + i)
    ctx.close()  # bounded: the mirror gets a limited time to deliver, then gives up

    with Contexta(workspace=ctx.workspace_path, environ={}) as reader:
        snapshot = reader.get_run_snapshot(run.ref)
        assert snapshot.run.status == "completed"
        assert [s.status for s in snapshot.stages] == ["completed"] * STAGES
        assert len(snapshot.batches) == STAGES * BATCHES
        assert len([r for r in snapshot.records if r.key == "loss"]) == STAGES * BATCHES * PER_BATCH
        assert reader.diagnose_run(run.ref).issues == []

    def lost() -> dict[str, Any] | None:
        mirror = ctx.telemetry_stats()["mirror"]
        done = mirror["spans_failed"] + mirror["spans_dropped"] > 0 and mirror["metric_exports_failed"] > 0
        return mirror if done else None

    mirror = wait_for(lost, "the mirror to count failed or dropped spans and failed metric exports")
    assert mirror["enabled"] is True
    assert mirror["spans_exported"] == 0
    assert mirror["metric_exports_ok"] == 0
    assert ctx.telemetry_stats()["local"]["failures"] == 0
    assert receiver.spans() == [] and receiver.metric_points() == []
    if not kind.startswith("closed"):
        assert receiver.refused > 0
