"""Choose a store from a URI: ``sqlite:///path/to/contexta.db`` (default) or a workspace folder."""

from __future__ import annotations

from pathlib import Path

from contexta.errors import ConfigError
from contexta.store.base import WorkspaceStore

DB_FILENAME = "contexta.db"


def open_store(uri: str | Path, *, commit_interval: float = 0.2) -> WorkspaceStore:
    """Open (creating and migrating if needed) the store that ``uri`` names.

    ``sqlite:///relative/or/absolute.db`` opens that file; a plain path is a workspace folder
    whose database is ``<folder>/contexta.db``. ``postgresql://`` is planned and refused with a
    message until it exists.
    """
    from contexta.store.sqlite_store import SQLiteStore

    text = str(uri)
    if text.startswith("sqlite:///"):
        return SQLiteStore(Path(text.removeprefix("sqlite:///")), commit_interval=commit_interval)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(f"store URI {text!r}: scheme {scheme!r} is not supported (supported: sqlite:///)")
    return SQLiteStore(Path(text) / DB_FILENAME, commit_interval=commit_interval)
