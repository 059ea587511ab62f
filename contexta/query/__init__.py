"""The offline query API: snapshots, comparisons, diagnostics, lineage and reports."""

from contexta.query.diagnose import CODES as DIAGNOSTIC_CODES
from contexta.query.report import Report, ReportSection
from contexta.query.results import (
    BatchView,
    DeploymentView,
    DiagnosisResult,
    DiagnosticIssue,
    LineageEdgeView,
    LineageGraph,
    LineageNode,
    MetricDelta,
    MultiRunComparison,
    RunComparison,
    RunSnapshot,
    SampleView,
    StageComparison,
    StageView,
)
from contexta.query.service import QueryService

__all__ = [
    "DIAGNOSTIC_CODES",
    "BatchView",
    "DeploymentView",
    "DiagnosisResult",
    "DiagnosticIssue",
    "LineageEdgeView",
    "LineageGraph",
    "LineageNode",
    "MetricDelta",
    "MultiRunComparison",
    "QueryService",
    "Report",
    "ReportSection",
    "RunComparison",
    "RunSnapshot",
    "SampleView",
    "StageComparison",
    "StageView",
]
