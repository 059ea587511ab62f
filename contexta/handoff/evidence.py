"""Facts a gate, a card or a rollback decision is made from, each with the ref it came from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contexta.contract import DeploymentExecution
from contexta.contract._base import to_micros
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff._common import DEFAULT_ENVIRONMENT
from contexta.query.results import DiagnosisResult, RunSnapshot
from contexta.store.base import RecordView


@dataclass(frozen=True, slots=True)
class MetricEvidence:
    """The value a check used, and the record it is read from."""

    stage: str | None
    key: str
    value: float
    record_ref: str


@dataclass(frozen=True, slots=True)
class DatasetEvidence:
    """A dataset version of a run; ``source`` is the run ref (for ``Run.dataset_refs``) or an event's
    record ref."""

    version: str
    source: str


@dataclass(frozen=True, slots=True)
class Baseline:
    """What ``baseline=`` resolved to; ``problem`` says why there is no run to compare with."""

    given: str | None
    run_ref: str | None = None
    deployment_ref: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """The inputs of one evaluation."""

    candidate: RunSnapshot
    diagnosis: DiagnosisResult
    metrics: dict[str | None, dict[str, MetricEvidence]]
    baseline: RunSnapshot | None
    baseline_metrics: dict[str | None, dict[str, MetricEvidence]]
    baseline_problem: str | None
    evaluated_at: str


def metric_evidence(records: Iterable[RecordView]) -> dict[str | None, dict[str, MetricEvidence]]:
    """``stage name (None: run level) -> key -> latest metric``, by the rule of ``latest_metrics``:
    the latest by step, then by observation time (a later record wins a tie)."""
    best: dict[tuple[str | None, str], tuple[tuple[int, int], MetricEvidence]] = {}
    for record in records:
        if record.record_type != "metric" or record.value is None:
            continue
        stage = record.stage_ref.rsplit(".", 1)[1] if record.stage_ref else None
        rank = (record.step if record.step is not None else -1, to_micros(record.observed_at))
        current = best.get((stage, record.key))
        if current is None or rank >= current[0]:
            best[(stage, record.key)] = (
                rank,
                MetricEvidence(stage, record.key, record.value, record.record_ref),
            )
    groups: dict[str | None, dict[str, MetricEvidence]] = {}
    for (stage, key), (_rank, evidence) in best.items():
        groups.setdefault(stage, {})[key] = evidence
    return groups


def dataset_versions(
    snapshot: RunSnapshot,
    event_key: str = "training.dataset-registered",
    attribute: str = "dataset_version",
) -> list[DatasetEvidence]:
    """``Run.dataset_refs`` first, then the ``attribute`` of each ``event_key`` event, without repeats."""
    found = [DatasetEvidence(ref, snapshot.run.run_ref) for ref in snapshot.run.dataset_refs]
    for record in snapshot.records:
        if record.record_type == "event" and record.key == event_key:
            version = record.attributes.get(attribute)
            if version is not None and str(version) not in {item.version for item in found}:
                found.append(DatasetEvidence(str(version), record.record_ref))
    return found


def environment_of(deployment: Any) -> str:
    """A deployment's environment; one recorded without any is in :data:`DEFAULT_ENVIRONMENT`."""
    return str(deployment.environment or DEFAULT_ENVIRONMENT)


def deployments_in(ctx: Any, project: str, environment: str) -> list[DeploymentExecution]:
    """The project's deployments to ``environment``, in deployment order (order index, then start)."""
    return [
        d
        for d in ctx.store.list_deployments(make_ref("project", project))
        if environment_of(d) == environment
    ]


def current_deployment(ctx: Any, project: str, environment: str) -> DeploymentExecution | None:
    """The latest completed deployment of ``environment`` (what "current" means)."""
    completed = [d for d in deployments_in(ctx, project, environment) if d.status == "completed"]
    return completed[-1] if completed else None


def resolve_baseline(ctx: Any, given: str | None, project: str, environment: str) -> Baseline:
    """``None``, ``"current"``, a run, deployment or model-version ref -> the baseline run.

    An unknown explicit ref is bad input (``NotFoundError``); "current" with nothing deployed is
    a missing baseline, reported by the checks that need one.
    """
    if given is None:
        return Baseline(None, problem="no baseline given")
    if given == "current":
        deployment = current_deployment(ctx, project, environment)
        if deployment is None:
            return Baseline(given, problem=f"no completed deployment in environment {environment!r}")
        if deployment.run_ref is None:
            return Baseline(
                given,
                deployment_ref=deployment.deployment_execution_ref,
                problem=f"{deployment.deployment_execution_ref} names no run",
            )
        return Baseline(given, deployment.run_ref, deployment.deployment_execution_ref)
    kind = parse_ref(given, "baseline").kind
    if kind == "run":
        ctx.get_run_snapshot(given)  # NotFoundError for an unknown run
        return Baseline(given, given)
    if kind == "deployment":
        deployment = ctx.store.get(DeploymentExecution, given)
        if deployment is None:
            raise NotFoundError(given, "deployment")
        if deployment.run_ref is None:
            return Baseline(given, deployment_ref=given, problem=f"{given} names no run")
        return Baseline(given, deployment.run_ref, given)
    if kind == "model":
        from contexta.handoff.registry import get_model_version

        return Baseline(given, get_model_version(ctx, given).run_ref)
    raise ValidationError.for_field("baseline", "must be 'current' or a run, deployment or model ref", given)
