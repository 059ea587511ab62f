"""Turning command-line words into a workspace, a project and run refs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contexta.client import Contexta
from contexta.config import DEFAULT_WORKSPACE
from contexta.contract.refs import check_component, make_ref, parse_ref, slugify
from contexta.errors import NotFoundError, ValidationError
from contexta.query.service import project_ref_of
from contexta.store.uri import DB_FILENAME

SQLITE_PREFIX = "sqlite:///"

OK, FINDINGS, USAGE = 0, 1, 2  # the exit codes every command shares (docs/cli.md, "Exit codes")


class UsageError(Exception):
    """Bad input found by the CLI itself; printed as ``contexta: error: <message>``, exit 2."""


@dataclass(frozen=True, slots=True)
class Target:
    """The workspace a command reads: the folder (or database file) and the store URI to open."""

    shown: str  # the path as the user gave it, for messages
    folder: Path
    store_uri: str | None  # None: the default database inside ``folder``
    database: Path | None  # the file that must exist, when the store is SQLite


def workspace_target(given: str | None, environ: Mapping[str, str] | None = None) -> Target:
    """``--workspace`` > ``$CONTEXTA_STORE_URI`` > ``$CONTEXTA_WORKSPACE`` > ``.contexta``."""
    env = os.environ if environ is None else environ
    if given is None and env.get("CONTEXTA_STORE_URI"):
        uri = env["CONTEXTA_STORE_URI"]
        if uri.startswith(SQLITE_PREFIX):
            database = Path(uri.removeprefix(SQLITE_PREFIX))
            return Target(uri, database.parent, uri, database)
        if "://" in uri:  # an unsupported scheme: open_store says so (ConfigError, exit 2)
            return Target(uri, Path(DEFAULT_WORKSPACE), uri, None)
        given = uri
    text = given if given is not None else (env.get("CONTEXTA_WORKSPACE") or DEFAULT_WORKSPACE)
    folder = Path(text)
    return Target(text, folder, None, folder / DB_FILENAME)


def check_exists(target: Target) -> None:
    """Read commands never create a workspace: refuse a folder (or file) that is not there."""
    if target.database is not None and not target.database.is_file():
        raise UsageError(f"no workspace at {target.shown}")


@contextmanager
def open_workspace(args: argparse.Namespace) -> Iterator[Contexta]:
    """The workspace of ``args`` (which must exist), closed on exit."""
    target = workspace_target(getattr(args, "workspace", None))
    check_exists(target)
    config: dict[str, Any] = {"workspace": {"root_path": target.folder, "store_uri": target.store_uri}}
    if getattr(args, "project", None):
        config["project_name"] = args.project
    ctx = Contexta(config=config)
    try:
        yield ctx
    finally:
        ctx.close()


def project_ref(ctx: Contexta, given: str | None) -> str:
    """``--project`` > ``$CONTEXTA_PROJECT`` > the only project of the workspace."""
    name = given or ctx.project_name
    if name:
        return project_ref_of(name, "project")
    projects = ctx.list_projects()
    if len(projects) == 1:
        return str(projects[0].project_ref)
    held = (
        "the workspace holds no projects"
        if not projects
        else f"the workspace holds {len(projects)} projects: " + ", ".join(p.name for p in projects)
    )
    raise UsageError(f"no project given: pass --project or set CONTEXTA_PROJECT ({held})")


def require_project(ctx: Contexta, ref: str, has_rows: bool) -> None:
    """A project named explicitly must be known (as a project row, or through its runs)."""
    if has_rows:
        return
    if ref not in {p.project_ref for p in ctx.list_projects()} and not ctx.list_runs(ref):
        raise NotFoundError(ref, "project")


def run_ref(ctx: Contexta, text: str, project: str | None, field: str = "run") -> str:
    """A run given as ``run:p.r`` or as a name ``r`` of the project (see :func:`project_ref`)."""
    if ":" in text:
        parse_ref(text, field, "run")
        return text
    try:
        check_component(text, field)
    except ValidationError as exc:
        hint = _slug_hint(text)
        raise ValidationError(f"{exc}{hint}", field=exc.field, rule=exc.rule, value=exc.value) from None
    project_name = parse_ref(project_ref(ctx, project), "project", "project").project
    return make_ref("run", project_name, text)


def any_ref(ctx: Contexta, text: str, project: str | None) -> str:
    """Any ref (``kind:...``); a bare word is a run name, as for :func:`run_ref`."""
    if ":" in text:
        parse_ref(text, "ref")
        return text
    return run_ref(ctx, text, project, "ref")


def _slug_hint(text: str) -> str:
    try:
        slug = slugify(text)
    except ValidationError:
        return ""
    return f" (did you mean {slug!r}?)" if slug != text else ""
