"""Capture where a run executes: interpreter, platform, packages, git state, chosen variables."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from contexta.contract import EnvironmentSnapshot
from contexta.contract._base import utc_now
from contexta.contract.refs import make_ref, parse_ref


def installed_distributions() -> dict[str, str]:
    """``name -> version`` of every installed distribution (names normalised to lowercase)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            found[name.lower().replace("_", "-")] = dist.version
    return dict(sorted(found.items()))


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(cwd: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository around ``cwd``, or (None, None) outside one."""
    where = cwd or Path.cwd()
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return None, None
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return commit, bool(status) if status is not None else None


def capture_environment(
    run_ref: str,
    allowlist: Iterable[str],
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    captured_at: str | None = None,
) -> EnvironmentSnapshot:
    """One snapshot for ``run_ref``; only allow-listed environment variables are kept."""
    env = os.environ if environ is None else environ
    commit, dirty = git_state(cwd)
    return EnvironmentSnapshot(
        environment_snapshot_ref=make_ref("environment", *parse_ref(run_ref, "run_ref", "run").parts),
        run_ref=run_ref,
        captured_at=captured_at or utc_now(),
        python_version=platform.python_version(),
        platform=f"{platform.system()}-{platform.release()}-{platform.machine()}",
        packages=installed_distributions(),
        env_vars={name: env[name] for name in allowlist if name in env},
        git_commit=commit,
        git_dirty=dirty,
    )
