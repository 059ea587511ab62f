"""What the CLI prints: blocks (tables, ``field: value`` lists, lines) as plain text or with rich.

Plain text (what scripts, pipes and tests see) is the stable format: aligned columns, two
spaces apart. On a terminal (see :mod:`contexta.cli.terminal`) the same blocks are drawn as
rich tables. JSON is always plain.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contexta.cli.terminal import console, stdout_is_terminal


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


def emit(text: str) -> None:
    """Data: stdout."""
    print(text, file=sys.stdout)


def note(text: str) -> None:
    """Messages: stderr."""
    print(text, file=sys.stderr)


# -- blocks -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Table:
    """A table; its title (when given) is printed on the line above it."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Fields:
    """``name: value`` pairs."""

    pairs: Sequence[tuple[str, Any]] = field(default_factory=list)


Block = str | Table | Fields


def plain(blocks: Sequence[Block]) -> str:
    """The blocks as plain text, separated by one empty line."""
    parts = []
    for block in blocks:
        if isinstance(block, Table):
            text = table(block.columns, block.rows)
            parts.append(f"{block.title}\n{text}" if block.title else text)
        elif isinstance(block, Fields):
            parts.append(fields(block.pairs))
        else:
            parts.append(block)
    return "\n\n".join(parts)


def show(blocks: Sequence[Block]) -> None:
    """Print ``blocks`` on stdout: rich tables on a terminal, plain text elsewhere."""
    if not stdout_is_terminal():
        print(plain(blocks), file=sys.stdout)
        return
    out = console(sys.stdout)
    for index, block in enumerate(blocks):
        if index:
            out.print()
        out.print(_rich(block))


def _rich(block: Block) -> Any:
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    if isinstance(block, Table):
        drawn = RichTable(
            *block.columns,
            title=block.title,
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            header_style="bold",
        )
        for row in block.rows:
            drawn.add_row(*(Text(cell(value)) for value in row))
        return drawn
    if isinstance(block, Fields):
        grid = RichTable.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for name, value in block.pairs:
            grid.add_row(Text(f"{name}:"), Text(cell(value)))
        return grid
    return Text(block)
