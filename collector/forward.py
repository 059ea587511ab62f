"""Forward every accepted OTLP request, unchanged, to another OTLP/HTTP receiver.

Ingest never waits for forwarding: requests go into a bounded queue that one
background thread drains. A full queue drops the request (``forward.dropped``); a
failed delivery is counted (``forward.failed``) and not retried. Each outage is
logged once (at its first failure) and its end once, so a dead upstream never
floods the log.

The URL is a base URL (``http://host:4318``) to which ``/v1/traces``, ``/v1/metrics``
or ``/v1/logs`` is appended. If it already ends with such a signal path, that
signal is sent to it and the others to the sibling paths.
"""

from __future__ import annotations

import http.client
import logging
import queue
import re
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from contexta.collector.sink import SIGNALS, Signal
from contexta.collector.stats import CollectorStats
from contexta.errors import ConfigError

logger = logging.getLogger(__name__)

_SIGNAL_SUFFIX = re.compile(r"/v1/(?:traces|metrics|logs)/?$")


@dataclass(frozen=True)
class _Job:
    signal: Signal
    body: bytes
    content_type: str
    content_encoding: str | None


_STOP = object()


class Forwarder:
    """Delivers queued OTLP/HTTP requests to ``url`` from a background thread."""

    def __init__(
        self,
        url: str,
        *,
        stats: CollectorStats | None = None,
        queue_size: int = 1000,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"forward_url: must be an http:// or https:// URL (got {url!r})")
        if queue_size < 1:
            raise ConfigError(f"forward queue_size: must be >= 1 (got {queue_size!r})")
        base_path = _SIGNAL_SUFFIX.sub("", parts.path).rstrip("/")
        query = f"?{parts.query}" if parts.query else ""
        self._paths: dict[Signal, str] = {s: f"{base_path}/v1/{s}{query}" for s in SIGNALS}
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._stats = stats or CollectorStats()
        for name in ("sent", "failed", "dropped"):
            self._stats.add(f"forward.{name}", 0)
        self._queue_size = queue_size
        self._queue: queue.Queue[_Job | object] = queue.Queue()  # bounded in submit()
        self._connection: http.client.HTTPConnection | None = None
        self._failing = False
        self._dropping = False
        self._thread = threading.Thread(target=self._run, name="contexta-otlp-forward", daemon=True)
        self._started = False

    def url_for(self, signal: Signal) -> str:
        """The full URL requests of ``signal`` are forwarded to."""
        return f"{self._scheme}://{self._netloc}{self._paths[signal]}"

    def start(self) -> None:
        """Start the delivery thread (once)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(
        self, signal: Signal, body: bytes, content_type: str, content_encoding: str | None = None
    ) -> bool:
        """Queue a request for delivery without blocking; ``False`` if it was dropped."""
        if self._queue.qsize() >= self._queue_size:
            self._stats.add("forward.dropped")
            if not self._dropping:
                self._dropping = True
                logger.warning("forward queue is full (%d requests): dropping requests", self._queue_size)
            return False
        self._queue.put(_Job(signal, body, content_type, content_encoding))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (for at most ``timeout`` seconds), then stop the thread."""
        if self._started:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning(
                    "forwarding did not finish within %.1fs; %d requests left", timeout, self._queue.qsize()
                )
                return
        self._close_connection()

    def _run(self) -> None:
        while (job := self._queue.get()) is not _STOP:
            assert isinstance(job, _Job)
            try:
                error = self._deliver(job)
            except Exception as exc:  # never let the thread die
                error = f"{type(exc).__name__}: {exc}"
            self._record(job, error)
        self._close_connection()

    def _deliver(self, job: _Job) -> str | None:
        """POST one request; reuse the connection, retrying once if a kept-alive one went stale."""
        headers = {**self._headers, "Content-Type": job.content_type}
        if job.content_encoding:
            headers["Content-Encoding"] = job.content_encoding
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or self._connect()
            try:
                connection.request("POST", self._paths[job.signal], body=job.body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._close_connection()
                if reused and attempt == 1:
                    continue
                return f"{type(exc).__name__}: {exc}"
            if response.will_close:
                self._close_connection()
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status} {response.reason}"
        return "unreachable"  # pragma: no cover

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            context = ssl.create_default_context()
            self._connection = http.client.HTTPSConnection(
                self._netloc, timeout=self._timeout, context=context
            )
        else:
            self._connection = http.client.HTTPConnection(self._netloc, timeout=self._timeout)
        return self._connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _record(self, job: _Job, error: str | None) -> None:
        if error is None:
            self._stats.add("forward.sent")
            self._dropping = False
            if self._failing:
                self._failing = False
                logger.info("forwarding to %s works again", self.url_for(job.signal))
            return
        self._stats.add("forward.failed")
        if not self._failing:
            self._failing = True
            logger.warning(
                "forwarding to %s failed: %s (further failures are only counted until it works again)",
                self.url_for(job.signal),
                error,
            )
