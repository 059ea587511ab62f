#!/usr/bin/env python3
"""Store benchmarks for contexta: explicit-API append throughput, per-run query latency at
10,000 runs vs 100 runs, ``list_runs`` over a whole project, and bytes on disk per record.

Run from the repository root:

    .venv/bin/python benchmarks/bench_store.py            # full: 10,000 runs x 5 stages x 20 metrics
    .venv/bin/python benchmarks/bench_store.py --quick    # smoke run, a few seconds
    .venv/bin/python benchmarks/bench_store.py --rebuild  # regenerate the cached workspaces

Generated workspaces live in ``benchmarks/.work/`` (gitignored) and are reused when present.
Prints a table and writes ``benchmarks/results/store.json`` (``store-quick.json`` with --quick).
This is a script, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
RESULTS = HERE / "results"

from contexta import Contexta  # noqa: E402
from contexta.contract import (  # noqa: E402
    MetricPayload,
    MetricRecord,
    Project,
    RecordEnvelope,
    Run,
    StageExecution,
)

PROJECT = "bench"
STAGE_NAMES = ("ingest", "preprocess", "train", "evaluate", "export", "report", "deploy", "monitor")
METRIC_KEYS = tuple(
    [
        "loss",
        "accuracy",
        "auc",
        "f1",
        "precision",
        "recall",
        "rows_in",
        "rows_out",
        "duration_s",
        "throughput",
        "gpu_util",
        "cpu_util",
        "memory_mb",
        "val_loss",
        "val_accuracy",
        "lr",
        "grad_norm",
        "null_fraction",
        "drift_score",
        "latency_p95",
    ]
    + [f"metric_{i}" for i in range(20, 200)]
)
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)

# Targets from the performance brief.
TARGET_APPEND_PER_S = 100_000
TARGET_QUERY_MS = 10.0
TARGET_RATIO = 1.5
TARGET_LIST_RUNS_MS = 100.0
TARGET_BYTES_PER_RECORD = 150.0


def ts(seconds: float) -> str:
    moment = BASE_TIME + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def open_ctx(workspace: Path) -> Contexta:
    return Contexta(config={"project_name": PROJECT}, workspace=workspace)


# -- workspace generation -------------------------------------------------------------------------
def run_name(index: int) -> str:
    return f"run-{index:06d}"


def run_entities(index: int, stages: int) -> list[Any]:
    name = run_name(index)
    run_ref = f"run:{PROJECT}.{name}"
    start = index * 600.0
    status: Literal["failed", "completed"] = "failed" if index % 50 == 7 else "completed"
    entities: list[Any] = [
        Run(
            run_ref=run_ref,
            project_ref=f"project:{PROJECT}",
            name=name,
            status=status,
            started_at=ts(start),
            ended_at=ts(start + 500),
            params={"lr": 0.001 * (1 + index % 7), "batch_size": 32 << (index % 3)},
            tags={"team": "ranking"},
        )
    ]
    for s in range(stages):
        stage = STAGE_NAMES[s % len(STAGE_NAMES)] if s < len(STAGE_NAMES) else f"stage-{s}"
        entities.append(
            StageExecution(
                stage_execution_ref=f"stage:{PROJECT}.{name}.{stage}",
                run_ref=run_ref,
                stage_name=stage,
                status="failed" if (status == "failed" and s == stages - 1) else "completed",
                started_at=ts(start + s * 100),
                ended_at=ts(start + s * 100 + 90),
                order_index=s,
            )
        )
    return entities


def run_records(index: int, stages: int, metrics: int, rng: random.Random) -> list[MetricRecord]:
    name = run_name(index)
    run_ref = f"run:{PROJECT}.{name}"
    start = index * 600.0
    records = []
    n = 0
    for s in range(stages):
        stage = STAGE_NAMES[s % len(STAGE_NAMES)] if s < len(STAGE_NAMES) else f"stage-{s}"
        at = ts(start + s * 100 + 90)
        for m in range(metrics):
            n += 1
            records.append(
                MetricRecord(
                    envelope=RecordEnvelope(
                        record_ref=f"record:{PROJECT}.{name}.m{n:05d}",
                        record_type="metric",
                        recorded_at=at,
                        observed_at=at,
                        producer_ref="contexta.bench",
                        run_ref=run_ref,
                        stage_execution_ref=f"stage:{PROJECT}.{name}.{stage}",
                    ),
                    payload=MetricPayload(metric_key=METRIC_KEYS[m % len(METRIC_KEYS)], value=rng.random()),
                )
            )
    return records


def build_workspace(
    path: Path, runs: int, stages: int, metrics: int, chunk_runs: int = 100
) -> dict[str, Any]:
    """Generate ``runs`` runs with ``stages`` stages and ``stages * metrics`` metric records each."""
    if path.exists():
        shutil.rmtree(path)
    rng = random.Random(12345)
    t0 = time.perf_counter()
    build_s = write_s = 0.0
    ctx = open_ctx(path)
    ctx.store.put(Project(project_ref=f"project:{PROJECT}", name=PROJECT, created_at=ts(0)))
    for first in range(0, runs, chunk_runs):
        indices = range(first, min(runs, first + chunk_runs))
        tb = time.perf_counter()
        entities = [e for i in indices for e in run_entities(i, stages)]
        records = [r for i in indices for r in run_records(i, stages, metrics, rng)]
        tw = time.perf_counter()
        ctx.store.put_many(entities)  # type: ignore[attr-defined]
        ctx.record_store.append_many(records)
        done = time.perf_counter()
        build_s += tw - tb
        write_s += done - tw
        if runs >= 1000 and (first // chunk_runs) % 10 == 9:
            print(f"  ... {indices[-1] + 1}/{runs} runs, {time.perf_counter() - t0:.1f}s", flush=True)
    ctx.close()
    total = time.perf_counter() - t0
    info = {
        "schema": schema_fingerprint(path / "contexta.db")[0],
        "runs": runs,
        "stages": stages,
        "metrics_per_stage": metrics,
        "metric_records": runs * stages * metrics,
        "generation_seconds": round(total, 2),
        "model_build_seconds": round(build_s, 2),
        "store_write_seconds": round(write_s, 2),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (path / "bench-complete.json").write_text(json.dumps(info, indent=2))
    return info


# The tables a generated workspace fills or a measured query reads; tables added later by
# other features (migrations that add tables) do not make a cached workspace stale.
_BENCH_TABLES = (
    "refs",
    "names",
    "projects",
    "runs",
    "stages",
    "batches",
    "samples",
    "deployments",
    "environments",
    "artifacts",
    "relations",
    "records",
)


def schema_fingerprint(db: Path) -> tuple[str, int]:
    """(hash of the benchmark tables' schema, schema version)."""
    conn = sqlite3.connect(str(db))
    try:
        marks = ",".join("?" * len(_BENCH_TABLES))
        rows = conn.execute(
            f"SELECT type, name, sql FROM sqlite_schema WHERE tbl_name IN ({marks}) ORDER BY type, name",
            _BENCH_TABLES,
        ).fetchall()
        version = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16], int(version or 0)


