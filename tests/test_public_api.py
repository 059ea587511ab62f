"""Public modules re-export a sorted ``__all__`` that is exactly their public names."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from types import ModuleType

import pytest

import contexta

MODULES = ["contexta", "contexta.contract", "contexta.query", "contexta.store"]


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions and dunders."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def public_names(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted(name: str) -> None:
    """__all__ is sorted (constants, classes, then functions) and has no duplicates."""
    exported = importlib.import_module(name).__all__
    assert list(exported) == sorted(exported, key=isort_key)
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize("name", MODULES)
def test_all_equals_the_public_names(name: str) -> None:
    """__all__ lists every public name the module holds, and nothing it does not hold."""
    module = importlib.import_module(name)
    exported = {item for item in module.__all__ if not item.startswith("__")}
    assert exported == public_names(module)
    for item in module.__all__:
        assert hasattr(module, item), item


@pytest.mark.parametrize("name", MODULES)
def test_star_import_gives_exactly_all(name: str) -> None:
    """'from <module> import *' binds exactly the names of __all__."""
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(importlib.import_module(name).__all__)


def test_version_matches_installed_metadata() -> None:
    """contexta.__version__ is the version the package is installed as."""
    assert contexta.__version__ == importlib.metadata.version("contexta")
