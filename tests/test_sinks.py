"""LocalJsonlSink: the JSON Lines copy of a run equals the contract models' JSON."""

from __future__ import annotations

import json
from pathlib import Path

from contexta import Contexta


def test_jsonl_lines_are_the_contract_json_of_every_record(tmp_path: Path) -> None:
    """Each line of records.jsonl is exactly ``record.model_dump(mode="json")`` of a stored record."""
    with Contexta(workspace=tmp_path / ".contexta", config={"project_name": "p"}, environ={}) as ctx:
        with ctx.run("r") as run:
            with run.stage("train") as stage:
                for step in range(3):
                    stage.metric("loss", 1.0 / (step + 1), step=step, unit="1")
                stage.event("epoch.end", "done <ok>", level="warning", attributes={"n": 3})
                stage.degraded(
                    "data.thin",
                    "only 3 rows",
                    category="data",
                    severity="error",
                    attributes={"rows": [1, 2, 3]},
                )
            run.metric("final", 0.5)
        sink = ctx.sinks[0]
        lines = sink.file_path_for("RECORD").read_text().splitlines()
        expected = [view.to_model().model_dump(mode="json") for view in ctx.store.read_run("run:p.r").records]
    assert [json.loads(line) for line in lines] == expected
    assert len(lines) == 6
