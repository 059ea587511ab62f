"""Content hashes of artifacts: a file's SHA-256, or a folder's hash over its sorted files."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def hash_path(path: Path) -> tuple[str, int]:
    """``(sha256 hex, size in bytes)``. A folder hashes ``relative path + file hash`` of every
    file in sorted order, so renaming or changing any file changes the folder's hash."""
    if path.is_file():
        return _file_digest(path)
    digest = hashlib.sha256()
    total = 0
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        file_hash, size = _file_digest(child)
        digest.update(f"{child.relative_to(path).as_posix()}\0{file_hash}\n".encode())
        total += size
    return digest.hexdigest(), total
