"""Shared fixtures: a fresh workspace folder and a ``Contexta`` opened on it (always closed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contexta import Contexta


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The workspace folder of one test (not created yet: Contexta creates it)."""
    return tmp_path / ".contexta"


@pytest.fixture
def ctx(workspace: Path) -> Iterator[Contexta]:
    """A Contexta on ``workspace`` with project ``demo``, isolated from CONTEXTA_* variables."""
    handle = Contexta(workspace=workspace, config={"project_name": "demo"}, environ={})
    try:
        yield handle
    finally:
        handle.close()