_CURRENT_SCHEMA: list[tuple[str, int]] = []


def current_schema() -> tuple[str, int]:
    """The fingerprint of the schema this contexta creates (a workspace built by an older
    schema is rebuilt rather than measured)."""
    if not _CURRENT_SCHEMA:
        probe = WORK / "schema-probe"
        shutil.rmtree(probe, ignore_errors=True)
        open_ctx(probe).close()
        _CURRENT_SCHEMA.append(schema_fingerprint(probe / "contexta.db"))
        shutil.rmtree(probe, ignore_errors=True)
    return _CURRENT_SCHEMA[0]


def ensure_workspace(
    runs: int, stages: int, metrics: int, rebuild: bool
) -> tuple[Path, dict[str, Any], bool]:
    path = WORK / f"ws-{runs}x{stages}x{metrics}"
    marker = path / "bench-complete.json"
    if marker.exists() and not rebuild:
        info = json.loads(marker.read_text())
        fingerprint, version = current_schema()
        # same tables, and not migrated past what this contexta knows (a newer checkout may
        # have opened it); an older version is migrated forward on open
        if info.get("schema") == fingerprint and schema_fingerprint(path / "contexta.db")[1] <= version:
            return path, info, False
        print(f"{path.relative_to(ROOT)} was built with another schema: rebuilding", flush=True)
    print(f"building workspace {path.relative_to(ROOT)} ({runs} runs) ...", flush=True)
    info = build_workspace(path, runs, stages, metrics)
    print(f"  built in {info['generation_seconds']}s", flush=True)
    return path, info, True


