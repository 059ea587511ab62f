"""The one error tree of contexta.

::

    ContextaError                  every error contexta raises on purpose
    ├── ValidationError            bad input at the API boundary (also a ValueError);
    │                              names the field, the rule and the value
    ├── ConfigError                bad settings (argument, environment variable, file)
    ├── NotFoundError              a ref that the workspace does not hold (also a KeyError)
    ├── ConflictError              the same ref written twice with different content
    ├── StoreError                 the storage backend failed (mapped once, in the store)
    │   └── SchemaError            the workspace schema is newer than this contexta, or damaged
    └── TransportError             OTLP encode/decode or network failures (collector, replay)

Low-level errors (``sqlite3.Error``, ``pydantic.ValidationError``, protobuf decode errors)
are mapped to this tree at exactly one boundary each and chained with ``raise ... from exc``.
The telemetry hot path never raises any of these into user code: it logs once and counts.
"""

from __future__ import annotations

from typing import Any


class ContextaError(Exception):
    """Base class of every error contexta raises on purpose."""


class ValidationError(ContextaError, ValueError):
    """Input broke a rule. ``field``, ``rule`` and ``value`` say which, where and what."""

    def __init__(self, message: str, *, field: str = "", rule: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.value = value

    @classmethod
    def for_field(cls, field: str, rule: str, value: Any) -> ValidationError:
        """Build the standard message: ``<field>: <rule> (got <value!r>)``."""
        return cls(f"{field}: {rule} (got {value!r})", field=field, rule=rule, value=value)


class ConfigError(ContextaError):
    """A setting is invalid; the message names the setting, its source and the value."""


class NotFoundError(ContextaError, KeyError):
    """The workspace holds no entity with this ref."""

    def __init__(self, ref: str, what: str = "entity") -> None:
        super().__init__(f"{what} not found: {ref!r}")
        self.ref = ref

    def __str__(self) -> str:  # KeyError would otherwise quote the message again
        return str(self.args[0])


class ConflictError(ContextaError):
    """The same ref was written again with different content; the first write stands."""

    def __init__(self, ref: str, detail: str = "") -> None:
        message = f"conflict: {ref!r} already exists with different content"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.ref = ref


class StoreError(ContextaError):
    """The storage backend failed; the original error is chained as ``__cause__``."""


class SchemaError(StoreError):
    """The workspace schema is unknown to this version of contexta, or damaged."""


class TransportError(ContextaError):
    """OTLP encoding, decoding or delivery failed."""
