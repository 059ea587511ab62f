"""Comparing runs: stages paired by name, metrics by key, the latest value of each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from contexta.contract._base import to_micros
from contexta.query.results import MetricDelta, MultiRunComparison, RunComparison, StageComparison
from contexta.store.base import RecordView, RunBundle


def stage_name_of(stage_ref: str | None) -> str | None:
    return stage_ref.rsplit(".", 1)[1] if stage_ref else None


def latest_metrics(records: Iterable[RecordView]) -> dict[str | None, dict[str, float]]:
    """``stage name (None: run level) -> key -> value``; several values of one key in one stage
    (in batches, samples or steps) resolve to the latest by step, then by observation time."""
    best: dict[tuple[str | None, str], tuple[tuple[int, int], float]] = {}
    for record in records:
        if record.record_type != "metric" or record.value is None:
            continue
        slot = (stage_name_of(record.stage_ref), record.key)
        rank = (record.step if record.step is not None else -1, to_micros(record.observed_at))
        current = best.get(slot)
        if current is None or rank >= current[0]:
            best[slot] = (rank, record.value)
    groups: dict[str | None, dict[str, float]] = {}
    for (stage, key), (_rank, value) in best.items():
        groups.setdefault(stage, {})[key] = value
    return groups


def _stage_order(bundles: Sequence[RunBundle]) -> list[str | None]:
    order: list[str | None] = []
    seen: set[str | None] = set()
    groups = [latest_metrics(bundle.records) for bundle in bundles]
    if any(None in group for group in groups):
        order.append(None)
        seen.add(None)
    for bundle, group in zip(bundles, groups, strict=True):
        names = [stage.stage_name for stage in bundle.stages] + sorted(k for k in group if k is not None)
        for name in names:
            if name not in seen:
                seen.add(name)
                order.append(name)
    return order


def compare_bundles(left: RunBundle, right: RunBundle) -> RunComparison:
    left_groups, right_groups = latest_metrics(left.records), latest_metrics(right.records)
    left_status = {stage.stage_name: stage.status for stage in left.stages}
    right_status = {stage.stage_name: stage.status for stage in right.stages}
    comparisons = []
    for name in _stage_order([left, right]):
        lvals, rvals = left_groups.get(name, {}), right_groups.get(name, {})
        keys = list(lvals) + sorted(key for key in rvals if key not in lvals)
        comparisons.append(
            StageComparison(
                stage_name=name,
                left_status=left_status.get(name) if name else None,
                right_status=right_status.get(name) if name else None,
                metric_deltas=[MetricDelta(key, lvals.get(key), rvals.get(key)) for key in keys],
            )
        )
    return RunComparison(left.run_ref, right.run_ref, comparisons)


def compare_many(bundles: Sequence[RunBundle]) -> MultiRunComparison:
    groups = [latest_metrics(bundle.records) for bundle in bundles]
    table: list[tuple[str | None, str, list[float | None]]] = []
    for name in _stage_order(bundles):
        keys: list[str] = []
        for group in groups:
            keys.extend(key for key in group.get(name, {}) if key not in keys)
        for key in keys:
            table.append((name, key, [group.get(name, {}).get(key) for group in groups]))
    base = bundles[0]
    pairwise = [compare_bundles(base, other) for other in bundles[1:]]
    return MultiRunComparison([bundle.run_ref for bundle in bundles], table, pairwise)
