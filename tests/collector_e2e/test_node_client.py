"""A Node.js service using the official OpenTelemetry JS SDK reports a run through the collector."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from contexta import Contexta

from .conftest import Collector

NODE_DIR = Path(__file__).with_name("node")
RUN = "run:node-svc.checkout"
# npm's words for "the registry could not be reached" (DNS, refused, reset, timeout, offline)
_OFFLINE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|offline"
)


def _node_modules() -> None:
    """``npm ci`` in tests/collector_e2e/node (gitignored node_modules) unless it is up to date."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    try:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm ci timed out: the npm registry is unreachable from this machine")
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if _OFFLINE.search(output):
            pytest.skip(f"npm ci could not reach the npm registry: {output.strip()[-300:]}")
        raise AssertionError(f"npm ci failed:\n{output}")


@pytest.fixture(scope="module")
def node_client() -> Path:
    """The Node program with its dependencies installed; skipped when Node.js or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed")
    _node_modules()
    return NODE_DIR / "program.js"


def test_node_otlp_http_client_reports_stages_and_a_degraded_record(
    node_client: Path, start_collector: Callable[..., Collector]
) -> None:
    """The JS SDK's OTLP/HTTP exporter, contexta attributes set by hand: diagnose_run sees it all."""
    collector = start_collector()
    host, port = collector.http
    done = subprocess.run(
        ["node", str(node_client), f"http://{host}:{port}"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert collector.server.counters["traces.requests"] >= 1

    with Contexta(workspace=collector.workspace, config={"project_name": "node-svc"}, environ={}) as ctx:
        diagnosis = ctx.diagnose_run(RUN)
        snapshot = ctx.get_run_snapshot(RUN)
    assert [(i.code, i.severity, i.subject_ref) for i in diagnosis.issues] == [
        ("degraded_record", "error", "stage:node-svc.checkout.score")
    ]
    assert diagnosis.issues[0].summary == "42 rows had no features and were not scored"
    assert [(stage.name, stage.status) for stage in snapshot.stages] == [
        ("prepare", "completed"),
        ("score", "completed"),
    ]
    assert snapshot.run.status == "completed"
    assert snapshot.run.params == {"threshold": 0.5}
    records = {(r.record_type, r.key): r for r in snapshot.records}
    assert sorted(records) == [
        ("degraded", "score.missing_features"),
        ("metric", "auc"),
        ("metric", "rows"),
        ("span", "GET /features"),
    ]
    assert records[("metric", "rows")].value == 1200
    assert records[("span", "GET /features")].stage_ref == "stage:node-svc.checkout.score"
    assert records[("span", "GET /features")].producer_ref == "checkout-scorer"
