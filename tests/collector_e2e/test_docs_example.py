"""The Python example of docs/collector.md, run against a live collector, reports what it says."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from contexta import Contexta

from .conftest import Collector

DOC = Path(__file__).resolve().parents[2] / "docs" / "collector.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_plain_sdk_example_of_the_docs_fills_the_workspace(
    start_collector: Callable[..., Collector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain-OpenTelemetry example sends a run whose stage, metric and degraded record are stored."""
    (block,) = FENCE.findall(DOC.read_text(encoding="utf-8"))
    collector = start_collector()
    host, port = collector.http
    monkeypatch.setenv("CONTEXTA_COLLECTOR_URL", f"http://{host}:{port}")
    exec(compile(block, "docs/collector.md (python block)", "exec"), {"__name__": "docs_collector"})

    with Contexta(workspace=collector.workspace, config={"project_name": "churn"}, environ={}) as ctx:
        snapshot = ctx.get_run_snapshot("run:churn.weekly")
        diagnosis = ctx.diagnose_run("run:churn.weekly")
    assert snapshot.run.status == "completed"
    assert [(stage.name, stage.status) for stage in snapshot.stages] == [("train", "completed")]
    assert [(r.record_type, r.key, r.value, r.step) for r in snapshot.records] == [
        ("metric", "auc", 0.91, 3),
        ("degraded", "train.class_imbalance", None, None),
    ]
    assert [(issue.code, issue.severity) for issue in diagnosis.issues] == [("degraded_record", "warning")]
