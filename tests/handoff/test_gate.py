"""evaluate_gate on real workspaces: the case 05 candidates, the three failures of case 05, every
rule, the stored evaluation record and the OpenTelemetry span."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contexta import Contexta
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff import (
    ArtifactRule,
    DatasetRule,
    DiagnosticsRule,
    EnvironmentRule,
    GatePolicy,
    HandoffAPI,
    MetricThreshold,
    RegressionRule,
    get_gate_evaluation,
)

OpenCtx = Callable[[Path, str], Contexta]
handoff = HandoffAPI()
CASE05 = "product-ranker"
CASE04 = "ctr-ranking-model"


def case05_policy(**changes: object) -> GatePolicy:
    """The case 05 gate as a policy: metrics from `evaluate`, at most 2% worse than production."""
    fields: dict[str, object] = {
        "id": "product-ranker-release",
        "version": "1",
        "owner": "mlops@example.com",
        "next_action": "do not deploy; fix the evaluation and re-run the gate",
        "evaluation_stage": "evaluate",
        "required_metrics": ("accuracy", "auc", "f1"),
        "regressions": tuple(
            RegressionRule(metric=m, relative_tolerance=0.02) for m in ("accuracy", "auc", "f1")
        ),
    }
    return GatePolicy.model_validate({**fields, **changes})


def case04_policy() -> GatePolicy:
    """Case 04 style: training metrics, the baseline's dataset, loss may not rise."""
    return GatePolicy(
        id="ctr-release",
        version="1",
        owner="carlos@example.com",
        next_action="retrain on the dataset of the safe run",
        evaluation_stage="train",
        required_metrics=("accuracy", "auc", "loss"),
        regressions=(RegressionRule(metric="loss", direction="lower_is_better", absolute_tolerance=0.005),),
        datasets=DatasetRule(match_baseline=True),
    )


def test_case05_good_candidate_passes_against_the_current_deployment(case05: Path, open_ctx: OpenCtx) -> None:
    ctx = open_ctx(case05, CASE05)
    result = handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v2-good", case05_policy())
    assert result.passed, result.to_text()
    assert [c.name for c in result.checks] == ["diagnostics", "required_metrics", "regression"]
    assert result.baseline == "current"
    assert result.baseline_run_ref == f"run:{CASE05}.baseline-v1"
    assert result.baseline_deployment_ref == f"deployment:{CASE05}.prod-v1"
    assert result.check("diagnostics").detail == "clean (0 warning(s))"
    assert result.check("required_metrics").detail == "stage evaluate: accuracy=0.9010, auc=0.9330, f1=0.8890"
    assert all(
        ref.startswith(f"record:{CASE05}.candidate-v2-good.")
        for ref in result.check("required_metrics").evidence_refs
    )


def test_case05_regressed_candidate_fails_the_regression_check(case05: Path, open_ctx: OpenCtx) -> None:
    ctx = open_ctx(case05, CASE05)
    result = handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v4-regressed", case05_policy())
    assert not result.passed
    assert [c.name for c in result.failed_checks] == ["regression"]
    assert result.check("regression").detail == (
        "regression detected: accuracy: 0.8930->0.8410 (-5.8%); auc: 0.9270->0.8910 (-3.9%); "
        "f1: 0.8810->0.8590 (-2.5%)"
    )
    refs = result.check("regression").evidence_refs
    assert any(".baseline-v1." in ref for ref in refs) and any(
        ".candidate-v4-regressed." in ref for ref in refs
    )
    assert "owner: mlops@example.com" in result.to_text()
    assert "next action: do not deploy; fix the evaluation and re-run the gate" in result.to_text()


