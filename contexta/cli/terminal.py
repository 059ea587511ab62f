"""Is this a terminal? Rich consoles and progress bars only when it is.

``$CONTEXTA_FORCE_TTY`` overrides the detection for both stdout and stderr: ``1`` draws rich
tables and progress bars even into a pipe or a file (with ANSI codes), ``0`` never does.
Anything else (or unset): ask the stream's ``isatty()``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

FORCE_TTY = "CONTEXTA_FORCE_TTY"


def _forced() -> bool | None:
    value = os.environ.get(FORCE_TTY, "").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return None


def is_terminal(stream: TextIO) -> bool:
    forced = _forced()
    if forced is not None:
        return forced
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def stdout_is_terminal() -> bool:
    return is_terminal(sys.stdout)


def console(stream: TextIO) -> Any:
    """A rich ``Console`` on ``stream`` (forced to terminal mode under ``CONTEXTA_FORCE_TTY=1``)."""
    from rich.console import Console

    return Console(file=stream, force_terminal=_forced() or None, highlight=False, soft_wrap=False)


class Progress:
    """``advance(n)`` / ``update(done, total)`` of one task; does nothing when disabled."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def advance(self, units: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, units)

    def update(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)


@contextmanager
def progress(label: str, total: int | None, *, quiet: bool = False) -> Iterator[Progress]:
    """A rich progress bar on stderr while the block runs, when stderr is a terminal and not ``quiet``.

    Never on a pipe or a file, so logs and captured output stay clean; the bar disappears when
    the work is done.
    """
    if quiet or not is_terminal(sys.stderr):
        yield Progress()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(sys.stderr),
        transient=True,
    )
    with bar:
        yield Progress(bar, bar.add_task(label, total=total))
