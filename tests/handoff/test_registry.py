"""The model registry and approvals: versions, stages, protected promotions, overrides, lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from contexta import Contexta
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff import GatePolicy, HandoffAPI, PromotionBlockedError

OpenCtx = Callable[[Path, str], Contexta]
handoff = HandoffAPI()
POLICY = GatePolicy(
    id="release",
    version="1",
    owner="mlops",
    next_action="fix and re-gate",
    evaluation_stage="evaluate",
    required_metrics=("auc",),
)


@pytest.fixture
def ctx(workspace: Path, open_ctx: OpenCtx) -> Contexta:
    return open_ctx(workspace, "demo")


def test_register_binds_run_artifact_hash_datasets_and_environment(ctx: Contexta, tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    with ctx.run("train-1", dataset_ref="dataset:demo.v3") as run:
        with run.stage("evaluate") as stage:
            stage.metric("auc", 0.91)
        artifact = run.register_artifact("model", weights)
    version = handoff.register_model(ctx, "ranker", run.ref, actor="dana", now="2025-06-01T00:00:00Z")
    assert version.model_ref == "model:demo.ranker.v1" and version.version == 1
    assert version.run_ref == run.ref and version.artifact_ref == artifact
    assert version.artifact_sha256 == hashlib.sha256(b"weights").hexdigest()
    assert version.dataset_refs == ("dataset:demo.v3",)
    assert version.environment_ref == "environment:demo.train-1"
    assert version.stage == "candidate" and version.created_by == "dana"
    assert handoff.get_model_version(ctx, version.model_ref) == version
    upstream = ctx.traverse_lineage(version.model_ref, "upstream", max_depth=1).edges
    assert {(e.source_ref, e.relation_type) for e in upstream} == {
        (run.ref, "produced"),
        (artifact, "derived_from"),
    }


def test_versions_count_per_name_and_registration_is_idempotent(
    ctx: Contexta, make_run: Callable[..., str]
) -> None:
    first = make_run(ctx, "r1", {"evaluate": {"auc": 0.9}})
    second = make_run(ctx, "r2", {"evaluate": {"auc": 0.9}}, artifact_sha256="cd" * 32)
    v1 = handoff.register_model(ctx, "ranker", first)
    assert handoff.register_model(ctx, "ranker", first) == v1
    v2 = handoff.register_model(ctx, "ranker", second)
    other = handoff.register_model(ctx, "scorer", second)
    assert (v1.model_ref, v2.model_ref, other.model_ref) == (
        "model:demo.ranker.v1",
        "model:demo.ranker.v2",
        "model:demo.scorer.v1",
    )
    assert [v.model_ref for v in handoff.list_model_versions(ctx, "ranker")] == [v1.model_ref, v2.model_ref]
    assert handoff.list_model_versions(ctx, "absent") == []


def test_registration_refuses_bad_input(ctx: Contexta, make_run: Callable[..., str]) -> None:
    unhashed = make_run(ctx, "nohash", {"evaluate": {"auc": 0.9}}, artifact_sha256=None)
    with pytest.raises(ValidationError, match="has no sha256: a model version is bound to content"):
        handoff.register_model(ctx, "ranker", unhashed)
    bare = make_run(ctx, "bare", {"evaluate": {"auc": 0.9}}, artifact=False)
    with pytest.raises(ValidationError, match=r"names no artifact of run:demo.bare \(it has none\)"):
        handoff.register_model(ctx, "ranker", bare)
    running = make_run(ctx, "running", {"evaluate": {"auc": 0.9}}, status="open")
    with pytest.raises(ValidationError, match="must be a completed run"):
        handoff.register_model(ctx, "ranker", running)
    with pytest.raises(ValidationError, match="did you mean 'my-ranker'"):
        handoff.register_model(ctx, "My Ranker", bare)
    with pytest.raises(NotFoundError):
        handoff.get_model_version(ctx, "model:demo.ranker.v9")


def test_ungated_promotion_to_production_is_refused_and_an_override_is_recorded(
    ctx: Contexta, make_run: Callable[..., str]
) -> None:
    run = make_run(ctx, "r1", {"evaluate": {"auc": 0.9}})
    version = handoff.register_model(ctx, "ranker", run)
    staged = handoff.promote(ctx, version.model_ref, to="staging", reason="smoke tests", actor="dana")
    assert (staged.from_stage, staged.to_stage, staged.override) == ("candidate", "staging", False)
    with pytest.raises(PromotionBlockedError) as caught:
        handoff.promote(ctx, version.model_ref, to="production", reason="launch", actor="dana")
    assert str(caught.value) == (
        "promote.to: model:demo.ranker.v1 cannot enter protected stage 'production': run run:demo.r1 has no "
        "gate evaluation; it needs a passing gate evaluation and the approvals its policy requires, or "
        "override=True with actor and reason (got 'production')"
    )
    assert caught.value.field == "promote.to" and caught.value.value == "production"
    assert handoff.get_model_version(ctx, version.model_ref).stage == "staging"
    forced = handoff.promote(
        ctx, version, to="production", reason="hotfix for incident 42", actor="lee", override=True
    )
    assert forced.override and forced.overridden == "run run:demo.r1 has no gate evaluation"
    assert (forced.actor, forced.reason) == ("lee", "hotfix for incident 42")
    history = handoff.model_history(ctx, "ranker")
    assert [(t.seq, t.from_stage, t.to_stage, t.override) for t in history] == [
        (1, None, "candidate", False),
        (2, "candidate", "staging", False),
        (3, "staging", "production", True),
    ]
    assert history[-1] == forced


def test_failed_gate_blocks_and_a_passing_gate_with_approvals_promotes(
    ctx: Contexta, make_run: Callable[..., str]
) -> None:
    bad = make_run(ctx, "bad", {"train": {"auc": 0.9}})
    version = handoff.register_model(ctx, "ranker", bad)
    handoff.evaluate_gate(ctx, bad, POLICY, baseline=None)
    with pytest.raises(
        PromotionBlockedError,
        match=r"latest gate evaluation relation:demo\.gate-[0-9a-f]+ failed "
        r"\(required_metrics\)",
    ):
        handoff.promote(ctx, version.model_ref, to="production", reason="r", actor="a")
    good = make_run(ctx, "good", {"evaluate": {"auc": 0.9}}, artifact_sha256="cd" * 32)
    candidate = handoff.register_model(ctx, "ranker", good)
    gated = handoff.evaluate_gate(
        ctx, good, POLICY.model_copy(update={"required_approvals": 2}), baseline=None
    )
    assert gated.passed
    with pytest.raises(PromotionBlockedError, match=r"policy release v1 requires 2 approval\(s\), 0 given"):
        handoff.promote(ctx, candidate.model_ref, to="production", reason="r", actor="a")
    first = handoff.approve(ctx, candidate.model_ref, actor="sam", note="ok", evidence=[gated.evaluation_ref])
    handoff.approve(ctx, good, actor="kim", decision="rejected", note="latency unknown")
    with pytest.raises(PromotionBlockedError, match="rejected by kim"):
        handoff.promote(ctx, candidate.model_ref, to="production", reason="r", actor="a")
    second = handoff.approve(ctx, good, actor="kim", note="latency measured")
    moved = handoff.promote(ctx, candidate.model_ref, to="production", reason="launch", actor="dana")
    assert not moved.override and moved.gate_evaluation_ref == gated.evaluation_ref
    assert set(moved.approval_refs) == {first.approval_ref, second.approval_ref}
    assert [a.decision for a in handoff.list_approvals(ctx, good)] == ["rejected", "approved"]


def test_production_is_exclusive_the_previous_holder_is_archived(
    ctx: Contexta, make_run: Callable[..., str]
) -> None:
    versions = []
    for index, name in enumerate(("one", "two")):
        run = make_run(ctx, name, {"evaluate": {"auc": 0.9}}, artifact_sha256=f"{index}" * 64)
        versions.append(handoff.register_model(ctx, "ranker", run))
        handoff.promote(ctx, versions[-1], to="production", reason="release", actor="a", override=True)
    stages = {v.model_ref: v.stage for v in handoff.list_model_versions(ctx, "ranker")}
    assert stages == {"model:demo.ranker.v1": "archived", "model:demo.ranker.v2": "production"}
    archived = [t for t in handoff.model_history(ctx, "ranker") if t.to_stage == "archived"]
    assert archived[0].reason == "replaced in production by model:demo.ranker.v2"
    with pytest.raises(ValidationError, match="already in stage 'production'"):
        handoff.promote(ctx, versions[-1], to="production", reason="again", actor="a", override=True)


def test_custom_protected_stages(workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]) -> None:
    ctx = open_ctx(workspace, "demo")
    strict = HandoffAPI(protected_stages=("staging", "production"))
    run = make_run(ctx, "r", {"evaluate": {"auc": 0.9}})
    version = strict.register_model(ctx, "ranker", run)
    with pytest.raises(PromotionBlockedError, match="protected stage 'staging'"):
        strict.promote(ctx, version.model_ref, to="staging", reason="r", actor="a")
    assert strict.promote(ctx, version.model_ref, to="shadow", reason="r", actor="a").to_stage == "shadow"


def test_approvals_are_append_only_validated_and_in_lineage(
    ctx: Contexta, make_run: Callable[..., str]
) -> None:
    run = make_run(ctx, "r", {"evaluate": {"auc": 0.9}})
    approval = handoff.approve(
        ctx, run, actor="sam", note="looks right", evidence=["record:demo.r.m1"], now="2025-06-02T00:00:00Z"
    )
    assert approval.approval_ref.startswith("relation:demo.approval-")
    edges = ctx.traverse_lineage(run, "downstream", max_depth=1).edges
    assert (approval.approval_ref, "approved") in {(e.target_ref, e.relation_type) for e in edges}
    (edge,) = [e for e in ctx.metadata_store.relations.list_relations(run) if e.relation_type == "approved"]
    assert edge.attributes == {
        "actor": "sam",
        "decision": "approved",
        "note": "looks right",
        "evidence": ["record:demo.r.m1"],
    }
    with pytest.raises(ValidationError, match="decision"):
        handoff.approve(ctx, run, actor="sam", decision="maybe")
    with pytest.raises(ValidationError, match="actor"):
        handoff.approve(ctx, run, actor=" ")
    with pytest.raises(ValidationError, match=r"evidence\[0\]"):
        handoff.approve(ctx, run, actor="sam", evidence=["not a ref"])
    with pytest.raises(NotFoundError):
        handoff.approve(ctx, "model:demo.ranker.v1", actor="sam")
    with pytest.raises(ValidationError, match="subject_ref"):
        handoff.approve(ctx, "dataset:demo.v1", actor="sam")
    assert handoff.list_approvals(ctx, run) == [approval]
