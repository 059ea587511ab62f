"""Fixtures of the HTML tests (the data itself is built in ``html_seed``)."""

from __future__ import annotations

import pytest
from html_seed import seed_pair

from contexta import Contexta


@pytest.fixture
def pair(ctx: Contexta) -> tuple[str, str]:
    """Two runs of project demo (baseline, candidate) in the test's workspace."""
    return seed_pair(ctx)
