"""Migration 2 (the handoff tables), the store methods, the package's public names and HandoffAPI."""

from __future__ import annotations

import importlib
import inspect
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contexta import Contexta
from contexta.errors import ConfigError
from contexta.handoff import HandoffAPI, evaluate_gate
from contexta.store import DB_FILENAME
from contexta.store.migrations import LATEST_VERSION, MIGRATIONS

HANDOFF_TABLES = {"gate_evaluations", "model_versions", "model_transitions", "approvals"}


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    return names


def test_migration_2_adds_the_handoff_tables_and_leaves_migration_1_alone() -> None:
    assert [m.version for m in MIGRATIONS][:2] == [1, 2] and LATEST_VERSION >= 2
    second = MIGRATIONS[1]
    assert "handoff" in second.name
    created = {m.group(1) for s in second.statements for m in [re.match(r"CREATE TABLE (\w+)", s)] if m}
    assert created == HANDOFF_TABLES
    assert not any(
        re.search(r"\b(AUTOINCREMENT|datetime|strftime|json_extract|ifnull)\b", s, re.I)
        for s in second.statements
    )


def test_a_version_1_workspace_is_migrated_to_the_handoff_tables(workspace: Path) -> None:
    Contexta(workspace=workspace, config={"project_name": "demo"}, environ={}).close()
    db = workspace / DB_FILENAME
    with sqlite3.connect(db) as conn:  # make it a workspace written before migration 2
        for table in HANDOFF_TABLES:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 2")
    conn.close()
    assert not _tables(db) & HANDOFF_TABLES
    with Contexta(workspace=workspace, config={"project_name": "demo"}, environ={}) as ctx:
        assert ctx.store.schema_version() == LATEST_VERSION
    assert _tables(db) >= HANDOFF_TABLES


def test_store_methods_are_append_only(workspace: Path) -> None:
    with Contexta(workspace=workspace, config={"project_name": "demo"}, environ={}) as ctx:
        store: Any = ctx.store
        body = '{"x": 1}'
        assert store.add_approval("relation:demo.approval-1", "run:demo.r", "2025-01-01T00:00:00Z", body)
        assert not store.add_approval(
            "relation:demo.approval-1", "run:demo.r", "2025-01-01T00:00:00Z", '{"x": 2}'
        )
        assert store.list_approvals("run:demo.r") == [body]
        assert store.list_approvals("run:demo.unknown") == []
        args = ("project:demo", "ranker", 1, "run:demo.r", "2025-01-01T00:00:00Z")
        assert store.add_model_version("model:demo.ranker.v1", *args, body)
        assert not store.add_model_version("model:demo.ranker.v9", *args, body)  # (project, name, 1) taken
        assert store.get_model_version("model:demo.ranker.v9") is None
        assert store.add_model_transition("project:demo", "ranker", 1, "model:demo.ranker.v1", args[-1], body)
        assert not store.add_model_transition(
            "project:demo", "ranker", 1, "model:demo.ranker.v1", args[-1], body
        )


def test_a_store_without_the_handoff_tables_is_a_config_error(workspace: Path) -> None:
    class Bare:
        store = object()

    with pytest.raises(ConfigError, match="needs a store with the handoff tables"):
        evaluate_gate(Bare(), "run:demo.r", Path("unused.yaml"))


def test_handoff_all_is_sorted_and_exactly_the_public_names() -> None:
    module = importlib.import_module("contexta.handoff")
    exported = list(module.__all__)

    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)

    assert exported == sorted(exported, key=key)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"
    }
    assert set(exported) == public


def test_handoff_api_methods_take_the_workspace_handle_first(
    open_ctx: Callable[[Path, str], Contexta], workspace: Path
) -> None:
    names = [
        "evaluate_gate",
        "list_gate_evaluations",
        "get_gate_evaluation",
        "register_model",
        "promote",
        "list_model_versions",
        "get_model_version",
        "model_history",
        "approve",
        "list_approvals",
        "build_model_card",
        "rollback_candidate",
    ]
    for name in names:
        parameters = list(inspect.signature(getattr(HandoffAPI, name)).parameters)
        assert parameters[:2] == ["self", "ctx"], name
    ctx = open_ctx(workspace, "demo")
    assert HandoffAPI().list_model_versions(ctx, "ranker") == []
    assert not HandoffAPI().rollback_candidate(ctx).found
