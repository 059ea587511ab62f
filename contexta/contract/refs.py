"""The ref grammar: ``kind:component.component...``.

Every entity has a ref built from lowercase components joined by dots:

=============  ==============================  ==========
kind           form                            components
=============  ==============================  ==========
project        ``project:p``                   1
run            ``run:p.r``                     2
stage          ``stage:p.r.s``                 3
batch          ``batch:p.r.s.b``               4
sample         ``sample:p.r.s.x``              4 (under a stage)
               ``sample:p.r.s.b.x``            5 (under a batch)
deployment     ``deployment:p.d``              2
record         ``record:p.r.id``               3
artifact       ``artifact:p.r.key``            3
environment    ``environment:p.r``             2
relation       ``relation:p.id``               2
model          ``model:p.name.vN``             3
dataset        ``dataset:a.b...``              1 or more (free: external data)
=============  ==============================  ==========

A component is lowercase alphanumerics with single inner hyphens (``[a-z0-9]+(-[a-z0-9]+)*``),
at most 128 characters. Record ids also allow underscores. Dataset components allow
underscores and uppercase letters are refused like everywhere else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from contexta.errors import ValidationError

COMPONENT: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
RECORD_ID: Final = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
DATASET_COMPONENT: Final = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
MAX_COMPONENT: Final = 128

#: kind -> allowed component counts
ARITY: Final[dict[str, tuple[int, ...]]] = {
    "project": (1,),
    "run": (2,),
    "stage": (3,),
    "batch": (4,),
    "sample": (4, 5),
    "deployment": (2,),
    "record": (3,),
    "artifact": (3,),
    "environment": (2,),
    "relation": (2,),
    "model": (3,),
    "dataset": tuple(range(1, 9)),
}


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed ref: its kind and components."""

    kind: str
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind}:{'.'.join(self.parts)}"

    @property
    def project(self) -> str:
        return self.parts[0]


def _component_ok(kind: str, index: int, count: int, part: str) -> bool:
    if not part or len(part) > MAX_COMPONENT:
        return False
    if kind == "dataset":
        return DATASET_COMPONENT.fullmatch(part) is not None
    if kind == "record" and index == count - 1:
        return RECORD_ID.fullmatch(part) is not None
    return COMPONENT.fullmatch(part) is not None


def parse_ref(value: object, field: str = "ref", kind: str | None = None) -> Ref:
    """Parse and validate ``value``; raise :class:`ValidationError` naming ``field`` if bad."""
    if isinstance(value, str):
        try:
            return _parse_valid(value, kind)
        except ValidationError:
            pass  # parse again below, for the error that names ``field``
    return _parse(value, field, kind)


@lru_cache(maxsize=16384)
def _parse_valid(value: str, kind: str | None) -> Ref:
    """Memo of valid refs: a run or stage ref is parsed for every record that names it, and a
    :class:`Ref` is immutable, so one object can be shared. Errors are not remembered."""
    return _parse(value, "ref", kind)


# One pass over a whole ref whose components are all plain (every kind but dataset and record
# ids): the common case, checked without splitting and matching component by component.
_PLAIN_REF = re.compile(r"([a-z]+):([a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*)")


def _parse(value: object, field: str, kind: str | None) -> Ref:
    if isinstance(value, str) and len(value) <= 1024:
        plain = _PLAIN_REF.fullmatch(value)
        if plain is not None:
            head, body = plain.groups()
            parts = tuple(body.split("."))
            if (
                (kind is None or head == kind)
                and head in ARITY
                and len(parts) in ARITY[head]
                and all(len(part) <= MAX_COMPONENT for part in parts)
            ):
                return Ref(head, parts)
    if not isinstance(value, str):
        raise ValidationError.for_field(field, "must be a ref string like 'run:project.run'", value)
    head, sep, body = value.partition(":")
    if not sep:
        raise ValidationError.for_field(field, "must look like 'kind:component.component'", value)
    if kind is not None and head != kind:
        raise ValidationError.for_field(field, f"must be a {kind!r} ref ('{kind}:...')", value)
    if head not in ARITY:
        raise ValidationError.for_field(field, f"unknown ref kind {head!r}; known: {sorted(ARITY)}", value)
    parts = tuple(body.split("."))
    if len(parts) not in ARITY[head]:
        counts = ARITY[head]
        want = f"{counts[0]} to {counts[-1]}" if len(counts) > 2 else " or ".join(str(n) for n in counts)
        raise ValidationError.for_field(field, f"a {head} ref has {want} dot-separated components", value)
    for index, part in enumerate(parts):
        if not _component_ok(head, index, len(parts), part):
            raise ValidationError.for_field(
                field,
                f"component {part!r} must be lowercase alphanumerics with single hyphens "
                f"(at most {MAX_COMPONENT} characters)",
                value,
            )
    return Ref(head, parts)


def check_component(value: object, field: str) -> str:
    """Validate one name component (project, run, stage, ... name)."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_COMPONENT
        or not COMPONENT.fullmatch(value)
    ):
        raise ValidationError.for_field(
            field, "must be lowercase alphanumerics with single hyphens, 1-128 characters", value
        )
    return value


def make_ref(kind: str, *parts: str) -> str:
    """Join already-valid components into a ref string."""
    return f"{kind}:{'.'.join(parts)}"


def extends(child: Ref, parent: Ref) -> bool:
    """True when ``child``'s components start with all of ``parent``'s."""
    return child.parts[: len(parent.parts)] == parent.parts and len(child.parts) > len(parent.parts)


_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slugify(name: str, field: str = "name") -> str:
    """Make a user-supplied name into a valid component (documented in docs/data-model.md).

    Unicode is folded to ASCII, letters are lowercased, and every run of other characters
    (spaces, dots, underscores, slashes...) becomes one hyphen; leading and trailing hyphens
    are dropped. ``"Train Model_v2.1"`` becomes ``"train-model-v2-1"``.
    """
    if not isinstance(name, str):
        raise ValidationError.for_field(field, "must be a string", name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_DROP.sub("-", ascii_name.lower()).strip("-")
    if not slug:
        raise ValidationError.for_field(field, "must contain at least one letter or digit", name)
    if len(slug) > MAX_COMPONENT:
        raise ValidationError.for_field(
            field, f"is longer than {MAX_COMPONENT} characters once normalised", name
        )
    return slug
