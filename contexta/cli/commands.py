"""One function per command: ``(args) -> exit code``. Data goes to stdout, messages to stderr."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from contexta._version import __version__
from contexta.cli.render import fields, signed, table, to_json
from contexta.cli.resolve import (
    UsageError,
    any_ref,
    check_exists,
    open_workspace,
    project_ref,
    require_project,
    run_ref,
    workspace_target,
)
from contexta.client import Contexta
from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DeploymentExecution,
    EnvironmentSnapshot,
    Project,
    Run,
    SampleObservation,
    StageExecution,
)
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import NotFoundError, StoreError
from contexta.query.compare import latest_metrics
from contexta.query.results import LineageGraph, MultiRunComparison, RunComparison
from contexta.store.migrations import LATEST_VERSION

OK, FINDINGS, USAGE = 0, 1, 2

SEVERITY_RANK = {"warning": 1, "error": 2}


def emit(text: str) -> None:
    print(text, file=sys.stdout)


def note(text: str) -> None:
    print(text, file=sys.stderr)


# -- runs / deployments -----------------------------------------------------------------------
def cmd_runs(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        project = project_ref(ctx, args.project)
        rows = ctx.list_runs(project)
        require_project(ctx, project, bool(rows))
        rows = [row for row in rows if args.status is None or row.status == args.status]
    if args.json:
        emit(to_json([dataclasses.asdict(row) for row in rows]))
    elif rows:
        emit(
            table(
                ("run", "status", "started_at", "ended_at"),
                ((r.run_id, r.status, r.started_at, r.ended_at) for r in rows),
            )
        )
    else:
        note(f"no runs in {project}" + (f" with status {args.status}" if args.status else ""))
    return OK


def cmd_deployments(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        project = project_ref(ctx, args.project)
        views = ctx.list_deployments(project)
        require_project(ctx, project, bool(views))
        views = [v for v in views if args.environment is None or v.environment == args.environment]
    if args.json:
        emit(to_json([view.to_dict() for view in views]))
    elif views:
        emit(
            table(
                ("deployment", "environment", "status", "run", "started_at", "ended_at"),
                (
                    (v.deployment_id, v.environment, v.status, v.run_id, v.started_at, v.ended_at)
                    for v in views
                ),
            )
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
    parts = [
        fields(
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
    rows: list[tuple[Any, ...]]
    if snapshot.stages:
        rows = [(s.order_index, s.name, s.status, s.started_at, s.ended_at) for s in snapshot.stages]
        parts.append("Stages\n" + table(("order", "stage", "status", "started_at", "ended_at"), rows))
    metrics = [
        (stage or "(run)", key, value)
        for stage, values in latest_metrics(snapshot.records).items()
        for key, value in values.items()
    ]
    if metrics:
        parts.append("Metrics\n" + table(("stage", "metric", "latest"), metrics))
    if snapshot.batches:
        rows = [
            (b.name, b.stage_ref.rsplit(".", 1)[1], b.status, b.started_at, b.ended_at)
            for b in snapshot.batches
        ]
        parts.append("Batches\n" + table(("batch", "stage", "status", "started_at", "ended_at"), rows))
    if snapshot.samples:
        rows = [(s.name, s.stage_ref.rsplit(".", 1)[1], s.status, s.observed_at) for s in snapshot.samples]
        parts.append("Samples\n" + table(("sample", "stage", "status", "observed_at"), rows))
    if snapshot.artifacts:
        rows = [(a.artifact_ref, a.artifact_kind, a.uri, a.size_bytes) for a in snapshot.artifacts]
        parts.append("Artifacts\n" + table(("artifact", "kind", "uri", "bytes"), rows))
    if snapshot.deployments:
        rows = [(d.deployment_id, d.environment, d.status, d.started_at) for d in snapshot.deployments]
        parts.append("Deployments\n" + table(("deployment", "environment", "status", "started_at"), rows))
    emit("\n\n".join(parts))
    return OK


def cmd_diagnose(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        diagnosis = ctx.diagnose_run(run_ref(ctx, args.run, args.project))
    threshold = SEVERITY_RANK[args.fail_on]
    failing = [i for i in diagnosis.issues if SEVERITY_RANK.get(i.severity, 2) >= threshold]
    if args.json:
        emit(to_json(diagnosis.to_dict()))
    else:
        errors, warnings = len(diagnosis.errors), len(diagnosis.warnings)
        if diagnosis.issues:
            summary = f"{diagnosis.run_id}: {errors} error(s), {warnings} warning(s)"
            rows = [(i.severity, i.code, i.subject_ref, i.summary) for i in diagnosis.issues]
            emit(summary + "\n" + table(("severity", "code", "subject", "summary"), rows))
        else:
            emit(f"{diagnosis.run_id}: no issues found")
    return FINDINGS if failing else OK


def cmd_report(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
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


# -- several runs -----------------------------------------------------------------------------
def cmd_compare(args: argparse.Namespace) -> int:
    with open_workspace(args) as ctx:
        refs = [run_ref(ctx, text, args.project, f"runs[{i}]") for i, text in enumerate(args.runs)]
        if len(refs) == 2:
            result: RunComparison | MultiRunComparison = ctx.compare_runs(refs[0], refs[1])
        else:
            result = ctx.compare_multiple_runs(refs)
    if args.json:
        emit(to_json(result.to_dict()))
    elif isinstance(result, RunComparison):
        emit(_pair_text(result))
    else:
        emit(_many_text(result))
    return OK


def _pair_text(result: RunComparison) -> str:
    head = fields([("left", result.left_run_id), ("right", result.right_run_id)])
    stages = [(s.stage_name, s.left_status, s.right_status) for s in result.stage_comparisons if s.stage_name]
    metrics = [
        (s.stage_name or "(run)", d.metric_key, d.left_value, d.right_value, signed(d.delta))
        for s in result.stage_comparisons
        for d in s.metric_deltas
    ]
    parts = [head]
    if stages:
        parts.append("Stages\n" + table(("stage", "left", "right"), stages))
    parts.append(
        "Metrics\n" + table(("stage", "metric", "left", "right", "delta"), metrics)
        if metrics
        else "no metrics"
    )
    return "\n\n".join(parts)


def _many_text(result: MultiRunComparison) -> str:
    names = [ref.rsplit(".", 1)[1] for ref in result.run_ids]
    if len(set(names)) < len(names):  # same run name in two projects: show whole refs
        names = list(result.run_ids)
    runs = "\n".join(f"{name}: {ref}" for name, ref in zip(names, result.run_ids, strict=True))
    if not result.table:
        return runs + "\n\nno metrics"
    rows = [(stage or "(run)", key, *values) for stage, key, values in result.table]
    return runs + "\n\nMetrics\n" + table(("stage", "metric", *names), rows)


# -- lineage ----------------------------------------------------------------------------------
_STORED: dict[str, type[Any]] = {
    "project": Project,
    "run": Run,
    "stage": StageExecution,
    "batch": BatchExecution,
    "sample": SampleObservation,
    "deployment": DeploymentExecution,
    "artifact": ArtifactManifest,
    "environment": EnvironmentSnapshot,
}


def cmd_lineage(args: argparse.Namespace) -> int:
    if args.max_depth is not None and args.max_depth < 0:
        raise UsageError(f"--max-depth must be 0 or more (got {args.max_depth})")
    with open_workspace(args) as ctx:
        ref = any_ref(ctx, args.ref, args.project)
        _require_known(ctx, ref)
        graph = ctx.traverse_lineage(ref, args.direction, args.max_depth)
    if args.json:
        emit(to_json(graph.to_dict()))
    else:
        emit(_lineage_text(graph))
    return OK


def _require_known(ctx: Contexta, ref: str) -> None:
    """The root must be something the workspace knows; otherwise the ref is probably a typo.

    Known: a stored entity, an end of an explicit or dataset edge, a stored record, or a run
    that only has records (diagnose reports those as missing_run).
    """
    parsed = parse_ref(ref)
    model = _STORED.get(parsed.kind)
    if model is not None and ctx.store.get(model, ref) is not None:
        return
    if ctx.store.relations_of(ref):
        return
    if parsed.kind in ("run", "record"):
        records = ctx.store.read_run(make_ref("run", *parsed.parts[:2])).records
        if parsed.kind == "run" and records:
            return
        if any(record.record_ref == ref for record in records):
            return
    raise NotFoundError(ref, parsed.kind)


def _lineage_text(graph: LineageGraph) -> str:
    head = f"{graph.root_ref} ({graph.direction}: {len(graph.nodes)} node(s), {len(graph.edges)} edge(s))"
    if not graph.edges:
        return head
    rows = [
        (e.source_ref, e.relation_type, e.target_ref, "derived" if e.derived else "explicit")
        for e in graph.edges
    ]
    return head + "\n" + table(("source", "relation", "target", "edge"), rows)


# -- doctor -----------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    target = workspace_target(args.workspace)
    check_exists(target)
    facts: dict[str, Any] = {"workspace": target.shown, "contexta_version": __version__}
    try:
        with open_workspace(args) as ctx:
            facts["store_uri"] = ctx.store.uri
            facts["schema_version"] = ctx.store.schema_version()
            facts["latest_schema_version"] = LATEST_VERSION
            facts["integrity"] = _integrity(ctx)
            facts.update(_counts(ctx))
    except StoreError as exc:  # includes SchemaError: a newer or damaged workspace
        facts["integrity"] = [f"cannot open: {exc}"]
    facts["ok"] = facts["integrity"] in (["ok"], "not checked")
    if args.json:
        emit(to_json(facts))
    else:
        integrity = facts["integrity"]
        pairs = [
            (key.replace("_", " "), facts.get(key))
            for key in (
                "workspace",
                "store_uri",
                "contexta_version",
                "schema_version",
                "latest_schema_version",
            )
            if key in facts
        ]
        if isinstance(integrity, list):
            pairs.append(
                ("integrity", integrity[0] if len(integrity) == 1 else f"{len(integrity)} problem(s)")
            )
        else:
            pairs.append(("integrity", integrity))
        pairs += [(key, facts[key]) for key in ("projects", "runs", "deployments") if key in facts]
        text = fields(pairs)
        if isinstance(integrity, list) and len(integrity) > 1:
            text += "\n" + "\n".join(f"  {line}" for line in integrity)
        emit(text)
    return OK if facts["ok"] else FINDINGS


def _integrity(ctx: Contexta) -> list[str] | str:
    """``PRAGMA integrity_check`` lines (``["ok"]`` when sound) for SQLite workspaces."""
    db = getattr(ctx.store, "db", None)
    if db is None or not hasattr(db, "conn"):
        return "not checked"
    with db.read() as conn:
        return [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]


def _counts(ctx: Contexta) -> dict[str, int]:
    db = getattr(ctx.store, "db", None)
    if db is not None and hasattr(db, "conn"):
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
