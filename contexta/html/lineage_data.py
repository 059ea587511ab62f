"""Build the lineage graph data (:class:`~contexta.html.model.Graph`) from a snapshot or a
``traverse_lineage`` result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from contexta.html.model import Graph, GraphEdge, GraphNode

if TYPE_CHECKING:
    from contexta.query.results import LineageGraph, RunSnapshot

#: The node kinds a lineage picture shows (stages, batches and samples live in the timeline).
GRAPH_KINDS = ("dataset", "environment", "run", "artifact", "model", "deployment")


def _last(ref: str) -> str:
    return ref.rsplit(".", 1)[1]


def snapshot_graph(snapshot: RunSnapshot) -> Graph:
    """Datasets and environment -> run -> artifacts -> deployments, from the snapshot alone."""
    run = snapshot.run
    params = ", ".join(f"{k}={v}" for k, v in sorted(run.params.items()))
    nodes = [
        GraphNode(run.run_ref, "run", run.name, run.status, run.run_ref + (f"\n{params}" if params else ""))
    ]
    edges = []
    for dataset in run.dataset_refs:
        nodes.append(GraphNode(dataset, "dataset", dataset.split(":", 1)[1], None, dataset))
        edges.append(GraphEdge(dataset, run.run_ref, "used"))
    if snapshot.environment is not None:
        env = snapshot.environment
        label = f"python {env.python_version}" if env.python_version else "environment"
        nodes.append(GraphNode(env.environment_snapshot_ref, "environment", label, None, env.platform or ""))
        edges.append(GraphEdge(env.environment_snapshot_ref, run.run_ref, "executed_in"))
    for artifact in snapshot.artifacts:
        detail = f"{artifact.artifact_ref}\n{artifact.uri}\nsha256 {artifact.sha256 or '-'}"
        nodes.append(GraphNode(artifact.artifact_ref, "artifact", _last(artifact.artifact_ref), None, detail))
        edges.append(GraphEdge(run.run_ref, artifact.artifact_ref, "produced"))
    known = {node.ref for node in nodes}
    for deployment in snapshot.deployments:
        ref = deployment.deployment_id
        detail = f"{ref}\n{deployment.environment or '-'} · {deployment.status}"
        nodes.append(GraphNode(ref, "deployment", deployment.name, deployment.status, detail))
        source = deployment.artifact_ref if deployment.artifact_ref in known else run.run_ref
        edges.append(GraphEdge(source or run.run_ref, ref, "deployed"))
    return Graph(run.run_ref, tuple(nodes), tuple(edges))


def lineage_graph(graph: LineageGraph, kinds: Sequence[str] | None = GRAPH_KINDS) -> Graph:
    """A ``traverse_lineage`` result, keeping the nodes of ``kinds`` (None: every node)."""
    keep = {node.ref for node in graph.nodes if kinds is None or node.kind in kinds}
    nodes = tuple(
        GraphNode(node.ref, node.kind, node.label, None, node.ref) for node in graph.nodes if node.ref in keep
    )
    edges = tuple(
        GraphEdge(edge.source_ref, edge.target_ref, edge.relation_type)
        for edge in graph.edges
        if edge.source_ref in keep and edge.target_ref in keep
    )
    return Graph(graph.root_ref, nodes, edges)