# -- disk usage -----------------------------------------------------------------------------------
def disk_usage(path: Path) -> dict[str, Any]:
    db = path / "contexta.db"
    conn = sqlite3.connect(str(db))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
        tables: dict[str, Any] = {}
        try:
            rows = conn.execute(
                "SELECT name, COUNT(*), SUM(pgsize), SUM(payload), SUM(unused) FROM dbstat GROUP BY name"
                " ORDER BY SUM(pgsize) DESC"
            ).fetchall()
            for name, pages, size, payload, unused in rows:
                tables[name] = {"pages": pages, "bytes": size, "payload": payload, "unused": unused}
        except sqlite3.DatabaseError as exc:  # dbstat not compiled in
            tables = {"error": str(exc)}
    finally:
        conn.close()
    file_bytes = db.stat().st_size
    wal = path / "contexta.db-wal"
    per_table = {}
    if "records" in tables:
        per_table = {
            name: round(info["bytes"] / records, 1)
            for name, info in tables.items()
            if records and info["bytes"]
        }
    return {
        "file_bytes": file_bytes,
        "wal_bytes_after_checkpoint": wal.stat().st_size if wal.exists() else 0,
        "page_size": page_size,
        "page_count": page_count,
        "freelist_pages": freelist,
        "records": records,
        "bytes_per_record_file": round(file_bytes / records, 1) if records else None,
        "bytes_per_record_records_table": per_table.get("records"),
        "bytes_per_record_by_table": per_table,
        "dbstat": tables,
    }


# -- query latency --------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t) / 1e6


def summarize(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
        "min_ms": round(ordered[0], 3),
        "max_ms": round(ordered[-1], 3),
        "n": len(ordered),
    }


