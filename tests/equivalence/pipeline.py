"""The instrumented program of the equivalence test: 3 stages, batches, samples, a degraded
record, an event, an artifact and a deployment. Run as a script: ``pipeline.py WORKSPACE``."""

from __future__ import annotations

import sys
from pathlib import Path

from contexta import Contexta


def main(workspace: str) -> None:
    root = Path(workspace)
    with Contexta(workspace=root, config={"project_name": "equiv"}) as ctx:
        with ctx.run("nightly", dataset_ref="dataset:warehouse.orders-v7", params={"lr": 0.01}) as run:
            with run.stage("ingest") as stage:
                stage.event("ingest.complete", "Loaded 1200 rows.", attributes={"rows": 1200})
                stage.metric("rows", 1200)
            with run.stage("validate") as stage:
                stage.degraded(
                    "validate.empty",
                    "0 rows after the join",
                    category="verification",
                    severity="error",
                    attributes={"expected": 1000},
                )
            with run.stage("train") as stage:
                for epoch in range(2):
                    with stage.batch(f"epoch-{epoch}") as batch:
                        batch.metric("loss", 1.0 / (epoch + 1), step=epoch, unit="1")
                        with batch.sample("first") as sample:
                            sample.metric("correct", 1.0)
                with stage.sample("holdout-0") as sample:
                    sample.event("prediction", "class 2", level="debug")
            model = root.parent / "model.bin"
            model.write_bytes(b"weights" * 100)
            run.register_artifact("model", model, attributes={"framework": "none"})
            run.metric("final.accuracy", 0.93)
        ctx.record_deployment("prod-v1", run_ref=run.ref, environment="prod")


if __name__ == "__main__":
    main(sys.argv[1])
