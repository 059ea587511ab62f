"""Approvals: append-only decisions by people, stored and drawn into lineage.

Each approval has a ref ``relation:<project>.approval-<hex>`` and is also written as a
:class:`~contexta.contract.LineageEdge` ``subject -> approval`` of type ``approved`` (its
attributes hold the actor, the decision and the note), so ``traverse_lineage`` shows it.
A later decision of the same actor supersedes the earlier one; nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from contexta.contract import DeploymentExecution, Run
from contexta.contract._base import to_micros
from contexta.contract.lineage import LineageEdge
from contexta.contract.refs import parse_ref
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff import telemetry as tm
from contexta.handoff._common import handoff_store, new_relation_ref, require_text, timestamp
from contexta.handoff.models import Approval

DECISIONS = ("approved", "rejected")


def _check_subject(ctx: Any, subject_ref: str) -> str:
    ref = parse_ref(subject_ref, "subject_ref")
    if ref.kind == "model":
        if handoff_store(ctx).get_model_version(subject_ref) is None:
            raise NotFoundError(subject_ref, "model version")
    elif ref.kind == "run":
        if ctx.store.get(Run, subject_ref) is None:
            raise NotFoundError(subject_ref, "run")
    elif ref.kind == "deployment":
        if ctx.store.get(DeploymentExecution, subject_ref) is None:
            raise NotFoundError(subject_ref, "deployment")
    else:
        raise ValidationError.for_field(
            "subject_ref", "must be a model version, run or deployment ref", subject_ref
        )
    return ref.project


def approve(
    ctx: Any,
    subject_ref: str,
    *,
    actor: str,
    decision: str = "approved",
    note: str = "",
    evidence: Sequence[str] = (),
    now: Any = None,
) -> Approval:
    """Record ``actor``'s ``decision`` ("approved" or "rejected") about a model version, run or deployment."""
    project = _check_subject(ctx, subject_ref)
    if decision not in DECISIONS:
        raise ValidationError.for_field("decision", "must be 'approved' or 'rejected'", decision)
    if isinstance(evidence, str):
        raise ValidationError.for_field("evidence", "must be a list of refs, not one string", evidence)
    refs = tuple(str(parse_ref(ref, f"evidence[{index}]")) for index, ref in enumerate(evidence))
    approval = Approval(
        approval_ref=new_relation_ref(project, "approval"),
        subject_ref=subject_ref,
        actor=require_text(actor, "actor", limit=256),
        decision=decision,  # type: ignore[arg-type]
        note=note if isinstance(note, str) else require_text(note, "note"),
        evidence=refs,
        decided_at=timestamp(now),
    )
    store = handoff_store(ctx)
    store.add_approval(approval.approval_ref, subject_ref, approval.decided_at, approval.model_dump_json())
    ctx.metadata_store.relations.put_relation(
        LineageEdge(
            source_ref=subject_ref,
            target_ref=approval.approval_ref,
            relation_type="approved",
            recorded_at=approval.decided_at,
            attributes={
                "actor": approval.actor,
                "decision": approval.decision,
                "note": approval.note,
                "evidence": list(refs),
            },
        )
    )
    store.flush()
    run_ref = subject_ref if subject_ref.startswith("run:") else None
    tm.emit(
        ctx,
        f"approval {decision}",
        {
            tm.APPROVAL_REF: approval.approval_ref,
            tm.APPROVAL_SUBJECT_REF: subject_ref,
            tm.APPROVAL_DECISION: decision,
            tm.ACTOR: approval.actor,
            tm.PROJECT: project,
        },
        run_ref=run_ref,
    )
    return approval


def list_approvals(ctx: Any, subject_ref: str) -> list[Approval]:
    """Every decision about ``subject_ref``, oldest first."""
    parse_ref(subject_ref, "subject_ref")
    return [Approval.model_validate_json(body) for body in handoff_store(ctx).list_approvals(subject_ref)]


def approval_tally(ctx: Any, subjects: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    """(actors whose latest decision is approved, actors whose latest is rejected, approval refs counted).

    Decisions about any of ``subjects`` count (a model version and the run it was made from).
    """
    latest: dict[str, Approval] = {}
    decisions = [a for subject in subjects for a in list_approvals(ctx, subject)]
    for approval in sorted(decisions, key=lambda a: to_micros(a.decided_at)):
        latest[approval.actor] = approval
    approved = sorted(actor for actor, a in latest.items() if a.decision == "approved")
    rejected = sorted(actor for actor, a in latest.items() if a.decision == "rejected")
    return approved, rejected, [latest[actor].approval_ref for actor in approved + rejected]
