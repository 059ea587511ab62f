"""Environment comparison and reproducibility audit of runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from contexta.contract import EnvironmentSnapshot
from contexta.query.results import _Result
from contexta.store.base import RunBundle


@dataclass(frozen=True, slots=True)
class EnvironmentDiff(_Result):
    """What differs between the environments of two runs (``None``: a run has no snapshot)."""

    left_run_id: str
    right_run_id: str
    python_version: tuple[str | None, str | None] | None = None
    platform: tuple[str | None, str | None] | None = None
    git_commit: tuple[str | None, str | None] | None = None
    packages_added: dict[str, str] = field(default_factory=dict)
    packages_removed: dict[str, str] = field(default_factory=dict)
    packages_changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    env_vars_changed: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not (
            self.python_version
            or self.platform
            or self.git_commit
            or self.packages_added
            or self.packages_removed
            or self.packages_changed
            or self.env_vars_changed
            or self.missing
        )


def _pair(a: str | None, b: str | None) -> tuple[str | None, str | None] | None:
    return (a, b) if a != b else None


def diff_environments(left: RunBundle, right: RunBundle) -> EnvironmentDiff:
    a, b = left.environment, right.environment
    missing = tuple(bundle.run_ref for bundle, env in ((left, a), (right, b)) if env is None)
    if a is None or b is None:
        return EnvironmentDiff(left.run_ref, right.run_ref, missing=missing)
    keys = set(a.env_vars) | set(b.env_vars)
    return EnvironmentDiff(
        left.run_ref,
        right.run_ref,
        python_version=_pair(a.python_version, b.python_version),
        platform=_pair(a.platform, b.platform),
        git_commit=_pair(a.git_commit, b.git_commit),
        packages_added={k: v for k, v in b.packages.items() if k not in a.packages},
        packages_removed={k: v for k, v in a.packages.items() if k not in b.packages},
        packages_changed={
            k: (a.packages[k], v) for k, v in b.packages.items() if k in a.packages and a.packages[k] != v
        },
        env_vars_changed={
            k: (a.env_vars.get(k), b.env_vars.get(k))
            for k in sorted(keys)
            if a.env_vars.get(k) != b.env_vars.get(k)
        },
    )


@dataclass(frozen=True, slots=True)
class AuditCheck(_Result):
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ReproducibilityAudit(_Result):
    run_id: str
    checks: list[AuditCheck]

    @property
    def reproducible(self) -> bool:
        return all(check.passed for check in self.checks)


def audit_bundle(bundle: RunBundle) -> ReproducibilityAudit:
    env: EnvironmentSnapshot | None = bundle.environment
    run = bundle.run
    checks = [
        AuditCheck(
            "environment_captured",
            env is not None,
            "environment snapshot present" if env else "no environment snapshot for this run",
        ),
        AuditCheck(
            "code_version",
            bool(env and env.git_commit),
            f"git commit {env.git_commit}" if env and env.git_commit else "no git commit recorded",
        ),
        AuditCheck(
            "clean_worktree",
            bool(env and env.git_dirty is False),
            "worktree clean"
            if env and env.git_dirty is False
            else (
                "uncommitted changes when the run started" if env and env.git_dirty else "git state unknown"
            ),
        ),
        AuditCheck(
            "packages_pinned",
            bool(env and env.packages),
            f"{len(env.packages)} distributions recorded" if env and env.packages else "no package list",
        ),
        AuditCheck(
            "data_versioned",
            bool(run and run.dataset_refs),
            ", ".join(run.dataset_refs) if run and run.dataset_refs else "no dataset ref on the run",
        ),
        AuditCheck(
            "artifacts_hashed",
            bool(bundle.artifacts) and all(a.sha256 for a in bundle.artifacts),
            f"{len(bundle.artifacts)} artifact(s) with content hashes"
            if bundle.artifacts
            else "no artifacts registered",
        ),
    ]
    return ReproducibilityAudit(bundle.run_ref, checks)
