"""The ``contexta`` command line (``contexta --help``; documented in docs/cli.md)."""

from contexta.cli.main import main

__all__ = ["main"]
