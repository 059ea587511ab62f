"""Build the chart and timeline data (:mod:`contexta.html.model`) from query results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from contexta.contract._base import to_micros
from contexta.html.model import Bar, Curves, Mark, MetricChart, Series, Timeline

if TYPE_CHECKING:
    from contexta.query.results import RunSnapshot
    from contexta.store.base import RecordView

#: Batches or spans of one stage beyond this many share one "lane" row of the timeline.
LANE_AFTER = 12
SEPARATOR = " \u203a "


def _last(ref: str | None) -> str:
    return ref.rsplit(".", 1)[1] if ref else ""


def scope_label(record: RecordView) -> str:
    """``stage``, ``stage > batch`` or ``... > samples`` (drawn with a chevron; every sample of a
    scope shares one line)."""
    if record.stage_ref is None:
        return "(run)"
    parts = [_last(record.stage_ref)]
    if record.batch_ref:
        parts.append(_last(record.batch_ref))
    if record.sample_ref:
        parts.append("samples")
    return SEPARATOR.join(parts)


def _points(values: list[tuple[int | None, int, float]]) -> tuple[tuple[tuple[float, float], ...], bool]:
    """Points by step when every value has one, else by the order they were observed in."""
    if values and all(step is not None for step, _, _ in values):
        ordered = sorted(values, key=lambda item: (item[0], item[1]))
        return tuple((float(step or 0), value) for step, _, value in ordered), True
    ordered = sorted(values, key=lambda item: item[1])
    return tuple((float(index), value) for index, (_, _, value) in enumerate(ordered)), False


def curves(runs: Sequence[tuple[str, Sequence[RecordView]]]) -> Curves:
    """Metric curves of one run (a line per scope) or several (a colour per run, a dash per scope)."""
    several = len(runs) > 1
    grouped: dict[str, dict[tuple[int, str], list[tuple[int | None, int, float]]]] = {}
    units: dict[str, str] = {}
    scopes: list[str] = []
    for index, (_name, records) in enumerate(runs):
        for record in records:
            if record.record_type != "metric" or record.value is None:
                continue
            scope = scope_label(record)
            if record.unit and record.key not in units:
                units[record.key] = record.unit
            slot = grouped.setdefault(record.key, {}).setdefault((index, scope), [])
            slot.append((record.step, to_micros(record.observed_at), record.value))
    charts = []
    for key, by_scope in grouped.items():
        by_scope = _join_batches(by_scope)
        series, stepped = [], True
        for (index, scope), values in by_scope.items():
            points, by_step = _points(values)
            stepped = stepped and by_step
            name = runs[index][0]
            shared = _scopes_of(by_scope, index) > 1
            label = (f"{name} · {scope}" if shared else name) if several else scope
            if scope not in scopes:
                scopes.append(scope)
            color, dash = (
                (index, scopes.index(scope) if shared else 0) if several else (scopes.index(scope), 0)
            )
            series.append(Series(label, points, color, dash))
        chart = MetricChart(key, tuple(series), "step" if stepped else "order observed", units.get(key))
        charts.append(_by_run(chart, by_scope, [name for name, _ in runs]) if several else chart)
    legend = (
        tuple((name, index, 0) for index, (name, _) in enumerate(runs))
        if several
        else tuple((scope, index, 0) for index, scope in enumerate(scopes))
    )
    return Curves(tuple(charts), legend)


def _join_batches(by_scope: dict[tuple[int, str], list[Any]]) -> dict[tuple[int, str], list[Any]]:
    """Batches of one stage holding one value each (a value per epoch, say) become one line."""
    singles: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for index, scope in by_scope:
        parts = scope.split(SEPARATOR)
        if len(parts) == 2 and len(by_scope[(index, scope)]) == 1:
            singles.setdefault((index, parts[0]), []).append((index, scope))
    joined = dict(by_scope)
    for (index, stage), slots in singles.items():
        if len(slots) > 1:
            values = [value for slot in slots for value in joined.pop(slot)]
            joined[(index, f"{stage}{SEPARATOR}batches")] = values
    return joined


def _by_run(chart: MetricChart, by_scope: dict[tuple[int, str], list[Any]], names: list[str]) -> MetricChart:
    """Single values without steps, one per run: put each run at its own x (else they would overlap)."""
    if chart.x_label == "step" or any(len(values) > 1 for values in by_scope.values()):
        return chart
    moved = tuple(
        replace(series, points=((float(index), series.points[0][1]),))
        for (index, _scope), series in zip(by_scope, chart.series, strict=True)
    )
    return replace(chart, series=moved, x_label="run", categories=tuple(names))


def _scopes_of(by_scope: dict[tuple[int, str], list[tuple[int | None, int, float]]], index: int) -> int:
    return sum(1 for run_index, _ in by_scope if run_index == index)


def _span(seconds_us: int | None, start_us: int) -> str:
    if seconds_us is None:
        return "still open"
    took = (seconds_us - start_us) / 1e6
    return (
        f"{took * 1000:.1f} ms" if took < 1 else (f"{took:.2f} s" if took < 120 else f"{took / 60:.1f} min")
    )


def _bar(label: str, kind: str, depth: int, start: str, end: str | None, status: str, ref: str) -> Bar:
    start_us = to_micros(start)
    end_us = to_micros(end) if end else None
    detail = f"{ref}\n{status} · {start} → {end or 'open'} ({_span(end_us, start_us)})"
    return Bar(label, kind, depth, start_us, end_us, status, detail)


def _rows(bars: list[Bar], kind: str, depth: int) -> list[Bar]:
    """The bars themselves, or one lane row holding them all when there are many."""
    if len(bars) <= LANE_AFTER:
        return bars
    segments = tuple((b.start_us, b.end_us or b.start_us, b.status, b.label) for b in bars)
    failed = sum(1 for b in bars if b.status == "failed")
    label = f"{len(bars)} {kind}es" if kind == "batch" else f"{len(bars)} {kind}s"
    status = "failed" if failed else "completed"
    detail = f"{len(bars)} {kind} rows in one lane, {failed} failed"
    start, end = min(s[0] for s in segments), max(s[1] for s in segments)
    return [Bar(label, "lane", depth, start, end, status, detail, segments)]


def _span_bars(snapshot: RunSnapshot, stage_ref: str, batch_ref: str | None, depth: int) -> list[Bar]:
    spans = [
        r
        for r in snapshot.records
        if r.record_type == "span" and r.stage_ref == stage_ref and r.batch_ref == batch_ref
    ]
    spans.sort(key=lambda r: str(r.details.get("started_at", r.observed_at)))
    levels: dict[str, int] = {}
    bars = []
    for record in spans:
        details = record.details
        parent = details.get("parent_span_id")
        level = levels.get(str(parent), -1) + 1 if parent in levels else 0
        levels[str(details.get("span_id", record.record_ref))] = level
        status = "failed" if details.get("status_code") == "error" else "completed"
        name = str(details.get("name") or record.key or "span")
        start = str(details.get("started_at") or record.observed_at)
        bar = _bar(name, "span", depth + min(level, 3), start, details.get("ended_at"), status, name)
        message = details.get("status_message")
        bars.append(replace(bar, detail=bar.detail + (f"\n{message}" if message else "")))
    return _rows(bars, "span", depth)


def timeline(snapshot: RunSnapshot) -> Timeline:
    """Stages in order; under each its batches (and their spans) and its plain OTel spans."""
    run = snapshot.run
    stages = sorted(
        snapshot.stages,
        key=lambda s: (s.order_index is None, s.order_index or 0, to_micros(s.started_at)),
    )
    bars: list[Bar] = [_bar(run.name, "run", 0, run.started_at, run.ended_at, run.status, run.run_ref)]
    rows_of: dict[str, int] = {}
    for stage in stages:
        rows_of[stage.ref] = len(bars)
        bars.append(_bar(stage.name, "stage", 0, stage.started_at, stage.ended_at, stage.status, stage.ref))
        batches = [b for b in snapshot.batches if b.stage_ref == stage.ref]
        batches.sort(key=lambda b: (b.order_index is None, b.order_index or 0, to_micros(b.started_at)))
        batch_bars = [_bar(b.name, "batch", 1, b.started_at, b.ended_at, b.status, b.ref) for b in batches]
        if len(batch_bars) > LANE_AFTER:
            bars += _rows(batch_bars, "batch", 1)
        else:
            for batch, bar in zip(batches, batch_bars, strict=True):
                rows_of[batch.ref] = len(bars)
                bars.append(bar)
                bars += _span_bars(snapshot, stage.ref, batch.ref, 2)
        bars += _span_bars(snapshot, stage.ref, None, 1)
    marks = tuple(
        Mark(rows_of[s.batch_ref or s.stage_ref], to_micros(s.observed_at), s.name)
        for s in snapshot.samples
        if (s.batch_ref or s.stage_ref) in rows_of
    ) + tuple(
        Mark(
            rows_of.get(r.batch_ref or "", rows_of.get(r.stage_ref or "", 0)),
            to_micros(r.observed_at),
            f"{r.severity}: {r.key}: {r.message}",
            "error" if r.severity == "error" else "warning",
        )
        for r in snapshot.records
        if r.record_type == "degraded"
    )
    moments = [to_micros(run.started_at)] + [b.start_us for b in bars] + [m.at_us for m in marks]
    moments += [b.end_us for b in bars if b.end_us is not None]
    if run.ended_at:
        moments.append(to_micros(run.ended_at))
    return Timeline(tuple(bars), min(moments), max(moments), marks)
