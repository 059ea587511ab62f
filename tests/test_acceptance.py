"""The seed acceptance scripts, run unchanged against the installed package (the public contract)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[2] / "shared" / "acceptance" / "check.py"
SCENARIOS = ["case03", "case04", "case05", "batch_sample_deployment", "iris"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_seed_scenario_prints_what_the_seed_documents_promise(scenario: str) -> None:
    """check.py runs the seed script in an empty folder and compares its output."""
    if not CHECK.exists():
        pytest.skip(f"seed acceptance scripts not found at {CHECK}")
    if scenario == "iris":
        pytest.importorskip("sklearn", reason="the iris workflow needs scikit-learn (dev extra)")
    done = subprocess.run(
        [sys.executable, str(CHECK), "--python", sys.executable, "--only", scenario],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok   {scenario}" in done.stdout
