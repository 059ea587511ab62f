"""The lineage graph: nodes in columns by kind (inputs on the left, deployments on the right), arrows
for edges, relation names on the arrows, full refs in tooltips. An edge that skips a column runs
in a lane under the nodes it passes, never behind them."""

from __future__ import annotations

import hashlib

from contexta.html import svg
from contexta.html.model import Graph, GraphNode
from contexta.html.svg import MUTED

#: (column heading, kinds in it), left to right; other kinds get a column each at the end.
COLUMNS = (
    ("datasets & environment", ("dataset", "environment")),
    ("run", ("run",)),
    ("stages", ("stage", "batch", "sample")),
    ("artifacts & models", ("artifact", "model")),
    ("deployments", ("deployment",)),
)
#: kind -> (fill, stroke)
KIND_COLORS: dict[str, tuple[str, str]] = {
    "dataset": ("#e8f1fb", "#4e79a7"),
    "environment": ("#eef2f5", "#7b8794"),
    "run": ("#fff4e5", "#f28e2b"),
    "artifact": ("#eaf6ea", "#59a14f"),
    "model": ("#f3ecf7", "#b07aa1"),
    "deployment": ("#e6f6f5", "#3f9a96"),
}
NODE_W, NODE_H, COL_GAP, ROW_GAP, HEAD = 176.0, 46.0, 74.0, 16.0, 30.0
#: nodes of one column beyond this are summarised as one "+N more" node.
MAX_PER_COLUMN = 12


def _columns(graph: Graph) -> list[tuple[str, list[GraphNode]]]:
    kinds: dict[str, list[GraphNode]] = {}
    for node in graph.nodes:
        kinds.setdefault(node.kind, []).append(node)
    known = {kind for _, group in COLUMNS for kind in group}
    groups = [(head, [n for k in group for n in kinds.get(k, [])]) for head, group in COLUMNS]
    groups += [(kind, kinds[kind]) for kind in sorted(kinds) if kind not in known]
    columns = []
    for kind, nodes in groups:
        if not nodes:
            continue
        if len(nodes) > MAX_PER_COLUMN:
            more = len(nodes) - MAX_PER_COLUMN + 1
            rest = GraphNode(f"more:{kind}", kind, f"+{more} more", None, f"{more} more {kind} nodes")
            nodes = [*nodes[: MAX_PER_COLUMN - 1], rest]
        columns.append((kind, nodes))
    return columns


def _node(node: GraphNode, x: float, y: float, root: str) -> str:
    fill, stroke = KIND_COLORS.get(node.kind, ("#f5f7fa", "#9aa5b1"))
    failed = node.status == "failed"
    edge = "#d64545" if failed else stroke
    width = 2.5 if node.ref == root else 1.5
    tip = svg.tooltip(node.detail or node.ref)
    parts = [svg.rect(x, y, NODE_W, NODE_H, tip, rx=8.0, fill=fill, stroke=edge, stroke_width=width)]
    kind = node.kind + (f" · {node.status}" if node.status else "")
    parts.append(svg.text(x + 10, y + 17, kind, cls="node-kind" + (" row-failed" if failed else "")))
    parts.append(svg.text(x + 10, y + 35, svg.shorten(node.label, 24), cls="node-label"))
    return f"<g class='node'>{''.join(parts)}</g>"


def _to(*coords: float) -> str:
    """``C c1x c1y c2x c2y x y``: a cubic segment from six numbers."""
    return "C" + " ".join(svg.num(c) for c in coords)


def _curve(x1: float, y1: float, *coords: float) -> str:
    return f"M{svg.num(x1)} {svg.num(y1)}" + _to(*coords)


def _edge(
    start: tuple[float, float], end: tuple[float, float], relation: str, marker: str, lane: float | None
) -> str:
    (x1, y1), (x2, y2) = start, end
    if lane is not None and x2 > x1:  # skips a column: down to the lane, along it, up to the target
        d = _curve(x1, y1, x1 + 28, y1, x1 + 28, lane, x1 + 56, lane) + f"L{svg.num(x2 - 56)} {svg.num(lane)}"
        d += _to(x2 - 28, lane, x2 - 28, y2, x2 - 2, y2)
        lx, ly = (x1 + x2) / 2, lane - 4
    elif x2 > x1:
        mid = (x1 + x2) / 2
        d = _curve(x1, y1, mid, y1, mid, y2, x2 - 2, y2)
        lx, ly = mid, (y1 + y2) / 2 - 4
    else:  # same or earlier column: loop out to the right of the source
        bend = max(x1, x2 + NODE_W) + 36
        x2 = x2 + NODE_W
        d = _curve(x1, y1, bend, y1, bend, y2, x2 + 2, y2)
        lx, ly = bend - 6, (y1 + y2) / 2
    line = svg.path(d, svg.tooltip(relation), fill="none", stroke=MUTED, stroke_width=1.4, marker_end=marker)
    label = svg.text(lx, ly, relation, text_anchor="middle", cls="edge-label")
    return line + label


def graph_svg(graph: Graph) -> str:
    """The whole graph as one SVG (an empty note when it has no nodes)."""
    columns = _columns(graph)
    if not columns:
        return "<p class='muted'>No lineage.</p>"
    tallest = max(len(nodes) for _, nodes in columns)
    height = HEAD + tallest * (NODE_H + ROW_GAP) + 8
    lane = height + 6  # below every node: where column-skipping edges run
    column_of = {node.ref: index for index, (_, nodes) in enumerate(columns) for node in nodes}
    skips = any(column_of.get(e.target, 0) - column_of.get(e.source, 0) > 1 for e in graph.edges)
    height += 26 if skips else 0
    width = len(columns) * (NODE_W + COL_GAP) - COL_GAP + 56
    marker_id = "arrow-" + hashlib.sha1(graph.root.encode()).hexdigest()[:10]
    where: dict[str, tuple[float, float]] = {}
    parts = [
        svg.rect(0, 0, width, height, fill="#ffffff"),
        f"<defs><marker id='{marker_id}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto-start-reverse'>"
        f"<path d='M0 0L10 5L0 10z' fill='{MUTED}'/></marker></defs>",
    ]
    nodes_svg = []
    for index, (kind, nodes) in enumerate(columns):
        x = 8 + index * (NODE_W + COL_GAP)
        parts.append(svg.text(x + NODE_W / 2, 18, kind, text_anchor="middle", cls="column-head"))
        offset = HEAD + (tallest - len(nodes)) * (NODE_H + ROW_GAP) / 2
        for row, node in enumerate(nodes):
            y = offset + row * (NODE_H + ROW_GAP)
            where[node.ref] = (x, y)
            nodes_svg.append(_node(node, x, y, graph.root))
    for edge in graph.edges:
        if edge.source not in where or edge.target not in where:
            continue
        (sx, sy), (tx, ty) = where[edge.source], where[edge.target]
        start = (sx + NODE_W, sy + NODE_H / 2)
        skip = column_of[edge.target] - column_of[edge.source] > 1
        marker = f"url(#{marker_id})"
        parts.append(_edge(start, (tx, ty + NODE_H / 2), edge.relation, marker, lane if skip else None))
    return svg.svg(width, height, "".join(parts + nodes_svg), f"lineage of {graph.root}", cls="graph")
