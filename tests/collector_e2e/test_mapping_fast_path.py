"""The mapping's fast paths (metric events, plain spans) give exactly the rows of the model path.

Random valid and invalid inputs go through both: the row must be identical, or both must refuse.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from contexta.contract import RecordEnvelope
from contexta.errors import ContextaError
from contexta.exporters import mapping
from contexta.exporters.mapping import Scope, event_fields, event_item, plain_span_fields, plain_span_record
from contexta.exporters.spandata import EventData, SpanData
from contexta.semconv import attributes as sc
from contexta.store.codec import RecordFields, record_fields

RUN = "run:proj.nightly"
STAGE = "stage:proj.nightly.train"
BATCH = "batch:proj.nightly.train.epoch-1"
SCOPES = [
    Scope("proj", RUN),
    Scope("proj", RUN, STAGE),
    Scope("proj", RUN, STAGE, BATCH),
    Scope("proj", RUN, STAGE, BATCH, "sample:proj.nightly.train.epoch-1.row-3"),
    Scope("proj", RUN, STAGE, None, "sample:proj.nightly.train.row-3"),
    Scope("proj", RUN, None, BATCH),  # a batch without its stage
    Scope("proj", RUN, "stage:proj.other.train"),  # a stage of another run
    Scope("proj", RUN, STAGE, None, "sample:proj.nightly.train.epoch-1.row-3"),  # two levels below
    Scope("proj", RUN, "stage:proj.nightly.Train"),  # not a valid ref
]
REFUSED = (ContextaError, KeyError, ValueError, TypeError, OverflowError)
MISSING = object()


def pick(rng: random.Random, *choices: Any) -> Any:
    """Mostly the first (valid) choice, so that many inputs are valid as a whole."""
    return choices[0] if rng.random() < 0.75 else rng.choice(choices)


def metric_event(rng: random.Random) -> EventData:
    attrs: dict[str, Any] = {}
    candidates = {
        sc.RECORD_REF: (
            "record:proj.nightly.m-1",
            "record:proj.nightly.m_2",
            "record:proj.other.m-1",
            "record:proj.nightly.M-1",
            "record:proj.nightly.a.b",
            "record:proj.nightly." + "x" * 129,
            "record:proj.nightly.",
            7,
            MISSING,
        ),
        sc.METRIC_KEY: ("loss", "val/acc", "a.b-c_d", "bad key", "", "-lead", 5, MISSING),
        sc.METRIC_VALUE: (0.5, 3, -2, 1e308, math.nan, math.inf, True, "1.0", 2**70, 3.0, MISSING),
        sc.METRIC_STEP: (MISSING, 0, 7, -1, 2**63, 2**63 - 1, 3.0, "3", True, None),
        sc.METRIC_UNIT: (MISSING, "s", "", "x" * 64, "x" * 65, 5, None),
        sc.METRIC_VALUE_TYPE: (MISSING, "float64", "int64", "float32", None),
        sc.METRIC_AGGREGATION_SCOPE: (MISSING, "run", "batch", "bogus", None),
        sc.RECORD_PRODUCER: (MISSING, "contexta", "contexta.sklearn", 3),
        sc.RECORD_COMPLETENESS: (MISSING, "complete", "partial", "bogus"),
        sc.RECORD_DEGRADATION: (MISSING, "none", "capture_gap", "bogus"),
        sc.RECORD_RECORDED_AT: (
            MISSING,
            "2024-06-01T12:30:45.123456+00:00",
            "2024-06-01T12:30:45Z",
            "2024-06-01T14:30:45+02:00",
            "yesterday",
            5,
        ),
    }
    for key, values in candidates.items():
        value = pick(rng, *values)
        if value is not MISSING:
            attrs[key] = value
    time_ns = pick(rng, 1_717_243_845_123_456_789, 0, 2**64 - 1, 1_717_243_845_000_000_000)
    return EventData(sc.EVENT_METRIC, time_ns, attrs)


def plain_span(rng: random.Random) -> SpanData:
    attrs: dict[str, Any] = {}
    for index in range(rng.randint(0, 4)):
        attrs[f"k{index}"] = pick(
            rng, "v", 3, 2.5, math.nan, True, None, ("a", "b"), (1, 2.5), ((1,),), {"x": 1}, [1, 2], b"x"
        )
    start = pick(rng, 1_717_243_845_123_456_789, 0, 2**64 - 1)
    end = pick(rng, None, start + 1_000_000, start)
    resource = pick(rng, {}, {"service.name": "api"}, {"service.name": 7})
    return SpanData(
        trace_id=pick(
            rng, "0af7651916cd43dd8448eb211c80319c", "0AF7651916CD43DD8448EB211C80319C", "0af7", ""
        ),
        span_id=pick(rng, "b7ad6b7169203331", "B7AD6B7169203331", "b7ad", "b7ad6b7169203331aa"),
        parent_span_id=pick(rng, None, "00f067aa0ba902b7", "xyz"),
        name=pick(rng, "GET /features", "", "n" * 1024, "n" * 1025),
        kind=pick(rng, "client", "internal", 3),
        start_ns=start,
        end_ns=end,
        status_code=pick(rng, "unset", "ok", "error", "bogus"),
        status_message=pick(rng, None, "boom", 5),
        attributes=attrs,
        resource=resource,
    )


def slow_metric(scope: Scope, event: EventData) -> RecordFields | type[BaseException]:
    try:
        return record_fields(event_item(scope, event))
    except REFUSED as exc:
        return type(exc)


def fast_metric(scope: Scope, event: EventData) -> RecordFields | type[BaseException]:
    try:
        item = event_fields(scope, event)
    except REFUSED as exc:
        return type(exc)
    return item if isinstance(item, RecordFields) else record_fields(item)


@pytest.mark.parametrize("seed", range(4))
def test_metric_event_fast_path_equals_the_model_path(seed: int) -> None:
    """For random metric events under random scopes, both paths give the same row or both refuse."""
    rng = random.Random(seed)
    fast_rows = 0
    for _ in range(1500):
        scope, event = rng.choice(SCOPES), metric_event(rng)
        expected = slow_metric(scope, event)
        assert fast_metric(scope, event) == expected, (scope, event)
        fast_rows += mapping._metric_columns(scope, event) is not None
    assert fast_rows > 0  # the fast path was taken, not only the fallback


@pytest.mark.parametrize("seed", range(4))
def test_plain_span_fast_path_equals_the_model_path(seed: int) -> None:
    """For random plain spans under random scopes, both paths give the same row or both refuse."""
    rng = random.Random(seed)
    fast_rows = 0
    for _ in range(1500):
        scope, span = rng.choice(SCOPES), plain_span(rng)
        try:
            expected: Any = record_fields(plain_span_record(span, scope))
        except REFUSED as exc:
            expected = type(exc)
        try:
            got: Any = plain_span_fields(span, scope)
        except REFUSED as exc:
            got = type(exc)
        assert got == expected, (scope, span)
        fast_rows += mapping._plain_columns(span, scope) is not None
    assert fast_rows > 0


@pytest.mark.parametrize("scope", SCOPES)
def test_scope_check_agrees_with_the_record_envelope(scope: Scope) -> None:
    """A scope passes the fast check exactly when a RecordEnvelope accepts its refs."""
    try:
        RecordEnvelope(
            record_ref=f"record:{scope.run_ref[4:]}.x",
            record_type="metric",
            observed_at="2024-06-01T12:00:00Z",
            recorded_at="2024-06-01T12:00:00Z",
            run_ref=scope.run_ref,
            stage_execution_ref=scope.stage_ref,
            batch_execution_ref=scope.batch_ref,
            sample_observation_ref=scope.sample_ref,
        )
        accepted = True
    except ContextaError:
        accepted = False
    assert mapping._valid_scope(scope) is accepted
