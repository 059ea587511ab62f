"""Workspace storage behind a small protocol, chosen by URI."""

from contexta.store.base import RecordView, RunBundle, RunRow, WorkspaceStore
from contexta.store.uri import DB_FILENAME, open_store

__all__ = ["DB_FILENAME", "RecordView", "RunBundle", "RunRow", "WorkspaceStore", "open_store"]