def child_query(path: Path, runs: int, samples: int, seed: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child-query", str(path), str(runs), str(samples), str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"query child failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pool(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op in ("get_run_snapshot", "diagnose_run", "compare_runs", "list_runs"):
        out[op] = summarize([x for r in rounds for x in r[op]])
        out[op]["round_medians_ms"] = [round(statistics.median(r[op]), 3) for r in rounds]
    for key in ("list_runs_rows", "records_per_snapshot", "stages_per_snapshot"):
        out[key] = rounds[0][key]
    return out


def query_latency(path: Path, runs: int, samples: int, seed: int) -> dict[str, Any]:
    """Runs drawn at random (with replacement: on a big workspace nearly every call is the first
    for its run in this process; on a 100-run one, runs repeat, which favours the small side)."""
    rng = random.Random(seed)
    refs = [f"run:{PROJECT}.{run_name(i)}" for i in rng.choices(range(runs), k=samples * 4 + 10)]
    warm, refs = refs[:10], refs[10:]
    ctx = open_ctx(path)
    try:
        for ref in warm:  # imports, prepared statements, first page reads
            ctx.get_run_snapshot(ref)
            ctx.diagnose_run(ref)
        gc.collect()
        snap = [timed(partial(ctx.get_run_snapshot, r)) for r in refs[:samples]]
        diag = [timed(partial(ctx.diagnose_run, r)) for r in refs[samples : 2 * samples]]
        pairs = refs[2 * samples : 4 * samples]
        cmp_ = [
            timed(partial(ctx.compare_runs, a, b)) for a, b in zip(pairs[0::2], pairs[1::2], strict=False)
        ]
        check = ctx.get_run_snapshot(refs[0])
        listing = [timed(lambda: ctx.list_runs(PROJECT)) for _ in range(max(3, min(15, samples // 10)))]
        listed = len(ctx.list_runs(PROJECT))
    finally:
        ctx.close()
    return {
        "get_run_snapshot": snap,
        "diagnose_run": diag,
        "compare_runs": cmp_,
        "list_runs": listing,
        "list_runs_rows": listed,
        "records_per_snapshot": len(check.records),
        "stages_per_snapshot": len(check.stages),
    }


# -- append throughput ----------------------------------------------------------------------------
def metric_record(n: int, run: str, stage_ref: str, at: str) -> MetricRecord:
    return MetricRecord(
        envelope=RecordEnvelope(
            record_ref=f"record:{PROJECT}.{run}.a{n:07d}",
            record_type="metric",
            recorded_at=at,
            observed_at=at,
            run_ref=f"run:{PROJECT}.{run}",
            stage_execution_ref=stage_ref,
        ),
        payload=MetricPayload(metric_key=METRIC_KEYS[n % 20], value=n * 0.001, step=n // 20),
    )


def append_throughput(count: int, repeats: int) -> dict[str, Any]:
    """``ctx.record_store.append(record)`` one at a time, into a fresh workspace per repeat."""
    out: dict[str, list[float]] = {
        "append_loop": [],
        "append_loop_incl_flush": [],
        "build_only": [],
        "build_and_append": [],
        # the same loops per CPU-second of this process (all threads): close to what an idle
        # machine gives when other processes compete for the two cores
        "append_loop_cpu": [],
        "build_and_append_cpu": [],
    }
    for rep in range(repeats):
        path = WORK / "append"
        if path.exists():
            shutil.rmtree(path)
        ctx = open_ctx(path)
        try:
            run = f"append-{rep}"
            run_ref = f"run:{PROJECT}.{run}"
            stage_ref = f"stage:{PROJECT}.{run}.train"
            ctx.store.put(Project(project_ref=f"project:{PROJECT}", name=PROJECT))
            ctx.store.put(
                Run(
                    run_ref=run_ref,
                    project_ref=f"project:{PROJECT}",
                    name=run,
                    status="open",
                    started_at=ts(0),
                )
            )
            ctx.store.put(
                StageExecution(
                    stage_execution_ref=stage_ref,
                    run_ref=run_ref,
                    stage_name="train",
                    status="open",
                    started_at=ts(0),
                )
            )
            ctx.flush()
            # Pre-built records: the loop below times append alone.
            t = time.perf_counter()
            records = [metric_record(n, run, stage_ref, ts(n // 1000)) for n in range(count)]
            out["build_only"].append(count / (time.perf_counter() - t))
            gc.collect()
            append = ctx.record_store.append
            c, t = time.process_time(), time.perf_counter()
            for record in records:
                append(record)
            loop, cpu = time.perf_counter() - t, time.process_time() - c
            out["append_loop_cpu"].append(count / cpu)
            ctx.flush()
            full = time.perf_counter() - t
            out["append_loop"].append(count / loop)
            out["append_loop_incl_flush"].append(count / full)
            del records
            # Build each record and append it, as a user's loop does.
            gc.collect()
            c, t = time.process_time(), time.perf_counter()
            for n in range(count, 2 * count):
                append(metric_record(n, run, stage_ref, ts(n // 1000)))
            ctx.flush()
            out["build_and_append"].append(count / (time.perf_counter() - t))
            out["build_and_append_cpu"].append(count / (time.process_time() - c))
            stored = len(ctx.record_store.list_records(run_ref))
            assert stored == 2 * count, (stored, count)
        finally:
            ctx.close()
    shutil.rmtree(WORK / "append", ignore_errors=True)
    return {
        name: {"median_per_s": round(statistics.median(vals)), "all_per_s": [round(v) for v in vals]}
        for name, vals in out.items()
    } | {"records_per_repeat": count, "repeats": repeats}


# -- machine --------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "git_commit": commit,
        # other processes share these cores: a 1-minute load above ~1 means the numbers are noisy
        "loadavg_at_start": os.getloadavg(),
    }


# -- report ---------------------------------------------------------------------------------------
def rows_for(result: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    def ok(flag: bool) -> str:
        return "yes" if flag else "NO"

    ap = result["append"]
    loop = ap["append_loop"]["median_per_s"]
    yield (
        "append loop (pre-built MetricRecord)",
        f"{loop:,}/s",
        f">= {TARGET_APPEND_PER_S:,}/s",
        ok(loop >= TARGET_APPEND_PER_S),
    )
    yield ("append loop, best repeat", f"{max(ap['append_loop']['all_per_s']):,}/s", "-", "")
    yield ("append loop per CPU-second", f"{ap['append_loop_cpu']['median_per_s']:,}/s", "-", "")
    yield ("append loop + final flush", f"{ap['append_loop_incl_flush']['median_per_s']:,}/s", "-", "")
    yield ("build MetricRecord only", f"{ap['build_only']['median_per_s']:,}/s", "-", "")
    yield ("build + append", f"{ap['build_and_append']['median_per_s']:,}/s", "-", "")
    yield ("build + append per CPU-second", f"{ap['build_and_append_cpu']['median_per_s']:,}/s", "-", "")
    big, small = result["big"], result["small"]
    for op in ("get_run_snapshot", "compare_runs", "diagnose_run"):
        b = big["queries"][op]["median_ms"]
        s = small["queries"][op]["median_ms"]
        yield (
            f"{op} median, {big['runs']:,} runs",
            f"{b:.2f} ms",
            f"<= {TARGET_QUERY_MS:g} ms",
            ok(b <= TARGET_QUERY_MS),
        )
        yield (f"{op} p95, {big['runs']:,} runs", f"{big['queries'][op]['p95_ms']:.2f} ms", "-", "")
        yield (f"{op} median, {small['runs']:,} runs", f"{s:.2f} ms", "-", "")
        ratio = b / s if s else float("inf")
        yield (
            f"{op} ratio {big['runs']:,}/{small['runs']:,} runs",
            f"{ratio:.2f}x",
            f"<= {TARGET_RATIO}x",
            ok(ratio <= TARGET_RATIO),
        )
    lr = big["queries"]["list_runs"]["median_ms"]
    yield (
        f"list_runs median, {big['queries']['list_runs_rows']:,} runs",
        f"{lr:.1f} ms",
        f"<= {TARGET_LIST_RUNS_MS:g} ms",
        ok(lr <= TARGET_LIST_RUNS_MS),
    )
    disk = big["disk"]
    bpr = disk["bytes_per_record_file"]
    yield (
        "bytes/metric record (whole file)",
        f"{bpr:.1f} B",
        f"<= {TARGET_BYTES_PER_RECORD:g} B",
        ok(bpr <= TARGET_BYTES_PER_RECORD),
    )
    if disk.get("bytes_per_record_records_table") is not None:
        yield (
            "bytes/metric record (records table, dbstat)",
            f"{disk['bytes_per_record_records_table']:.1f} B",
            "-",
            "",
        )
    gen = big["workspace"]
    when = "" if big["built_now"] else f" (reused; built {gen['created']})"
    yield (
        f"generate {gen['metric_records']:,} records ({gen['runs']:,} runs){when}",
        f"{gen['generation_seconds']:.1f} s",
        "-",
        "",
    )


def print_table(result: dict[str, Any]) -> None:
    rows = list(rows_for(result))
    head = ("measure", "result", "target", "met")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(4)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    d = result["big"]["disk"]
    if d["bytes_per_record_by_table"]:
        parts = ", ".join(f"{k} {v}" for k, v in list(d["bytes_per_record_by_table"].items())[:8])
        print(f"\nbytes per metric record by table/index (dbstat): {parts}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the big workspace (default 10000)")
    parser.add_argument("--small-runs", type=int, default=100, help="runs in the reference workspace")
    parser.add_argument("--stages", type=int, default=5)
    parser.add_argument("--metrics", type=int, default=20, help="metrics per stage")
    parser.add_argument("--samples", type=int, default=200, help="timed calls per query kind")
    parser.add_argument("--append-records", type=int, default=200_000)
    parser.add_argument("--append-repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small smoke run (500 runs, 20k appends)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached workspaces")
    parser.add_argument("--skip-append", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2, help="alternating small/big query rounds")
    parser.add_argument("--label", default="", help="free text stored in the JSON (e.g. 'before')")
    parser.add_argument(
        "--child-query", nargs=4, metavar=("PATH", "RUNS", "SAMPLES", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child_query:
        path, runs, samples, seed = args.child_query
        print(json.dumps(query_latency(Path(path), int(runs), int(samples), int(seed))))
        return 0
    if args.quick:
        args.runs = min(args.runs, 500)
        args.small_runs = min(args.small_runs, 50)
        args.samples = min(args.samples, 40)
        args.append_records = min(args.append_records, 20_000)
        args.append_repeats = 1
    out = args.out or RESULTS / ("store-quick.json" if args.quick else "store.json")
    WORK.mkdir(parents=True, exist_ok=True)

    result: dict[str, Any] = {
        "label": args.label,
        "machine": machine(),
        "args": vars(args) | {"out": str(out)},
        "contexta_imported_from": str(Path(sys.modules["contexta"].__file__ or "").parent),
    }
    print(f"machine: {result['machine']}", flush=True)
    if not args.skip_append:
        print(f"append: {args.append_records:,} records x {args.append_repeats} ...", flush=True)
        result["append"] = append_throughput(args.append_records, args.append_repeats)
    else:
        result["append"] = {
            k: {"median_per_s": 0, "all_per_s": [0]}
            for k in (
                "append_loop",
                "append_loop_incl_flush",
                "build_only",
                "build_and_append",
                "append_loop_cpu",
                "build_and_append_cpu",
            )
        }
    spaces = {}
    for label, runs in (("small", args.small_runs), ("big", args.runs)):
        spaces[label] = (runs, *ensure_workspace(runs, args.stages, args.metrics, args.rebuild))
    # Each measurement runs in a fresh interpreter (no heap or cache left over from generating a
    # workspace), alternating small and big for --rounds rounds; samples of all rounds are pooled.
    raw: dict[str, list[dict[str, Any]]] = {"small": [], "big": []}
    for round_ in range(args.rounds):
        for label in ("small", "big"):
            runs, path = spaces[label][0], spaces[label][1]
            print(
                f"round {round_ + 1}/{args.rounds}: querying {label} workspace ({runs:,} runs) ...",
                flush=True,
            )
            raw[label].append(child_query(path, runs, args.samples, seed=7 + round_))
    for label in ("small", "big"):
        runs, path, info, built = spaces[label]
        result[label] = {
            "runs": runs,
            "path": str(path.relative_to(ROOT)),
            "workspace": info,
            "built_now": built,
            "queries": pool(raw[label]),
            "disk": disk_usage(path),
        }
    result["loadavg_at_end"] = os.getloadavg()
    print()
    print_table(result)
    load = (result["machine"]["loadavg_at_start"][0], result["loadavg_at_end"][0])
    if max(load) > 1.0:
        print(
            f"\nnote: 1-minute load average {load[0]:.2f} at start, {load[1]:.2f} at end on "
            f"{result['machine']['nproc']} cores: other processes competed for the CPU, so "
            "wall-clock throughputs are low; the per-CPU-second rows are the steadier figure"
        )
    result["table"] = [
        dict(zip(("measure", "result", "target", "met"), r, strict=True)) for r in rows_for(result)
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
