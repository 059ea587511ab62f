"""The stored objects of the production handoff: gate results, model versions, transitions, approvals.

Each has a stable ref, is immutable once written, and is kept as its JSON body in the
workspace tables of migration 2 (``docs/production-handoff.md`` lists them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue

from contexta.contract._base import Timestamp
from contexta.contract.refs import parse_ref
from contexta.handoff._common import HandoffModel
from contexta.handoff.policy import GatePolicy

Refs = tuple[str, ...]


class GateCheck(HandoffModel):
    """One predicate of a policy, its outcome, and the records it was decided from."""

    name: str
    passed: bool
    detail: str
    evidence_refs: Refs = ()
    observed: dict[str, JsonValue] = Field(default_factory=dict)


class GateResult(HandoffModel):
    """One evaluation of a policy against a candidate run: stored, and emitted as a span."""

    evaluation_ref: str
    run_ref: str
    passed: bool
    checks: tuple[GateCheck, ...]
    policy: GatePolicy
    policy_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    environment: str
    baseline: str | None = None
    baseline_run_ref: str | None = None
    baseline_deployment_ref: str | None = None
    evaluator: str
    evaluated_at: Timestamp

    def _check(self) -> None:
        parse_ref(self.evaluation_ref, "GateResult.evaluation_ref", "relation")
        parse_ref(self.run_ref, "GateResult.run_ref", "run")
        if self.passed != all(check.passed for check in self.checks):
            raise self._fail("passed", "must be true exactly when every check passed", self.passed)

    @property
    def policy_id(self) -> str:
        return self.policy.id

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def failed_checks(self) -> list[GateCheck]:
        return [check for check in self.checks if not check.passed]

    def check(self, name: str) -> GateCheck:
        """The check called ``name`` (``KeyError`` if the policy has no such rule)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_text(self) -> str:
        """The human summary the ``contexta gate`` command prints."""
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"gate {self.policy.label} for {self.run_ref}: {verdict}"]
        if self.baseline is not None:
            via = f" via {self.baseline_deployment_ref}" if self.baseline_deployment_ref else ""
            lines.append(
                f"  baseline: {self.baseline} -> {self.baseline_run_ref or 'none'}{via}"
                f" (environment {self.environment})"
            )
        for check in self.checks:
            lines.append(f"  [{'ok' if check.passed else 'FAIL':<4}] {check.name}: {check.detail}")
        lines.append(f"  evaluation: {self.evaluation_ref} by {self.evaluator} at {self.evaluated_at}")
        if not self.passed:
            lines.append(f"  owner: {self.policy.owner}")
            lines.append(f"  next action: {self.policy.next_action}")
        return "\n".join(lines)


class ModelVersion(HandoffModel):
    """An immutable registration: ``model:<project>.<name>.v<N>`` bound to a run and an artifact's bytes.

    ``stage`` is not part of the registration: reads fill it in from the latest transition.
    """

    model_ref: str
    project: str
    name: str
    version: Annotated[int, Field(ge=1)]
    run_ref: str
    artifact_ref: str
    artifact_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    artifact_uri: str
    dataset_refs: Refs = ()
    dataset_versions: tuple[str, ...] = ()
    environment_ref: str | None = None
    description: str | None = None
    created_by: str
    created_at: Timestamp
    stage: str | None = None

    def _check(self) -> None:
        ref = parse_ref(self.model_ref, "ModelVersion.model_ref", "model")
        if ref.parts != (self.project, self.name, f"v{self.version}"):
            raise self._fail(
                "model_ref", f"must be 'model:{self.project}.{self.name}.v{self.version}'", self.model_ref
            )
        parse_ref(self.run_ref, "ModelVersion.run_ref", "run")
        parse_ref(self.artifact_ref, "ModelVersion.artifact_ref", "artifact")


class StageTransition(HandoffModel):
    """One move of a model version between stages (registration is the first, to ``candidate``)."""

    model_ref: str
    project: str
    name: str
    seq: Annotated[int, Field(ge=1)]
    from_stage: str | None
    to_stage: str
    actor: str
    reason: str
    at: Timestamp
    override: bool = False
    overridden: str | None = None
    gate_evaluation_ref: str | None = None
    approval_refs: Refs = ()


class Approval(HandoffModel):
    """An append-only decision by a person about a model version, run or deployment."""

    approval_ref: str
    subject_ref: str
    actor: Annotated[str, Field(min_length=1, max_length=256)]
    decision: Literal["approved", "rejected"]
    note: Annotated[str, Field(max_length=65536)] = ""
    evidence: Refs = ()
    decided_at: Timestamp

    def _check(self) -> None:
        parse_ref(self.approval_ref, "Approval.approval_ref", "relation")
        parse_ref(self.subject_ref, "Approval.subject_ref")
        for index, ref in enumerate(self.evidence):
            parse_ref(ref, f"Approval.evidence[{index}]")
