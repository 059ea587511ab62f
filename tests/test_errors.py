"""The one error tree: every class derives from ContextaError, messages name what went wrong."""

from __future__ import annotations

import inspect
import re
import sqlite3
from pathlib import Path

import pytest

import contexta
from contexta import errors
from contexta.errors import (
    ConfigError,
    ConflictError,
    ContextaError,
    NotFoundError,
    SchemaError,
    StoreError,
    TransportError,
    ValidationError,
)
from contexta.store import DB_FILENAME


def error_classes() -> list[type[BaseException]]:
    return [
        value
        for _, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, BaseException) and value.__module__ == errors.__name__
    ]


def test_every_error_class_derives_from_contexta_error() -> None:
    """Each exception class defined in contexta.errors is a ContextaError."""
    classes = error_classes()
    assert len(classes) >= 8
    assert all(issubclass(cls, ContextaError) for cls in classes), classes


def test_error_tree_in_docstring_matches_the_classes() -> None:
    """The tree drawn in the module docstring names exactly the classes defined."""
    drawn = re.findall(r"^ {4}[│├└─ ]*([A-Z][A-Za-z]+Error)\b", errors.__doc__ or "", re.MULTILINE)
    assert sorted(drawn) == sorted(cls.__name__ for cls in error_classes())


def test_every_error_class_is_exported_from_contexta() -> None:
    """All error classes are importable from the top-level package."""
    assert {cls.__name__ for cls in error_classes()} <= set(contexta.__all__)
    for cls in error_classes():
        assert getattr(contexta, cls.__name__) is cls


@pytest.mark.parametrize(
    ("child", "parents"),
    [
        (ValidationError, (ContextaError, ValueError)),
        (ConfigError, (ContextaError,)),
        (NotFoundError, (ContextaError, KeyError)),
        (ConflictError, (ContextaError,)),
        (StoreError, (ContextaError,)),
        (SchemaError, (StoreError, ContextaError)),
        (TransportError, (ContextaError,)),
    ],
)
def test_error_tree_shape(child: type[BaseException], parents: tuple[type[BaseException], ...]) -> None:
    """Each error has its documented parents (ValidationError is a ValueError, NotFoundError a KeyError)."""
    assert all(issubclass(child, parent) for parent in parents)


def test_validation_error_for_field_formats_field_rule_and_value() -> None:
    """ValidationError.for_field builds '<field>: <rule> (got <repr>)' and keeps the three parts."""
    error = ValidationError.for_field("Run.status", "must be a known status", "running")
    assert str(error) == "Run.status: must be a known status (got 'running')"
    assert (error.field, error.rule, error.value) == ("Run.status", "must be a known status", "running")


def test_not_found_error_message_is_not_quoted_twice() -> None:
    """str(NotFoundError) is the plain message although it is a KeyError."""
    error = NotFoundError("run:demo.r1", "run")
    assert str(error) == "run not found: 'run:demo.r1'"
    assert error.ref == "run:demo.r1"


def test_conflict_error_names_the_ref_and_detail() -> None:
    """ConflictError says which ref conflicts, with an optional detail."""
    assert (
        str(ConflictError("record:demo.r1.x"))
        == "conflict: 'record:demo.r1.x' already exists with different content"
    )
    assert str(ConflictError("record:demo.r1.x", "why")).endswith("different content: why")


def test_damaged_database_file_is_store_error_chaining_sqlite_error(tmp_path: Path) -> None:
    """A workspace whose database is not SQLite raises StoreError with the sqlite3 error as __cause__."""
    (tmp_path / DB_FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        contexta.Contexta(workspace=tmp_path, environ={})
    assert str(caught.value).startswith(f"cannot open workspace database {tmp_path / DB_FILENAME}: ")
    assert "not a database" in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
