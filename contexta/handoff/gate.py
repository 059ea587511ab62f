"""``evaluate_gate``: decide, store the decision with its evidence, emit it as a span."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contexta.contract._base import to_micros
from contexta.contract.lineage import LineageEdge
from contexta.contract.refs import parse_ref
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff import checks_context as c
from contexta.handoff import checks_metrics as m
from contexta.handoff import telemetry as tm
from contexta.handoff._common import (
    DEFAULT_ENVIRONMENT,
    component,
    default_actor,
    handoff_store,
    new_relation_ref,
    require_text,
    timestamp,
)
from contexta.handoff.evidence import Facts, metric_evidence, resolve_baseline
from contexta.handoff.models import GateCheck, GateResult
from contexta.handoff.policy import GatePolicy
from contexta.query.service import run_ref_of


def as_policy(policy: GatePolicy | str | Path) -> GatePolicy:
    """A :class:`GatePolicy`, or the path of a policy file."""
    if isinstance(policy, GatePolicy):
        return policy
    if isinstance(policy, str | Path):
        return GatePolicy.from_file(policy)
    raise ValidationError.for_field(
        "policy", "must be a GatePolicy or the path of a policy file", type(policy).__name__
    )


def run_checks(policy: GatePolicy, facts: Facts) -> list[GateCheck]:
    """Every check the policy configures, in a fixed order."""
    plan = [
        (policy.diagnostics is not None, c.diagnostics),
        (bool(policy.blocked_degraded_categories), c.degraded_records),
        (bool(policy.required_metrics), m.required_metrics),
        (bool(policy.thresholds), m.thresholds),
        (bool(policy.regressions), m.regression),
        (policy.datasets is not None, c.datasets),
        (policy.environment is not None, c.environment),
        (bool(policy.artifacts), c.artifacts),
        (policy.max_age_days is not None, c.freshness),
    ]
    return [check(policy, facts) for wanted, check in plan if wanted]


def evaluate_gate(
    ctx: Any,
    candidate_run: Any,
    policy: GatePolicy | str | Path,
    *,
    baseline: str | None = "current",
    environment: str = DEFAULT_ENVIRONMENT,
    evaluator: str | None = None,
    now: Any = None,
) -> GateResult:
    """Evaluate ``policy`` against ``candidate_run``; store the result and emit it as a span.

    ``baseline`` is ``"current"`` (the run of ``environment``'s latest completed deployment), a
    run, deployment or model-version ref, or ``None``. The returned result is the stored record.
    """
    store = handoff_store(ctx)
    run_ref = run_ref_of(candidate_run, "candidate_run")
    gate_policy = as_policy(policy)
    environment = component(environment, "environment")
    evaluator = require_text(evaluator, "evaluator", limit=256) if evaluator is not None else default_actor()
    evaluated_at = timestamp(now)
    candidate = ctx.get_run_snapshot(run_ref)
    project = parse_ref(run_ref).project
    resolved = resolve_baseline(ctx, baseline, project, environment)
    base = ctx.get_run_snapshot(resolved.run_ref) if resolved.run_ref else None
    facts = Facts(
        candidate=candidate,
        diagnosis=ctx.diagnose_run(run_ref),
        metrics=metric_evidence(candidate.records),
        baseline=base,
        baseline_metrics=metric_evidence(base.records) if base else {},
        baseline_problem=resolved.problem,
        evaluated_at=evaluated_at,
    )
    checks = run_checks(gate_policy, facts)
    result = GateResult(
        evaluation_ref=new_relation_ref(project, "gate"),
        run_ref=run_ref,
        passed=all(check.passed for check in checks),
        checks=tuple(checks),
        policy=gate_policy,
        policy_hash=gate_policy.content_hash,
        environment=environment,
        baseline=baseline,
        baseline_run_ref=resolved.run_ref,
        baseline_deployment_ref=resolved.deployment_ref,
        evaluator=evaluator,
        evaluated_at=evaluated_at,
    )
    store.add_gate_evaluation(
        result.evaluation_ref,
        run_ref,
        (gate_policy.id, gate_policy.version, result.policy_hash),
        result.passed,
        evaluated_at,
        result.model_dump_json(),
    )
    ctx.metadata_store.relations.put_relation(
        LineageEdge(
            source_ref=run_ref,
            target_ref=result.evaluation_ref,
            relation_type="evaluated",
            recorded_at=evaluated_at,
            attributes={
                "policy_id": gate_policy.id,
                "policy_version": gate_policy.version,
                "policy_hash": result.policy_hash,
                "passed": result.passed,
            },
        )
    )
    store.flush()
    _emit(ctx, result)
    return result


def _emit(ctx: Any, result: GateResult) -> None:
    events = [
        (
            tm.GATE_CHECK_EVENT,
            {
                tm.GATE_CHECK_NAME: check.name,
                tm.GATE_CHECK_PASSED: check.passed,
                tm.GATE_CHECK_DETAIL: check.detail,
                tm.GATE_CHECK_EVIDENCE: check.evidence_refs,
            },
        )
        for check in result.checks
    ]
    attributes = {
        tm.GATE_EVALUATION_REF: result.evaluation_ref,
        tm.GATE_POLICY_ID: result.policy.id,
        tm.GATE_POLICY_VERSION: result.policy.version,
        tm.GATE_POLICY_HASH: result.policy_hash,
        tm.GATE_PASSED: result.passed,
        tm.GATE_ENVIRONMENT: result.environment,
        tm.GATE_BASELINE_RUN_REF: result.baseline_run_ref,
        tm.GATE_EVALUATOR: result.evaluator,
        tm.RUN_REF: result.run_ref,
        tm.PROJECT: parse_ref(result.run_ref).project,
    }
    tm.emit(ctx, f"gate {result.policy.id}", attributes, events, run_ref=result.run_ref)


def list_gate_evaluations(ctx: Any, run: Any, *, policy_id: str | None = None) -> list[GateResult]:
    """The stored evaluations of a run (optionally of one policy id), oldest first."""
    run_ref = run_ref_of(run)
    results = [
        GateResult.model_validate_json(body) for body in handoff_store(ctx).list_gate_evaluations(run_ref)
    ]
    results.sort(key=lambda result: to_micros(result.evaluated_at))
    return [result for result in results if policy_id is None or result.policy.id == policy_id]


def get_gate_evaluation(ctx: Any, evaluation_ref: str) -> GateResult:
    parse_ref(evaluation_ref, "evaluation_ref", "relation")
    body = handoff_store(ctx).get_gate_evaluation(evaluation_ref)
    if body is None:
        raise NotFoundError(evaluation_ref, "gate evaluation")
    return GateResult.model_validate_json(body)
