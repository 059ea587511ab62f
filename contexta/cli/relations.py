"""``compare`` (two or more runs) and ``lineage`` (the graph around any ref)."""

from __future__ import annotations

import argparse
from typing import Any

from contexta.cli.render import Block, Fields, Table, emit, show, signed, to_json
from contexta.cli.resolve import OK, UsageError, any_ref, open_workspace, run_ref
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
from contexta.errors import NotFoundError
from contexta.query.results import LineageGraph, MultiRunComparison, RunComparison


# -- compare ----------------------------------------------------------------------------------
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
        show(_pair(result))
    else:
        show(_many(result))
    return OK


def _pair(result: RunComparison) -> list[Block]:
    blocks: list[Block] = [Fields([("left", result.left_run_id), ("right", result.right_run_id)])]
    stages = [(s.stage_name, s.left_status, s.right_status) for s in result.stage_comparisons if s.stage_name]
    metrics = [
        (s.stage_name or "(run)", d.metric_key, d.left_value, d.right_value, signed(d.delta))
        for s in result.stage_comparisons
        for d in s.metric_deltas
    ]
    if stages:
        blocks.append(Table(("stage", "left", "right"), stages, "Stages"))
    blocks.append(
        Table(("stage", "metric", "left", "right", "delta"), metrics, "Metrics") if metrics else "no metrics"
    )
    return blocks


def _many(result: MultiRunComparison) -> list[Block]:
    names = [ref.rsplit(".", 1)[1] for ref in result.run_ids]
    if len(set(names)) < len(names):  # same run name in two projects: show whole refs
        names = list(result.run_ids)
    runs = "\n".join(f"{name}: {ref}" for name, ref in zip(names, result.run_ids, strict=True))
    if not result.table:
        return [runs, "no metrics"]
    rows = [(stage or "(run)", key, *values) for stage, key, values in result.table]
    return [runs, Table(("stage", "metric", *names), rows, "Metrics")]


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
        show([_lineage(graph)])
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


def _lineage(graph: LineageGraph) -> Block:
    head = f"{graph.root_ref} ({graph.direction}: {len(graph.nodes)} node(s), {len(graph.edges)} edge(s))"
    if not graph.edges:
        return head
    rows = [
        (e.source_ref, e.relation_type, e.target_ref, "derived" if e.derived else "explicit")
        for e in graph.edges
    ]
    return Table(("source", "relation", "target", "edge"), rows, head)
