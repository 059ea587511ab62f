"""The drawing parts: escaping in SVG, ticks, the direction rule, timeline lanes and time axes."""

from __future__ import annotations

import pytest

from contexta.html import lower_is_better, svg
from contexta.html.charts import line_chart
from contexta.html.deltas import judge
from contexta.html.model import Bar, MetricChart, Series, Timeline
from contexta.html.timeline import gantt, ticks


def test_attributes_and_text_are_escaped() -> None:
    """Quotes and angle brackets in attribute values and text are entities."""
    assert svg.text(1, 2, '<a href="x">') == '<text x="1" y="2">&lt;a href=&quot;x&quot;&gt;</text>'
    assert svg.el("rect", cls='a" onload="x') == '<rect class="a&quot; onload=&quot;x"/>'


@pytest.mark.parametrize(
    ("lo", "hi", "first", "last"),
    [(0.0, 1.0, 0.0, 1.0), (0.61, 0.83, 0.6, 0.85), (3.0, 3.0, 2.6, 3.4), (-2.0, 7.5, -2.0, 8.0)],
)
def test_nice_ticks_cover_the_range_with_round_values(
    lo: float, hi: float, first: float, last: float
) -> None:
    """The first tick is at or below the minimum, the last at or above the maximum."""
    found = svg.nice_ticks(lo, hi)
    assert found[0] == pytest.approx(first) and found[-1] == pytest.approx(last)
    assert 3 <= len(found) <= 8


@pytest.mark.parametrize(
    ("key", "lower"),
    [
        ("loss", True),
        ("val/Loss", True),
        ("error_rate", True),
        ("eval.rmse", True),
        ("mae", True),
        ("p99_latency_ms", True),
        ("accuracy", False),
        ("auc", False),
        ("f1", False),
    ],
)
def test_direction_rule(key: str, lower: bool) -> None:
    """Keys containing loss/error/mae/mse/rmse/latency are lower-is-better, any case."""
    assert lower_is_better(key) is lower


def test_judge_compares_against_the_baseline() -> None:
    """Better, worse, same, or nothing when a value is missing."""
    assert judge("loss", 0.5, 0.4) == "better" and judge("accuracy", 0.5, 0.4) == "worse"
    assert judge("auc", 0.5, 0.5) == "same" and judge("auc", None, 0.5) == ""


def test_chart_draws_axes_ticks_labels_and_a_line() -> None:
    """A stepped series is a polyline with point markers, labelled axes and tick labels."""
    chart = MetricChart("loss", (Series("train", ((0.0, 1.0), (1.0, 0.5), (2.0, 0.25))),), "step", "nats")
    markup = line_chart(chart)
    assert markup.count("<polyline") == 1 and markup.count("<circle") == 3
    assert (
        ">step</text>" in markup
        and ">nats</text>" in markup
        and ">1.0</text>" in markup
        and ">2</text>" in markup
    )


def test_many_batches_share_one_lane_and_open_bars_run_to_the_end() -> None:
    """A lane row draws each segment; an open bar is drawn to the timeline's end, dashed."""
    segments = tuple((i * 10, i * 10 + 5, "failed" if i == 3 else "completed", f"b{i}") for i in range(20))
    lane = Bar("20 batches", "lane", 1, 0, 200, "failed", "", segments)
    still = Bar("serve", "stage", 0, 100, None, "open", "")
    markup = gantt(Timeline((lane, still), 0, 1_000_000))
    assert markup.count("<rect") >= 1 + 20 + 1 and 'stroke-dasharray="4 2"' in markup
    assert ">open</text>" in markup


@pytest.mark.parametrize(
    ("span_us", "label"),
    [(56_000, "+10 ms"), (30_000_000, "00:00:05"), (3_000_000, "+0.5 s"), (9_000_000_000, "00:30")],
)
def test_time_axis_uses_offsets_for_short_runs_and_clock_times_for_long_ones(
    span_us: int, label: str
) -> None:
    """Sub-second tick steps are offsets from the start; steps of a second or more are UTC clock times."""
    start = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
    assert label in ticks(start, start + span_us)[1]
