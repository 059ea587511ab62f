"""Generate the semconv Python module and docs tables from ``registry.yaml``.

Usage::

    python -m contexta.semconv._generate          # rewrite the outputs that differ
    python -m contexta.semconv._generate --check  # exit 1 if any output is stale

Outputs: ``contexta/semconv/attributes.py``, ``contexta/semconv/__init__.py`` and the blocks
between ``<!-- semconv-<name>:start -->`` / ``<!-- semconv-<name>:end -->`` markers in
``docs/semantic-conventions.md``. This is a development tool: it needs PyYAML, the generated
module does not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMESPACE = "contexta."
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
CLASS_PATTERN = re.compile(r"[A-Z][A-Za-z0-9]*")
SIMPLE_TYPES = ("string", "int", "double", "boolean", "string[]", "int[]", "double[]", "boolean[]")
STABILITIES = ("development", "alpha", "beta", "release_candidate", "stable")
REQUIREMENT_LEVELS = ("required", "recommended", "opt_in")
SPAN_KINDS = ("internal", "client", "server", "producer", "consumer")
INSTRUMENTS = ("counter", "gauge", "histogram", "updowncounter")
METRIC_KEY_PLACEHOLDER = ".<key>"
ENTITY_KIND_KEY = "contexta.entity.kind"
WIDTH = 100
_EXAMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "double": (float, int),
    "boolean": (bool,),
}


class RegistryError(ValueError):
    """``registry.yaml`` breaks a rule of the format or of contexta's naming policy."""


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Member:
    """One enum member: its id, wire value and description."""

    id: str
    value: str
    brief: str

    @property
    def constant(self) -> str:
        return self.id.upper()


@dataclass(frozen=True)
class Attribute:
    """One registered attribute key."""

    key: str
    type: str  # one of SIMPLE_TYPES, or "enum"
    brief: str
    note: str
    stability: str
    examples: tuple[Any, ...]
    group: str  # ``<group id>: <group brief>``, the comment above its constants
    members: tuple[Member, ...] = ()
    enum_class: str = ""

    @property
    def constant(self) -> str:
        return constant_name(self.key)

    @property
    def otel_type(self) -> str:
        return "string" if self.type == "enum" else self.type


@dataclass(frozen=True)
class Use:
    """A span, event or metric group's reference to an attribute, with its requirement level."""

    key: str
    requirement: str
    condition: str = ""

    @property
    def label(self) -> str:
        return (
            f"conditionally required: {self.condition}"
            if self.condition
            else self.requirement.replace("_", "-")
        )


@dataclass(frozen=True)
class Signal:
    """A span, event or metric group; ``name`` is the entity kind, event name or metric name."""

    id: str
    type: str
    name: str
    brief: str
    note: str
    uses: tuple[Use, ...]
    events: tuple[str, ...] = ()
    span_kind: str = ""
    instrument: str = ""
    unit: str = ""

    @property
    def constant(self) -> str:
        """Python name of an event (``EVENT_METRIC``) or stem of a metric's names (``METRIC``)."""
        stem = constant_name(self.name.removesuffix(METRIC_KEY_PLACEHOLDER))
        return f"EVENT_{stem}" if self.type == "event" else stem

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(use.key for use in self.uses if use.requirement == "required")