def test_may_failure_skipped_evaluate_stage_fails_required_metrics(case05: Path, open_ctx: OpenCtx) -> None:
    ctx = open_ctx(case05, CASE05)
    result = handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v3-no-eval", case05_policy())
    assert not result.passed
    check = result.check("required_metrics")
    assert not check.passed
    assert check.detail == (
        "missing from stage 'evaluate': ['accuracy', 'auc', 'f1'] (the run has no stage 'evaluate')"
    )
    assert check.observed["missing"] == ["accuracy", "auc", "f1"]


def test_march_failure_metrics_from_the_wrong_stage_do_not_count(
    workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]
) -> None:
    ctx = open_ctx(workspace, "demo")
    run = make_run(ctx, "march", {"train": {"accuracy": 0.97, "auc": 0.98, "f1": 0.96}, "evaluate": {}})
    result = handoff.evaluate_gate(ctx, run, case05_policy(regressions=()), baseline=None)
    check = result.check("required_metrics")
    assert not result.passed and not check.passed
    assert check.detail.startswith("missing from stage 'evaluate': ['accuracy', 'auc', 'f1']; ")
    assert "recorded only in other stages, which do not count: accuracy in train" in check.detail
    assert "(the run has no stage" not in check.detail  # the stage ran; its metrics were elsewhere
    assert check.evidence_refs == ("record:demo.march.m1", "record:demo.march.m2", "record:demo.march.m3")


def test_april_failure_dataset_version_mismatch_fails_run_c_against_run_b(
    case04: Path, open_ctx: OpenCtx
) -> None:
    ctx = open_ctx(case04, CASE04)
    result = handoff.evaluate_gate(
        ctx, f"run:{CASE04}.friday-run-c", case04_policy(), baseline=f"run:{CASE04}.friday-run-b"
    )
    assert not result.passed
    assert [c.name for c in result.failed_checks] == ["datasets"]
    check = result.check("datasets")
    assert (
        check.detail == f"candidate ['v2025-03-31'] != baseline ['v2025-03-28'] (run:{CASE04}.friday-run-b)"
    )
    assert check.observed == {"candidate": ["v2025-03-31"], "baseline": ["v2025-03-28"]}
    assert len(check.evidence_refs) == 2 and all(ref.startswith("record:") for ref in check.evidence_refs)
    same = handoff.evaluate_gate(
        ctx, f"run:{CASE04}.friday-run-a", case04_policy(), baseline=f"deployment:{CASE04}.prod-deploy-march"
    )
    assert same.check("datasets").passed and same.baseline_run_ref == f"run:{CASE04}.friday-run-b"


def test_evaluations_are_stored_and_listed_with_policy_inputs_and_outcome(
    case05: Path, open_ctx: OpenCtx
) -> None:
    ctx = open_ctx(case05, CASE05)
    run = f"run:{CASE05}.candidate-v2-good"
    first = handoff.evaluate_gate(
        ctx, run, case05_policy(), evaluator="ci@build-17", now="2025-05-06T08:00:00Z"
    )
    second = handoff.evaluate_gate(ctx, run, case05_policy(version="2"), now="2025-05-06T09:00:00Z")
    ctx.close()
    with Contexta(workspace=case05, config={"project_name": CASE05}, environ={}) as reopened:
        stored = handoff.list_gate_evaluations(reopened, run)
        assert stored == [first, second]
        assert [e.policy_version for e in stored] == ["1", "2"]
        assert stored[0].evaluator == "ci@build-17" and stored[0].evaluated_at == "2025-05-06T08:00:00Z"
        assert stored[0].policy_hash == case05_policy().content_hash
        assert handoff.list_gate_evaluations(reopened, run, policy_id="other") == []
        assert get_gate_evaluation(reopened, first.evaluation_ref) == first
        edges = reopened.traverse_lineage(run, "downstream", max_depth=1).edges
        assert {(e.target_ref, e.relation_type) for e in edges} >= {(first.evaluation_ref, "evaluated")}
    with sqlite3.connect(case05 / "contexta.db") as conn:
        rows = conn.execute(
            "SELECT policy_id, policy_version, passed FROM gate_evaluations ORDER BY evaluated_at"
        )
        assert rows.fetchall() == [("product-ranker-release", "1", 1), ("product-ranker-release", "2", 1)]
    conn.close()


