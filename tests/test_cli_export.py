"""``contexta export runs|metrics``: CSV row by row, Parquet, options, errors, progress."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from test_cli import Builder, build_demo

from contexta import Contexta
from contexta.cli import main

RUNS_HEADER = [
    "ref", "name", "status", "started_at", "ended_at", "duration_s",
    "evaluate/accuracy", "gone/loss", "train/loss",
]  # fmt: skip
RUNS_ROWS = [
    ["run:demo.good", "good", "completed", "2025-03-01T01:00:00Z", "2025-03-01T01:30:00Z", "1800.0",
     "0.91", "", "0.3"],
    ["run:demo.bad", "bad", "failed", "2025-03-01T02:00:00Z", "2025-03-01T02:30:00Z", "1800.0",
     "", "", "0.45"],
    ["run:demo.warn", "warn", "completed", "2025-03-01T03:00:00Z", "2025-03-01T03:30:00Z", "1800.0",
     "", "0.1", "0.35"],
    ["run:demo.stuck", "stuck", "open", "2025-03-01T04:00:00Z", "", "", "", "", ""],
]  # fmt: skip
METRICS_HEADER = ["run", "stage", "batch", "sample", "key", "step", "value", "time"]
METRICS_ROWS = [
    ["run:demo.good", "train", "", "", "loss", "", "0.3", "2025-03-01T01:10:01Z"],
    ["run:demo.good", "evaluate", "", "", "accuracy", "", "0.91", "2025-03-01T01:10:02Z"],
    ["run:demo.bad", "train", "", "", "loss", "", "0.45", "2025-03-01T02:10:03Z"],
    ["run:demo.warn", "train", "", "", "loss", "", "0.35", "2025-03-01T03:10:05Z"],
    ["run:demo.warn", "gone", "", "", "loss", "", "0.1", "2025-03-01T03:10:07Z"],
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_demo(tmp_path_factory.mktemp("export") / ".contexta"))


@pytest.fixture(scope="module")
def detailed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A run with run-level metrics, steps, batches, samples, odd keys and text that needs quoting."""
    root = tmp_path_factory.mktemp("export-detailed") / "ws"
    with Contexta(workspace=root, config={"project_name": "proj"}, environ={}) as ctx:
        with ctx.run("r1") as run:
            run.metric("score", 2.5)
            with run.stage("train") as stage:
                for step, loss in enumerate((0.9, 0.5, 0.25)):
                    stage.metric("loss", loss, step=step)
                with stage.batch("b-0") as batch:
                    batch.metric("eval/f1", 0.7, step=3)
                with stage.sample("s-1") as sample:
                    sample.metric("latency", 12.0)
        Builder(ctx, "proj").run("r2", "failed", 5)
    return str(root)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONTEXTA_WORKSPACE", "CONTEXTA_PROJECT", "CONTEXTA_STORE_URI", "CONTEXTA_FORCE_TTY"):
        monkeypatch.delenv(name, raising=False)


def export(capsys: pytest.CaptureFixture[str], ws: str, *argv: str) -> tuple[int, str, str]:
    code = main(["export", *argv, "--workspace", ws])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ----------------------------------------------------------------------------- CSV
