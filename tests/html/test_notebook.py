"""In a notebook, results display as HTML: compact fragments with the page's scoped style."""

from __future__ import annotations

from test_pages import Tags

from contexta import Contexta


def test_snapshot_displays_summary_timeline_and_curves(ctx: Contexta, pair: tuple[str, str]) -> None:
    """A snapshot shows its status, the stage timeline, metric charts and the latest values."""
    markup = ctx.get_run_snapshot(pair[1])._repr_html_()
    tags = Tags(markup)
    assert markup.startswith("<div class='ctx'><style>") and "<!DOCTYPE" not in markup
    assert tags.count("svg", **{"class": "timeline"}) == 1 and tags.count("svg", **{"class": "chart"}) == 4
    assert "badge error'>failed<" in markup and "Latest metrics" in markup


def test_comparisons_display_coloured_deltas(ctx: Contexta, pair: tuple[str, str]) -> None:
    """Pairwise and multi-run comparisons show a delta table coloured by the direction rule."""
    pairwise = ctx.compare_runs(*pair)._repr_html_()
    assert pairwise.count("num worse") == 4 and "<th>baseline</th><th>candidate</th>" in pairwise
    many = ctx.compare_multiple_runs([pair[1], pair[0]])._repr_html_()
    assert many.count("num better") == 4


def test_diagnosis_and_lineage_display(ctx: Contexta, pair: tuple[str, str]) -> None:
    """A diagnosis lists issues with severity badges; a clean one says so; lineage draws a graph."""
    failed = ctx.diagnose_run(pair[1])._repr_html_()
    assert "5 errors, 0 warnings" in failed and failed.count("badge error'>error<") == 5
    with ctx.run("clean") as run, run.stage("train") as stage:
        stage.metric("loss", 0.1)
    ctx.flush()
    assert "No issues found." in ctx.diagnose_run("run:demo.clean")._repr_html_()
    lineage = ctx.traverse_lineage(pair[0])._repr_html_()
    assert Tags(lineage).count("svg", **{"class": "graph"}) == 1 and "baseline-prod" in lineage


def test_report_displays_as_its_page(ctx: Contexta, pair: tuple[str, str]) -> None:
    """A Report's notebook view is its page, whose style only applies inside .ctx."""
    report = ctx.build_snapshot_report(pair[0])
    markup = report._repr_html_()
    assert markup == report.to_html()
    style = markup.split("<style>", 1)[1].split("</style>", 1)[0]
    selectors = [rule.split("{", 1)[0] for rule in style.replace("\n", "").split("}") if "{" in rule]
    assert selectors and all(part.strip().startswith(".ctx") for s in selectors for part in s.split(","))