def test_the_evaluation_is_emitted_as_a_span_with_one_event_per_check(
    case05: Path, open_ctx: OpenCtx, spans: InMemorySpanExporter
) -> None:
    ctx = open_ctx(case05, CASE05)
    result = handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v4-regressed", case05_policy())
    (span,) = [s for s in spans.get_finished_spans() if s.name == "gate product-ranker-release"]
    attributes = dict(span.attributes or {})
    assert attributes["contexta.gate.passed"] is False
    assert attributes["contexta.gate.evaluation_ref"] == result.evaluation_ref
    assert attributes["contexta.gate.policy.hash"] == result.policy_hash
    assert attributes["contexta.run.ref"] == f"run:{CASE05}.candidate-v4-regressed"
    events = [dict(event.attributes or {}) for event in span.events]
    assert [(e["contexta.gate.check.name"], e["contexta.gate.check.passed"]) for e in events] == [
        ("diagnostics", True),
        ("required_metrics", True),
        ("regression", False),
    ]
    assert span.links and span.parent is None
    assert ctx.get_run_snapshot(f"run:{CASE05}.candidate-v4-regressed").records[-1].record_type == "metric"


def test_current_baseline_without_deployments_fails_unless_allowed(
    workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]
) -> None:
    ctx = open_ctx(workspace, "demo")
    run = make_run(ctx, "first", {"evaluate": {"accuracy": 0.9, "auc": 0.9, "f1": 0.9}})
    strict = handoff.evaluate_gate(ctx, run, case05_policy())
    assert not strict.passed
    assert strict.check("regression").detail == "no baseline (no completed deployment in environment 'prod')"
    lenient = handoff.evaluate_gate(ctx, run, case05_policy(allow_missing_baseline=True))
    assert lenient.passed and "skipped" in lenient.check("regression").detail


def test_thresholds_diagnostics_degraded_and_artifact_rules(
    workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]
) -> None:
    ctx = open_ctx(workspace, "demo")
    run = make_run(
        ctx,
        "noisy",
        {"evaluate": {"auc": 0.85, "latency-ms": 140.0}},
        degraded=[("data", "warning", "12% of rows had null labels")],
        artifact_sha256=None,
    )
    policy = GatePolicy(
        id="strict",
        version="1",
        owner="o",
        next_action="n",
        evaluation_stage="evaluate",
        thresholds=(
            MetricThreshold(metric="auc", min=0.9),
            MetricThreshold(metric="latency-ms", max=200),
            MetricThreshold(metric="recall", min=0.5),
        ),
        diagnostics=DiagnosticsRule(allow_warnings=False),
        blocked_degraded_categories=("data",),
        artifacts=(ArtifactRule(kind="model"), ArtifactRule(kind="report", require_hash=False)),
    )
    result = handoff.evaluate_gate(ctx, run, policy, baseline=None)
    assert result.check("thresholds").detail == "evaluate/auc=0.8500 < min 0.9; evaluate/recall: no value"
    diagnostics = result.check("diagnostics")
    assert not diagnostics.passed and "warning degraded_record" in diagnostics.detail
    assert diagnostics.evidence_refs == ("record:demo.noisy.d1",)
    degraded = result.check("degraded_records")
    assert not degraded.passed and degraded.evidence_refs == ("record:demo.noisy.d1",)
    assert result.check("artifacts").detail == (
        "'model' artifact has no sha256 (artifact:demo.noisy.model); no 'report' artifact"
    )
    relaxed = policy.model_copy(
        update={
            "diagnostics": DiagnosticsRule(),
            "blocked_degraded_categories": ("capture",),
            "thresholds": policy.thresholds[1:2],
            "artifacts": (),
        }
    )
    assert handoff.evaluate_gate(ctx, run, relaxed, baseline=None).passed


