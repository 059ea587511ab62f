"""The ``contexta`` command: dispatch, exit codes and error messages.

Exit codes: 0 success; 1 findings (``diagnose`` found issues at or above ``--fail-on``,
``doctor`` found the workspace unsound, a ``gate`` failed, no ``rollback-candidate``, a
``replay`` batch refused); 2 usage or bad input (unknown option, missing workspace, invalid
ref, unknown run...). Errors print ``contexta: error: <message>`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from contexta.cli.delegated import DELEGATED, run_delegated
from contexta.cli.parser import build_parser
from contexta.cli.resolve import OK, USAGE, UsageError
from contexta.errors import ContextaError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script passes it to ``sys.exit``)."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        if words and words[0] in DELEGATED:
            return run_delegated(words[0], words[1:])
        return _dispatch(words)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `contexta runs | head -1`: stop quietly
        _silence_stdout()
        return OK


def _dispatch(words: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else USAGE)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return USAGE
    try:
        return handler(args)
    except (ContextaError, UsageError) as exc:
        print(f"contexta: error: {exc}", file=sys.stderr)
        return USAGE


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
