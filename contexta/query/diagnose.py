"""``diagnose_run``: what is wrong with a run, from its own rows only.

Every code, its severity and its trigger are listed in ``docs/diagnostics.md``; the table
:data:`CODES` is the single source and a test keeps the two equal.
"""

from __future__ import annotations

import os
import socket
import time

from contexta.contract import TERMINAL_STATUSES
from contexta.contract._base import to_micros
from contexta.query.results import DiagnosisResult, DiagnosticIssue
from contexta.store.base import RunBundle

#: code -> (severity, trigger)
CODES: dict[str, tuple[str, str]] = {
    "degraded_record": (
        "payload",
        "a DegradedRecord exists; severity is the record's own (warning or error)",
    ),
    "failed_run": ("error", "the run's status is failed"),
    "cancelled_run": ("warning", "the run's status is cancelled"),
    "failed_stage": ("error", "a stage's status is failed"),
    "incomplete_stage": ("warning", "a stage is still open although its run has ended"),
    "failed_batch": ("error", "a batch's status is failed"),
    "incomplete_batch": ("warning", "a batch is not terminal although its stage or run has ended"),
    "failed_deployment": ("error", "a deployment of this run has status failed"),
    "stale_open_run": (
        "error",
        "the run is open but its capturing process is gone (same host, pid not alive) or nothing was "
        "heard from it for diagnostics.stale_after_seconds (default 3600)",
    ),
    "orphan_record": (
        "warning",
        "a record of an existing run names a stage, batch or sample that the workspace does not hold",
    ),
    "missing_run": ("error", "records exist for a run ref but the run itself was never written"),
}


def _owner_dead(owner: str | None) -> bool:
    if not owner or ":" not in owner:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _stale(bundle: RunBundle, stale_after: float, now_micros: int) -> str | None:
    run = bundle.run
    if run is None or run.status != "open":
        return None
    if _owner_dead(bundle.owner):
        return f"run {run.run_ref} is open but its process {bundle.owner} is no longer running"
    moments = [to_micros(run.started_at)]
    if bundle.last_seen_at:
        moments.append(to_micros(bundle.last_seen_at))
    if bundle.records:  # the latest write, not the latest observation: late writes are activity too
        moments.append(max(to_micros(record.recorded_at) for record in bundle.records))
    idle = (now_micros - max(moments)) / 1e6
    if idle > stale_after:
        return f"run {run.run_ref} is open with no activity for {idle:.0f}s (limit {stale_after:.0f}s)"
    return None


def diagnose_bundle(
    bundle: RunBundle, *, stale_after: float = 3600.0, now_micros: int | None = None
) -> DiagnosisResult:
    issues: list[DiagnosticIssue] = []
    add = issues.append
    run = bundle.run
    now = now_micros if now_micros is not None else time.time_ns() // 1000
    if run is None:
        add(
            DiagnosticIssue(
                "error",
                "missing_run",
                f"{len(bundle.records)} record(s) name {bundle.run_ref}, which was never written",
                bundle.run_ref,
            )
        )
    elif run.status == "failed":
        add(DiagnosticIssue("error", "failed_run", f"run {run.name} failed", run.run_ref))
    elif run.status == "cancelled":
        add(DiagnosticIssue("warning", "cancelled_run", f"run {run.name} was cancelled", run.run_ref))
    stale = _stale(bundle, stale_after, now)
    if stale:
        add(DiagnosticIssue("error", "stale_open_run", stale, bundle.run_ref))
    run_ended = run is not None and run.status in TERMINAL_STATUSES
    stage_status = {}
    for stage in bundle.stages:
        stage_status[stage.stage_execution_ref] = stage.status
        if stage.status == "failed":
            add(
                DiagnosticIssue(
                    "error", "failed_stage", f"stage {stage.stage_name} failed", stage.stage_execution_ref
                )
            )
        elif stage.status == "open" and run_ended:
            add(
                DiagnosticIssue(
                    "warning",
                    "incomplete_stage",
                    f"stage {stage.stage_name} is still open but the run has ended",
                    stage.stage_execution_ref,
                )
            )
    for batch in bundle.batches:
        if batch.status == "failed":
            add(
                DiagnosticIssue(
                    "error", "failed_batch", f"batch {batch.batch_name} failed", batch.batch_execution_ref
                )
            )
        elif batch.status == "open" and (
            run_ended or stage_status.get(batch.stage_execution_ref, "open") != "open"
        ):
            add(
                DiagnosticIssue(
                    "warning",
                    "incomplete_batch",
                    f"batch {batch.batch_name} is still open but its stage or run has ended",
                    batch.batch_execution_ref,
                )
            )
    for deployment in bundle.deployments:
        if deployment.status == "failed":
            add(
                DiagnosticIssue(
                    "error",
                    "failed_deployment",
                    f"deployment {deployment.deployment_name} failed",
                    deployment.deployment_execution_ref,
                )
            )
    known = (
        set(stage_status)
        | {b.batch_execution_ref for b in bundle.batches}
        | {s.sample_observation_ref for s in bundle.samples}
    )
    for record in bundle.records:
        if record.record_type == "degraded":
            add(
                DiagnosticIssue(
                    record.severity or "error",
                    "degraded_record",
                    record.message or record.key,
                    record.stage_ref or record.run_ref,
                    (record.record_ref,),
                )
            )
        missing = [
            ref for ref in (record.stage_ref, record.batch_ref, record.sample_ref) if ref and ref not in known
        ]
        if missing and run is not None:
            add(
                DiagnosticIssue(
                    "warning",
                    "orphan_record",
                    f"record {record.record_ref} names {missing[0]}, which the workspace does not hold",
                    record.record_ref,
                    (record.record_ref,),
                )
            )
    return DiagnosisResult(bundle.run_ref, issues)
