"""The production-handoff methods of :class:`~contexta.Contexta` (thin doors onto ``HandoffAPI``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contexta.handoff.api import HandoffAPI
    from contexta.handoff.card import ModelCard
    from contexta.handoff.models import Approval, GateResult, ModelVersion, StageTransition
    from contexta.handoff.policy import GatePolicy
    from contexta.handoff.rollback import RollbackCandidate


class HandoffMethods:
    """Gates, model registry, approvals, model cards, rollback candidates (docs/production-handoff.md)."""

    _handoff_api: HandoffAPI | None = None

    @property
    def _handoff(self) -> HandoffAPI:
        if self._handoff_api is None:
            from contexta.handoff.api import HandoffAPI

            self._handoff_api = HandoffAPI()
        return self._handoff_api

    def evaluate_gate(
        self,
        candidate_run: Any,
        policy: GatePolicy | str | Path,
        *,
        baseline: str | None = "current",
        environment: str | None = None,
        evaluator: str | None = None,
        now: Any = None,
    ) -> GateResult:
        """Evaluate ``policy`` for a run against a baseline, store the evidence, return the result."""
        return self._handoff.evaluate_gate(
            self,
            candidate_run,
            policy,
            baseline=baseline,
            environment=environment,
            evaluator=evaluator,
            now=now,
        )

    def list_gate_evaluations(self, run: Any, *, policy_id: str | None = None) -> list[GateResult]:
        return self._handoff.list_gate_evaluations(self, run, policy_id=policy_id)

    def get_gate_evaluation(self, evaluation_ref: str) -> GateResult:
        return self._handoff.get_gate_evaluation(self, evaluation_ref)

    def register_model(
        self,
        name: str,
        run_ref: Any,
        artifact: str = "model",
        *,
        actor: str | None = None,
        description: str | None = None,
        now: Any = None,
    ) -> ModelVersion:
        """An immutable model version bound to the run, its artifact hash, datasets and environment."""
        return self._handoff.register_model(
            self, name, run_ref, artifact, actor=actor, description=description, now=now
        )

    def promote(
        self,
        version: Any,
        *,
        to: str,
        reason: str,
        actor: str,
        override: bool = False,
        policy_id: str | None = None,
        now: Any = None,
    ) -> StageTransition:
        """Move a model version to a stage; protected stages need a passing gate (or a recorded override)."""
        return self._handoff.promote(
            self, version, to=to, reason=reason, actor=actor, override=override, policy_id=policy_id, now=now
        )

    def list_model_versions(self, name: str, *, project: str | None = None) -> list[ModelVersion]:
        return self._handoff.list_model_versions(self, name, project=project)

    def get_model_version(self, ref: str) -> ModelVersion:
        return self._handoff.get_model_version(self, ref)

    def model_history(self, name: str, *, project: str | None = None) -> list[StageTransition]:
        return self._handoff.model_history(self, name, project=project)

    def approve(
        self,
        subject_ref: str,
        *,
        actor: str,
        decision: str = "approved",
        note: str = "",
        evidence: Any = (),
        now: Any = None,
    ) -> Approval:
        """Append an approval (or rejection) of a run, model version or gate evaluation."""
        return self._handoff.approve(
            self, subject_ref, actor=actor, decision=decision, note=note, evidence=evidence, now=now
        )

    def list_approvals(self, subject_ref: str) -> list[Approval]:
        return self._handoff.list_approvals(self, subject_ref)

    def build_model_card(self, subject: Any, *, purpose: str = "", limitations: str = "") -> ModelCard:
        """A model card (Markdown and HTML) generated from the workspace's evidence."""
        return self._handoff.build_model_card(self, subject, purpose=purpose, limitations=limitations)

    def rollback_candidate(self, target: Any = None, *, environment: str | None = None) -> RollbackCandidate:
        """What a rollback of a deployment (or of a project's environment) would revert to."""
        return self._handoff.rollback_candidate(self, target, environment=environment)
