"""Out-of-order arrival: the same telemetry split into requests sent in any order gives one workspace."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Collector, answers, canonical, table_counts
from .otlp import RUN, Pipeline, pipeline, stage_ref, trace_request

Step = list[str] | str  # span names for one trace request, or "metrics" / "logs"

ALL_SPANS = [
    "run",
    "ingest",
    "train",
    "epoch-0",
    "epoch-1",
    "first",
    "http",
    "db",
    "http-batch",
    "other-root",
    "other-child",
]

ORDERS: dict[str, list[Step]] = {
    # the order an SDK would never use: parents first
    "parents_first": [
        ["run"],
        ["ingest", "train"],
        ["epoch-0", "epoch-1"],
        ["first"],
        ["http", "db", "http-batch"],
        ["other-root", "other-child"],
        "metrics",
        "logs",
    ],
    # the SDK's usual order (children end first), the run span last of all
    "children_first": [
        "metrics",
        "logs",
        ["db"],
        ["http"],
        ["other-child"],
        ["first"],
        ["http-batch", "epoch-1"],
        ["epoch-0"],
        ["other-root"],
        ["ingest"],
        ["train"],
        ["run"],
    ],
    # plain spans before their stage, stage spans after their children, metric points before spans
    "mixed": [
        "metrics",
        ["http-batch"],
        ["db", "other-child"],
        ["http"],
        ["epoch-1", "first"],
        "logs",
        ["train"],
        ["epoch-0"],
        ["run", "other-root"],
        ["ingest"],
    ],
    # everything in one request, deepest spans first inside it
    "one_request": ["logs", list(reversed(ALL_SPANS)), "metrics"],
}


def _shuffled(seed: int) -> list[Step]:
    steps: list[Step] = [[name] for name in ALL_SPANS] + ["metrics", "logs"]
    random.Random(seed).shuffle(steps)
    return steps


for _seed in (1, 2, 3):
    ORDERS[f"one_per_request_seed{_seed}"] = _shuffled(_seed)


def deliver(collector: Collector, telemetry: Pipeline, steps: list[Step]) -> None:
    for step in steps:
        if step == "metrics":
            collector.send(telemetry.metrics)
        elif step == "logs":
            collector.send(telemetry.logs)
        else:
            collector.send(trace_request(telemetry.spans[name] for name in step))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The workspace the parents-first order produces (computed once)."""
    from contexta.collector import CollectorServer
    from contexta.collector.workspace_sink import WorkspaceSink
    from contexta.store.sqlite_store import SQLiteStore

    workspace = tmp_path_factory.mktemp("reference")
    store = SQLiteStore(workspace / "contexta.db")
    server = CollectorServer(WorkspaceSink(store), host="127.0.0.1", http_port=0, grpc_port=None)
    server.start()
    try:
        deliver(Collector(server, store, workspace), pipeline(), ORDERS["parents_first"])
    finally:
        server.stop()
        store.close()
    return {"answers": answers(workspace, RUN), "counts": table_counts(workspace / "contexta.db")}


def test_reference_workspace_holds_the_whole_run(reference: dict[str, Any]) -> None:
    """The parents-first delivery yields every stage, batch, sample, record and plain span."""
    snapshot = reference["answers"]["snapshot"]
    assert [stage["name"] for stage in snapshot["stages"]] == ["ingest", "train"]
    assert [batch["name"] for batch in reference["answers"]["batches"]] == ["epoch-0", "epoch-1"]
    assert [sample["name"] for sample in snapshot["samples"]] == ["first"]
    by_type: dict[str, list[str]] = {}
    for record in snapshot["records"]:
        by_type.setdefault(record["record_type"], []).append(record["key"])
    assert sorted(by_type["metric"]) == ["correct", "final.accuracy", "gpu.util", "loss", "loss", "rows"]
    assert sorted(by_type["event"]) == ["disk.low", "ingest.complete"]
    assert by_type["degraded"] == ["train.empty_shard"]
    assert sorted(by_type["span"]) == ["GET /features", "GET /weights", "SELECT features"]
    issues = reference["answers"]["diagnose"]["issues"]
    assert [(issue["code"], issue["severity"]) for issue in issues] == [("degraded_record", "error")]
    # only the unrelated trace's child waits (its root is not contexta's: it never resolves)
    assert reference["counts"]["pending_spans"] == 1


@pytest.mark.parametrize("order", [name for name in ORDERS if name != "parents_first"])
def test_out_of_order_arrival_converges_to_the_same_workspace(
    order: str, reference: dict[str, Any], start_collector: Callable[..., Collector]
) -> None:
    """Snapshot, diagnosis and batches equal the parents-first workspace, whatever the order."""
    collector = start_collector()
    deliver(collector, pipeline(), ORDERS[order])
    assert canonical(answers(collector.workspace, RUN)) == canonical(reference["answers"])
    assert table_counts(collector.workspace / "contexta.db") == reference["counts"]


def test_plain_spans_before_their_stage_wait_and_then_land_under_it(
    start_collector: Callable[..., Collector],
) -> None:
    """An HTTP span and its DB child arriving before their stage are stored once the stage arrives."""
    collector = start_collector()
    telemetry = pipeline()
    collector.send(trace_request([telemetry.spans["db"], telemetry.spans["http"]]))
    assert table_counts(collector.workspace / "contexta.db")["pending_spans"] == 2
    collector.send(trace_request([telemetry.spans["train"]]))
    assert table_counts(collector.workspace / "contexta.db")["pending_spans"] == 0
    collector.send(trace_request([telemetry.spans["run"]]))
    snapshot = answers(collector.workspace, RUN)["snapshot"]
    spans = {r["key"]: r for r in snapshot["records"] if r["record_type"] == "span"}
    assert sorted(spans) == ["GET /features", "SELECT features"]
    assert {r["stage_ref"] for r in spans.values()} == {stage_ref("train")}
