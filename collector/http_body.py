"""Read an HTTP/1.1 request body with a hard size limit.

Supports ``Content-Length`` and ``Transfer-Encoding: chunked`` (the Node.js OTLP
exporter sends no length). Never reads more than the limit: an oversized body
raises HTTP 413 as soon as its declared or accumulated size passes the limit.
"""

from __future__ import annotations

import re
from email.message import Message as Headers
from typing import BinaryIO, Final

from contexta.collector.decode import OtlpDecodeError

_MAX_LINE: Final = 4096
_CHUNK_SIZE: Final = re.compile(rb"[0-9a-fA-F]{1,16}")


def declared_length(headers: Headers) -> int | None:
    """``Content-Length`` as an int, ``None`` if absent; 400 if it is invalid or ambiguous."""
    values = {v.strip() for v in headers.get_all("Content-Length") or ()}
    if not values:
        return None
    if len(values) > 1:
        raise OtlpDecodeError(f"conflicting Content-Length headers: {sorted(values)}")
    (value,) = values
    if not value.isdigit():
        raise OtlpDecodeError(f"invalid Content-Length {value!r}")
    return int(value)


def is_chunked(headers: Headers) -> bool:
    """Whether the body is chunked; any other transfer coding is unsupported (HTTP 501)."""
    value = headers.get("Transfer-Encoding")
    if value is None:
        return False
    if value.strip().lower() != "chunked":
        raise OtlpDecodeError(f"unsupported Transfer-Encoding {value!r}; only chunked is", status=501)
    return True


def read_body(rfile: BinaryIO, headers: Headers, max_bytes: int) -> bytes:
    """Read the whole body of the request whose ``headers`` were just parsed."""
    if is_chunked(headers):  # chunked wins over Content-Length (RFC 9112, 6.3)
        return _read_chunked(rfile, max_bytes)
    length = declared_length(headers) or 0
    if length > max_bytes:
        raise OtlpDecodeError(_too_large(max_bytes), status=413)
    body = rfile.read(length)
    if len(body) != length:
        raise OtlpDecodeError(f"body ended after {len(body)} of {length} bytes")
    return body


def _read_chunked(rfile: BinaryIO, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = _read_line(rfile, "chunk header")
        size_text = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise OtlpDecodeError(f"malformed chunk size {size_text[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > max_bytes:
            raise OtlpDecodeError(_too_large(max_bytes), status=413)
        chunk = rfile.read(size)
        if len(chunk) != size or _read_line(rfile, "chunk end").strip():
            raise OtlpDecodeError("chunked body is truncated or malformed")
        parts.append(chunk)
    while _read_line(rfile, "trailer").strip():  # discard trailer fields
        pass
    return b"".join(parts)


def _read_line(rfile: BinaryIO, what: str) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE or not line.endswith(b"\n"):
        raise OtlpDecodeError(f"chunked body: {what} line is missing, truncated or too long")
    return line


def _too_large(max_bytes: int) -> str:
    return f"request body exceeds the limit of {max_bytes} bytes"
