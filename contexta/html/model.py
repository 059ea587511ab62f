"""The data behind the pictures: plain frozen values a :class:`~contexta.query.ReportSection`
carries in its ``visual`` field. The query layer fills them (``contexta.html.extract``); the
drawing modules (``charts``, ``timeline``, ``lineage_graph``) only read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a metric chart: ``points`` are ``(x, y)``; x is the step or the observation order."""

    label: str
    points: tuple[tuple[float, float], ...]
    color: int = 0
    dash: int = 0


@dataclass(frozen=True, slots=True)
class MetricChart:
    """One chart: every series of one metric key."""

    key: str
    series: tuple[Series, ...]
    x_label: str = "step"
    unit: str | None = None
    categories: tuple[str, ...] = ()  # names of x = 0, 1, ... when x is a category (the run)


@dataclass(frozen=True, slots=True)
class Curves:
    """Metric curves by step: one chart per metric key (and per stage in comparisons)."""

    charts: tuple[MetricChart, ...]
    legend: tuple[tuple[str, int, int], ...] = ()  # (label, color, dash) shared by every chart


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of the stage timeline: a stage, a batch, a plain OTel span or a lane of many."""

    label: str
    kind: str  # "run" | "stage" | "batch" | "span" | "lane"
    depth: int
    start_us: int
    end_us: int | None
    status: str
    detail: str = ""
    segments: tuple[tuple[int, int, str, str], ...] = ()  # lanes: (start, end, status, label)


@dataclass(frozen=True, slots=True)
class Mark:
    """A point in time on a timeline row: a sample observation or a degraded record."""

    row: int
    at_us: int
    label: str
    kind: str = "sample"  # "sample" | "error" | "warning" (a degraded record's severity)


@dataclass(frozen=True, slots=True)
class Timeline:
    """The stage timeline (Gantt) of one run, in real time (microseconds since the epoch, UTC)."""

    bars: tuple[Bar, ...]
    start_us: int
    end_us: int
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphNode:
    ref: str
    kind: str
    label: str
    status: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    relation: str


@dataclass(frozen=True, slots=True)
class Graph:
    """A lineage graph around ``root``, drawn in columns by node kind."""

    root: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


Visual = Curves | Timeline | Graph
