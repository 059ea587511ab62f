"""Plain-text output of the CLI: aligned tables, ``field: value`` blocks and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any


def cell(value: Any) -> str:
    """One table cell: ``-`` for nothing, ``yes``/``no`` for booleans, 6 significant digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def signed(value: float | None) -> str:
    """A delta with its sign (``+0.008``), or ``-`` when one side is missing."""
    return "-" if value is None else format(value, "+.6g")


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; a header line, then one line per row."""
    texts = [[cell(value) for value in row] for row in rows]
    widths = [max([len(column), *(len(row[i]) for row in texts)]) for i, column in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(list(columns)), *(line(row) for row in texts)])


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """``name:  value`` lines with the values aligned."""
    items = [(f"{name}:", cell(value)) for name, value in pairs]
    width = max((len(name) for name, _ in items), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}".rstrip() for name, value in items)


def to_json(data: Any) -> str:
    """Indented JSON (what every ``--json`` prints)."""
    return json.dumps(data, indent=2, default=str)
