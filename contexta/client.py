"""``Contexta``: the one object users hold. Writes, reads and (with capture) instruments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contexta.config import UnifiedConfig, resolve_config
from contexta.query.service import QueryService
from contexta.store.repositories import MetadataStore, RecordStore
from contexta.store.uri import open_store


class Contexta(QueryService):
    """A workspace handle.

    ``Contexta(config=UnifiedConfig(project_name=..., workspace=WorkspaceConfig(root_path=...)))``
    or ``Contexta(workspace=".contexta", config={"project_name": ...})``. Usable as a context
    manager; :meth:`close` flushes every pending write.
    """

    def __init__(
        self,
        config: UnifiedConfig | Mapping[str, Any] | None = None,
        *,
        workspace: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = resolve_config(config, workspace=workspace, environ=environ)
        self.workspace_path = Path(self.config.workspace.root_path).absolute()
        uri = self.config.workspace.store_uri or self.workspace_path
        store = open_store(uri, commit_interval=self.config.workspace.commit_interval_seconds)
        super().__init__(
            store,
            stale_after=self.config.diagnostics.stale_after_seconds,
            default_project=self.config.project_name,
        )
        self.metadata_store = MetadataStore(store)
        self.record_store = RecordStore(store)

    @property
    def project_name(self) -> str | None:
        return self.config.project_name

    def flush(self) -> None:
        """Make every write so far durable and visible to other processes."""
        self.store.flush()

    def close(self) -> None:
        """Flush and close. Idempotent."""
        self.store.close()

    def __enter__(self) -> Contexta:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Contexta(workspace={str(self.workspace_path)!r}, project={self.project_name!r})"
