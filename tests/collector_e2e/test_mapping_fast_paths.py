"""More of the mapping's fast paths (see also test_mapping_fast_path.py): stage, batch and sample
spans become exactly the entity of the model path (the contract models' validation) or are left
to it, and a plain span's payload JSON is exactly ``codec.dumps`` of it.

Random valid and invalid spans go through both paths: the entities must be equal (same fields,
same JSON, same fields set), or both paths must refuse with the same error.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from contexta.errors import ContextaError
from contexta.exporters import mapping
from contexta.exporters.mapping import Scope, plain_span_record
from contexta.exporters.spandata import SpanData
from contexta.semconv import attributes as sc
from contexta.store.codec import dumps, record_fields

# AttributeError: the model path's own reaction to a None ref (e.g. ``batch_name`` of a batch span
# whose ``contexta.batch.ref`` is an empty AnyValue); the fast path must leave such spans to it
REFUSED = (ContextaError, KeyError, ValueError, TypeError, OverflowError, AttributeError)
MISSING = object()
T0 = 1_717_243_845_123_456_789


def pick(rng: random.Random, *choices: Any) -> Any:
    """Mostly the first (valid) choice, so that many spans are valid as a whole."""
    return choices[0] if rng.random() < 0.8 else rng.choice(choices)


def entity_span(rng: random.Random) -> tuple[SpanData, bool]:
    kind = rng.choice(["stage", "batch", "sample", "sample"])
    attrs: dict[str, Any] = {sc.ENTITY_KIND: kind}
    candidates: dict[str, tuple[Any, ...]] = {
        sc.RUN_REF: ("run:proj.nightly", "run:proj.other", "run:Proj.nightly", "run:proj", 5, MISSING),
        sc.STAGE_REF: (
            "stage:proj.nightly.train",
            "stage:proj.other.train",
            "stage:proj.nightly.Train",
            "stage:proj.nightly.train.x",
            "batch:proj.nightly.train.e1",
            ["stage:proj.nightly.train"],
            MISSING,
        ),
        sc.BATCH_REF: (
            "batch:proj.nightly.train.epoch-1",
            MISSING,
            "batch:proj.nightly.eval.epoch-1",
            "batch:proj.nightly.train.epoch_1",
            "batch:proj.nightly.train",
            None,
            3,
        ),
        sc.ORDER_INDEX: (3, MISSING, 0, 2**63 - 1, 2**63, -1, 3.0, True, "3", None),
        sc.STATUS: ("completed", MISSING, "open", "failed", "cancelled", "bogus", 3),
    }
    for key, values in candidates.items():
        value = pick(rng, *values)
        if value is not MISSING:
            attrs[key] = value
    if kind == "sample":
        batch = attrs.get(sc.BATCH_REF)
        parent = batch if isinstance(batch, str) else "stage:proj.nightly.train"
        choose = (lambda *choices: rng.choice(choices)) if rng.random() < 0.5 else (lambda *c: pick(rng, *c))
        attrs[sc.SAMPLE_REF] = choose(
            f"sample:{parent.split(':', 1)[1]}.row-3",
            "sample:proj.nightly.train.row-3",
            "sample:proj.nightly.train.epoch-1.row-3",
            "sample:proj.nightly.train.epoch-1.Row-3",
            "sample:proj.nightly.train.epoch-1.a.b",
            f"sample:{parent.split(':', 1)[1]}." + "r" * 129,
            None,
        )
    start = pick(rng, T0, 0, 2**64 - 1, T0 + 999)
    end = pick(rng, start + 5_000_000, None, start, start - 1_000, start + 999, 2**64 - 1)
    span = SpanData(
        trace_id=pick(
            rng, "0af7651916cd43dd8448eb211c80319c", "0" * 32, "0AF7651916CD43DD8448EB211C80319C", "0af7"
        ),
        span_id=pick(rng, "b7ad6b7169203331", "0" * 16, "B7AD6B7169203331", "b7ad"),
        parent_span_id=pick(rng, "00f067aa0ba902b7", None),
        name=f"{kind} span",
        kind="internal",
        start_ns=start,
        end_ns=end,
        status_code=pick(rng, "unset", "ok", "error"),
        status_message=None,
        attributes=attrs,
    )
    return span, pick(rng, True, False)


def outcome(span: SpanData, finished: bool) -> Any:
    try:
        entity, project = mapping.span_entity(span, finished)
    except REFUSED as exc:
        return type(exc), str(exc)
    assert project is None
    return entity


@pytest.mark.parametrize("seed", range(4))
def test_entity_fast_path_equals_the_model_path(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """For random stage, batch and sample spans, both paths give the same entity or the same error."""
    rng = random.Random(seed)
    fast = 0
    for _ in range(1500):
        span, finished = entity_span(rng)
        got = outcome(span, finished)
        with monkeypatch.context() as patched:
            patched.setattr(mapping, "_FAST_ENTITY_KINDS", frozenset())
            expected = outcome(span, finished)
        assert got == expected, (span, finished)
        if not isinstance(expected, tuple):
            assert type(got) is type(expected)
            assert got.model_dump_json() == expected.model_dump_json()
            assert got.model_fields_set == expected.model_fields_set
            assert dict(got) == dict(expected)
        fast += mapping._fast_entity(span, span.attributes[sc.ENTITY_KIND], finished) is not None
    assert fast > 300  # the fast path was taken, not only the fallback


def test_fast_entities_are_the_models_own_instances() -> None:
    """What the fast path builds is a frozen contract model like any other: hashable state,
    immutable, and it validates back to itself."""
    span = SpanData(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_span_id="00f067aa0ba902b7",
        name="sample",
        kind="internal",
        start_ns=T0,
        end_ns=T0 + 1_000,
        status_code="unset",
        status_message=None,
        attributes={
            sc.ENTITY_KIND: "sample",
            sc.RUN_REF: "run:proj.nightly",
            sc.STAGE_REF: "stage:proj.nightly.train",
            sc.BATCH_REF: "batch:proj.nightly.train.epoch-1",
            sc.SAMPLE_REF: "sample:proj.nightly.train.epoch-1.row-3",
            sc.ORDER_INDEX: 3,
        },
    )
    entity = mapping._fast_entity(span, "sample", True)
    assert entity is not None
    assert type(entity).model_validate_json(entity.model_dump_json()) == entity
    with pytest.raises(Exception, match="frozen"):
        entity.sample_name = "other"  # type: ignore[misc]
    assert (
        entity.attributes == {}
        and entity.attributes is not mapping._fast_entity(span, "sample", True).attributes
    )


@pytest.mark.parametrize(
    ("name", "kind", "message", "attrs"),
    [
        ("GET /features", "client", None, {}),
        ('say "hi" \\ back', "server", 'a "quoted"\nmessage', {"k": 'v "q"', "é": "ünïcode ✓"}),
        ("tab\there\u0001\u007f\u2028", "internal", "\u0000", {"z": [1, 2.5, "x"], "a": None, "m": True}),
        ("名前", "producer", "", {"b": 1e300, "a": -0.0, "c": 2**62}),
    ],
)
def test_plain_span_payload_is_the_canonical_json(
    name: str, kind: str, message: str | None, attrs: dict
) -> None:
    """The payload the fast path writes out by hand equals ``dumps`` of the model path's payload,
    for names, kinds, messages and attributes that need escaping."""
    span = SpanData(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_span_id=None if message == "" else "00f067aa0ba902b7",
        name=name,
        kind=kind,
        start_ns=T0,
        end_ns=T0 + 1_500,
        status_code="error",
        status_message=message,
        attributes=attrs,
    )
    scope = Scope("proj", "run:proj.nightly", "stage:proj.nightly.train")
    columns = mapping._plain_columns(span, scope)
    assert columns is not None
    expected = record_fields(plain_span_record(span, scope))
    assert columns[-1] == expected.extra
    payload = json.loads(columns[-1])
    assert columns[-1] == dumps(payload)
