"""The ``contexta`` argument parser: every subcommand, its options and its help."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from contexta._version import __version__
from contexta.cli import commands, doctor, export, relations
from contexta.cli.delegated import DELEGATED, add_replay, cmd_replay

Handler = Callable[[argparse.Namespace], int]

DESCRIPTION = (
    "Read a contexta workspace from the shell: list, show, diagnose and compare runs, trace lineage, "
    "render reports, export tables, gate and roll back deployments, receive and replay telemetry."
)
EPILOG = (
    "The workspace is --workspace DIR, else $CONTEXTA_STORE_URI, else $CONTEXTA_WORKSPACE, else .contexta; "
    "the project is --project P, else $CONTEXTA_PROJECT, else the workspace's only project. "
    "Exit codes: 0 ok, 1 findings, 2 usage or bad input. Each command: contexta COMMAND --help."
)
STATUSES = ("open", "completed", "failed", "cancelled")


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


def _no_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")


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
    runs.add_argument("--status", choices=STATUSES, help="only runs with this status")
    runs.add_argument(
        "--since",
        metavar="WHEN",
        help="only runs started at or after WHEN: an ISO date or time, or 7d, 12h, 30m, 2w ago",
    )
    runs.add_argument(
        "--where",
        metavar="COND",
        action="append",
        default=[],
        help="only runs whose latest metric satisfies COND, e.g. 'evaluate/accuracy>0.9' "
        "(STAGE/KEY OP NUMBER; KEY alone: run level or any stage; repeat to AND)",
    )
    _no_progress(runs)

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

    compare = add("compare", relations.cmd_compare, "Compare the latest metrics of two or more runs.", [data])
    compare.add_argument("runs", metavar="RUN", nargs="+", help="two or more run refs or names")

    lineage = add("lineage", relations.cmd_lineage, "Walk the lineage graph from any ref.", [data])
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
    report.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of stdout ('-': stdout)"
    )

    deployments = add(
        "deployments", commands.cmd_deployments, "List the deployments of a project, in order.", [data]
    )
    deployments.add_argument("--environment", metavar="ENV", help="only deployments to this environment")

    exporting = add(
        "export",
        export.cmd_export,
        "Export runs (one row per run) or metrics (one row per metric record) as CSV or Parquet.",
        [_common(project=True, json=False)],
    )
    exporting.add_argument("what", metavar="WHAT", choices=("runs", "metrics"), help="runs or metrics")
    exporting.add_argument("--format", choices=("csv", "parquet"), default="csv", help="default: csv")
    exporting.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default or '-': stdout, CSV only)"
    )
    exporting.add_argument(
        "--run",
        metavar="RUN",
        nargs="+",
        action="extend",
        help="only these runs (refs or names; repeatable; default: every run of the project)",
    )
    _no_progress(exporting)

    checkup = add(
        "doctor",
        doctor.cmd_doctor,
        "Check a workspace: schema version, database integrity, counts, orphan records, stale runs.",
        [_common(project=False, json=True)],
    )
    checkup.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    _no_progress(checkup)

    replay = add_replay(sub)
    replay.set_defaults(handler=cmd_replay)
    _no_progress(replay)

    for name, delegate in DELEGATED.items():  # listed here; main() hands their arguments over
        sub.add_parser(name, help=delegate.summary, description=delegate.summary, add_help=False)
    return parser
