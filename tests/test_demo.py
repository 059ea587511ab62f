"""The README's main job: the demo runs and reports the degraded run, the comparison and the lineage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


def test_demo_surfaces_the_degraded_run_and_traces_the_deployment_to_its_data() -> None:
    """The demo prints the day-1 degraded record, the metric deltas and the deployment's upstream lineage."""
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[ERROR] degraded_record: Validate passed 0 rows downstream" in out
    assert "run:nightly.day-2: completed, 0 issue(s)" in out
    assert "evaluate/accuracy: 0.11 -> 0.93 (+0.82)" in out
    assert "run:nightly.day-2 --deployed--> deployment:nightly.prod-2025-03-20" in out
    assert "dataset:warehouse.orders-2025-03 --used--> run:nightly.day-2" in out
