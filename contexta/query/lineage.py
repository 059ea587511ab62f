"""``traverse_lineage``: walk from any ref along explicit and derived edges.

Edges point downstream (``source -> target``: the target was made from or by the source):
``dataset -> run`` (used), ``environment -> run`` (executed_in), ``run -> stage``,
``stage -> batch``, ``stage|batch -> sample`` (contains), ``run -> artifact`` (produced),
``run -> deployment`` and ``artifact -> deployment`` (deployed), plus every explicit
:class:`~contexta.contract.LineageEdge`. ``direction="both"`` is the union of the upstream
and the downstream closures (it does not wander upstream from a downstream node).
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from contexta.contract import DeploymentExecution
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import ValidationError
from contexta.query.results import LineageEdgeView, LineageGraph, LineageNode
from contexta.store.base import RunBundle, WorkspaceStore

Direction = Literal["both", "upstream", "downstream"]
Edge = tuple[str, str, str, bool]


class _Walker:
    def __init__(self, store: WorkspaceStore) -> None:
        self.store = store
        self.bundles: dict[str, RunBundle] = {}

    def bundle(self, run_ref: str) -> RunBundle:
        if run_ref not in self.bundles:
            self.bundles[run_ref] = self.store.read_run(run_ref)
        return self.bundles[run_ref]

    def edges(self, ref: str) -> list[Edge]:
        """Every edge touching ``ref`` (derived ones marked ``True``)."""
        kind = parse_ref(ref).kind
        parts = parse_ref(ref).parts
        found: list[Edge] = [
            (e.source_ref, e.target_ref, e.relation_type, False) for e in self.store.relations_of(ref)
        ]
        if kind == "run":
            bundle = self.bundle(ref)
            found += [(ref, s.stage_execution_ref, "contains", True) for s in bundle.stages]
            found += [(ref, a.artifact_ref, "produced", True) for a in bundle.artifacts]
            found += [(ref, d.deployment_execution_ref, "deployed", True) for d in bundle.deployments]
            if bundle.environment is not None:
                found.append((bundle.environment.environment_snapshot_ref, ref, "executed_in", True))
            if bundle.run is not None:
                found += [(dataset, ref, "used", True) for dataset in bundle.run.dataset_refs]
        elif kind in ("stage", "batch", "sample", "artifact", "environment"):
            run_ref = make_ref("run", *parts[:2])
            bundle = self.bundle(run_ref)
            if kind == "stage":
                found.append((run_ref, ref, "contains", True))
                found += [
                    (ref, b.batch_execution_ref, "contains", True)
                    for b in bundle.batches
                    if b.stage_execution_ref == ref
                ]
                found += [
                    (ref, s.sample_observation_ref, "contains", True)
                    for s in bundle.samples
                    if s.stage_execution_ref == ref and s.batch_execution_ref is None
                ]
            elif kind == "batch":
                found.append((make_ref("stage", *parts[:3]), ref, "contains", True))
                found += [
                    (ref, s.sample_observation_ref, "contains", True)
                    for s in bundle.samples
                    if s.batch_execution_ref == ref
                ]
            elif kind == "sample":
                found.append(
                    (make_ref("batch" if len(parts) == 5 else "stage", *parts[:-1]), ref, "contains", True)
                )
            elif kind == "artifact":
                found.append((run_ref, ref, "produced", True))
            else:
                found.append((ref, run_ref, "executed_in", True))
        elif kind == "deployment":
            deployment = self.store.get(DeploymentExecution, ref)
            if deployment is not None and deployment.run_ref:
                found.append((deployment.run_ref, ref, "deployed", True))
            if deployment is not None and deployment.artifact_ref:
                found.append((deployment.artifact_ref, ref, "deployed", True))
        return found


def _label(ref: str) -> str:
    return ref.split(":", 1)[1].split(".")[-1] if ":" in ref else ref


def traverse(
    store: WorkspaceStore, ref: str, direction: Direction = "both", max_depth: int | None = None
) -> LineageGraph:
    root = parse_ref(ref, "ref")
    if direction not in ("both", "upstream", "downstream"):
        raise ValidationError.for_field("direction", "must be 'both', 'upstream' or 'downstream'", direction)
    if max_depth is not None and (not isinstance(max_depth, int) or max_depth < 0):
        raise ValidationError.for_field("max_depth", "must be a whole number >= 0 or None", max_depth)
    walker = _Walker(store)
    nodes: dict[str, LineageNode] = {ref: LineageNode(ref, root.kind, _label(ref))}
    edges: dict[tuple[str, str, str], LineageEdgeView] = {}
    ways = ("upstream", "downstream") if direction == "both" else (direction,)
    for way in ways:
        seen = {ref}
        queue: deque[tuple[str, int]] = deque([(ref, 0)])
        while queue:
            current, depth = queue.popleft()
            if max_depth is not None and depth >= max_depth:
                continue
            for source, target, relation, derived in walker.edges(current):
                following = (
                    source
                    if way == "upstream" and target == current
                    else (target if way == "downstream" and source == current else None)
                )
                if following is None:
                    continue
                edges.setdefault(
                    (source, target, relation), LineageEdgeView(source, target, relation, derived)
                )
                if following not in nodes:
                    nodes[following] = LineageNode(following, following.split(":", 1)[0], _label(following))
                if following not in seen:
                    seen.add(following)
                    queue.append((following, depth + 1))
    return LineageGraph(ref, direction, list(nodes.values()), list(edges.values()))
