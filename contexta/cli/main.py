"""The ``contexta`` command: parser, dispatch, exit codes and error messages.

Exit codes: 0 success; 1 findings (``diagnose`` found issues at or above ``--fail-on``,
``doctor`` found the workspace unsound); 2 usage or bad input (unknown option, missing
workspace, invalid ref, unknown run...). Errors print ``contexta: error: <message>`` on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from contexta._version import __version__
from contexta.cli import commands
from contexta.cli.resolve import UsageError
from contexta.errors import ContextaError

Handler = Callable[[argparse.Namespace], int]

DESCRIPTION = "Read a contexta workspace: list runs, inspect, diagnose, compare, trace lineage, report."
EPILOG = (
    "The workspace is --workspace DIR, else $CONTEXTA_STORE_URI, else $CONTEXTA_WORKSPACE, else .contexta; "
    "the project is --project P, else $CONTEXTA_PROJECT, else the workspace's only project. "
    "Exit codes: 0 ok, 1 findings, 2 usage or bad input."
)


def _common(*, project: bool, json: bool) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--workspace",
        metavar="DIR",
        help="workspace folder (default: $CONTEXTA_WORKSPACE or .contexta)",
    )
    if project:
        parent.add_argument(
            "--project",
            metavar="P",
            help="project name (default: $CONTEXTA_PROJECT, or the workspace's only project)",
        )
    if json:
        parent.add_argument("--json", action="store_true", help="print the result as JSON")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contexta", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"contexta {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    data = _common(project=True, json=True)

    def add(
        name: str, handler: Handler, summary: str, parents: Sequence[argparse.ArgumentParser]
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=list(parents), help=summary, description=summary)
        command.set_defaults(handler=handler)
        return command

    runs = add("runs", commands.cmd_runs, "List the runs of a project, oldest first.", [data])
    runs.add_argument(
        "--status", choices=("open", "completed", "failed", "cancelled"), help="only runs with this status"
    )

    show = add(
        "show",
        commands.cmd_show,
        "Show one run: fields, stages, latest metrics, batches, samples, artifacts and deployments.",
        [data],
    )
    show.add_argument("run", metavar="RUN", help="run ref (run:P.NAME) or run name")

    diagnose = add(
        "diagnose", commands.cmd_diagnose, "List what is wrong with a run (diagnostic issues).", [data]
    )
    diagnose.add_argument("run", metavar="RUN", help="run ref (run:P.NAME) or run name")
    diagnose.add_argument(
        "--fail-on",
        choices=("warning", "error"),
        default="error",
        help="exit 1 when an issue of this severity or worse is found (default: error)",
    )

    compare = add("compare", commands.cmd_compare, "Compare the latest metrics of two or more runs.", [data])
    compare.add_argument("runs", metavar="RUN", nargs="+", help="two or more run refs or names")

    lineage = add("lineage", commands.cmd_lineage, "Walk the lineage graph from any ref.", [data])
    lineage.add_argument("ref", metavar="REF", help="any ref (kind:...); a bare name is a run name")
    lineage.add_argument(
        "--direction", choices=("both", "upstream", "downstream"), default="both", help="default: both"
    )
    lineage.add_argument(
        "--max-depth", type=int, metavar="N", help="follow at most N edges (default: no limit)"
    )

    report = add(
        "report", commands.cmd_report, "Render the report of one run.", [_common(project=True, json=False)]
    )
    report.add_argument("run", metavar="RUN", help="run ref (run:P.NAME) or run name")
    report.add_argument(
        "--format", choices=("text", "md", "html", "json"), default="text", help="default: text"
    )
    report.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    deployments = add(
        "deployments", commands.cmd_deployments, "List the deployments of a project, in order.", [data]
    )
    deployments.add_argument("--environment", metavar="ENV", help="only deployments to this environment")

    add(
        "doctor",
        commands.cmd_doctor,
        "Check a workspace: schema version, database integrity, counts.",
        [_common(project=False, json=True)],
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script passes it to ``sys.exit``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return commands.USAGE
    try:
        return handler(args)
    except (ContextaError, UsageError) as exc:
        print(f"contexta: error: {exc}", file=sys.stderr)
        return commands.USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `contexta runs | head -1`: stop quietly
        _silence_stdout()
        return commands.OK


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
