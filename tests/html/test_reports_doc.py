"""docs/reports.md stays true: its Python examples run, and its rules match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contexta.html.deltas import LOWER_IS_BETTER_WORDS
from contexta.query.frames import METRIC_COLUMNS

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_reports_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks run in order, sharing one namespace, in an empty folder."""
    for variable in ("CONTEXTA_WORKSPACE", "CONTEXTA_PROJECT", "CONTEXTA_STORE_URI", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    blocks = FENCE.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "docs_reports"}
    for index, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/reports.md (python block {index})", "exec"), namespace)
    assert (tmp_path / "baseline.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_reports_doc_states_the_direction_rule_and_the_frame_columns() -> None:
    """The documented lower-is-better words and tidy metric columns are the code's."""
    text = DOC.read_text(encoding="utf-8")
    rule = text.split("**The direction rule.**", 1)[1].split("(in any case", 1)[0]
    assert re.findall(r"`(\w+)`", rule) == list(LOWER_IS_BETTER_WORDS)
    table = text.split("**Tidy metric records.**", 1)[1].split("```python", 1)[0]
    first_cells = re.findall(r"^\| (.*?) \|", table, re.MULTILINE)[2:]  # after the header and separator
    assert [name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)] == list(METRIC_COLUMNS)
