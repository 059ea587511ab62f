"""Model cards: what a model is, what it was trained and evaluated on, and who let it through.

:func:`build_model_card` gathers everything from the workspace (nothing is typed in except
``purpose`` and ``limitations``); :class:`ModelCard` renders it as Markdown or as one
self-contained HTML page. Every metric value links to the record it was read from, and each
gate evaluation and approval to its stored ref, listed under "Evidence".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contexta.contract import ArtifactManifest, EnvironmentSnapshot, Run
from contexta.contract._base import to_micros, utc_now
from contexta.errors import ValidationError
from contexta.handoff.approvals import list_approvals
from contexta.handoff.evidence import DatasetEvidence, MetricEvidence, dataset_versions, metric_evidence
from contexta.handoff.gate import list_gate_evaluations
from contexta.handoff.models import Approval, GateResult, ModelVersion, StageTransition
from contexta.handoff.registry import get_model_version, model_history
from contexta.query.results import DiagnosticIssue, LineageEdgeView
from contexta.query.service import run_ref_of
from contexta.store.base import RecordView


@dataclass(frozen=True, slots=True)
class ModelCard:
    """The facts of one model version (or of a run that has none), ready to render."""

    subject_ref: str
    run: Run
    model: ModelVersion | None
    purpose: str
    limitations: str
    evaluation_stage: str | None
    datasets: list[DatasetEvidence]
    metrics: list[MetricEvidence]
    environment: EnvironmentSnapshot | None
    artifacts: list[ArtifactManifest]
    lineage: list[LineageEdgeView]
    gates: list[GateResult]
    approvals: list[Approval]
    transitions: list[StageTransition]
    degraded: list[RecordView]
    diagnostics: list[DiagnosticIssue]
    generated_at: str = field(default_factory=utc_now)

    @property
    def title(self) -> str:
        if self.model is not None:
            return f"Model card: {self.model.name} v{self.model.version}"
        return f"Model card: run {self.run.name}"

    def to_markdown(self) -> str:
        from contexta.handoff.card_render import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        from contexta.handoff.card_render import render_html

        return render_html(self)

    def to_dict(self) -> dict[str, Any]:
        from contexta.handoff.card_render import card_dict

        return card_dict(self)


def _subject(ctx: Any, subject: Any) -> tuple[str, ModelVersion | None, str]:
    if isinstance(subject, ModelVersion):
        subject = subject.model_ref
    if isinstance(subject, str) and subject.startswith("model:"):
        version = get_model_version(ctx, subject)
        return subject, version, version.run_ref
    try:
        run_ref = run_ref_of(subject, "subject")
    except ValidationError:
        raise ValidationError.for_field(
            "subject", "must be a model version ref, a ModelVersion or a run", subject
        ) from None
    return run_ref, None, run_ref


def _evaluation_stage(gates: list[GateResult], stage_names: list[str]) -> str | None:
    """The stage the latest passing gate read its metrics from; else the latest gate's; else ``evaluate``."""
    considered = [g for g in gates if g.passed] or gates
    if considered:
        return considered[-1].policy.evaluation_stage
    return "evaluate" if "evaluate" in stage_names else None


def build_model_card(ctx: Any, subject: Any, *, purpose: str = "", limitations: str = "") -> ModelCard:
    """The card of a model version (ref or object) or of a run."""
    for name, text in (("purpose", purpose), ("limitations", limitations)):
        if not isinstance(text, str):
            raise ValidationError.for_field(name, "must be a string", text)
    subject_ref, model, run_ref = _subject(ctx, subject)
    snapshot = ctx.get_run_snapshot(run_ref)
    gates = list_gate_evaluations(ctx, run_ref)
    approvals = sorted(
        list_approvals(ctx, run_ref) + (list_approvals(ctx, model.model_ref) if model else []),
        key=lambda a: (to_micros(a.decided_at), a.approval_ref),
    )
    stage_names = [stage.name for stage in snapshot.stages]
    order = {name: index for index, name in enumerate(stage_names)}
    groups = metric_evidence(snapshot.records)
    metrics = [
        item
        for stage in sorted(groups, key=lambda s: (s is not None, order.get(s, len(order)), s or ""))
        for item in sorted(groups[stage].values(), key=lambda m: m.key)
    ]
    transitions = (
        [t for t in model_history(ctx, model.name, model.project) if t.model_ref == model.model_ref]
        if model
        else []
    )
    lineage = ctx.traverse_lineage(subject_ref, "both", max_depth=2).edges
    return ModelCard(
        subject_ref=subject_ref,
        run=snapshot.run,
        model=model,
        purpose=purpose,
        limitations=limitations,
        evaluation_stage=_evaluation_stage(gates, stage_names),
        datasets=dataset_versions(snapshot),
        metrics=metrics,
        environment=snapshot.environment,
        artifacts=list(snapshot.artifacts),
        lineage=list(lineage),
        gates=gates,
        approvals=approvals,
        transitions=transitions,
        degraded=[record for record in snapshot.records if record.record_type == "degraded"],
        diagnostics=list(ctx.diagnose_run(run_ref).issues),
    )
