"""The contexta demo: a nightly pipeline that "succeeds" on empty data, a good run, a deployment.

Run it with ``python3 .ci/dev.py demo``. It writes a fresh embedded workspace (a SQLite file)
in a temporary folder and prints what an engineer asks on the Monday after a bad deploy:
what is wrong with the bad run, how the two runs differ, and what the deployment came from.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from contexta import Contexta


def nightly(ctx: Contexta, name: str, rows_after_validate: int, workdir: Path) -> str:
    rng = random.Random(name)
    with ctx.run(
        name, dataset_ref="dataset:warehouse.orders-2025-03", params={"lr": 0.05, "epochs": 3}
    ) as run:
        with run.stage("ingest") as stage:
            stage.event("ingest.complete", "Loaded 120000 rows from the warehouse.")
            stage.metric("rows", 120_000)
        with run.stage("validate") as stage:
            stage.metric("rows", rows_after_validate)
            if rows_after_validate == 0:
                stage.degraded(
                    "validate.empty-output",
                    "Validate passed 0 rows downstream after the schema migration.",
                    category="verification",
                    severity="error",
                    attributes={"expected_min_rows": 10_000},
                )
        with run.stage("train") as stage:
            loss = 2.3 if rows_after_validate == 0 else 0.9
            for epoch in range(3):
                with stage.batch(f"epoch-{epoch}") as batch:
                    loss *= 0.98 if rows_after_validate == 0 else 0.7
                    batch.metric("loss", round(loss + rng.uniform(0, 0.01), 4), step=epoch)
        with run.stage("evaluate") as stage:
            stage.metric("accuracy", 0.11 if rows_after_validate == 0 else 0.93)
            with stage.sample("first-prediction") as sample:
                sample.metric("correct", 0.0 if rows_after_validate == 0 else 1.0)
        model = workdir / f"{name}.bin"
        model.write_bytes(bytes(rng.getrandbits(8) for _ in range(256)))
        run.register_artifact("model", model)
        return run.ref


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="contexta-demo-"))
    with Contexta(workspace=workdir / ".contexta", config={"project_name": "nightly"}) as ctx:
        bad = nightly(ctx, "day-1", rows_after_validate=0, workdir=workdir)
        good = nightly(ctx, "day-2", rows_after_validate=117_800, workdir=workdir)
        deployment = ctx.record_deployment("prod-2025-03-20", run_ref=good, environment="prod")

        print(f"Workspace: {workdir / '.contexta'}\n")
        for run in ctx.list_runs():
            issues = ctx.diagnose_run(run.run_id).issues
            print(f"{run.run_id}: {run.status}, {len(issues)} issue(s)")
            for issue in issues:
                print(f"  [{issue.severity.upper()}] {issue.code}: {issue.summary}")

        print(f"\nCompare {bad} -> {good}")
        for stage in ctx.compare_runs(bad, good).stage_comparisons:
            for delta in stage.metric_deltas:
                if delta.delta is not None:
                    print(
                        f"  {stage.stage_name or '(run)'}/{delta.metric_key}: "
                        f"{delta.left_value:g} -> {delta.right_value:g} ({delta.delta:+g})"
                    )

        print(f"\nLineage of {deployment} (upstream)")
        graph = ctx.traverse_lineage(deployment, direction="upstream")
        for edge in graph.edges:
            print(f"  {edge.source_ref} --{edge.relation_type}--> {edge.target_ref}")
        print(f"\nTry: contexta diagnose {bad} --workspace {workdir / '.contexta'}")


if __name__ == "__main__":
    main()
