"""``doctor``: is this workspace sound? Schema, SQLite integrity, counts and the warnings worth a look.

Unsound (exit 1): the database cannot be opened, or ``PRAGMA integrity_check`` reports
problems. Warnings (exit 0, or 1 with ``--strict``): records whose run was never written,
open runs that are stale, collector spans still waiting for their parent.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contexta._version import __version__
from contexta.cli.render import Block, Fields, emit, show, to_json
from contexta.cli.resolve import FINDINGS, OK, check_exists, open_workspace, workspace_target
from contexta.cli.terminal import progress
from contexta.client import Contexta
from contexta.errors import StoreError
from contexta.store.migrations import LATEST_VERSION

SHOWN_REFS = 10  # run refs listed by name in a warning; the count is always complete


def cmd_doctor(args: argparse.Namespace) -> int:
    target = workspace_target(args.workspace)
    check_exists(target)
    facts: dict[str, Any] = {"workspace": target.shown, "contexta_version": __version__}
    try:
        with open_workspace(args) as ctx, progress("doctor", len(CHECKS), quiet=args.no_progress) as bar:
            for check in CHECKS:
                facts.update(check(ctx))
                bar.advance()
    except StoreError as exc:  # includes SchemaError: a newer or damaged workspace
        facts["integrity"] = [f"cannot open: {exc}"]
    facts["warnings"] = _warnings(facts)
    facts["ok"] = facts["integrity"] in (["ok"], "not checked")
    if args.json:
        emit(to_json(facts))
    else:
        show(_text(facts))
    if not facts["ok"] or (args.strict and facts["warnings"]):
        return FINDINGS
    return OK


# -- the checks -------------------------------------------------------------------------------
def _conn(ctx: Contexta) -> Any:
    """The SQLite database of the workspace, or None for another kind of store."""
    db = getattr(ctx.store, "db", None)
    return db if db is not None and isinstance(getattr(db, "conn", None), sqlite3.Connection) else None


def _schema(ctx: Contexta) -> dict[str, Any]:
    version = ctx.store.schema_version()
    return {
        "store_uri": ctx.store.uri,
        "schema_version": version,
        "latest_schema_version": LATEST_VERSION,
        "schema_current": version == LATEST_VERSION,
    }


def _integrity(ctx: Contexta) -> list[str] | str:
    """``PRAGMA integrity_check`` lines (``["ok"]`` when sound) for SQLite workspaces."""
    db = _conn(ctx)
    if db is None:
        return "not checked"
    with db.read() as conn:
        return [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]


def _counts(ctx: Contexta) -> dict[str, int]:
    db = _conn(ctx)
    if db is not None:
        with db.read() as conn:
            return {
                table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("projects", "runs", "deployments")
            }
    projects = ctx.list_projects()
    return {
        "projects": len(projects),
        "runs": sum(len(ctx.list_runs(p.project_ref)) for p in projects),
        "deployments": sum(len(ctx.list_deployments(p.project_ref)) for p in projects),
    }


def _runs_without_row(ctx: Contexta) -> dict[str, Any]:
    """Records whose run was never written (the ``missing_run`` diagnostic, workspace-wide).

    Walks the distinct run ids of ``records`` by seeking its primary key (one index probe per
    run, not a scan of every record), then counts the records of the runs that have no row.
    """
    db = _conn(ctx)
    if db is None:
        return {"records_without_run": None, "runs_without_row": []}
    found: list[tuple[str, int]] = []
    with db.read() as conn:
        last = -1
        while True:
            row = conn.execute(
                "SELECT run_id FROM records WHERE run_id > ? ORDER BY run_id LIMIT 1", (last,)
            ).fetchone()
            if row is None:
                break
            last = int(row[0])
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (last,)).fetchone() is None:
                count = conn.execute("SELECT COUNT(*) FROM records WHERE run_id = ?", (last,)).fetchone()[0]
                ref = conn.execute("SELECT ref FROM refs WHERE id = ?", (last,)).fetchone()
                found.append((str(ref[0]) if ref else f"#{last}", int(count)))
    found.sort()
    return {"records_without_run": sum(n for _, n in found), "runs_without_row": [r for r, _ in found]}


def _stale_runs(ctx: Contexta) -> dict[str, Any]:
    """Open runs that ``diagnose`` calls stale: owner process gone, or silent past ``stale_after``."""
    db = _conn(ctx)
    if db is not None:
        with db.read() as conn:
            open_refs = [
                str(ref)
                for (ref,) in conn.execute(
                    "SELECT refs.ref FROM runs JOIN refs ON refs.id = runs.id"
                    " WHERE runs.status = 'open' ORDER BY refs.ref"
                ).fetchall()
            ]
    else:
        open_refs = sorted(
            row.run_id for p in ctx.list_projects() for row in ctx.list_runs(p.project_ref, status="open")
        )
    stale = [
        ref
        for ref in open_refs
        if any(issue.code == "stale_open_run" for issue in ctx.diagnose_run(ref).issues)
    ]
    return {"open_runs": len(open_refs), "stale_open_runs": stale}


def _pending(ctx: Contexta) -> dict[str, Any]:
    """Spans the collector holds until their parent arrives (``pending_spans``)."""
    db = _conn(ctx)
    if db is None:
        return {"pending_spans": None}
    with db.read() as conn:
        return {"pending_spans": int(conn.execute("SELECT COUNT(*) FROM pending_spans").fetchone()[0])}


def _wal(ctx: Contexta) -> dict[str, Any]:
    db = _conn(ctx)
    if db is None:
        return {"wal_bytes": None}
    wal = Path(f"{db.path}-wal")
    return {"wal_bytes": wal.stat().st_size if wal.is_file() else 0}


CHECKS: tuple[Callable[[Contexta], dict[str, Any]], ...] = (
    _schema,
    lambda ctx: {"integrity": _integrity(ctx)},  # looked up at call time: tests replace _integrity
    _counts,
    _runs_without_row,
    _stale_runs,
    _pending,
    _wal,
)


# -- the verdict and its text -----------------------------------------------------------------
def _warnings(facts: dict[str, Any]) -> list[str]:
    warnings = []
    if facts.get("records_without_run"):
        warnings.append(
            f"{facts['records_without_run']} record(s) name {len(facts['runs_without_row'])} run(s) "
            "that were never written (contexta diagnose RUN: missing_run)"
        )
    if facts.get("stale_open_runs"):
        warnings.append(
            f"{len(facts['stale_open_runs'])} open run(s) are stale (contexta diagnose RUN: stale_open_run)"
        )
    if facts.get("pending_spans"):
        warnings.append(f"{facts['pending_spans']} collector span(s) still wait for their parent span")
    return warnings


def _listed(refs: list[str]) -> str:
    shown = ", ".join(refs[:SHOWN_REFS])
    return shown + (f", ... ({len(refs) - SHOWN_REFS} more)" if len(refs) > SHOWN_REFS else "")


def _text(facts: dict[str, Any]) -> list[Block]:
    integrity = facts["integrity"]
    pairs: list[tuple[str, Any]] = [
        (key.replace("_", " "), facts[key])
        for key in ("workspace", "store_uri", "contexta_version", "schema_version", "latest_schema_version")
        if key in facts
    ]
    if isinstance(integrity, list):
        pairs.append(("integrity", integrity[0] if len(integrity) == 1 else f"{len(integrity)} problem(s)"))
    else:
        pairs.append(("integrity", integrity))
    pairs += [(key, facts[key]) for key in ("projects", "runs", "deployments") if key in facts]
    if "records_without_run" in facts:
        missing, refs = facts["records_without_run"], facts["runs_without_row"]
        pairs.append(("records without run", f"{missing} ({_listed(refs)})" if missing else missing))
    if "stale_open_runs" in facts:
        stale = facts["stale_open_runs"]
        pairs.append(("stale open runs", f"{len(stale)} ({_listed(stale)})" if stale else 0))
    pairs += [(key.replace("_", " "), facts[key]) for key in ("pending_spans", "wal_bytes") if key in facts]
    blocks: list[Block] = [Fields(pairs)]
    if isinstance(integrity, list) and len(integrity) > 1:
        blocks.append("\n".join(f"  {line}" for line in integrity))
    if facts["warnings"]:
        blocks.append("\n".join(f"warning: {line}" for line in facts["warnings"]))
    return blocks
