"""``contexta gate`` and ``contexta rollback-candidate``: the handoff in CI and on call.

Exit codes: ``gate`` 0 when the gate passes, 1 when it fails; ``rollback-candidate`` 0 when a
candidate exists, 1 when none qualifies; both 2 on bad input (unknown run or deployment, a
policy file that does not validate, no workspace), printed as ``contexta: error: <message>``
on stderr without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from contexta.errors import ContextaError
from contexta.handoff._common import component

PASSED, FAILED, BAD_INPUT = 0, 1, 2


class _Usage(Exception):
    """Bad command-line input found here (exit 2)."""


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="workspace folder (default: $CONTEXTA_STORE_URI, $CONTEXTA_WORKSPACE or .contexta)",
    )
    parser.add_argument(
        "--project",
        metavar="P",
        help="project name (default: $CONTEXTA_PROJECT, or the workspace's only project)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


@contextmanager
def _workspace(args: argparse.Namespace) -> Iterator[Any]:
    """The shared CLI resolution (``--workspace`` > ``$CONTEXTA_STORE_URI`` > ``$CONTEXTA_WORKSPACE``)."""
    from contexta.cli.resolve import UsageError, open_workspace

    try:
        with open_workspace(args) as ctx:
            if ctx.default_project is None:
                projects = ctx.list_projects()
                if len(projects) == 1:
                    ctx.default_project = projects[0].name
            yield ctx
    except UsageError as exc:
        raise _Usage(str(exc)) from None


def _run_ref(ctx: Any, text: str) -> str:
    if ":" in text:
        return text
    name = component(text, "run")
    if ctx.default_project is None:
        raise _Usage(f"run {text!r} is a bare name: pass --project or a full ref 'run:<project>.{text}'")
    return f"run:{ctx.default_project}.{name}"


def _call(argv: Sequence[str] | None, parser: argparse.ArgumentParser, body: Any) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    try:
        return int(body(args))
    except (ContextaError, _Usage) as exc:
        print(f"contexta: error: {exc}", file=sys.stderr)
        return BAD_INPUT


def gate_command(argv: Sequence[str] | None = None) -> int:
    """``contexta gate RUN --policy FILE [--baseline REF|current|none] [--environment ENV] [--json]``."""
    parser = _parser(
        "contexta gate", "Evaluate a promotion gate policy against a run; store and print the result."
    )
    parser.add_argument("run", metavar="RUN", help="run ref (run:P.NAME) or run name")
    parser.add_argument(
        "--policy", metavar="FILE", required=True, help="policy file (.yaml, .yml, .toml or .json)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        default="current",
        help="'current' (default: the environment's deployed run), 'none', or a run, deployment or model ref",
    )
    parser.add_argument(
        "--environment", metavar="ENV", default=None, help="deployment environment (default: prod)"
    )
    parser.add_argument("--evaluator", metavar="NAME", help="who evaluates (default: user@host)")

    def body(args: argparse.Namespace) -> int:
        from contexta.handoff.api import HandoffAPI
        from contexta.handoff.policy import GatePolicy

        policy = GatePolicy.from_file(args.policy)  # a bad policy fails before the workspace is opened
        with _workspace(args) as ctx:
            result = HandoffAPI().evaluate_gate(
                ctx,
                _run_ref(ctx, args.run),
                policy,
                baseline=None if args.baseline == "none" else args.baseline,
                environment=args.environment,
                evaluator=args.evaluator,
            )
        print(json.dumps(result.to_dict(), indent=2) if args.json else result.to_text())
        return PASSED if result.passed else FAILED

    return _call(argv, parser, body)


def rollback_command(argv: Sequence[str] | None = None) -> int:
    """``contexta rollback-candidate [DEPLOYMENT] [--environment ENV] [--json]``."""
    parser = _parser(
        "contexta rollback-candidate",
        "Name the deployment to roll back to: the latest earlier healthy deployment of the environment.",
    )
    parser.add_argument(
        "deployment",
        metavar="DEPLOYMENT",
        nargs="?",
        help="roll back from this deployment ref (default: the environment's current deployment)",
    )
    parser.add_argument(
        "--environment", metavar="ENV", default=None, help="deployment environment (default: prod)"
    )

    def body(args: argparse.Namespace) -> int:
        from contexta.handoff.api import HandoffAPI

        with _workspace(args) as ctx:
            if args.deployment is not None:
                target: Any = args.deployment
            elif ctx.default_project is None:
                raise _Usage("no project given: pass --project (the workspace holds several or none)")
            else:
                target = (ctx.default_project, args.environment or "prod")
            answer = HandoffAPI().rollback_candidate(ctx, target, environment=args.environment)
        print(json.dumps(answer.to_dict(), indent=2) if args.json else answer.to_text())
        return PASSED if answer.found else FAILED

    return _call(argv, parser, body)
