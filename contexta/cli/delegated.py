"""Commands whose work lives elsewhere: ``gate`` and ``rollback-candidate`` (contexta.handoff),
``collector`` (contexta.collector) and ``replay`` (contexta.exporters.replay).

``gate``, ``rollback-candidate`` and ``collector`` parse their own arguments: ``contexta NAME
ARGS...`` hands ``ARGS`` to them unchanged (their ``--help`` is theirs, with ``prog`` set to
``contexta NAME``). ``replay`` is an ordinary subcommand whose options come from
:func:`~contexta.exporters.replay.add_replay_arguments`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from contexta.cli.render import note
from contexta.cli.resolve import USAGE, open_workspace
from contexta.cli.terminal import is_terminal

Runner = Callable[[list[str]], int]


@dataclass(frozen=True, slots=True)
class Delegate:
    summary: str
    load: Callable[[], Runner]


def _gate() -> Runner:
    from contexta.handoff.cli import gate_command

    return gate_command


def _rollback() -> Runner:
    from contexta.handoff.cli import rollback_command

    return rollback_command


def _collector() -> Runner:
    from contexta.collector.cli import collector_command

    return collector_command


DELEGATED: dict[str, Delegate] = {
    "gate": Delegate("Evaluate a promotion gate policy against a run; store and print the result.", _gate),
    "rollback-candidate": Delegate(
        "Name the deployment to roll back to: the latest earlier healthy deployment.", _rollback
    ),
    "collector": Delegate("Run an OTLP receiver (HTTP and gRPC) that fills a workspace.", _collector),
}


def run_delegated(name: str, argv: Sequence[str]) -> int:
    """Hand ``argv`` to the command ``name``; its exit code, 2 for an error it let through."""
    runner = DELEGATED[name].load()
    try:
        return runner(list(argv))
    except SystemExit as exc:  # argparse inside the delegate: --help (0), usage errors (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else USAGE)
    except OSError as exc:  # e.g. the collector's port is taken
        note(f"contexta: error: {name}: {exc.strerror or exc}")
        return USAGE


# -- replay -----------------------------------------------------------------------------------
REPLAY_SUMMARY = "Re-send a workspace's runs as OTLP spans, events and metrics to any backend."


def add_replay(sub: Any) -> argparse.ArgumentParser:
    """The ``replay`` subparser: replay's own options (its ``--project`` means "only this project";
    default every project), plus ``--no-progress``."""
    from contexta.exporters.replay import add_replay_arguments

    parser: argparse.ArgumentParser = sub.add_parser(
        "replay", help=REPLAY_SUMMARY, description=REPLAY_SUMMARY
    )
    add_replay_arguments(parser, common=True)
    return parser


class _Stream:
    """stderr as replay's progress bar sees it: a terminal only when a bar is wanted."""

    def __init__(self, stream: TextIO, terminal: bool) -> None:
        self._stream = stream
        self._terminal = terminal

    def isatty(self) -> bool:
        return self._terminal

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def cmd_replay(args: argparse.Namespace) -> int:
    from contexta.exporters.replay import replay_command

    bar = not args.no_progress and is_terminal(sys.stderr)
    with open_workspace(args) as ctx:
        return replay_command(args, ctx, stderr=_Stream(sys.stderr, bar))  # type: ignore[arg-type]
