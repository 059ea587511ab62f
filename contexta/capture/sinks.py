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
from typing import Protocol

from contexta.errors import ValidationError
from contexta.store.base import WorkspaceStore

FILES = {"RECORD": "records.jsonl", "ARTIFACT": "artifacts.jsonl"}


class Sink(Protocol):
    """Receives each run when its capture scope closes."""

    def export_run(self, run_ref: str) -> int: ...


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
        records = [
            json.dumps(view.to_model().model_dump(mode="json"), sort_keys=True) for view in bundle.records
        ]
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
