"""Thread-safe counters of the collector, reported by ``GET /health``.

Names are dotted: ``traces.requests``/``traces.items``/``traces.rejected`` per signal,
``sink.failures``, ``http.<status>`` and ``grpc.<code>`` for refused requests, and
``forward.sent``/``forward.failed``/``forward.dropped`` when forwarding is on.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class CollectorStats:
    """Named monotonically increasing counters; safe to update from any thread."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter(dict.fromkeys(names, 0))

    def add(self, name: str, amount: int = 1) -> None:
        """Increase counter ``name`` by ``amount`` (creating it at zero first)."""
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        """Current value of counter ``name`` (0 if never touched)."""
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        """A consistent copy of every counter, sorted by name."""
        with self._lock:
            return dict(sorted(self._counts.items()))
