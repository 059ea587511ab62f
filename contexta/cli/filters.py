"""``runs --since`` and ``runs --where``: parsing (bad input is a UsageError naming the rule) and matching."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contexta.cli.resolve import UsageError

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
WHERE_RULE = "must be [STAGE/]KEY OP NUMBER with OP one of > >= < <= == != (e.g. 'evaluate/accuracy>0.9')"
SINCE_RULE = (
    "must be an ISO date or time (2025-03-01, 2025-03-01T12:00:00Z) or N followed by s, m, h, d or w (7d)"
)

_WHERE = re.compile(r"\s*(?P<left>[^<>=!\s]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>\S+)\s*")
_STAGE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,199}")
_RELATIVE = re.compile(r"(?P<count>\d+)\s*(?P<unit>[smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

ANY = "*"  # the stage part of '*/KEY': run level or any stage (lets KEY contain '/')

LatestMetrics = Mapping[str | None, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class Condition:
    """``STAGE/KEY OP VALUE``; ``stage`` None means run level or any stage."""

    text: str
    stage: str | None
    key: str
    op: str
    value: float

    def holds(self, latest: LatestMetrics) -> bool:
        """True when the latest value of the key (in the stage, or in any scope) satisfies it."""
        if self.stage is not None:
            values = [latest.get(self.stage, {}).get(self.key)]
        else:
            values = [group.get(self.key) for group in latest.values()]
        compare = OPS[self.op]
        return any(value is not None and compare(value, self.value) for value in values)


def parse_where(text: str) -> Condition:
    """``'evaluate/accuracy>0.9'``, ``'loss<=0.5'``, ``'*/train/loss<0.5'``."""
    match = _WHERE.fullmatch(text)
    if match is None:
        raise UsageError(f"--where {text!r}: {WHERE_RULE}")
    left, op, raw = match["left"], match["op"], match["value"]
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"--where {text!r}: the value {raw!r} is not a number ({WHERE_RULE})") from None
    stage: str | None
    if "/" in left:
        stage, key = left.split("/", 1)
        if stage == ANY:
            stage = None
        elif not _STAGE.fullmatch(stage):
            raise UsageError(
                f"--where {text!r}: stage {stage!r} must be a stage name (lowercase alphanumerics "
                "with single hyphens), or '*' for any stage"
            )
    else:
        stage, key = None, left
    if not _KEY.fullmatch(key):
        raise UsageError(
            f"--where {text!r}: metric key {key!r} must start with a letter or digit and hold only "
            "letters, digits, '_', '.', '-' and '/'"
        )
    return Condition(text, stage, key, op, value)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC moment: an ISO date (midnight UTC), date-time (UTC when no offset) or ``7d``."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        delta = timedelta(**{_UNITS[relative["unit"]]: int(relative["count"])})
        return (now or datetime.now(UTC)) - delta
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since {text!r}: {SINCE_RULE}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def started_since(started_at: str, moment: datetime) -> bool:
    return datetime.fromisoformat(started_at) >= moment
