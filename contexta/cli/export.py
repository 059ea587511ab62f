"""``export runs|metrics --format csv|parquet``: the workspace as a table for pandas, Spark, a sheet.

``runs``: one row per run with its latest metrics as ``stage/key`` columns (run-level metrics
as ``key``). ``metrics``: one tidy row per metric record, exactly as stored. CSV is written
with the standard library; Parquet needs ``pyarrow`` (``pip install 'contexta[parquet]'``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from contexta.cli.render import note
from contexta.cli.resolve import OK, UsageError, open_workspace, project_ref, require_project, run_ref
from contexta.cli.terminal import progress
from contexta.client import Contexta
from contexta.query.compare import latest_metrics
from contexta.query.results import RunSnapshot

RUN_COLUMNS = ("ref", "name", "status", "started_at", "ended_at", "duration_s")
METRIC_COLUMNS = ("run", "stage", "batch", "sample", "key", "step", "value", "time")
TIME_COLUMNS = {"started_at", "ended_at", "time"}
PYARROW_HINT = "pip install pyarrow (or pip install 'contexta[parquet]')"

Rows = list[tuple[Any, ...]]


def cmd_export(args: argparse.Namespace) -> int:
    output = None if args.output in (None, "-") else Path(args.output)
    _check_output(args, output)
    with open_workspace(args) as ctx:
        refs = _selected(ctx, args)
        snapshots = []
        with progress(f"export {args.what}", len(refs), quiet=args.no_progress) as bar:
            for ref in refs:
                snapshots.append(ctx.get_run_snapshot(ref))
                bar.advance()
    columns, rows = run_table(snapshots) if args.what == "runs" else metric_table(snapshots)
    if args.format == "parquet":
        assert output is not None
        _write_parquet(output, columns, rows)
    elif output is None:
        write_csv(sys.stdout, columns, rows)
        return OK
    else:
        try:
            with output.open("w", encoding="utf-8", newline="") as stream:
                write_csv(stream, columns, rows)
        except OSError as exc:
            raise UsageError(f"-o {args.output}: cannot write: {exc.strerror or exc}") from None
    note(f"wrote {len(rows)} row(s) of {args.what} to {args.output} ({args.format})")
    return OK


def _check_output(args: argparse.Namespace, output: Path | None) -> None:
    """Everything that can fail before the workspace is read."""
    if args.format == "parquet":
        if output is None:
            raise UsageError("--format parquet writes a binary file: pass -o FILE")
        _pyarrow()
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o {args.output}: folder {str(output.parent)!r} does not exist")


def _selected(ctx: Contexta, args: argparse.Namespace) -> list[str]:
    """``--run`` refs in the given order, else every run of the project (oldest first)."""
    if args.run:
        refs = [run_ref(ctx, text, args.project, "--run") for text in args.run]
        return list(dict.fromkeys(refs))
    project = project_ref(ctx, args.project)
    rows = ctx.list_runs(project)
    require_project(ctx, project, bool(rows))
    return [row.run_id for row in rows]


# -- the tables -------------------------------------------------------------------------------
def _name(ref: str | None) -> str | None:
    return ref.rsplit(".", 1)[1] if ref else None


def _seconds(started: str, ended: str | None) -> float | None:
    if ended is None:
        return None
    return (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()


def run_table(snapshots: Sequence[RunSnapshot]) -> tuple[list[str], Rows]:
    """One row per run; metric columns: run-level keys first, then ``stage/key``, each sorted."""
    latest = [
        {(key if stage is None else f"{stage}/{key}"): value for stage, values in groups.items()
         for key, value in values.items()}
        for groups in (latest_metrics(s.records) for s in snapshots)
    ]  # fmt: skip
    metric_columns = sorted({name for values in latest for name in values}, key=lambda n: ("/" in n, n))
    rows = []
    for snapshot, values in zip(snapshots, latest, strict=True):
        run = snapshot.run
        rows.append(
            (
                run.run_ref,
                run.name,
                run.status,
                run.started_at,
                run.ended_at,
                _seconds(run.started_at, run.ended_at),
                *(values.get(name) for name in metric_columns),
            )
        )
    return [*RUN_COLUMNS, *metric_columns], rows


def metric_table(snapshots: Sequence[RunSnapshot]) -> tuple[list[str], Rows]:
    """One row per metric record (runs in order, records as stored)."""
    rows = [
        (r.run_ref, _name(r.stage_ref), _name(r.batch_ref), _name(r.sample_ref), r.key, r.step, r.value,
         r.observed_at)
        for snapshot in snapshots
        for r in snapshot.records
        if r.record_type == "metric"
    ]  # fmt: skip
    return list(METRIC_COLUMNS), rows


# -- writers ----------------------------------------------------------------------------------
def _csv_cell(value: Any) -> Any:
    return "" if value is None else value


def write_csv(stream: TextIO, columns: Sequence[str], rows: Rows) -> None:
    """RFC 4180 quoting, ``\\n`` line ends, empty cells for missing values, floats as Python prints them."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError(f"--format parquet needs pyarrow, which is not installed: {PYARROW_HINT}") from None
    return pyarrow


def _arrow_type(pa: Any, column: str) -> Any:
    if column in TIME_COLUMNS:
        return pa.timestamp("us", tz="UTC")
    if column == "step":
        return pa.int64()
    if column in ("ref", "name", "status", "run", "stage", "batch", "sample", "key"):
        return pa.string()
    return pa.float64()  # duration_s, value and every metric column


def _write_parquet(path: Path, columns: Sequence[str], rows: Rows) -> None:
    pa = _pyarrow()
    import pyarrow.parquet as pq

    data = {}
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        if column in TIME_COLUMNS:
            values = [None if v is None else datetime.fromisoformat(v) for v in values]
        data[column] = pa.array(values, type=_arrow_type(pa, column))
    with _writable(path):
        pq.write_table(pa.table(data), str(path))


@contextmanager
def _writable(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write: {exc.strerror or exc}") from None
