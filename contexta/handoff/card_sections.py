"""The content of a model card as sections of cells, and the evidence list the cells link to.

One structure feeds both renderers (:mod:`contexta.handoff.card_render`): a cell carries its
text, whether it is a ref (shown as code) and the ref its link points at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contexta.handoff.card import ModelCard


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    ref: str | None = None  # link to this ref's evidence entry
    code: bool = False
    refs: tuple[str, ...] = ()  # several links, each shown as the ref's last component


Section = tuple[str, list[str], list[list[Cell]], str]  # title, columns, rows, paragraph


def _num(value: float) -> str:
    return f"{value:.6g}"


def _c(value: Any) -> Cell:
    return Cell("" if value is None else str(value))


def _ref(ref: str | None, text: str | None = None) -> Cell:
    return Cell(text or ref or "", ref, code=text is None) if ref else Cell("")


def sections(card: ModelCard) -> list[Section]:
    run, model = card.run, card.model
    summary = [
        [Cell("Subject"), _ref(card.subject_ref)],
        [Cell("Run"), _ref(run.run_ref)],
        [Cell("Run status"), _c(f"{run.status}, ended {run.ended_at or '-'}")],
    ]
    if model is not None:
        summary += [
            [Cell("Stage"), _c(model.stage)],
            [Cell("Artifact"), _ref(model.artifact_ref)],
            [Cell("Artifact sha256"), Cell(model.artifact_sha256, code=True)],
            [Cell("Registered"), _c(f"{model.created_at} by {model.created_by}")],
        ]
    summary.append([Cell("Card generated"), _c(card.generated_at)])
    stage = card.evaluation_stage
    metrics = [
        [
            _c(m.stage or "(run)"),
            _c(m.key),
            _ref(m.record_ref, _num(m.value)),
            _c("evaluation" if stage is not None and m.stage == stage else ""),
        ]
        for m in card.metrics
    ]
    env = card.environment
    environment = (
        []
        if env is None
        else [
            [Cell("Snapshot"), _ref(env.environment_snapshot_ref)],
            [Cell("Python"), _c(env.python_version)],
            [Cell("Platform"), _c(env.platform)],
            [Cell("Git commit"), _c(env.git_commit)],
            [Cell("Uncommitted changes"), _c(env.git_dirty)],
            [Cell("Packages"), _c(len(env.packages))],
        ]
    )
    gates = [
        [
            _c(f"{g.policy.id} v{g.policy.version}"),
            Cell(g.policy_hash[:12], code=True),
            _c("passed" if g.passed else "FAILED"),
            _c(g.evaluated_at),
            _c(g.evaluator),
            _ref(g.evaluation_ref),
        ]
        for g in card.gates
    ]
    checks = [
        [
            _ref(g.evaluation_ref, g.policy.id),
            _c(c.name),
            _c("ok" if c.passed else "FAIL"),
            _c(c.detail),
            Cell("", refs=c.evidence_refs),
        ]
        for g in card.gates
        for c in g.checks
    ]
    return [
        ("Summary", ["Field", "Value"], summary, ""),
        ("Purpose", [], [], card.purpose or "(not stated)"),
        ("Limitations", [], [], card.limitations or "(not stated)"),
        (
            "Training data",
            ["Dataset version", "Source"],
            [[_c(d.version), _ref(d.source)] for d in card.datasets],
            "" if card.datasets else "No dataset recorded.",
        ),
        (
            "Metrics",
            ["Stage", "Metric", "Value", "Role"],
            metrics,
            f"Evaluation stage: {stage}." if stage else "No evaluation stage named.",
        ),
        ("Environment", ["Field", "Value"], environment, "" if env else "No environment snapshot."),
        (
            "Gates",
            ["Policy", "Hash", "Result", "Evaluated", "Evaluator", "Evaluation"],
            gates,
            "" if gates else "Never gated.",
        ),
        ("Gate checks", ["Policy", "Check", "Result", "Detail", "Evidence"], checks, ""),
        (
            "Approvals",
            ["Actor", "Decision", "Note", "Decided", "Approval"],
            [
                [_c(a.actor), _c(a.decision), _c(a.note), _c(a.decided_at), _ref(a.approval_ref)]
                for a in card.approvals
            ],
            "" if card.approvals else "No approvals.",
        ),
        (
            "Stage history",
            ["#", "From", "To", "Actor", "Reason", "At", "Override"],
            [
                [
                    _c(t.seq),
                    _c(t.from_stage or "-"),
                    _c(t.to_stage),
                    _c(t.actor),
                    _c(t.reason),
                    _c(t.at),
                    _c(t.overridden or ""),
                ]
                for t in card.transitions
            ],
            "",
        ),
        (
            "Degraded records",
            ["Key", "Category", "Severity", "Summary", "Record"],
            [
                [_c(r.key), _c(r.category), _c(r.severity), _c(r.message), _ref(r.record_ref)]
                for r in card.degraded
            ],
            "" if card.degraded else "None.",
        ),
        (
            "Open diagnostics",
            ["Severity", "Code", "Summary", "Subject"],
            [
                [_c(i.severity), _c(i.code), _c(i.summary), Cell(i.subject_ref, code=True)]
                for i in card.diagnostics
            ],
            "" if card.diagnostics else "None.",
        ),
        (
            "Lineage",
            ["Source", "Relation", "Target"],
            [
                [Cell(e.source_ref, code=True), _c(e.relation_type), Cell(e.target_ref, code=True)]
                for e in card.lineage
            ],
            "",
        ),
    ]


def evidence(card: ModelCard) -> list[tuple[str, str]]:
    """``(ref, what it is)`` for every ref a cell links to, in first-use order."""
    found: dict[str, str] = {
        card.subject_ref: "the subject of this card",
        card.run.run_ref: f"run {card.run.name}",
    }
    for m in card.metrics:
        found.setdefault(m.record_ref, f"metric {m.key} = {_num(m.value)} (stage {m.stage or '(run)'})")
    for d in card.datasets:
        found.setdefault(d.source, f"dataset version {d.version}")
    for a in card.artifacts:
        found.setdefault(a.artifact_ref, f"{a.artifact_kind} artifact, sha256 {a.sha256 or 'none'}, {a.uri}")
    if card.model is not None:
        found.setdefault(card.model.artifact_ref, "the model's artifact")
    if card.environment is not None:
        found.setdefault(card.environment.environment_snapshot_ref, "environment snapshot")
    for g in card.gates:
        found.setdefault(
            g.evaluation_ref,
            f"gate evaluation of policy {g.policy.id} v{g.policy.version} "
            f"(owner {g.policy.owner}): {'passed' if g.passed else 'failed'}",
        )
    for g in card.gates:
        for c in g.checks:
            for ref in c.evidence_refs:
                found.setdefault(ref, f"evidence of gate check {c.name} ({g.policy.id})")
    for approval in card.approvals:
        found.setdefault(
            approval.approval_ref, f"{approval.decision} by {approval.actor} at {approval.decided_at}"
        )
    for r in card.degraded:
        found.setdefault(r.record_ref, f"degraded record {r.key}")
    return list(found.items())
