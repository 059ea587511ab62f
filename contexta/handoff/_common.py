"""Shared pieces of the handoff package: the model base, time, actors, store access, refs."""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import secrets
import socket
from typing import Any, Self

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from contexta.contract._base import ContractModel, normalize_timestamp, utc_now
from contexta.contract.refs import check_component, slugify
from contexta.errors import ConfigError, ValidationError

#: A deployment recorded without an environment belongs to this one (``ctx.deployment``'s default).
DEFAULT_ENVIRONMENT = "prod"

#: Stages a model version can only enter with a passing gate evaluation (or a recorded override).
PROTECTED_STAGES: tuple[str, ...] = ("production",)

#: Stages at most one version of a model name holds; promoting another archives the holder.
EXCLUSIVE_STAGES: tuple[str, ...] = ("staging", "production")

_STORE_METHODS = ("add_gate_evaluation", "add_model_version", "add_model_transition", "add_approval")


def _describe(exc: PydanticValidationError, model: str) -> ValidationError:
    """Like the contract models' mapping, but a nested handoff model's error (which pydantic wraps
    as a value error of the outer model) is unwrapped: ``GatePolicy.thresholds.0.min``, its rule
    and its value, instead of a message quoting a message."""
    first = exc.errors(include_url=False)[0]
    inner = (first.get("ctx") or {}).get("error")
    path = [str(part) for part in first["loc"]]
    if not isinstance(inner, ValidationError) or not inner.field:
        rule = first["msg"].removeprefix("Value error, ")
        return ValidationError.for_field(
            ".".join([model, *path]) if path else f"{model}.(model)", rule, first.get("input")
        )
    tail = inner.field.split(".", 1)[1] if "." in inner.field else ""
    path += [tail] if tail and tail != "(model)" else []
    return ValidationError.for_field(
        ".".join([model, *path]) if path else f"{model}.(model)", inner.rule, inner.value
    )


class HandoffModel(ContractModel):
    """Base of the handoff models: immutable, no unknown fields, errors naming the field."""

    def __init__(self, /, **data: Any) -> None:
        try:
            BaseModel.__init__(self, **data)
        except PydanticValidationError as exc:
            raise _describe(exc, type(self).__name__) from None
        self._check()

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            model = BaseModel.model_validate.__func__(cls, obj, *args, **kwargs)  # type: ignore[attr-defined]
        except PydanticValidationError as exc:
            raise _describe(exc, cls.__name__) from None
        model._check()
        return model

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (what ``--json`` prints)."""
        return self.model_dump(mode="json")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces: equal content gives equal text (and an equal hash)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def timestamp(value: Any, field: str = "now") -> str:
    """``None`` is now; otherwise an aware datetime or an RFC 3339 string, normalised."""
    if value is None:
        return utc_now()
    try:
        return normalize_timestamp(value)
    except ValueError as exc:
        raise ValidationError.for_field(field, str(exc), value) from None


def default_actor() -> str:
    """``user@host`` of this process (the evaluator when none is given)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def require_text(value: Any, field: str, *, limit: int = 4096) -> str:
    """A non-empty, non-blank string of at most ``limit`` characters (actors, reasons)."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationError.for_field(
            field, f"must be a non-empty string of at most {limit} characters", value
        )
    return value


def component(value: Any, field: str) -> str:
    """A name component (model name, stage); the error suggests the slug of a near miss."""
    try:
        return check_component(value, field)
    except ValidationError as exc:
        hint = ""
        if isinstance(value, str):
            try:
                hint = f" (did you mean {slugify(value)!r}?)"
            except ValidationError:
                hint = ""
        raise ValidationError(f"{exc}{hint}", field=exc.field, rule=exc.rule, value=exc.value) from None


def new_relation_ref(project: str, prefix: str) -> str:
    """A fresh ``relation:<project>.<prefix>-<20 hex>`` ref (gate evaluations, approvals)."""
    return f"relation:{project}.{prefix}-{secrets.token_hex(10)}"


def handoff_store(ctx: Any) -> Any:
    """The workspace store, checked to hold the handoff tables (the SQLite store does)."""
    store = ctx.store
    if not all(hasattr(store, name) for name in _STORE_METHODS):
        raise ConfigError(
            f"the production handoff needs a store with the handoff tables (migration 2); "
            f"{type(store).__name__} has none (use the embedded SQLite store)"
        )
    return store


def project_name(ctx: Any, project: str | None, field: str = "project") -> str:
    """``project`` (``"p"`` or ``"project:p"``), else the project ``ctx`` was opened with."""
    name = project if project is not None else getattr(ctx, "default_project", None)
    if name is None:
        raise ValidationError.for_field(field, "is required when no project_name is configured", None)
    if not isinstance(name, str):
        raise ValidationError.for_field(field, "must be a project name or 'project:' ref", name)
    return check_component(name.removeprefix("project:"), field)


_ANCHOR = re.compile(r"[^a-z0-9]+")


def anchor(ref: str) -> str:
    """An HTML id for a ref: ``record:p.r.r1`` -> ``ref-record-p-r-r1``."""
    return "ref-" + _ANCHOR.sub("-", ref.lower()).strip("-")
