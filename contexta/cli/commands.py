"""``runs``, ``deployments``, ``show``, ``diagnose``, ``report``: one function per command,
``(args) -> exit code``. Data goes to stdout, messages to stderr."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from contexta.cli.filters import Condition, parse_since, parse_where, started_since
from contexta.cli.render import Block, Fields, Table, emit, note, show, to_json
from contexta.cli.resolve import (
    FINDINGS,
    OK,
    UsageError,
    open_workspace,
    project_ref,
    require_project,
    run_ref,
)
from contexta.cli.terminal import progress
from contexta.client import Contexta
from contexta.query.compare import latest_metrics
from contexta.store.base import RunRow

SEVERITY_RANK = {"warning": 1, "error": 2}


# -- runs / deployments -----------------------------------------------------------------------
def cmd_runs(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since else None  # bad filters fail before any read
    conditions = [parse_where(text) for text in args.where]
    with open_workspace(args) as ctx:
        project = project_ref(ctx, args.project)
        rows = ctx.list_runs(project)
        require_project(ctx, project, bool(rows))
        rows = [
            row
            for row in rows
            if (args.status is None or row.status == args.status)
            and (since is None or started_since(row.started_at, since))
        ]
        if conditions:
            rows = _matching(ctx, rows, conditions, quiet=args.no_progress)
    if args.json:
        emit(to_json([dataclasses.asdict(row) for row in rows]))
    elif rows:
        show(
            [
                Table(
                    ("run", "status", "started_at", "ended_at"),
                    [(r.run_id, r.status, r.started_at, r.ended_at) for r in rows],
                )
            ]
        )
    else:
        why = [f"with status {args.status}"] if args.status else []
        why += [f"since {since.isoformat(timespec='seconds').replace('+00:00', 'Z')}"] if since else []
        why += [f"where {' and '.join(c.text for c in conditions)}"] if conditions else []
        note(" ".join([f"no runs in {project}", *why]))
    return OK


def _matching(ctx: Contexta, rows: list[RunRow], conditions: list[Condition], *, quiet: bool) -> list[RunRow]:
    """The runs whose latest metrics satisfy every condition; one query per listed run."""
    kept = []
    with progress("runs --where", len(rows), quiet=quiet) as bar:
        for row in rows:
            latest = latest_metrics(ctx.get_run_snapshot(row).records)
            if all(condition.holds(latest) for condition in conditions):
                kept.append(row)
            bar.advance()
    return kept


def cmd_deployments(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        project = project_ref(ctx, args.project)
        views = ctx.list_deployments(project)
        require_project(ctx, project, bool(views))
        views = [v for v in views if args.environment is None or v.environment == args.environment]
    if args.json:
        emit(to_json([view.to_dict() for view in views]))
    elif views:
        show(
            [
                Table(
                    ("deployment", "environment", "status", "run", "started_at", "ended_at"),
                    [
                        (v.deployment_id, v.environment, v.status, v.run_id, v.started_at, v.ended_at)
                        for v in views
                    ],
                )
            ]
        )
    else:
        note(f"no deployments in {project}")
    return OK


# -- one run ----------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        snapshot = ctx.get_run_snapshot(run_ref(ctx, args.run, args.project))
    if args.json:
        emit(to_json(snapshot.to_dict()))
        return OK
    run = snapshot.run
    kinds = Counter(record.record_type for record in snapshot.records)
    counted = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    blocks: list[Block] = [
        Fields(
            [
                ("run", run.run_ref),
                ("status", run.status),
                ("started_at", run.started_at),
                ("ended_at", run.ended_at),
                ("datasets", ", ".join(run.dataset_refs) or None),
                ("records", f"{len(snapshot.records)}" + (f" ({counted})" if counted else "")),
            ]
        )
    ]
    sections: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = [
        (
            "Stages",
            ("order", "stage", "status", "started_at", "ended_at"),
            [(s.order_index, s.name, s.status, s.started_at, s.ended_at) for s in snapshot.stages],
        ),
        (
            "Metrics",
            ("stage", "metric", "latest"),
            [
                (stage or "(run)", key, value)
                for stage, values in latest_metrics(snapshot.records).items()
                for key, value in values.items()
            ],
        ),
        (
            "Batches",
            ("batch", "stage", "status", "started_at", "ended_at"),
            [
                (b.name, b.stage_ref.rsplit(".", 1)[1], b.status, b.started_at, b.ended_at)
                for b in snapshot.batches
            ],
        ),
        (
            "Samples",
            ("sample", "stage", "status", "observed_at"),
            [(s.name, s.stage_ref.rsplit(".", 1)[1], s.status, s.observed_at) for s in snapshot.samples],
        ),
        (
            "Artifacts",
            ("artifact", "kind", "uri", "bytes"),
            [(a.artifact_ref, a.artifact_kind, a.uri, a.size_bytes) for a in snapshot.artifacts],
        ),
        (
            "Deployments",
            ("deployment", "environment", "status", "started_at"),
            [(d.deployment_id, d.environment, d.status, d.started_at) for d in snapshot.deployments],
        ),
    ]
    blocks += [Table(columns, rows, title) for title, columns, rows in sections if rows]
    show(blocks)
    return OK


def cmd_diagnose(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        diagnosis = ctx.diagnose_run(run_ref(ctx, args.run, args.project))
    threshold = SEVERITY_RANK[args.fail_on]
    failing = [i for i in diagnosis.issues if SEVERITY_RANK.get(i.severity, 2) >= threshold]
    if args.json:
        emit(to_json(diagnosis.to_dict()))
    elif diagnosis.issues:
        errors, warnings = len(diagnosis.errors), len(diagnosis.warnings)
        summary = f"{diagnosis.run_id}: {errors} error(s), {warnings} warning(s)"
        rows = [(i.severity, i.code, i.subject_ref, i.summary) for i in diagnosis.issues]
        show([Table(("severity", "code", "subject", "summary"), rows, summary)])
    else:
        show([f"{diagnosis.run_id}: no issues found"])
    return FINDINGS if failing else OK


def cmd_report(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output and args.output != "-" else None
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o {args.output}: folder {str(output.parent)!r} does not exist")
    with open_workspace(args) as ctx:
        report = ctx.build_snapshot_report(run_ref(ctx, args.run, args.project))
    text = report.render(args.format)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return OK
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"-o {args.output}: cannot write: {exc.strerror or exc}") from None
    note(f"wrote {args.format} report of {report.title.removeprefix('Run report: ')} to {args.output}")
    return OK
