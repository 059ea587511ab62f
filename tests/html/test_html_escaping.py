"""Markup in any user-supplied text never survives into a page or a notebook view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from html_seed import HOSTILE, seed_pair
from test_pages import Tags

from contexta import Contexta
from contexta.query.report import multi_run_report


def assert_inert(markup: str) -> None:
    """No script element and no on* attribute anywhere; the text itself is still shown, escaped."""
    tags = Tags(markup)
    assert tags.count("script") == 0
    assert tags.count("img") == 0
    handlers = [(tag, name) for tag, attrs in tags.tags for name in attrs if name.lower().startswith("on")]
    assert handlers == []
    assert "<script>" not in markup


@pytest.fixture
def hostile(ctx: Contexta) -> tuple[str, str]:
    """The pair of runs with markup in messages, summaries, attributes, params, URIs and span names."""
    return seed_pair(ctx, HOSTILE)


def test_snapshot_page_escapes_every_user_string(ctx: Contexta, hostile: tuple[str, str]) -> None:
    """Event messages, degraded summaries, span names and artifact URIs are shown escaped."""
    markup = ctx.build_snapshot_report(hostile[1]).to_html()
    assert_inert(markup)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=alert(2)" in markup  # event message, summary
    assert "GET /features &lt;script&gt;" in markup  # span name (timeline)
    assert "models/candidate.pkl?&lt;script&gt;" in markup  # artifact URI (lineage tooltip)
    assert "notes=&lt;script&gt;" in markup  # params (lineage tooltip of the run)


def test_comparison_page_escapes_every_user_string(ctx: Contexta, hostile: tuple[str, str]) -> None:
    """The comparison page, with overlaid curves, stays inert."""
    runs = list(hostile)
    assert_inert(ctx.build_multi_run_report(runs).to_html())
    report = multi_run_report(
        ctx.compare_multiple_runs(runs),
        [ctx.diagnose_run(r) for r in runs],
        [ctx.get_run_snapshot(r).records for r in runs],
    )
    assert_inert(report.to_html())


@pytest.mark.parametrize(
    "view",
    [
        lambda ctx, runs: ctx.get_run_snapshot(runs[1]),
        lambda ctx, runs: ctx.diagnose_run(runs[1]),
        lambda ctx, runs: ctx.compare_runs(*runs),
        lambda ctx, runs: ctx.compare_multiple_runs(list(runs)),
        lambda ctx, runs: ctx.traverse_lineage(runs[1]),
        lambda ctx, runs: ctx.build_snapshot_report(runs[1]),
    ],
    ids=["snapshot", "diagnosis", "comparison", "multi-comparison", "lineage", "report"],
)
def test_notebook_views_escape_every_user_string(
    ctx: Contexta, hostile: tuple[str, str], view: Callable[[Contexta, tuple[str, str]], Any]
) -> None:
    """Each result's _repr_html_ is inert too."""
    assert_inert(view(ctx, hostile)._repr_html_())


def test_summary_with_markup_is_escaped_in_the_diagnostics_table(
    ctx: Contexta, hostile: tuple[str, str]
) -> None:
    """The degraded summary reaches the Diagnostics table as text."""
    report = ctx.build_snapshot_report(hostile[1])
    summaries = [row[3] for row in report.section("Diagnostics").rows]
    assert any(HOSTILE in summary for summary in summaries)
    assert HOSTILE not in report.to_html()
