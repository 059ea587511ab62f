"""Several processes on one workspace: no lost rows, no duplicates, no 'database is locked', crash safety."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from contexta import Contexta
from contexta.contract import MetricPayload, MetricRecord, Project, RecordEnvelope, Run, StageExecution
from contexta.store import DB_FILENAME
from contexta.store.migrations import MIGRATIONS

RUN = "run:demo.r1"
PER_WRITER = 20_000
SHARED = 500
EXPECTED = 2 * PER_WRITER + SHARED
WAIT_SECONDS = 600  # a hang guard only; the test asserts counts, never durations

# Shared by every child: build one metric record; shared records are identical in both writers.
PRELUDE = textwrap.dedent(
    """
    import json, sys
    from contexta import Contexta
    from contexta.contract import MetricPayload, MetricRecord, RecordEnvelope

    def record(local, value, step, second):
        at = f"2025-01-01T00:{second // 60 % 60:02d}:{second % 60:02d}.{step % 1000000:06d}Z"
        return MetricRecord(
            envelope=RecordEnvelope(
                record_ref=f"record:demo.r1.{local}", record_type="metric", recorded_at=at,
                observed_at=at, run_ref="run:demo.r1", stage_execution_ref="stage:demo.r1.train",
            ),
            payload=MetricPayload(metric_key="loss", value=value, step=step),
        )

    def open_ws(path):
        return Contexta(workspace=path, config={"project_name": "demo"}, environ={})
    """
)

# argv: workspace, writer name, mode ("one" = append per record, "many" = append_many chunks)
WRITER = PRELUDE + textwrap.dedent(
    f"""
    workspace, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    per_writer, shared = {PER_WRITER}, {SHARED}
    every = per_writer // shared
    shared_order = list(range(shared)) if name == "a" else list(reversed(range(shared)))
    ctx = open_ws(workspace)
    pending = []
    for i in range(per_writer):
        pending.append(record(f"{{name}}-{{i}}", float(i), i, i))
        if i % every == 0:
            j = shared_order[i // every]
            pending.append(record(f"shared-{{j}}", j * 0.5, j, j))
        if mode == "one" or len(pending) >= 97:
            if mode == "one":
                for item in pending:
                    ctx.record_store.append(item)
            else:
                ctx.record_store.append_many(pending)
            pending = []
    if pending:
        ctx.record_store.append_many(pending)
    ctx.close()
    print(json.dumps({{"writer": name, "done": True}}))
    """
)

# argv: workspace, stop file. Reads while the writers write (counts never go down, refs never repeat)
# until the stop file exists, then reads once more.
READER = PRELUDE + textwrap.dedent(
    """
    import os
    workspace, stop = sys.argv[1], sys.argv[2]
    ctx = open_ws(workspace)
    last, reads, done = 0, 0, False
    while not done:
        done = os.path.exists(stop)
        refs = [view.record_ref for view in ctx.record_store.list_records("run:demo.r1")]
        reads += 1
        assert len(refs) == len(set(refs)), "duplicate record refs in one read"
        assert len(refs) >= last, f"count went down from {last} to {len(refs)}"
        last = len(refs)
    ctx.close()
    print(json.dumps({"reads": reads, "last": last}))
    """
)

# argv: workspace, name. Opens (maybe creating) the workspace and appends 200 records.
OPENER = PRELUDE + textwrap.dedent(
    """
    workspace, name = sys.argv[1], sys.argv[2]
    ctx = open_ws(workspace)
    ctx.record_store.append_many([record(f"{name}-{i}", float(i), i, i) for i in range(100)])
    for i in range(100, 200):
        ctx.record_store.append(record(f"{name}-{i}", float(i), i, i))
    ctx.close()
    """
)

# argv: workspace. Appends forever; after each flush prints how many records are durable.
CRASHER = PRELUDE + textwrap.dedent(
    """
    workspace = sys.argv[1]
    ctx = open_ws(workspace)
    for i in range(10_000_000):
        ctx.record_store.append(record(f"k-{i}", float(i), i, i))
        if (i + 1) % 250 == 0:
            ctx.flush()
            print(i + 1, flush=True)
    """
)


def _seed(workspace: Path) -> None:
    with Contexta(workspace=workspace, config={"project_name": "demo"}, environ={}) as ctx:
        ctx.metadata_store.projects.put_project(Project(project_ref="project:demo", name="demo"))
        ctx.metadata_store.runs.put_run(
            Run(
                run_ref=RUN,
                project_ref="project:demo",
                name="r1",
                status="completed",
                started_at="2025-01-01T00:00:00Z",
                ended_at="2025-01-02T00:00:00Z",
            )
        )
        ctx.metadata_store.stages.put_stage_execution(
            StageExecution(
                stage_execution_ref="stage:demo.r1.train",
                run_ref=RUN,
                stage_name="train",
                status="completed",
                started_at="2025-01-01T00:00:00Z",
                ended_at="2025-01-02T00:00:00Z",
            )
        )


def _metric(local: str) -> MetricRecord:
    return MetricRecord(
        envelope=RecordEnvelope(
            record_ref=f"record:demo.r1.{local}",
            record_type="metric",
            recorded_at="2025-01-02T00:00:00Z",
            observed_at="2025-01-02T00:00:00Z",
            run_ref=RUN,
        ),
        payload=MetricPayload(metric_key="loss", value=1.0),
    )


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def test_two_writer_processes_and_a_reader_lose_nothing_and_duplicate_nothing(workspace: Path) -> None:
    """2 processes x 20,000 records (+500 identical shared refs), read meanwhile, store exactly 40,500."""
    _seed(workspace)
    stop = workspace.parent / "writers-done"
    reader = _spawn(READER, str(workspace), str(stop))
    writers = {
        "writer a": _spawn(WRITER, str(workspace), "a", "one"),
        "writer b": _spawn(WRITER, str(workspace), "b", "many"),
    }
    results = {name: _finish(proc) for name, proc in writers.items()}
    stop.touch()
    results["reader"] = _finish(reader)
    for name, (code, _out, err) in results.items():
        assert "locked" not in err.lower(), f"{name} saw a locked database:\n{err}"
        assert code == 0, f"{name} exited {code}:\n{err}"
        assert err == "", f"{name} wrote to stderr:\n{err}"
    seen = json.loads(results["reader"][1])
    assert seen["last"] == EXPECTED
    assert seen["reads"] >= 1

    with Contexta(workspace=workspace, config={"project_name": "demo"}, environ={}) as ctx:
        refs = [view.record_ref for view in ctx.record_store.list_records(RUN)]
        assert ctx.diagnose_run(RUN).issues == []
    expected = (
        {f"record:demo.r1.a-{i}" for i in range(PER_WRITER)}
        | {f"record:demo.r1.b-{i}" for i in range(PER_WRITER)}
        | {f"record:demo.r1.shared-{j}" for j in range(SHARED)}
    )
    assert len(refs) == EXPECTED
    assert set(refs) == expected
    conn = sqlite3.connect(workspace / DB_FILENAME)
    try:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT local_id) FROM records").fetchone()
        interned = conn.execute("SELECT COUNT(*), COUNT(DISTINCT ref) FROM refs").fetchone()
    finally:
        conn.close()
    assert (total, distinct) == (EXPECTED, EXPECTED)
    assert interned[0] == interned[1]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_writer_leaves_a_healthy_workspace_with_every_flushed_record(workspace: Path) -> None:
    """SIGKILL mid-append: the workspace reopens, passes integrity_check, holds every flushed record."""
    _seed(workspace)
    proc = _spawn(CRASHER, str(workspace))
    watchdog = threading.Timer(WAIT_SECONDS, proc.kill)
    watchdog.start()
    flushed = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            flushed = int(line)
            if flushed >= 5_000:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        code, _out, err = _finish(proc)
    assert flushed >= 5_000, f"child stopped early (exit {code}):\n{err}"
    assert code == -signal.SIGKILL

    with Contexta(workspace=workspace, config={"project_name": "demo"}, environ={}) as ctx:
        present = [int(view.record_ref.rsplit("-", 1)[1]) for view in ctx.record_store.list_records(RUN)]
        ctx.record_store.append(_metric("after-crash"))  # the reopened workspace still takes writes
        assert ctx.record_store.list_records(RUN)[-1].record_ref == "record:demo.r1.after-crash"
    assert len(present) >= flushed
    assert sorted(present) == list(range(len(present)))  # commits are whole and in order: no holes
    conn = sqlite3.connect(workspace / DB_FILENAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def test_processes_creating_a_fresh_workspace_at_once_migrate_it_once(workspace: Path) -> None:
    """Four processes opening a workspace that does not exist yet all succeed; the schema is migrated once."""
    procs = [_spawn(OPENER, str(workspace), f"p{n}") for n in range(4)]
    for n, proc in enumerate(procs):
        code, _out, err = _finish(proc)
        assert (code, err) == (0, ""), f"process {n} exited {code}:\n{err}"
    conn = sqlite3.connect(workspace / DB_FILENAME)
    try:
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        total = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    finally:
        conn.close()
    assert versions == [(migration.version,) for migration in MIGRATIONS]
    assert total == 4 * 200
