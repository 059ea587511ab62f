"""``HandoffAPI``: the production handoff on any ``Contexta``-like object.

Each method takes the workspace handle first (it needs ``store``, ``metadata_store``,
``get_run_snapshot``, ``diagnose_run``, ``compare_runs``, ``traverse_lineage`` and ``capture``),
so ``Contexta`` can expose them as thin delegating methods::

    def evaluate_gate(self, candidate_run, policy, **options):
        return self._handoff.evaluate_gate(self, candidate_run, policy, **options)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contexta.handoff import approvals, card, gate, promotion, registry, rollback
from contexta.handoff._common import DEFAULT_ENVIRONMENT, PROTECTED_STAGES, component
from contexta.handoff.card import ModelCard
from contexta.handoff.models import Approval, GateResult, ModelVersion, StageTransition
from contexta.handoff.policy import GatePolicy
from contexta.handoff.rollback import RollbackCandidate


class HandoffAPI:
    """Gates, the model registry, approvals, model cards and rollback candidates.

    ``protected_stages``: stages a model version enters only with a passing gate evaluation
    (default ``("production",)``). ``default_environment``: where ``baseline="current"`` and
    rollbacks look when no environment is given, and where deployments recorded without an
    environment are counted (``"prod"``).
    """

    def __init__(self, *, protected_stages: Sequence[str] = PROTECTED_STAGES) -> None:
        self.protected_stages = tuple(component(stage, "protected_stages") for stage in protected_stages)
        self.default_environment = DEFAULT_ENVIRONMENT

    # -- gates -----------------------------------------------------------------------------
    def evaluate_gate(
        self,
        ctx: Any,
        candidate_run: Any,
        policy: GatePolicy | str | Path,
        *,
        baseline: str | None = "current",
        environment: str | None = None,
        evaluator: str | None = None,
        now: Any = None,
    ) -> GateResult:
        """Evaluate, store and emit one gate decision (see :func:`contexta.handoff.gate.evaluate_gate`)."""
        return gate.evaluate_gate(
            ctx,
            candidate_run,
            policy,
            baseline=baseline,
            environment=environment or self.default_environment,
            evaluator=evaluator,
            now=now,
        )

    def list_gate_evaluations(self, ctx: Any, run: Any, *, policy_id: str | None = None) -> list[GateResult]:
        return gate.list_gate_evaluations(ctx, run, policy_id=policy_id)

    def get_gate_evaluation(self, ctx: Any, evaluation_ref: str) -> GateResult:
        return gate.get_gate_evaluation(ctx, evaluation_ref)

    # -- registry --------------------------------------------------------------------------
    def register_model(
        self,
        ctx: Any,
        name: str,
        run_ref: Any,
        artifact: str = "model",
        *,
        actor: str | None = None,
        description: str | None = None,
        now: Any = None,
    ) -> ModelVersion:
        return registry.register_model(
            ctx, name, run_ref, artifact, actor=actor, description=description, now=now
        )

    def promote(
        self,
        ctx: Any,
        version: str | ModelVersion,
        *,
        to: str,
        reason: str,
        actor: str,
        override: bool = False,
        policy_id: str | None = None,
        now: Any = None,
    ) -> StageTransition:
        return promotion.promote(
            ctx,
            version,
            to=to,
            reason=reason,
            actor=actor,
            override=override,
            policy_id=policy_id,
            protected_stages=self.protected_stages,
            now=now,
        )

    def list_model_versions(self, ctx: Any, name: str, *, project: str | None = None) -> list[ModelVersion]:
        return registry.list_model_versions(ctx, name, project)

    def get_model_version(self, ctx: Any, ref: str) -> ModelVersion:
        return registry.get_model_version(ctx, ref)

    def model_history(self, ctx: Any, name: str, *, project: str | None = None) -> list[StageTransition]:
        return registry.model_history(ctx, name, project)

    # -- approvals -------------------------------------------------------------------------
    def approve(
        self,
        ctx: Any,
        subject_ref: str,
        *,
        actor: str,
        decision: str = "approved",
        note: str = "",
        evidence: Sequence[str] = (),
        now: Any = None,
    ) -> Approval:
        return approvals.approve(
            ctx, subject_ref, actor=actor, decision=decision, note=note, evidence=evidence, now=now
        )

    def list_approvals(self, ctx: Any, subject_ref: str) -> list[Approval]:
        return approvals.list_approvals(ctx, subject_ref)

    # -- cards and rollbacks ---------------------------------------------------------------
    def build_model_card(
        self, ctx: Any, subject: Any, *, purpose: str = "", limitations: str = ""
    ) -> ModelCard:
        return card.build_model_card(ctx, subject, purpose=purpose, limitations=limitations)

    def rollback_candidate(
        self, ctx: Any, target: str | tuple[str, str] | None = None, *, environment: str | None = None
    ) -> RollbackCandidate:
        return rollback.rollback_candidate(ctx, target, environment=environment or self.default_environment)
