"""``contexta doctor``: schema, integrity, records without run, stale runs, pending spans, WAL, --strict."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_cli import Builder, build_demo

from contexta import Contexta
from contexta.cli import main
from contexta.contract import Run
from contexta.store.migrations import LATEST_VERSION


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_demo(tmp_path_factory.mktemp("doctor") / ".contexta"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CONTEXTA_WORKSPACE",
        "CONTEXTA_PROJECT",
        "CONTEXTA_STORE_URI",
        "CONTEXTA_FORCE_TTY",
        "CONTEXTA_STALE_AFTER_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)


def doctor(capsys: pytest.CaptureFixture[str], ws: str, *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["doctor", "--workspace", ws, "--json", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def open_run(ctx: Contexta, name: str, owner: str | None) -> str:
    ref = f"run:demo.{name}"
    ctx.metadata_store.runs.put_run(
        Run(run_ref=ref, project_ref="project:demo", name=name, status="open", started_at=now())
    )
    ctx.store.touch_run(ref, now(), owner)
    return ref


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_demo_workspace(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, facts, err = doctor(capsys, ws)
    assert (code, err) == (0, "")
    assert facts["ok"] is True
    assert facts["schema_version"] == facts["latest_schema_version"] == LATEST_VERSION
    assert facts["schema_current"] is True
    assert facts["integrity"] == ["ok"]
    assert (facts["projects"], facts["runs"], facts["deployments"]) == (1, 4, 2)
    assert facts["records_without_run"] == 1
    assert facts["runs_without_row"] == ["run:demo.ghost"]
    assert facts["open_runs"] == 1
    assert facts["stale_open_runs"] == ["run:demo.stuck"]
    assert facts["pending_spans"] == 0
    assert isinstance(facts["wal_bytes"], int) and facts["wal_bytes"] >= 0
    assert len(facts["warnings"]) == 2
    assert "1 record(s) name 1 run(s) that were never written" in facts["warnings"][0]
    assert "1 open run(s) are stale" in facts["warnings"][1]


def test_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, facts, _ = doctor(capsys, ws, "--strict")
    assert code == 1 and facts["ok"] is True
    code = main(["doctor", "--workspace", ws, "--strict"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert out.rstrip().splitlines()[-1].startswith("warning: 1 open run(s) are stale")


def test_text_output(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    assert main(["doctor", "--workspace", ws]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert "records without run:    1 (run:demo.ghost)" in lines
    assert "stale open runs:        1 (run:demo.stuck)" in lines
    assert "pending spans:          0" in lines
    assert any(line.startswith("wal bytes:") for line in lines)


def test_a_clean_workspace_has_no_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "clean"
    with Contexta(workspace=root) as ctx:
        Builder(ctx, "demo").run("done", "completed", 1)
    code, facts, _ = doctor(capsys, str(root), "--strict")
    assert code == 0
    assert facts["warnings"] == [] and facts["stale_open_runs"] == [] and facts["records_without_run"] == 0
    assert main(["doctor", "--workspace", str(root)]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out
    assert "records without run:    0" in out and "stale open runs:        0" in out


def test_open_runs_with_a_dead_owner_are_stale(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "owners"
    host = socket.gethostname()
    with Contexta(workspace=root) as ctx:
        Builder(ctx, "demo")
        open_run(ctx, "alive", f"{host}:{os.getpid()}")
        open_run(ctx, "dead", f"{host}:{dead_pid()}")
        open_run(ctx, "elsewhere", f"another-host.example:{dead_pid()}")  # cannot tell: not stale
        open_run(ctx, "unknown", None)
    code, facts, _ = doctor(capsys, str(root))
    assert code == 0
    assert facts["open_runs"] == 4
    assert facts["stale_open_runs"] == ["run:demo.dead"]
    assert "1 open run(s) are stale" in " ".join(facts["warnings"])


def test_idle_open_runs_are_stale(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "idle"
    with Contexta(workspace=root) as ctx:
        Builder(ctx, "demo")
        open_run(ctx, "quiet", None)
    assert doctor(capsys, str(root))[1]["stale_open_runs"] == []
    time.sleep(1.1)
    monkeypatch.setenv("CONTEXTA_STALE_AFTER_SECONDS", "1")
    assert doctor(capsys, str(root))[1]["stale_open_runs"] == ["run:demo.quiet"]


def test_records_without_run_are_counted_per_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "ghosts"
    with Contexta(workspace=root) as ctx:
        b = Builder(ctx, "demo")
        real = b.run("real", "completed", 1)
        b.metric(real, None, "x", 1.0, 1)
        for index in range(12):
            for _ in range(index % 3 + 1):
                b.metric(f"run:demo.ghost-{index:02d}", None, "x", 1.0, 2)
    code, facts, _ = doctor(capsys, str(root))
    assert code == 0
    assert facts["records_without_run"] == sum(index % 3 + 1 for index in range(12))
    assert facts["runs_without_row"] == [f"run:demo.ghost-{index:02d}" for index in range(12)]
    main(["doctor", "--workspace", str(root)])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("records without run:"))
    assert line.endswith("run:demo.ghost-09, ... (2 more))")
    assert "24 record(s) name 12 run(s)" in facts["warnings"][0]


def test_pending_spans_and_wal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "pending"
    with Contexta(workspace=root) as ctx:
        Builder(ctx, "demo").run("r", "completed", 1)
        with ctx.store.db.write() as conn:  # what the collector keeps until a parent span arrives
            conn.executemany(
                "INSERT INTO pending_spans (span_id, parent_span_id, received_at, body) VALUES (?, ?, ?, ?)",
                [(f"{i:016x}", "ffffffffffffffff", 0, "{}") for i in range(3)],
            )
        ctx.flush()
        code, facts, _ = doctor(capsys, str(root))  # while this writer is open, its WAL is not empty
        assert facts["wal_bytes"] > 0
        assert facts["wal_bytes"] <= (root / "contexta.db-wal").stat().st_size
    assert code == 0
    assert facts["pending_spans"] == 3
    assert "3 collector span(s) still wait for their parent span" in facts["warnings"]
    assert doctor(capsys, str(root), "--strict")[0] == 1


def test_schema_is_reported_after_an_upgrade(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "old"
    with Contexta(workspace=root) as ctx:
        Builder(ctx, "demo").run("r", "completed", 1)
        with ctx.store.db.write() as conn:  # pretend the workspace was written before migration 2
            conn.execute("DELETE FROM schema_migrations WHERE version > 1")
            for table in ("gate_evaluations", "model_versions", "model_transitions", "approvals"):
                conn.execute(f"DROP TABLE {table}")
    code, facts, _ = doctor(capsys, str(root))
    assert code == 0
    assert facts["schema_version"] == LATEST_VERSION and facts["schema_current"] is True


def test_a_newer_schema_cannot_be_opened(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "newer"
    with Contexta(workspace=root) as ctx, ctx.store.db.write() as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 'x')",
            (LATEST_VERSION + 1,),
        )
    code, facts, _ = doctor(capsys, str(root))
    assert code == 1
    assert facts["ok"] is False
    assert "cannot open" in facts["integrity"][0] and "upgrade contexta" in facts["integrity"][0]