def test_export_runs_csv_to_stdout(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, err = export(capsys, ws, "runs")
    assert (code, err) == (0, "")
    table = rows_of(out)
    assert table[0] == RUNS_HEADER
    assert len(table) == 1 + len(RUNS_ROWS)
    for expected, actual in zip(RUNS_ROWS, table[1:], strict=True):
        assert actual == expected
    assert "\r" not in out


def test_export_metrics_csv_to_stdout(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = export(capsys, ws, "metrics", "--format", "csv", "-o", "-")
    assert code == 0
    table = rows_of(out)
    assert table[0] == METRICS_HEADER
    for expected, actual in zip(METRICS_ROWS, table[1:], strict=True):
        assert actual == expected
    assert len(table) == 1 + len(METRICS_ROWS)  # ghost's records: its run was never written


def test_export_to_a_file(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path) -> None:
    target = tmp_path / "runs.csv"
    code, out, err = export(capsys, ws, "runs", "-o", str(target))
    assert (code, out) == (0, "")
    assert err.strip() == f"wrote 4 row(s) of runs to {target} (csv)"
    assert rows_of(target.read_text(encoding="utf-8")) == [RUNS_HEADER, *RUNS_ROWS]
    code, _, _ = export(capsys, ws, "metrics", "--output", str(target))  # replaced
    assert rows_of(target.read_text(encoding="utf-8"))[0] == METRICS_HEADER


def test_export_selected_runs_in_order(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = export(capsys, ws, "metrics", "--run", "warn", "run:demo.good")
    assert code == 0
    assert rows_of(out)[1:] == [METRICS_ROWS[3], METRICS_ROWS[4], METRICS_ROWS[0], METRICS_ROWS[1]]
    code, out, _ = export(capsys, ws, "runs", "--run", "bad", "--run", "good", "--run", "bad")
    table = rows_of(out)
    assert table[0] == [*RUNS_HEADER[:6], "evaluate/accuracy", "train/loss"]  # only these runs' metrics
    assert [row[0] for row in table[1:]] == ["run:demo.bad", "run:demo.good"]


def test_export_details(capsys: pytest.CaptureFixture[str], detailed: str) -> None:
    code, out, _ = export(capsys, detailed, "runs")
    assert code == 0
    table = rows_of(out)
    assert table[0] == [*RUNS_HEADER[:6], "score", "train/eval/f1", "train/latency", "train/loss"]
    assert [row[1] for row in table[1:]] == ["r2", "r1"]  # oldest first: r2 is from 2025
    r1 = dict(zip(table[0], table[2], strict=True))
    assert (r1["score"], r1["train/loss"], r1["train/eval/f1"], r1["train/latency"]) == (
        "2.5", "0.25", "0.7", "12.0",
    )  # fmt: skip
    assert float(r1["duration_s"]) >= 0
    assert table[1][2:] == [
        "failed",
        "2025-03-01T05:00:00Z",
        "2025-03-01T05:30:00Z",
        "1800.0",
        "",
        "",
        "",
        "",
    ]
    code, out, _ = export(capsys, detailed, "metrics")
    table = rows_of(out)
    body = [row[1:7] for row in table[1:]]
    assert body == [
        ["", "", "", "score", "", "2.5"],
        ["train", "", "", "loss", "0", "0.9"],
        ["train", "", "", "loss", "1", "0.5"],
        ["train", "", "", "loss", "2", "0.25"],
        ["train", "b-0", "", "eval/f1", "3", "0.7"],
        ["train", "", "s-1", "latency", "", "12.0"],
    ]
    assert all(row[0] == "run:proj.r1" and row[7].endswith("Z") for row in table[1:])


def test_csv_quoting() -> None:
    from contexta.cli.export import write_csv

    stream = io.StringIO()
    write_csv(stream, ["a", "b"], [("x,y", 'say "hi"'), (None, 1.5), ("line\nbreak", 3)])
    assert rows_of(stream.getvalue()) == [["a", "b"], ["x,y", 'say "hi"'], ["", "1.5"], ["line\nbreak", "3"]]


# ----------------------------------------------------------------------------- Parquet
def test_export_parquet(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    target = tmp_path / "runs.parquet"
    code, out, err = export(capsys, ws, "runs", "--format", "parquet", "-o", str(target))
    assert (code, out) == (0, "")
    assert err.strip() == f"wrote 4 row(s) of runs to {target} (parquet)"
    table = pq.read_table(target)
    assert table.column_names == RUNS_HEADER
    assert table.schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("duration_s").type == pa.float64()
    rows = table.to_pylist()
    assert [row["ref"] for row in rows] == [row[0] for row in RUNS_ROWS]
    assert rows[0]["evaluate/accuracy"] == 0.91 and rows[0]["gone/loss"] is None
    assert rows[3]["ended_at"] is None and rows[3]["duration_s"] is None
    assert rows[0]["started_at"].isoformat() == "2025-03-01T01:00:00+00:00"

    target = tmp_path / "metrics.parquet"
    assert export(capsys, ws, "metrics", "--format", "parquet", "-o", str(target))[0] == 0
    table = pq.read_table(target)
    assert table.column_names == METRICS_HEADER
    assert table.schema.field("step").type == pa.int64()
    assert table.schema.field("value").type == pa.float64()
    assert [(r["run"], r["stage"], r["key"], r["value"]) for r in table.to_pylist()] == [
        (row[0], row[1], row[4], float(row[6])) for row in METRICS_ROWS
    ]


def test_parquet_without_pyarrow(
    capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code, out, err = export(capsys, ws, "runs", "--format", "parquet", "-o", str(tmp_path / "r.parquet"))
    assert (code, out) == (2, "")
    assert err.strip() == (
        "contexta: error: --format parquet needs pyarrow, which is not installed: "
        "pip install pyarrow (or pip install 'contexta[parquet]')"
    )
    assert not (tmp_path / "r.parquet").exists()


def test_parquet_needs_a_file(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    for argv in (["runs", "--format", "parquet"], ["runs", "--format", "parquet", "-o", "-"]):
        code, out, err = export(capsys, ws, *argv)
        assert (code, out) == (2, "")
        assert err.strip() == "contexta: error: --format parquet writes a binary file: pass -o FILE"


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tables"], "argument WHAT: invalid choice: 'tables'"),
        (["runs", "--format", "xlsx"], "argument --format: invalid choice: 'xlsx'"),
        (["runs", "--run", "nope"], "contexta: error: run not found: 'run:demo.nope'"),
        (["runs", "--run", "Bad Name"], "--run: must be lowercase alphanumerics"),
        (["runs", "--project", "other"], "contexta: error: project not found: 'project:other'"),
        (["metrics", "--run", "ghost"], "contexta: error: run not found: 'run:demo.ghost'"),
        (["runs"], "the following arguments are required"),
    ],
)
def test_export_errors(capsys: pytest.CaptureFixture[str], ws: str, argv: list[str], message: str) -> None:
    if argv == ["runs"]:
        argv = []
    code, out, err = export(capsys, ws, *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert "Traceback" not in err


def test_export_to_a_missing_folder(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path) -> None:
    code, _, err = export(capsys, ws, "runs", "-o", str(tmp_path / "no" / "runs.csv"))
    assert code == 2
    assert "does not exist" in err
    assert not (tmp_path / "no").exists()


def test_export_needs_a_project_when_there_are_several(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "two"
    with Contexta(workspace=root) as ctx:
        for project in ("alpha", "beta"):
            Builder(ctx, project).run("r", "completed", 1)
    code, _, err = export(capsys, str(root), "runs")
    assert code == 2 and "no project given" in err
    code, out, _ = export(capsys, str(root), "runs", "--project", "beta")
    assert code == 0 and rows_of(out)[1][0] == "run:beta.r"
    code, out, _ = export(capsys, str(root), "runs", "--run", "run:alpha.r", "run:beta.r")
    assert code == 0 and [row[0] for row in rows_of(out)[1:]] == ["run:alpha.r", "run:beta.r"]
