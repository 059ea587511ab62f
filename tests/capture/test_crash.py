"""A capturing process killed with SIGKILL: what it flushed survives and the run is diagnosed stale."""

from __future__ import annotations

import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from contexta import Contexta

CHILD = textwrap.dedent("""
    import sys
    from contexta import Contexta

    ctx = Contexta(workspace=sys.argv[1], config={"project_name": "crash"}, environ={})
    run = ctx.run("killed").__enter__()
    stage = run.stage("train").__enter__()
    written = 0
    while True:
        for _ in range(25):
            stage.metric("loss", 1.0 / (written + 1), step=written)
            written += 1
        ctx.flush()
        print(written, flush=True)
""")


def test_sigkill_keeps_every_flushed_metric_and_diagnose_reports_the_stale_run(workspace: Path) -> None:
    """After SIGKILL: integrity ok, every reported metric present, run open, stale_open_run error."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported = 0
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        while reported < 200:  # the child's counts, each printed after a ctx.flush()
            ready, _, _ = select.select([child.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "the child did not report 200 flushed metrics within 60 s"
            line = child.stdout.readline()
            assert line, f"the child died early: {child.stderr.read() if child.stderr else ''}"
            reported = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL

    database = sqlite3.connect(workspace / "contexta.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        database.close()
    with Contexta(workspace=workspace, config={"project_name": "crash"}, environ={}) as ctx:
        [row] = ctx.list_runs()
        assert (row.run_id, row.status) == ("run:crash.killed", "open")
        snapshot = ctx.get_run_snapshot(row.run_id)
        steps = {record.step for record in snapshot.records if record.key == "loss"}
        assert set(range(reported)) <= steps, f"lost {sorted(set(range(reported)) - steps)[:10]}..."
        assert [(s.name, s.status) for s in snapshot.stages] == [("train", "open")]
        issues = {
            (issue.severity, issue.code, issue.subject_ref) for issue in ctx.diagnose_run(row.run_id).issues
        }
        assert ("error", "stale_open_run", "run:crash.killed") in issues
        stale = next(issue for issue in ctx.diagnose_run(row.run_id).issues if issue.code == "stale_open_run")
        assert f":{child.pid}" in stale.summary
