"""Promotions: moving a model version between stages, with the gate and approvals as the predicate.

A protected stage (``production`` by default) is entered only when the latest stored gate
evaluation of the version's run passed and the approvals its policy requires are given
(approvals of the version or of its run; a later decision of an actor replaces an earlier one,
and any standing rejection blocks). ``override=True`` lets a blocked promotion through and the
transition records what was overridden, by whom and why. Entering an exclusive stage
(``staging``, ``production``) archives the version that held it, with its own transition.
"""

from __future__ import annotations

from typing import Any

from contexta.errors import ValidationError
from contexta.handoff import telemetry as tm
from contexta.handoff._common import (
    EXCLUSIVE_STAGES,
    PROTECTED_STAGES,
    component,
    handoff_store,
    require_text,
    timestamp,
)
from contexta.handoff.approvals import approval_tally
from contexta.handoff.gate import list_gate_evaluations
from contexta.handoff.models import ModelVersion, StageTransition
from contexta.handoff.registry import append_transition, get_model_version, list_model_versions


class PromotionBlockedError(ValidationError):
    """A promotion to a protected stage lacks its passing gate evaluation or its approvals."""


def _blocker(ctx: Any, version: ModelVersion, policy_id: str | None) -> tuple[str | None, Any, list[str]]:
    """(why the promotion is blocked or None, the gate evaluation relied on, approval refs counted)."""
    evaluations = list_gate_evaluations(ctx, version.run_ref, policy_id=policy_id)
    which = f" of policy {policy_id!r}" if policy_id else ""
    if not evaluations:
        return f"run {version.run_ref} has no gate evaluation{which}", None, []
    latest = evaluations[-1]
    if not latest.passed:
        failed = ", ".join(check.name for check in latest.failed_checks)
        return f"the latest gate evaluation{which} {latest.evaluation_ref} failed ({failed})", latest, []
    needed = latest.policy.required_approvals
    approved, rejected, refs = approval_tally(ctx, (version.model_ref, version.run_ref))
    if rejected:
        return f"rejected by {', '.join(rejected)}", latest, refs
    if len(approved) < needed:
        return (
            (
                f"policy {latest.policy.id} v{latest.policy.version} requires {needed} approval(s), "
                f"{len(approved)} given"
            ),
            latest,
            refs,
        )
    return None, latest, refs


def promote(
    ctx: Any,
    version: str | ModelVersion,
    *,
    to: str,
    reason: str,
    actor: str,
    override: bool = False,
    policy_id: str | None = None,
    protected_stages: tuple[str, ...] = PROTECTED_STAGES,
    now: Any = None,
) -> StageTransition:
    """Move a version to stage ``to``; returns the recorded transition."""
    current = get_model_version(ctx, version.model_ref if isinstance(version, ModelVersion) else version)
    to = component(to, "to")
    reason, actor = require_text(reason, "reason"), require_text(actor, "actor", limit=256)
    if current.stage == to:
        raise ValidationError.for_field("to", f"{current.model_ref} is already in stage {to!r}", to)
    at = timestamp(now)
    blocked: str | None = None
    evaluation: Any = None
    approvals: list[str] = []
    if to in protected_stages:
        blocked, evaluation, approvals = _blocker(ctx, current, policy_id)
        if blocked and not override:
            rule = f"{current.model_ref} cannot enter protected stage {to!r}: {blocked}"
            raise PromotionBlockedError(
                f"promote.to: {rule}; it needs a passing gate evaluation and the approvals its policy "
                f"requires, or override=True with actor and reason (got {to!r})",
                field="promote.to",
                rule=rule,
                value=to,
            )
    if to in EXCLUSIVE_STAGES:
        for other in list_model_versions(ctx, current.name, current.project):
            if other.stage == to and other.model_ref != current.model_ref:
                append_transition(
                    ctx,
                    other,
                    from_stage=to,
                    to_stage="archived",
                    actor=actor,
                    at=at,
                    reason=f"replaced in {to} by {current.model_ref}",
                )
    transition = append_transition(
        ctx,
        current,
        from_stage=current.stage,
        to_stage=to,
        actor=actor,
        reason=reason,
        at=at,
        override=bool(blocked),
        overridden=blocked,
        gate_evaluation_ref=evaluation.evaluation_ref if evaluation is not None else None,
        approval_refs=tuple(approvals),
    )
    handoff_store(ctx).flush()
    tm.emit(
        ctx,
        f"model promote {current.name}",
        {
            tm.MODEL_REF: current.model_ref,
            tm.MODEL_STAGE_FROM: current.stage,
            tm.MODEL_STAGE_TO: to,
            tm.MODEL_OVERRIDE: bool(blocked),
            tm.ACTOR: actor,
            tm.RUN_REF: current.run_ref,
            tm.PROJECT: current.project,
            tm.GATE_EVALUATION_REF: transition.gate_evaluation_ref,
        },
        run_ref=current.run_ref,
    )
    return transition
