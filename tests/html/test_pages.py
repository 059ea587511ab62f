"""The HTML pages: what the snapshot and comparison pages show, and that they stand alone."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from contexta import Contexta
from contexta.html import page, table
from contexta.html.model import Curves, Graph, Timeline
from contexta.query.report import multi_run_report


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of every <h2>."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: list[str] = []
        self._in_h2 = False
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)

    def count(self, tag: str, **wanted: str) -> int:
        return sum(1 for t, a in self.tags if t == tag and all(wanted[k] in (a.get(k) or "") for k in wanted))


def assert_self_contained(markup: str) -> None:
    """No script, no external reference of any kind."""
    tags = Tags(markup)
    assert tags.count("script") == 0
    assert not [t for t, _ in tags.tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//)", markup)
    assert "@import" not in markup and "http://" not in markup.split("<main", 1)[0]


def test_snapshot_page_draws_curves_timeline_lineage_and_badges(ctx: Contexta, pair: tuple[str, str]) -> None:
    """The snapshot page has metric charts, a Gantt timeline, severity badges and a lineage graph."""
    report = ctx.build_snapshot_report(pair[1])
    markup = report.to_html()
    tags = Tags(markup)
    assert_self_contained(markup)
    assert tags.h2[:4] == ["Run Summary", "Diagnostics", "Metric curves", "Stages"]
    assert tags.h2[-1] == "Lineage"
    assert set(s.title for s in report.sections) <= set(tags.h2)
    assert tags.count("svg", **{"class": "chart"}) == 4  # loss, val.accuracy, accuracy, latency_ms
    assert tags.count("polyline") >= 2  # loss by step, val.accuracy across the epoch batches
    assert tags.count("svg", **{"class": "timeline"}) == 1
    assert tags.count("svg", **{"class": "graph"}) == 1
    assert tags.count("span", **{"class": "badge error"}) >= 5
    assert "POST /score" in markup and "SELECT predictions" in markup  # user spans under the stage
    assert "#d64545" in markup  # failed stage/run drawn in red
    assert "candidate-canary" in markup and "shop.orders.v3" in markup  # lineage nodes


def test_snapshot_report_sections_carry_their_pictures(ctx: Contexta, pair: tuple[str, str]) -> None:
    """Run Summary carries the lineage graph, Stages the timeline, Metrics the curves."""
    report = ctx.build_snapshot_report(pair[0])
    summary, stages, metrics = (report.section(t) for t in ("Run Summary", "Stages", "Metrics"))
    assert isinstance(summary.visual, Graph) and isinstance(stages.visual, Timeline)
    assert isinstance(metrics.visual, Curves)
    kinds = [bar.kind for bar in stages.visual.bars]
    assert kinds[:3] == ["run", "stage", "stage"] and kinds.count("batch") == 5 and kinds.count("span") == 3
    loss = next(c for c in metrics.visual.charts if c.key == "loss")
    assert loss.x_label == "step" and len(loss.series[0].points) == 20
    accuracy = next(c for c in metrics.visual.charts if c.key == "val.accuracy")
    assert [s.label for s in accuracy.series] == ["train \u203a batches"]
    edges = {(e.source.split(":")[0], e.target.split(":")[0], e.relation) for e in summary.visual.edges}
    assert ("artifact", "deployment", "deployed") in edges and ("dataset", "run", "used") in edges


def test_text_markdown_and_json_keep_titles_and_leave_pictures_out(
    ctx: Contexta, pair: tuple[str, str]
) -> None:
    """The other renderers are unchanged: every section title, and no picture data in JSON."""
    report = ctx.build_snapshot_report(pair[1])
    titles = [s.title for s in report.sections]
    assert {"Batches", "Deployments", "Samples"} <= set(titles)
    text, md, data = report.to_text(), report.to_markdown(), json.loads(report.to_json())
    for title in titles:
        assert f"\n{title}\n" in text and f"\n## {title}\n" in md
    assert all(set(section) == {"title", "columns", "rows", "lines"} for section in data["sections"])


def test_run_without_steps_plots_single_points(ctx: Contexta) -> None:
    """A metric recorded once without a step is one dot at x=0 ("order observed")."""
    with ctx.run("plain") as run, run.stage("train") as stage:
        stage.metric("accuracy", 0.9)
    ctx.flush()
    curves = ctx.build_snapshot_report("run:demo.plain").section("Metrics").visual
    assert isinstance(curves, Curves)
    (chart,) = curves.charts
    assert chart.x_label == "order observed" and chart.series[0].points == ((0.0, 0.9),)
    assert "<circle" in ctx.build_snapshot_report("run:demo.plain").to_html()


def test_comparison_page_colours_deltas_by_direction(ctx: Contexta, pair: tuple[str, str]) -> None:
    """loss and latency up is worse (red), accuracy down is worse; the baseline is the first run."""
    markup = ctx.build_multi_run_report([pair[1], pair[0]]).to_html()
    assert_self_contained(markup)
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<td><code>([\w.]+)</code>(.*?)</tr>", markup)}
    assert "num better" in rows["loss"] and "num better" in rows["latency_ms"]
    assert "num better" in rows["accuracy"] and "num better" in rows["val.accuracy"]
    reverse = ctx.build_multi_run_report(list(pair)).to_html()
    assert reverse.count("num worse") == 4 and "num better" not in reverse
    assert "<th>baseline</th><th>candidate</th>" in reverse
    assert "lower-is-better" in reverse


def test_comparison_with_records_overlays_one_line_per_run(ctx: Contexta, pair: tuple[str, str]) -> None:
    """multi_run_report(records=...) adds overlaid curves: one colour per run in every chart."""
    runs = list(pair)
    report = multi_run_report(
        ctx.compare_multiple_runs(runs),
        [ctx.diagnose_run(r) for r in runs],
        [ctx.get_run_snapshot(r).records for r in runs],
    )
    curves = report.section("Metrics").visual
    assert isinstance(curves, Curves)
    loss = next(c for c in curves.charts if c.key == "loss")
    assert [(s.label, s.color) for s in loss.series] == [("baseline", 0), ("candidate", 1)]
    accuracy = next(c for c in curves.charts if c.key == "accuracy")
    assert accuracy.categories == ("baseline", "candidate") and accuracy.x_label == "run"
    markup = report.to_html()
    assert "<h2>Metric curves</h2>" in markup and Tags(markup).count("polyline") >= 4


def test_page_helper_builds_a_document_for_other_packages() -> None:
    """page(title, sections) is a whole document with cards, a contents bar and escaped titles."""
    body = table(("check", "status"), [("<b>me</b>", "failed"), ("size", "completed")])
    markup = page("Model card: <x>", [("Summary", body), ("Notes", "<p>ok</p>"), ("Risks", "")])
    assert markup.startswith("<!DOCTYPE html>") and markup.endswith("</html>")
    assert "<title>Model card: &lt;x&gt;</title>" in markup and "&lt;b&gt;me&lt;/b&gt;" in markup
    assert "<span class='badge error'>failed</span>" in markup and "badge ok'>completed<" in markup
    assert Tags(markup).h2 == ["Summary", "Notes", "Risks"] and "href='#s-notes'" in markup
    assert_self_contained(markup)
