"""Sinks: where a finished run's data goes besides the workspace database.

:class:`LocalJsonlSink` keeps a JSON Lines copy of every captured run's records and artifact
manifests inside the workspace (``exports/records.jsonl``, ``exports/artifacts.jsonl``): a
greppable, diffable log that needs no contexta to read. A run is appended when its scope
closes; :meth:`LocalJsonlSink.export_run` adds any other run (e.g. one written through the
explicit store API). Appends from several processes are serialised with a file lock.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any, Protocol

from contexta.errors import ValidationError
from contexta.store.base import RecordView, WorkspaceStore

FILES = {"RECORD": "records.jsonl", "ARTIFACT": "artifacts.jsonl"}


class Sink(Protocol):
    """Receives each run when its capture scope closes."""

    def export_run(self, run_ref: str) -> int: ...


def record_document(view: RecordView) -> dict[str, Any]:
    """The record as the contract model's JSON (``model.model_dump(mode="json")``), built
    straight from the stored row: a run's records are written when its scope closes, on the
    training thread, so this avoids re-validating every record through pydantic."""
    envelope = {
        "record_ref": view.record_ref,
        "record_type": view.record_type,
        "recorded_at": view.recorded_at,
        "observed_at": view.observed_at,
        "producer_ref": view.producer_ref,
        "run_ref": view.run_ref,
        "stage_execution_ref": view.stage_ref,
        "batch_execution_ref": view.batch_ref,
        "sample_observation_ref": view.sample_ref,
        "completeness_marker": view.completeness_marker,
        "degradation_marker": view.degradation_marker,
    }
    details = view.details
    if view.record_type == "metric":
        payload: dict[str, Any] = {
            "metric_key": view.key,
            "value": view.value,
            "value_type": details.get("value_type", "float64"),
            "unit": view.unit,
            "step": view.step,
            "aggregation_scope": details.get("aggregation_scope"),
        }
    elif view.record_type == "event":
        payload = {
            "event_key": view.key,
            "level": view.level,
            "message": view.message or "",
            "attributes": details.get("attributes", {}),
            "origin_marker": details.get("origin_marker", "explicit_capture"),
        }
    elif view.record_type == "degraded":
        payload = {
            "issue_key": view.key,
            "category": view.category,
            "severity": view.severity,
            "summary": view.message,
            "origin_marker": details.get("origin_marker", "explicit_capture"),
            "attributes": details.get("attributes", {}),
        }
    else:
        payload = dict(details)
    return {"envelope": envelope, "payload": payload}


class LocalJsonlSink:
    """JSON Lines files of records and artifact manifests, inside the workspace."""

    def __init__(self, workspace_path: Path, store: WorkspaceStore) -> None:
        self.directory = workspace_path / "exports"
        self.store = store

    def file_path_for(self, kind: str) -> Path:
        """Absolute path of the file holding ``"RECORD"`` or ``"ARTIFACT"`` lines."""
        name = FILES.get(str(kind).upper())
        if name is None:
            raise ValidationError.for_field("kind", f"must be one of {sorted(FILES)}", kind)
        return (self.directory / name).absolute()

    def export_run(self, run_ref: str) -> int:
        """Append one run's records and artifacts; returns the number of lines written."""
        bundle = self.store.read_run(run_ref)
        records = [json.dumps(record_document(view), sort_keys=True) for view in bundle.records]
        artifacts = [json.dumps(a.model_dump(mode="json"), sort_keys=True) for a in bundle.artifacts]
        self._append(self.file_path_for("RECORD"), records)
        self._append(self.file_path_for("ARTIFACT"), artifacts)
        return len(records) + len(artifacts)

    @staticmethod
    def _append(path: Path, lines: list[str]) -> None:
        if not lines:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
