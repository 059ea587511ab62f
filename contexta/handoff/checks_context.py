"""Gate checks on the run's context: diagnostics, degraded records, datasets, environment,
artifacts and freshness."""

from __future__ import annotations

from typing import Any

from contexta.contract._base import to_micros
from contexta.handoff.checks_metrics import no_baseline
from contexta.handoff.evidence import Facts, dataset_versions
from contexta.handoff.models import GateCheck
from contexta.handoff.policy import GatePolicy

_DAY_MICROS = 86_400 * 1_000_000


def diagnostics(policy: GatePolicy, facts: Facts) -> GateCheck:
    rule = policy.diagnostics
    assert rule is not None
    issues = [issue for issue in facts.diagnosis.issues if issue.code not in rule.ignore_codes]
    errors = [issue for issue in issues if issue.severity == "error"]
    warnings = [issue for issue in issues if issue.severity == "warning"]
    blocking = errors + ([] if rule.allow_warnings else warnings)
    refs = tuple(ref for issue in blocking for ref in (issue.evidence_refs or (issue.subject_ref,)))
    observed: dict[str, Any] = {"errors": len(errors), "warnings": len(warnings)}
    if blocking:
        detail = f"{len(errors)} error(s), {len(warnings)} warning(s): " + ", ".join(
            f"{issue.severity} {issue.code} ({issue.summary})" for issue in blocking
        )
        return GateCheck(
            name="diagnostics", passed=False, detail=detail, evidence_refs=refs, observed=observed
        )
    return GateCheck(
        name="diagnostics", passed=True, detail=f"clean ({len(warnings)} warning(s))", observed=observed
    )


def degraded_records(policy: GatePolicy, facts: Facts) -> GateCheck:
    blocked = set(policy.blocked_degraded_categories)
    hits = [r for r in facts.candidate.records if r.record_type == "degraded" and r.category in blocked]
    if not hits:
        return GateCheck(
            name="degraded_records", passed=True, detail=f"no degraded records of {sorted(blocked)}"
        )
    detail = "; ".join(f"{r.category}/{r.severity} {r.key}: {r.message}" for r in hits)
    return GateCheck(
        name="degraded_records",
        passed=False,
        detail=detail,
        evidence_refs=tuple(r.record_ref for r in hits),
        observed={"count": len(hits)},
    )


def datasets(policy: GatePolicy, facts: Facts) -> GateCheck:
    rule = policy.datasets
    assert rule is not None
    mine = dataset_versions(facts.candidate, rule.event_key, rule.attribute)
    versions = sorted({item.version for item in mine})
    refs = tuple(dict.fromkeys(item.source for item in mine))
    observed: dict[str, Any] = {"candidate": versions}
    problems = []
    if rule.required and not versions:
        problems.append(f"no dataset version recorded (Run.dataset_refs or a {rule.event_key!r} event)")
    outside = [version for version in versions if rule.allowed and version not in rule.allowed]
    if outside:
        problems.append(f"{outside} not in the allowed versions {list(rule.allowed)}")
    if rule.match_baseline:
        if facts.baseline is None:
            if not policy.allow_missing_baseline:
                problems.append(f"no baseline to match ({facts.baseline_problem})")
        else:
            theirs = dataset_versions(facts.baseline, rule.event_key, rule.attribute)
            base = sorted({item.version for item in theirs})
            observed["baseline"] = base
            refs += tuple(item.source for item in theirs if item.source not in refs)
            if base != versions:
                problems.append(f"candidate {versions} != baseline {base} ({facts.baseline.run.run_ref})")
    detail = "; ".join(problems) if problems else f"dataset versions {versions}"
    return GateCheck(
        name="datasets", passed=not problems, detail=detail, evidence_refs=refs, observed=observed
    )


def _python_key(version: str | None, level: str) -> tuple[str, ...] | None:
    if version is None:
        return None
    parts = tuple(version.split("."))
    return {"major": parts[:1], "minor": parts[:2], "exact": parts}.get(level, ())


def environment(policy: GatePolicy, facts: Facts) -> GateCheck:
    rule = policy.environment
    assert rule is not None
    if facts.baseline is None:
        return no_baseline("environment", policy, facts)
    mine, theirs = facts.candidate.environment, facts.baseline.environment
    missing = [
        snap.run.run_ref for snap, env in ((facts.candidate, mine), (facts.baseline, theirs)) if env is None
    ]
    if mine is None or theirs is None:
        return GateCheck(
            name="environment",
            passed=False,
            detail=f"no environment snapshot for {', '.join(missing)}",
            evidence_refs=tuple(missing),
        )
    refs = (mine.environment_snapshot_ref, theirs.environment_snapshot_ref)
    problems = []
    if rule.python != "any" and _python_key(mine.python_version, rule.python) != _python_key(
        theirs.python_version, rule.python
    ):
        problems.append(
            f"python {mine.python_version} vs baseline {theirs.python_version} ({rule.python} must match)"
        )
    if rule.platform and mine.platform != theirs.platform:
        problems.append(f"platform {mine.platform} vs baseline {theirs.platform}")
    for name in rule.packages:
        if mine.packages.get(name) != theirs.packages.get(name):
            problems.append(f"{name} {mine.packages.get(name)} vs baseline {theirs.packages.get(name)}")
    detail = (
        "; ".join(problems)
        if problems
        else (
            f"python {mine.python_version} ({rule.python} matches baseline)"
            + (f", {len(rule.packages)} pinned package(s) equal" if rule.packages else "")
        )
    )
    return GateCheck(
        name="environment",
        passed=not problems,
        detail=detail,
        evidence_refs=refs,
        observed={"python": mine.python_version, "baseline_python": theirs.python_version},
    )


def artifacts(policy: GatePolicy, facts: Facts) -> GateCheck:
    problems, parts, refs = [], [], []
    for rule in policy.artifacts:
        found = [a for a in facts.candidate.artifacts if a.artifact_kind == rule.kind]
        refs += [a.artifact_ref for a in found]
        if not found:
            problems.append(f"no {rule.kind!r} artifact")
        elif rule.require_hash and not any(a.sha256 for a in found):
            problems.append(f"{rule.kind!r} artifact has no sha256 ({found[0].artifact_ref})")
        else:
            parts.append(f"{rule.kind}: {found[-1].artifact_ref}")
    detail = "; ".join(problems) if problems else ", ".join(parts)
    return GateCheck(name="artifacts", passed=not problems, detail=detail, evidence_refs=tuple(refs))


def freshness(policy: GatePolicy, facts: Facts) -> GateCheck:
    assert policy.max_age_days is not None
    run = facts.candidate.run
    if run.ended_at is None:
        return GateCheck(
            name="freshness",
            passed=False,
            detail=f"{run.run_ref} has not ended",
            evidence_refs=(run.run_ref,),
        )
    age = (to_micros(facts.evaluated_at) - to_micros(run.ended_at)) / _DAY_MICROS
    ok = age <= policy.max_age_days
    detail = f"ended {run.ended_at}, {age:.1f} day(s) before evaluation (limit {policy.max_age_days:g})"
    return GateCheck(
        name="freshness",
        passed=ok,
        detail=detail,
        evidence_refs=(run.run_ref,),
        observed={"age_days": round(age, 3)},
    )
