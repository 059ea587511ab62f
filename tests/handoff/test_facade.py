"""Contexta itself answers the handoff questions (thin doors onto HandoffAPI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from contexta import Contexta
from contexta.handoff import GatePolicy, RegressionRule


def test_contexta_gates_case05_candidates_and_stores_the_evaluation(
    case05: Path, open_ctx: Callable[..., Contexta]
) -> None:
    """ctx.evaluate_gate passes the good candidate, fails the regressed one, and keeps both results."""
    ctx = open_ctx(case05, "product-ranker")
    policy = GatePolicy(
        id="ranker",
        version="1",
        owner="ml",
        next_action="retrain",
        evaluation_stage="evaluate",
        required_metrics=("accuracy", "auc", "f1"),
        regressions=tuple(
            RegressionRule(metric=m, relative_tolerance=0.02) for m in ("accuracy", "auc", "f1")
        ),
    )
    good = ctx.evaluate_gate("run:product-ranker.candidate-v2-good", policy, baseline="current")
    bad = ctx.evaluate_gate("run:product-ranker.candidate-v4-regressed", policy, baseline="current")
    assert good.passed and not bad.passed
    assert [c.name for c in bad.checks if not c.passed] == ["regression"]
    assert [e.passed for e in ctx.list_gate_evaluations("run:product-ranker.candidate-v2-good")] == [True]


def test_contexta_names_the_case04_rollback_target(case04: Path, open_ctx: Callable[..., Contexta]) -> None:
    """ctx.rollback_candidate answers case 04: the March deployment of friday-run-b."""
    ctx = open_ctx(case04, "ctr-ranking-model")
    candidate = ctx.rollback_candidate("deployment:ctr-ranking-model.prod-deploy-april")
    assert candidate.deployment_ref == "deployment:ctr-ranking-model.prod-deploy-march"
    assert candidate.run_ref == "run:ctr-ranking-model.friday-run-b"