@dataclass(frozen=True)
class Registry:
    """Everything ``registry.yaml`` defines, validated."""

    attributes: tuple[Attribute, ...]
    spans: tuple[Signal, ...]
    events: tuple[Signal, ...]
    metrics: tuple[Signal, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(attribute.key for attribute in self.attributes)

    @property
    def enums(self) -> tuple[Attribute, ...]:
        return tuple(attribute for attribute in self.attributes if attribute.type == "enum")


def constant_name(key: str) -> str:
    """Python constant for an attribute key: ``contexta.run.ref`` -> ``RUN_REF``."""
    return key.removeprefix(NAMESPACE).replace(".", "_").upper()


def is_valid_key(key: str) -> bool:
    """True for lowercase, dot-separated, snake_case keys (the OTel naming rules)."""
    return KEY_PATTERN.fullmatch(key) is not None


def prefix_conflicts(keys: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs ``(leaf, longer)`` where the key ``leaf`` is also a namespace of ``longer``."""
    key_set = set(keys)
    conflicts = []
    for key in sorted(key_set):
        parts = key.split(".")
        for end in range(1, len(parts)):
            namespace = ".".join(parts[:end])
            if namespace in key_set:
                conflicts.append((namespace, key))
    return conflicts


def export_sort_key(name: str) -> tuple[int, list[int | str]]:
    """Order of ruff's isort-style ``__all__`` sort: CONSTANTS, then Classes, then others."""
    category = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    natural: list[int | str] = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return category, natural


_MAPPINGS = (
    "ATTRIBUTE_TYPES",
    "SPAN_ATTRIBUTES",
    "REQUIRED_SPAN_ATTRIBUTES",
    "SPAN_EVENTS",
    "EVENT_ATTRIBUTES",
    "REQUIRED_EVENT_ATTRIBUTES",
)
_METRIC_SUFFIXES = ("NAME_PREFIX", "POINT_ATTRIBUTES")


def _generated_names(registry: Registry) -> list[str]:
    """Every public name of the generated module, duplicates kept (so that they can be found)."""
    names = [attribute.constant for attribute in registry.attributes]
    names += [event.constant for event in registry.events]
    names += [f"{metric.constant}_{suffix}" for metric in registry.metrics for suffix in _METRIC_SUFFIXES]
    names += [attribute.enum_class for attribute in registry.enums]
    return names + list(_MAPPINGS)


# ----------------------------------------------------------------------------- loading


def load_registry(path: Path) -> Registry:
    """Read and validate ``path`` (needs PyYAML, a development dependency)."""
    import yaml  # imported here: only the generator needs PyYAML

    with path.open(encoding="utf-8") as handle:
        return parse_registry(yaml.safe_load(handle))


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise RegistryError(f"{where}: {message}")


def _text(data: Mapping[str, Any], field: str, where: str, *, required: bool = True) -> str:
    value = data.get(field, "")
    _require(isinstance(value, str), where, f"{field!r} must be a string")
    _require(bool(value) or not required, where, f"{field!r} is required")
    _require('"""' not in value and "\\" not in value, where, f"{field!r} may not hold triple quotes or \\")
    return " ".join(value.split())


def _choice(data: Mapping[str, Any], field: str, choices: Sequence[str], where: str) -> str:
    value = data.get(field)
    _require(value in choices, where, f"{field!r} must be one of {tuple(choices)}")
    return str(value)


def _examples(raw: Any, kind: str, where: str) -> tuple[Any, ...]:
    if raw is None:
        _require(kind not in ("string", "string[]"), where, "string attributes need examples")
        return ()
    if kind.endswith("[]"):
        values = raw if isinstance(raw, list) and raw and isinstance(raw[0], list) else [raw]
    else:
        values = raw if isinstance(raw, list) else [raw]
    scalar = "string" if kind == "enum" else kind.removesuffix("[]")
    for value in values:
        items = value if kind.endswith("[]") else [value]
        _require(isinstance(items, list), where, f"example {value!r} must be a list")
        for item in items:
            ok = isinstance(item, _EXAMPLE_TYPES[scalar]) and (
                scalar == "boolean" or not isinstance(item, bool)
            )
            _require(ok, where, f"example {item!r} is not of type {scalar}")
            _require("`" not in str(item), where, f"example {item!r} may not contain a backtick")
    return tuple(values)


def _members(raw: Any, where: str) -> tuple[Member, ...]:
    _require(isinstance(raw, list) and bool(raw), where, "an enum needs a non-empty 'members' list")
    members = []
    for entry in raw:
        _require(
            isinstance(entry.get("value"), str), where, f"member {entry.get('id')!r} needs a string value"
        )
        _require(
            entry.get("stability") in STABILITIES, where, f"member {entry.get('id')!r} needs a stability"
        )
        member_id = _text(entry, "id", where)
        _require(
            KEY_PATTERN.fullmatch(member_id) is not None and "." not in member_id, where, "bad member id"
        )
        members.append(Member(member_id, entry["value"], _text(entry, "brief", where)))
    for field in ("id", "value"):
        seen = [getattr(member, field) for member in members]
        _require(len(seen) == len(set(seen)), where, f"enum member {field}s must be unique: {seen}")
    return tuple(members)


def _attribute(entry: Mapping[str, Any], group: str) -> Attribute:
    where = f"attribute {entry.get('id')!r}"
    _require("ref" not in entry, where, "registry groups define attributes, they do not reference them")
    key = _text(entry, "id", where)
    _require(is_valid_key(key), where, "keys are lowercase dot-separated snake_case components")
    _require(key.startswith(NAMESPACE), where, f"keys live under {NAMESPACE!r}; reference standard OTel keys")
    stability = _choice(entry, "stability", STABILITIES, where)
    raw_type = entry.get("type")
    members: tuple[Member, ...] = ()
    enum_class = ""
    if isinstance(raw_type, Mapping):
        kind = "enum"
        members = _members(raw_type.get("members"), where)
        enum_class = _text(entry.get("annotations", {}).get("python", {}), "enum", where)
        _require(bool(CLASS_PATTERN.fullmatch(enum_class)), where, "annotations.python.enum: CamelCase class")
    else:
        kind = _choice(entry, "type", SIMPLE_TYPES, where)
    examples = _examples(entry.get("examples"), kind, where)
    if members:
        values = {member.value for member in members}
        _require(all(value in values for value in examples), where, "enum examples must be member values")
    return Attribute(
        key=key,
        type=kind,
        brief=_text(entry, "brief", where),
        note=_text(entry, "note", where, required=False),
        stability=stability,
        examples=examples,
        group=group,
        members=members,
        enum_class=enum_class,
    )


def _uses(entries: Any, keys: set[str], where: str) -> tuple[Use, ...]:
    _require(isinstance(entries, list) and bool(entries), where, "'attributes' must be a non-empty list")
    uses = []
    for entry in entries:
        key = entry.get("ref")
        _require(key in keys, where, f"ref {key!r} is not a registered attribute")
        _require(set(entry) <= {"ref", "requirement_level"}, where, f"ref {key!r}: only requirement_level")
        level = entry.get("requirement_level", "recommended")
        if isinstance(level, Mapping):
            uses.append(Use(key, "conditionally_required", _text(level, "conditionally_required", where)))
        else:
            _require(level in REQUIREMENT_LEVELS, where, f"ref {key!r}: bad requirement_level {level!r}")
            uses.append(Use(key, str(level)))
    seen = [use.key for use in uses]
    _require(len(seen) == len(set(seen)), where, "an attribute is referenced twice")
    return tuple(uses)


def _signal(group: Mapping[str, Any], keys: set[str], entity_kinds: set[str]) -> Signal:
    where = f"group {group['id']!r}"
    kind = group["type"]
    _choice(group, "stability", STABILITIES, where)
    common = {
        "id": group["id"],
        "type": kind,
        "brief": _text(group, "brief", where),
        "note": _text(group, "note", where, required=False),
        "uses": _uses(group.get("attributes"), keys, where),
    }
    if kind == "span":
        entity = group["id"].removeprefix("span.contexta.")
        _require(entity in entity_kinds, where, f"span ids are 'span.contexta.<{ENTITY_KIND_KEY} value>'")
        span_kind = _choice(group, "span_kind", SPAN_KINDS, where)
        events = group.get("events", [])
        _require(isinstance(events, list), where, "'events' must be a list of event group ids")
        return Signal(name=entity, events=tuple(events), span_kind=span_kind, **common)
    if kind == "event":
        name = _text(group, "name", where)
        _require(is_valid_key(name) and name.startswith(NAMESPACE), where, "event names are contexta.<name>")
        return Signal(name=name, **common)
    name = _text(group, "metric_name", where)
    stem = name.removesuffix(METRIC_KEY_PLACEHOLDER)
    _require(
        name.endswith(METRIC_KEY_PLACEHOLDER) and is_valid_key(stem), where, "metric_name: <prefix>.<key>"
    )
    instrument = _choice(group, "instrument", INSTRUMENTS, where)
    return Signal(name=name, instrument=instrument, unit=_text(group, "unit", where), **common)


def parse_registry(data: Any) -> Registry:
    """Validate the loaded YAML document and build a :class:`Registry`."""
    _require(isinstance(data, Mapping) and isinstance(data.get("groups"), list), "registry", "needs 'groups'")
    groups = data["groups"]
    for group in groups:
        _require(
            isinstance(group, Mapping) and isinstance(group.get("id"), str), "registry", "group needs id"
        )
        _require(group.get("type") in ("attribute_group", "span", "event", "metric"), group["id"], "bad type")
    group_ids = [group["id"] for group in groups]
    _require(len(group_ids) == len(set(group_ids)), "registry", "group ids must be unique")
    attributes = tuple(
        _attribute(entry, f"{group['id']}: {_text(group, 'brief', group['id'])}")
        for group in groups
        if group["type"] == "attribute_group"
        for entry in group.get("attributes", [])
    )
    keys = [attribute.key for attribute in attributes]
    _require(len(keys) == len(set(keys)), "registry", "attribute keys must be unique")
    conflicts = prefix_conflicts(keys)
    _require(not conflicts, "registry", f"a key may not also be the namespace of another key: {conflicts}")
    entity = next((attribute for attribute in attributes if attribute.key == ENTITY_KIND_KEY), None)
    _require(entity is not None, "registry", f"{ENTITY_KIND_KEY!r} must be registered")
    entity_kinds = {member.value for member in entity.members} if entity else set()
    signals = [
        _signal(group, set(keys), entity_kinds) for group in groups if group["type"] != "attribute_group"
    ]
    registry = Registry(
        attributes=attributes,
        spans=tuple(signal for signal in signals if signal.type == "span"),
        events=tuple(signal for signal in signals if signal.type == "event"),
        metrics=tuple(signal for signal in signals if signal.type == "metric"),
    )
    event_ids = {event.id: event.name for event in registry.events}
    for span in registry.spans:
        unknown = [event for event in span.events if event not in event_ids]
        _require(not unknown, span.id, f"unknown event groups {unknown}")
    names = _generated_names(registry)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    _require(not duplicates, "registry", f"generated Python names collide: {duplicates}")
    return registry


# ----------------------------------------------------------------------------- Python output

_HEADER = "Generated from ``registry.yaml`` by ``python -m contexta.semconv._generate``; do not edit."


def _rst(text: str) -> str:
    """YAML text for a docstring: Markdown `code` becomes reStructuredText ``code``."""
    return re.sub(r"(?<!`)`(?!`)", "``", text)


def _docstring(paragraphs: Sequence[str], indent: str = "") -> list[str]:
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    single = f'{indent}"""{paragraphs[0]}"""'
    if len(paragraphs) == 1 and len(single) <= WIDTH:
        return [single]
    lines: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if index:
            lines.append("")
        lines.extend(textwrap.wrap(paragraph, WIDTH - len(indent) - 3, break_long_words=False))
    lines[0] = '"""' + lines[0]
    return [f"{indent}{line}" if line else "" for line in lines] + [f'{indent}"""']


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def _examples_text(examples: Sequence[Any]) -> str:
    return ", ".join(f"``{_literal(example)}``" for example in examples)


def _attribute_docstring(attribute: Attribute) -> list[str]:
    if attribute.type == "enum":
        detail = f"Type ``string``, one of :class:`{attribute.enum_class}`."
    else:
        detail = f"Type ``{attribute.type}``."
    if attribute.examples:
        label = "Examples" if len(attribute.examples) > 1 else "Example"
        detail += f" {label}: {_examples_text(attribute.examples)}."
    return _docstring([_rst(attribute.brief), _rst(attribute.note), detail])


def _tuple(names: Sequence[str], indent: str) -> list[str]:
    return ["(", *(f"{indent}    {name}," for name in names), f"{indent})"]


def _mapping(declaration: str, entries: Sequence[tuple[str, Sequence[str] | str]], doc: str) -> list[str]:
    lines = [f"{declaration} = MappingProxyType(", "    {"]
    for key, value in entries:
        if isinstance(value, str) or not value:
            lines.append(f"        {key}: {value or '()'},")
        else:
            head, *rest = _tuple(value, "        ")
            lines.append(f"        {key}: {head}")
            lines.extend(rest[:-1])
            lines.append(rest[-1] + ",")
    return [*lines, "    }", ")", *_docstring([doc]), ""]


def _span_key(registry: Registry, span: Signal) -> str:
    entity = next(attribute for attribute in registry.attributes if attribute.key == ENTITY_KIND_KEY)
    return f"{entity.enum_class}.{span.name.upper()}"


def _constants(registry: Registry) -> list[str]:
    lines: list[str] = []
    previous_group = ""
    for attribute in registry.attributes:
        if attribute.group != previous_group:
            lines += ["", f"# {attribute.group}"]
            previous_group = attribute.group
        lines += ["", f'{attribute.constant}: Final = "{attribute.key}"', *_attribute_docstring(attribute)]
    lines += ["", "# Span event names (a namespace of their own, apart from attribute keys)"]
    for event in registry.events:
        lines += ["", f'{event.constant}: Final = "{event.name}"']
        lines += _docstring([_rst(f"Span event name. {event.brief}"), _rst(event.note)])
    for metric in registry.metrics:
        prefix = metric.name.removesuffix("<key>")
        stem = metric.constant
        lines += ["", "# Metric instruments (a namespace of their own, apart from attribute keys)", ""]
        lines.append(f'{stem}_NAME_PREFIX: Final = "{prefix}"')
        lines += _docstring(
            [f"{metric.instrument.capitalize()} names are ``{metric.name}``. {_rst(metric.brief)}"]
        )
        names = [registry_constant(registry, use.key) for use in metric.uses]
        lines += ["", f"{stem}_POINT_ATTRIBUTES: Final[tuple[str, ...]] = ({', '.join(names)})"]
        lines += _docstring([f"The only attributes of {metric.instrument} points (bounded cardinality)."])
    return lines


def registry_constant(registry: Registry, key: str) -> str:
    """Python constant of a registered key."""
    return next(attribute.constant for attribute in registry.attributes if attribute.key == key)


def _enums(registry: Registry) -> list[str]:
    lines: list[str] = []
    for attribute in registry.enums:
        lines += ["", "", f"class {attribute.enum_class}(StrEnum):"]
        lines += _docstring([f"Values of ``{attribute.key}``. {_rst(attribute.brief)}"], "    ")
        for member in attribute.members:
            lines += ["", f'    {member.constant} = "{member.value}"']
            lines += _docstring([_rst(member.brief)], "    ")
    return lines


def _mappings(registry: Registry) -> list[str]:
    def names(keys: Iterable[str]) -> list[str]:
        return [registry_constant(registry, key) for key in keys]

    entity_class = next(a.enum_class for a in registry.enums if a.key == ENTITY_KIND_KEY)
    span_type = f"Final[Mapping[{entity_class}, tuple[str, ...]]]"
    event_type = "Final[Mapping[str, tuple[str, ...]]]"
    event_names = {event.id: event.constant for event in registry.events}
    spans = registry.spans
    events = registry.events
    return [
        "",
        "",
        *_mapping(
            "ATTRIBUTE_TYPES: Final[Mapping[str, str]]",
            [(a.constant, f'"{a.otel_type}"') for a in registry.attributes],
            "OTel attribute type of every registered key (enums are strings).",
        ),
        *_mapping(
            f"SPAN_ATTRIBUTES: {span_type}",
            [(_span_key(registry, s), names(u.key for u in s.uses)) for s in spans],
            "Attribute keys a span of each entity kind carries.",
        ),
        *_mapping(
            f"REQUIRED_SPAN_ATTRIBUTES: {span_type}",
            [(_span_key(registry, s), names(s.required)) for s in spans],
            "Attribute keys a span of each entity kind must carry.",
        ),
        *_mapping(
            f"SPAN_EVENTS: {span_type}",
            [(_span_key(registry, s), [event_names[e] for e in s.events]) for s in spans],
            "Span event names allowed on a span of each entity kind.",
        ),
        *_mapping(
            f"EVENT_ATTRIBUTES: {event_type}",
            [(e.constant, names(u.key for u in e.uses)) for e in events],
            "Attribute keys each span event carries.",
        ),
        *_mapping(
            f"REQUIRED_EVENT_ATTRIBUTES: {event_type}",
            [(e.constant, names(e.required)) for e in events],
            "Attribute keys each span event must carry.",
        ),
    ]


def public_names(registry: Registry) -> list[str]:
    """Every name ``attributes.py`` exports, in ``__all__`` order."""
    return sorted(_generated_names(registry), key=export_sort_key)


def _all(names: Sequence[str]) -> list[str]:
    return ["__all__ = [", *(f'    "{name}",' for name in names), "]"]


def render_module(registry: Registry) -> str:
    """Text of ``attributes.py``."""
    lines = [
        '"""Attribute keys, enum values and span event names of contexta\'s semantic conventions.',
        "",
        _HEADER,
        '"""',
        "",
        "from collections.abc import Mapping",
        "from enum import StrEnum",
        "from types import MappingProxyType",
        "from typing import Final",
        "",
        *_all(public_names(registry)),
        *_constants(registry),
        *_enums(registry),
        *_mappings(registry),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_init(registry: Registry) -> str:
    """Text of ``__init__.py``: re-exports of ``attributes.py`` only."""
    names = public_names(registry)
    lines = [
        '"""contexta\'s semantic conventions: every attribute key, enum and span event name.',
        "",
        "The definitions live in ``registry.yaml``; see docs/semantic-conventions.md.",
        _HEADER,
        '"""',
        "",
        "from contexta.semconv.attributes import (",
        *(f"    {name}," for name in names),
        ")",
        "",
        *_all(names),
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- Markdown output


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code_list(values: Sequence[Any]) -> str:
    return ", ".join(f"`{_literal(value)}`" for value in values)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]


def render_attribute_table(registry: Registry) -> str:
    """Markdown table of every attribute, sorted by key."""
    rows = [
        (
            f"`{a.key}`",
            "string (enum)" if a.type == "enum" else a.type,
            a.stability,
            " ".join(filter(None, [a.brief, a.note])),
            _code_list(a.examples),
        )
        for a in sorted(registry.attributes, key=lambda attribute: attribute.key)
    ]
    return "\n".join(_table(("Key", "Type", "Stability", "Description", "Examples"), rows))


def render_enum_tables(registry: Registry) -> str:
    """One Markdown table of values per enum attribute."""
    lines: list[str] = []
    for attribute in sorted(registry.enums, key=lambda a: a.key):
        lines += [f"#### `{attribute.key}` (`{attribute.enum_class}`)", ""]
        lines += _table(("Value", "Description"), [(f"`{m.value}`", m.brief) for m in attribute.members])
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _uses_table(signal: Signal) -> list[str]:
    return _table(("Attribute", "Requirement level"), [(f"`{u.key}`", u.label) for u in signal.uses])


def render_signal_tables(registry: Registry) -> str:
    """Markdown sections for every span, span event and metric instrument group."""
    event_names = {event.id: event.name for event in registry.events}
    lines: list[str] = []
    for span in registry.spans:
        lines += [
            f"#### `{span.name}` span (`{span.id}`)",
            "",
            " ".join(filter(None, [span.brief, span.note])),
        ]
        lines += ["", f"Span kind: `{span.span_kind.upper()}`.", "", *_uses_table(span), ""]
        lines += [f"Span events: {_code_list([event_names[e] for e in span.events])}.", ""]
    for event in registry.events:
        lines += [
            f"#### `{event.name}` span event (`{event.id}`)",
            "",
            " ".join(filter(None, [event.brief, event.note])),
        ]
        lines += ["", *_uses_table(event), ""]
    for metric in registry.metrics:
        lines += [f"#### `{metric.name}` {metric.instrument} (`{metric.id}`)", ""]
        lines += [" ".join(filter(None, [metric.brief, metric.note])), "", f"Unit: `{metric.unit}`.", ""]
        lines += [*_uses_table(metric), ""]
    return "\n".join(lines).rstrip("\n")


def replace_block(text: str, name: str, body: str) -> str:
    """Put ``body`` between the ``semconv-<name>`` start and end markers of ``text``."""
    start, end = f"<!-- semconv-{name}:start -->", f"<!-- semconv-{name}:end -->"
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found_start or not found_end:
        raise RegistryError(f"docs: markers {start} ... {end} not found")
    return f"{head}{start}\n{body}\n{end}{tail}"


def render_docs(registry: Registry, current: str) -> str:
    """``current`` docs text with every generated block brought up to date."""
    text = replace_block(current, "table", render_attribute_table(registry))
    text = replace_block(text, "enums", render_enum_tables(registry))
    return replace_block(text, "signals", render_signal_tables(registry))


# ----------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class Paths:
    """Where the registry and the generated outputs live."""

    registry: Path
    module: Path
    init: Path
    docs: Path

    @classmethod
    def default(cls) -> Paths:
        package = Path(__file__).resolve().parent
        return cls(
            registry=package / "registry.yaml",
            module=package / "attributes.py",
            init=package / "__init__.py",
            docs=package.parent.parent / "docs" / "semantic-conventions.md",
        )


def expected_outputs(paths: Paths) -> dict[Path, str]:
    """What each generated file should contain, given the registry and the docs prose."""
    registry = load_registry(paths.registry)
    return {
        paths.module: render_module(registry),
        paths.init: render_init(registry),
        paths.docs: render_docs(registry, paths.docs.read_text(encoding="utf-8")),
    }


def sync(paths: Paths, *, check: bool) -> list[Path]:
    """Return the outputs that differ from the registry; rewrite them unless ``check``."""
    stale = []
    for path, text in expected_outputs(paths).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m contexta.semconv._generate",
        description="Generate the semconv Python module and docs tables from registry.yaml.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if an output is stale; write nothing")
    args = parser.parse_args(argv)
    try:
        stale = sync(Paths.default(), check=args.check)
    except RegistryError as exc:
        print(f"registry.yaml: {exc}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'stale' if args.check else 'rewrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
