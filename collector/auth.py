"""Bearer-token check shared by the OTLP/HTTP and OTLP/gRPC receivers."""

from __future__ import annotations

import hmac


class BearerToken:
    """Checks ``Authorization: Bearer <token>`` values in constant time; ``None`` allows all."""

    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token is not None else None

    @property
    def required(self) -> bool:
        """Whether requests must carry the token."""
        return self._expected is not None

    def allows(self, authorization: str | bytes | None) -> bool:
        """Whether an ``Authorization`` header value (or ``None`` if absent) is acceptable."""
        if self._expected is None:
            return True
        if isinstance(authorization, str):
            authorization = authorization.encode("utf-8", "surrogateescape")
        given = (authorization or b"").strip()
        if given[:7].lower() == b"bearer ":  # the scheme is case-insensitive (RFC 9110)
            given = b"Bearer " + given[7:].lstrip()
        return hmac.compare_digest(given, self._expected)
