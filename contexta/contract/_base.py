"""Shared pieces of the contract models: base class, timestamps, enumerations, error mapping."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, JsonValue
from pydantic import ValidationError as PydanticValidationError

from contexta.errors import ValidationError

Status = Literal["open", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
RecordType = Literal["metric", "event", "degraded", "span"]
CompletenessMarker = Literal["complete", "partial", "missing", "unknown"]
DegradationMarker = Literal[
    "none", "capture_gap", "partial_failure", "compatibility_upgrade", "replay_gap", "redacted"
]
DegradedCategory = Literal[
    "capture", "compatibility", "import", "replay", "verification", "recovery", "data", "environment"
]
Severity = Literal["warning", "error"]
EventLevel = Literal["debug", "info", "warning", "error", "critical"]
OriginMarker = Literal["explicit_capture", "auto_capture", "imported", "replayed", "derived", "collected"]
AggregationScope = Literal["run", "stage", "batch", "sample", "operation"]
ValueType = Literal["float64", "int64"]
Attributes = dict[str, JsonValue]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Both conversions are pure and hot (every stored record goes through each one twice, and
# records of one step or stage share their timestamps), so each keeps a small memo. Failed
# conversions raise as before and are not remembered.
@lru_cache(maxsize=4096)
def to_micros(text: str) -> int:
    """Microseconds since the Unix epoch of a normalised timestamp string."""
    moment = datetime.fromisoformat(text)
    return (moment - _EPOCH) // timedelta(microseconds=1)


@lru_cache(maxsize=4096)
def from_micros(micros: int) -> str:
    """The normalised timestamp string for microseconds since the epoch."""
    return (_NAIVE_EPOCH + timedelta(microseconds=micros)).isoformat() + "Z"


# A naive datetime's isoformat() is exactly ``YYYY-MM-DDTHH:MM:SS`` plus ``.ffffff`` when the
# microsecond is not zero, with a four-digit year: the normalised form without its ``Z``, at a
# third of the cost of strftime.
_NAIVE_EPOCH = datetime(1970, 1, 1)


def format_datetime(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def normalize_timestamp(value: Any) -> str:
    """Accept an aware ``datetime`` or an RFC 3339 string; return the normalised UTC string."""
    if isinstance(value, str):
        return _normalize_text(value)
    return _normalize(value)


@lru_cache(maxsize=4096)
def _normalize_text(value: str) -> str:
    """Memo of :func:`_normalize` for strings (records of one step share their timestamps)."""
    return _normalize(value)


def _normalize(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an RFC 3339 timestamp like '2025-01-01T00:00:00Z'") from None
    else:
        raise ValueError("must be an RFC 3339 timestamp string or an aware datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must carry a timezone (use 'Z' for UTC)")
    return format_datetime(moment)


def utc_now() -> str:
    """The current time, normalised."""
    return format_datetime(datetime.now(UTC))


Timestamp = Annotated[str, BeforeValidator(normalize_timestamp)]


def finite_number(value: Any) -> float:
    """A metric value: a real, finite number (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a finite number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("must be a finite number (NaN and infinity are refused)")
    return number


FiniteFloat = Annotated[float, BeforeValidator(finite_number)]


def _describe(exc: PydanticValidationError, model: str) -> ValidationError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "(model)"
    rule = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    message = f"{model}.{field}: {rule} (got {value!r}){more}"
    return ValidationError(message, field=f"{model}.{field}", rule=rule, value=value)


class ContractModel(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields, contexta errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except PydanticValidationError as exc:
            raise _describe(exc, type(self).__name__) from exc
        self._check()

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            model = super().model_validate(obj, *args, **kwargs)
        except PydanticValidationError as exc:
            raise _describe(exc, cls.__name__) from exc
        model._check()
        return model

    def _check(self) -> None:
        """Cross-field rules; raise :meth:`_fail` naming the field. Subclasses extend."""

    def _fail(self, field: str, rule: str, value: Any) -> ValidationError:
        return ValidationError.for_field(f"{type(self).__name__}.{field}", rule, value)


def check_interval(model: ContractModel, status: str, started_at: str | None, ended_at: str | None) -> None:
    """Terminal statuses need ``ended_at``; ``ended_at`` may not precede ``started_at``."""
    if status in TERMINAL_STATUSES and ended_at is None:
        raise model._fail("ended_at", f"is required when status is {status!r}", ended_at)
    if started_at is not None and ended_at is not None and to_micros(ended_at) < to_micros(started_at):
        raise model._fail("ended_at", f"must not be before started_at {started_at}", ended_at)
