"""Rollback candidates: what the environment would go back to, and why that one.

The candidate is the most recent deployment **before** the current one, in the same
environment, that completed, whose run exists and has no error diagnostics, and whose run's
latest gate evaluation (if it was ever gated) passed. A deployment recorded without an
environment counts as one to :data:`~contexta.handoff._common.DEFAULT_ENVIRONMENT` (``prod``).
Every deployment passed over is listed in ``considered`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contexta.contract import DeploymentExecution
from contexta.contract.refs import parse_ref
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff._common import DEFAULT_ENVIRONMENT, component, project_name
from contexta.handoff.evidence import deployments_in, environment_of
from contexta.handoff.gate import list_gate_evaluations
from contexta.handoff.registry import model_versions_of_run
from contexta.query.results import RunComparison


@dataclass(frozen=True, slots=True)
class ConsideredDeployment:
    deployment_ref: str
    run_ref: str | None
    eligible: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RollbackCandidate:
    """The answer of :func:`rollback_candidate`; ``found`` is False when nothing qualifies."""

    project: str
    environment: str
    current_deployment_ref: str | None
    current_run_ref: str | None
    deployment_ref: str | None = None
    run_ref: str | None = None
    model_ref: str | None = None
    comparison: RunComparison | None = None
    considered: list[ConsideredDeployment] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.deployment_ref is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "found": self.found,
            "current_deployment_ref": self.current_deployment_ref,
            "current_run_ref": self.current_run_ref,
            "deployment_ref": self.deployment_ref,
            "run_ref": self.run_ref,
            "model_ref": self.model_ref,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "considered": [_vars_of(item) for item in self.considered],
        }

    def to_text(self) -> str:
        head = (
            f"environment {self.environment} of project {self.project}: current {self.current_deployment_ref}"
        )
        lines = [head + (f" -> {self.current_run_ref}" if self.current_run_ref else "")]
        if self.found:
            lines.append(
                f"rollback candidate: {self.deployment_ref} -> {self.run_ref}"
                + (f" ({self.model_ref})" if self.model_ref else "")
            )
        else:
            lines.append("no rollback candidate")
        for item in self.considered:
            lines.append(f"  [{'ok' if item.eligible else 'skip'}] {item.deployment_ref}: {item.reason}")
        if self.comparison is not None:
            left, right = self.comparison.left_run_id, self.comparison.right_run_id
            lines.append(f"what rolling back changes ({left} -> {right}):")
            for stage in self.comparison.stage_comparisons:
                for delta in stage.metric_deltas:
                    if delta.delta is not None:
                        lines.append(
                            f"  {stage.stage_name or '(run)'}/{delta.metric_key}: {delta.delta:+.4f}"
                        )
        return "\n".join(lines)


def _vars_of(item: ConsideredDeployment) -> dict[str, Any]:
    return {
        "deployment_ref": item.deployment_ref,
        "run_ref": item.run_ref,
        "eligible": item.eligible,
        "reason": item.reason,
    }


def _judge(ctx: Any, deployment: DeploymentExecution, current_run: str | None) -> str | None:
    """Why ``deployment`` cannot be rolled back to, or None when it can."""
    if deployment.status != "completed":
        return f"deployment status is {deployment.status}"
    if deployment.run_ref is None:
        return "the deployment names no run"
    if deployment.run_ref == current_run:
        return "same run as the current deployment"
    try:
        diagnosis = ctx.diagnose_run(deployment.run_ref)
    except NotFoundError:
        return f"run {deployment.run_ref} is not in the workspace"
    if diagnosis.errors:
        return "run has error diagnostics: " + ", ".join(sorted({issue.code for issue in diagnosis.errors}))
    evaluations = list_gate_evaluations(ctx, deployment.run_ref)
    if evaluations and not evaluations[-1].passed:
        return f"the run's latest gate evaluation {evaluations[-1].evaluation_ref} failed"
    return None


def rollback_candidate(
    ctx: Any, target: str | tuple[str, str] | None = None, *, environment: str | None = None
) -> RollbackCandidate:
    """Roll back from a deployment ref, or from the current deployment of ``(project, environment)``."""
    if isinstance(target, str):
        parse_ref(target, "deployment", "deployment")
        current = ctx.store.get(DeploymentExecution, target)
        if current is None:
            raise NotFoundError(target, "deployment")
        project, env = parse_ref(target).project, environment_of(current)
    elif isinstance(target, tuple) and len(target) == 2:
        project, env = project_name(ctx, target[0]), component(target[1], "environment")
        current = None
    elif target is None:
        project, env = project_name(ctx, None), component(environment or DEFAULT_ENVIRONMENT, "environment")
        current = None
    else:
        raise ValidationError.for_field(
            "target", "must be a deployment ref or (project, environment)", target
        )
    history = deployments_in(ctx, project, env)
    if current is None:
        completed = [d for d in history if d.status == "completed"]
        current = completed[-1] if completed else None
    if current is None:
        return RollbackCandidate(project, env, None, None)
    refs = [d.deployment_execution_ref for d in history]
    earlier = history[: refs.index(current.deployment_execution_ref)]
    considered: list[ConsideredDeployment] = []
    for deployment in reversed(earlier):
        reason = _judge(ctx, deployment, current.run_ref)
        ref = deployment.deployment_execution_ref
        if reason is not None:
            considered.append(ConsideredDeployment(ref, deployment.run_ref, False, reason))
            continue
        assert deployment.run_ref is not None
        considered.append(
            ConsideredDeployment(
                ref,
                deployment.run_ref,
                True,
                "completed, no error diagnostics"
                + (", gate passed" if list_gate_evaluations(ctx, deployment.run_ref) else ", never gated"),
            )
        )
        versions = model_versions_of_run(ctx, deployment.run_ref)
        comparison = ctx.compare_runs(current.run_ref, deployment.run_ref) if current.run_ref else None
        return RollbackCandidate(
            project,
            env,
            current.deployment_execution_ref,
            current.run_ref,
            ref,
            deployment.run_ref,
            versions[-1].model_ref if versions else None,
            comparison,
            considered,
        )
    return RollbackCandidate(
        project, env, current.deployment_execution_ref, current.run_ref, considered=considered
    )
