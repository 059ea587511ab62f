"""Gate checks on metrics: required metrics of the evaluation stage, thresholds, regressions."""

from __future__ import annotations

from typing import Any

from contexta.handoff.evidence import Facts
from contexta.handoff.models import GateCheck
from contexta.handoff.policy import GatePolicy


def fmt(value: float) -> str:
    return f"{value:.4f}"


def required_metrics(policy: GatePolicy, facts: Facts) -> GateCheck:
    stage = policy.evaluation_stage
    found = facts.metrics.get(stage, {})
    missing = [key for key in policy.required_metrics if key not in found]
    present = [found[key] for key in policy.required_metrics if key in found]
    refs = tuple(item.record_ref for item in present)
    observed: dict[str, Any] = {item.key: item.value for item in present}
    if not missing:
        summary = ", ".join(f"{item.key}={fmt(item.value)}" for item in present)
        return GateCheck(
            name="required_metrics",
            passed=True,
            detail=f"stage {stage}: {summary}",
            evidence_refs=refs,
            observed=observed,
        )
    ran = any(view.name == stage for view in facts.candidate.stages)
    detail = f"missing from stage {stage!r}: {missing}"
    if not ran:
        detail += f" (the run has no stage {stage!r})"
    elsewhere = {
        key: sorted(
            name or "(run)" for name, group in facts.metrics.items() if name != stage and key in group
        )
        for key in missing
    }
    elsewhere = {key: stages for key, stages in elsewhere.items() if stages}
    if elsewhere:
        where = "; ".join(f"{key} in {', '.join(stages)}" for key, stages in elsewhere.items())
        detail += f"; recorded only in other stages, which do not count: {where}"
        refs += tuple(
            group[key].record_ref
            for name, group in facts.metrics.items()
            if name != stage
            for key in elsewhere
            if key in group
        )
    observed["missing"] = missing
    return GateCheck(
        name="required_metrics",
        passed=False,
        detail=detail,
        evidence_refs=refs or (facts.candidate.run.run_ref,),
        observed=observed,
    )


def thresholds(policy: GatePolicy, facts: Facts) -> GateCheck:
    problems: list[str] = []
    parts: list[str] = []
    refs: list[str] = []
    observed: dict[str, Any] = {}
    for rule in policy.thresholds:
        stage = rule.stage or policy.evaluation_stage
        item = facts.metrics.get(stage, {}).get(rule.metric)
        label = f"{stage}/{rule.metric}"
        if item is None:
            problems.append(f"{label}: no value")
            continue
        refs.append(item.record_ref)
        observed[label] = item.value
        if rule.min is not None and item.value < rule.min:
            problems.append(f"{label}={fmt(item.value)} < min {rule.min:g}")
        elif rule.max is not None and item.value > rule.max:
            problems.append(f"{label}={fmt(item.value)} > max {rule.max:g}")
        else:
            parts.append(f"{label}={fmt(item.value)}")
    detail = "; ".join(problems) if problems else "within bounds: " + ", ".join(parts)
    return GateCheck(
        name="thresholds", passed=not problems, detail=detail, evidence_refs=tuple(refs), observed=observed
    )


def no_baseline(name: str, policy: GatePolicy, facts: Facts) -> GateCheck:
    allowed = policy.allow_missing_baseline
    skipped = ": skipped, allow_missing_baseline is set" if allowed else ""
    detail = f"no baseline ({facts.baseline_problem}){skipped}"
    return GateCheck(name=name, passed=allowed, detail=detail)


def regression(policy: GatePolicy, facts: Facts) -> GateCheck:
    if facts.baseline is None:
        return no_baseline("regression", policy, facts)
    problems: list[str] = []
    parts: list[str] = []
    refs: list[str] = []
    observed: dict[str, Any] = {}
    for rule in policy.regressions:
        stage = rule.stage or policy.evaluation_stage
        new = facts.metrics.get(stage, {}).get(rule.metric)
        old = facts.baseline_metrics.get(stage, {}).get(rule.metric)
        label = rule.metric if stage == policy.evaluation_stage else f"{stage}/{rule.metric}"
        if new is None or old is None:
            whose = "candidate" if new is None else "baseline"
            problems.append(f"{label}: the {whose} has no value in stage {stage!r}")
            refs += [item.record_ref for item in (new, old) if item is not None]
            continue
        refs += [new.record_ref, old.record_ref]
        change = (new.value - old.value) / max(abs(old.value), 1e-9)
        worse = old.value - new.value if rule.direction == "higher_is_better" else new.value - old.value
        allowed = max(rule.absolute_tolerance or 0.0, (rule.relative_tolerance or 0.0) * abs(old.value))
        text = f"{label}: {fmt(old.value)}->{fmt(new.value)} ({change:+.1%})"
        observed[label] = {"baseline": old.value, "candidate": new.value, "allowed_worsening": allowed}
        (problems if worse > allowed + 1e-12 else parts).append(text)
    detail = (
        ("regression detected: " + "; ".join(problems))
        if problems
        else (f"no regression beyond tolerance vs {facts.baseline.run.run_ref}: " + "; ".join(parts))
    )
    return GateCheck(
        name="regression", passed=not problems, detail=detail, evidence_refs=tuple(refs), observed=observed
    )
