"""Model cards (Markdown and HTML, escaped, every number linked) and rollback candidates."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from contexta import Contexta
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff import GatePolicy, HandoffAPI, RegressionRule

OpenCtx = Callable[[Path, str], Contexta]
handoff = HandoffAPI()
XSS = "<script>alert('x')</script>"
CASE04 = "ctr-ranking-model"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))


@pytest.fixture
def carded(workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]) -> tuple[Contexta, str, str]:
    """A gated, approved, registered model with a degraded record and an XSS attempt in free text."""
    ctx = open_ctx(workspace, "demo")
    run = make_run(
        ctx,
        "r",
        {"train": {"loss": 0.3}, "evaluate": {"auc": 0.91, "loss": 0.35}},
        dataset_refs=["dataset:demo.v3"],
        dataset_version=f"v1{XSS}",
        python="3.11.7",
        degraded=[("data", "warning", f"nulls in {XSS}")],
    )
    policy = GatePolicy(
        id="release",
        version="4",
        owner=f"team {XSS}",
        next_action="n",
        evaluation_stage="evaluate",
        required_metrics=("auc",),
    )
    handoff.evaluate_gate(ctx, run, policy, baseline=None)
    version = handoff.register_model(ctx, "ranker", run, actor=f"dana {XSS}")
    handoff.approve(ctx, version.model_ref, actor=XSS, note=f"fine | {XSS} *bold*")
    handoff.promote(ctx, version.model_ref, to="production", reason="launch", actor="dana")
    return ctx, version.model_ref, run


def test_model_card_markdown_names_the_evaluation_stage_and_links_every_number(
    carded: tuple[Contexta, str, str],
) -> None:
    ctx, model_ref, _run = carded
    card = handoff.build_model_card(ctx, model_ref, purpose="Rank items.", limitations=f"No {XSS} users.")
    text = card.to_markdown()
    assert text.startswith("# Model card: ranker v1\n")
    assert "Evaluation stage: evaluate." in text
    assert "| evaluate | auc | [0.91](#ref-record-demo-r-m2) | evaluation |" in text
    assert "| train | loss | [0.3](#ref-record-demo-r-m1) |  |" in text
    for value, record in re.findall(r"\[([0-9.]+)\]\(#(ref-record-[a-z0-9-]+)\)", text):
        assert f'<a id="{record}"></a>' in text, value
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert r"fine \| &lt;script&gt;alert('x')&lt;/script&gt; \*bold\*" in text
    for title in (
        "Training data",
        "Metrics",
        "Environment",
        "Gates",
        "Gate checks",
        "Approvals",
        "Stage history",
        "Degraded records",
        "Open diagnostics",
        "Lineage",
        "Evidence",
    ):
        assert f"## {title}\n" in text
    assert "| dataset:demo.v3 | [`run:demo.r`](#ref-run-demo-r) |" in text
    escaped = "v1&lt;script&gt;alert('x')&lt;/script&gt;"
    assert f"| {escaped} | [`record:demo.r.dataset`](#ref-record-demo-r-dataset) |" in text
    assert "production" in text and "release v4" in text


def test_model_card_html_is_self_contained_escaped_and_its_links_resolve(
    carded: tuple[Contexta, str, str],
) -> None:
    ctx, model_ref, _run = carded
    page = handoff.build_model_card(ctx, model_ref, purpose=XSS, limitations="none").to_html()
    parser = _Links()
    parser.feed(page)
    assert parser.scripts == 0 and "&lt;script&gt;" in page
    assert parser.hrefs and all(href.startswith("#") for href in parser.hrefs)
    assert {href[1:] for href in parser.hrefs} <= parser.ids
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_model_card_of_a_run_and_its_dict(case04: Path, open_ctx: OpenCtx) -> None:
    ctx = open_ctx(case04, CASE04)
    card = handoff.build_model_card(ctx, f"run:{CASE04}.friday-run-c")
    assert card.model is None and card.title == "Model card: run friday-run-c"
    assert [d.version for d in card.datasets] == ["v2025-03-31"]
    data = card.to_dict()
    assert data["evaluation_stage"] is None
    assert any(item["what"].startswith("metric auc = 0.938") for item in data["evidence"])
    with pytest.raises(ValidationError, match="subject"):
        handoff.build_model_card(ctx, 42)
    with pytest.raises(NotFoundError):
        handoff.build_model_card(ctx, "model:ctr-ranking-model.nothing.v1")


def test_rollback_candidate_answers_case04(case04: Path, open_ctx: OpenCtx) -> None:
    ctx = open_ctx(case04, CASE04)
    for target in (f"deployment:{CASE04}.prod-deploy-april", (CASE04, "prod"), None):
        answer = handoff.rollback_candidate(ctx, target)
        assert answer.found
        assert answer.deployment_ref == f"deployment:{CASE04}.prod-deploy-march"
        assert answer.run_ref == f"run:{CASE04}.friday-run-b"
        assert answer.current_run_ref == f"run:{CASE04}.friday-run-c"
        assert answer.environment == "prod" and answer.model_ref is None
    assert answer.comparison is not None
    deltas = {
        (s.stage_name, d.metric_key): round(d.delta or 0, 4)
        for s in answer.comparison.stage_comparisons
        for d in s.metric_deltas
    }
    assert deltas[("train", "auc")] == -0.011
    assert "rollback candidate: deployment:ctr-ranking-model.prod-deploy-march" in answer.to_text()
    assert answer.to_dict()["considered"][0]["eligible"] is True
    first = handoff.rollback_candidate(ctx, f"deployment:{CASE04}.prod-deploy-march")
    assert not first.found and first.considered == []
    assert not handoff.rollback_candidate(ctx, (CASE04, "staging")).found


def test_rollback_skips_failed_ungated_or_unhealthy_deployments(
    workspace: Path, open_ctx: OpenCtx, make_run: Callable[..., str]
) -> None:
    ctx = open_ctx(workspace, "demo")
    healthy = make_run(ctx, "healthy", {"evaluate": {"auc": 0.9}})
    gated_bad = make_run(ctx, "gated-bad", {"evaluate": {"auc": 0.7}})
    broken = make_run(ctx, "broken", {"evaluate": {"auc": 0.9}}, degraded=[("data", "error", "empty frame")])
    current = make_run(ctx, "current", {"evaluate": {"auc": 0.95}})
    policy = GatePolicy(
        id="g",
        version="1",
        owner="o",
        next_action="n",
        evaluation_stage="evaluate",
        regressions=(RegressionRule(metric="auc"),),
    )
    handoff.evaluate_gate(ctx, gated_bad, policy, baseline=healthy)
    version = handoff.register_model(ctx, "ranker", healthy)
    plan = [
        ("d1", healthy, "completed", "prod"),
        ("d2", healthy, "completed", "staging"),
        ("d3", gated_bad, "completed", "prod"),
        ("d4", broken, "completed", "prod"),
        ("d5", current, "failed", "prod"),
        ("d6", current, "completed", "prod"),
    ]
    for index, (name, run, status, env) in enumerate(plan):
        ctx.record_deployment(
            name,
            run_ref=run,
            environment=env,
            status=status,
            started_at=f"2025-06-0{index + 1}T00:00:00Z",
            ended_at=f"2025-06-0{index + 1}T00:05:00Z",
        )
    answer = handoff.rollback_candidate(ctx, ("demo", "prod"))
    assert answer.current_deployment_ref == "deployment:demo.d6"
    assert answer.deployment_ref == "deployment:demo.d1" and answer.model_ref == version.model_ref
    reasons = {item.deployment_ref: item.reason for item in answer.considered}
    assert reasons["deployment:demo.d5"] == "deployment status is failed"
    assert reasons["deployment:demo.d4"] == "run has error diagnostics: degraded_record"
    assert reasons["deployment:demo.d3"].startswith("the run's latest gate evaluation relation:demo.gate-")
    assert reasons["deployment:demo.d1"] == "completed, no error diagnostics, never gated"
    assert "deployment:demo.d2" not in reasons  # another environment
    with pytest.raises(NotFoundError):
        handoff.rollback_candidate(ctx, "deployment:demo.nope")
    with pytest.raises(ValidationError, match="target"):
        handoff.rollback_candidate(ctx, 3)  # type: ignore[arg-type]