def test_environment_drift_and_freshness(
    workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]
) -> None:
    ctx = open_ctx(workspace, "demo")
    base = make_run(ctx, "base", {"evaluate": {"auc": 0.9}}, python="3.11.7", ended_at="2025-06-01T10:00:00Z")
    same_minor = make_run(ctx, "patch", {"evaluate": {"auc": 0.9}}, python="3.11.9")
    new_minor = make_run(ctx, "bump", {"evaluate": {"auc": 0.9}}, python="3.12.1")
    no_snapshot = make_run(ctx, "bare", {"evaluate": {"auc": 0.9}})
    policy = GatePolicy(
        id="env",
        version="1",
        owner="o",
        next_action="n",
        evaluation_stage="evaluate",
        environment=EnvironmentRule(python="minor", packages=("numpy",)),
        max_age_days=7,
    )
    now = "2025-06-05T10:00:00Z"
    assert handoff.evaluate_gate(ctx, same_minor, policy, baseline=base, now=now).passed
    drift = handoff.evaluate_gate(ctx, new_minor, policy, baseline=base, now=now).check("environment")
    assert not drift.passed and drift.detail == "python 3.12.1 vs baseline 3.11.7 (minor must match)"
    missing = handoff.evaluate_gate(ctx, no_snapshot, policy, baseline=base, now=now).check("environment")
    assert missing.detail == f"no environment snapshot for {no_snapshot}"
    stale = handoff.evaluate_gate(ctx, same_minor, policy, baseline=base, now="2025-07-01T10:00:00Z")
    assert not stale.check("freshness").passed
    assert stale.check("freshness").detail.startswith(
        "ended 2025-06-01T10:00:00Z, 30.0 day(s) before evaluation"
    )


def test_dataset_allowed_list_and_run_dataset_refs(
    workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]
) -> None:
    ctx = open_ctx(workspace, "demo")
    run = make_run(
        ctx, "d", {"evaluate": {"auc": 0.9}}, dataset_refs=["dataset:sales.v3"], dataset_version="v9"
    )
    policy = GatePolicy(
        id="data",
        version="1",
        owner="o",
        next_action="n",
        evaluation_stage="evaluate",
        datasets=DatasetRule(allowed=("dataset:sales.v3",)),
    )
    check = handoff.evaluate_gate(ctx, run, policy, baseline=None).check("datasets")
    assert not check.passed and check.detail == "['v9'] not in the allowed versions ['dataset:sales.v3']"
    assert check.evidence_refs == (run, "record:demo.d.dataset")


def test_bad_input_raises_contexta_errors(case05: Path, open_ctx: OpenCtx, tmp_path: Path) -> None:
    ctx = open_ctx(case05, CASE05)
    with pytest.raises(NotFoundError, match="run not found"):
        handoff.evaluate_gate(ctx, f"run:{CASE05}.nope", case05_policy())
    with pytest.raises(NotFoundError, match="deployment not found"):
        handoff.evaluate_gate(
            ctx, f"run:{CASE05}.candidate-v2-good", case05_policy(), baseline=f"deployment:{CASE05}.x"
        )
    with pytest.raises(ValidationError, match="baseline"):
        handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v2-good", case05_policy(), baseline="yesterday")
    with pytest.raises(ValidationError, match="candidate_run"):
        handoff.evaluate_gate(ctx, "candidate-v2-good", case05_policy())
    with pytest.raises(ValidationError, match="policy"):
        handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v2-good", 42)  # type: ignore[arg-type]
    path = tmp_path / "gate.toml"
    path.write_text('id = "x"\n')
    with pytest.raises(ValidationError, match=r"GatePolicy\.version"):
        handoff.evaluate_gate(ctx, f"run:{CASE05}.candidate-v2-good", path)
