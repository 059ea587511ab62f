"""The OTLP mirror: the same spans and metrics, sent to the backends a team already runs.

Two small wrappers make failures visible, because the SDK hides both: its ``force_flush()``
returns True even when the export failed, and its batch processor drops spans silently when
its queue is full. :class:`CountingSpanExporter` counts what the backend accepted and refused;
:class:`MirrorSpanProcessor` is a bounded queue plus one worker thread that counts what it
had to drop. Neither ever blocks or raises into the instrumented program.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("contexta.exporters")


@dataclass(slots=True)
class MirrorStats:
    """What happened to mirrored telemetry; ``ctx.telemetry_stats()`` reports it."""

    spans_exported: int = 0
    spans_failed: int = 0
    spans_dropped: int = 0
    export_errors: int = 0
    metric_exports_failed: int = 0
    metric_exports_ok: int = 0


class CountingSpanExporter(SpanExporter):
    """Wraps any ``SpanExporter``; counts results, logs the first failure, never raises."""

    def __init__(self, inner: SpanExporter, stats: MirrorStats) -> None:
        self.inner = inner
        self.stats = stats
        self._warned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            self.stats.export_errors += 1
            result = SpanExportResult.FAILURE
            self._warn(f"{type(exc).__name__}: {exc}")
        if result is SpanExportResult.SUCCESS:
            self.stats.spans_exported += len(spans)
        else:
            self.stats.spans_failed += len(spans)
            self._warn("the backend did not accept the batch")
        return result

    def _warn(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "contexta: OTLP span export failed (%s); the local workspace is complete, "
                "later failures are counted in telemetry_stats()",
                why,
            )

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:  # pragma: no cover - shutting down a broken exporter
            log.debug("contexta: exporter shutdown failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class MirrorSpanProcessor(SpanProcessor):
    """A bounded batching processor that counts drops instead of hiding them."""

    def __init__(
        self,
        exporter: CountingSpanExporter,
        *,
        max_queue: int = 8192,
        max_batch: int = 512,
        delay_seconds: float = 1.0,
    ) -> None:
        self.exporter = exporter
        self.stats = exporter.stats
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.delay = delay_seconds
        self._queue: deque[ReadableSpan] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._idle = threading.Event()
        self._idle.set()
        self._worker = threading.Thread(target=self._run, name="contexta-otlp-mirror", daemon=True)
        self._worker.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self._stop or not span.context.trace_flags.sampled:
            return
        if len(self._queue) >= self.max_queue:
            self.stats.spans_dropped += 1
            return
        self._queue.append(span)
        if len(self._queue) >= self.max_batch:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.delay)
            self._wake.clear()
            self._export_all()

    def _export_all(self) -> None:
        self._idle.clear()
        try:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                self.exporter.export(batch)
        finally:
            self._idle.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Ask the worker to export now; True only if everything queued was accepted in time."""
        failed_before = self.stats.spans_failed + self.stats.spans_dropped
        deadline = time.monotonic() + timeout_millis / 1000
        self._wake.set()
        while (self._queue or not self._idle.is_set()) and time.monotonic() < deadline:
            time.sleep(0.01)
        done = not self._queue and self._idle.is_set()
        return done and self.stats.spans_failed + self.stats.spans_dropped == failed_before

    def shutdown(self, timeout_millis: int = 2000) -> None:
        self.force_flush(timeout_millis)
        self._stop = True
        self._wake.set()
        self.stats.spans_dropped += len(self._queue)
        self._queue.clear()
        self.exporter.shutdown()


class CountingMetricExporter(MetricExporter):
    """Wraps an OTLP ``MetricExporter``; counts outcomes, never raises."""

    def __init__(self, inner: MetricExporter, stats: MirrorStats) -> None:
        super().__init__()
        self.inner = inner
        self.stats = stats
        self._warned = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        try:
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis)
        except Exception as exc:
            result = MetricExportResult.FAILURE
            log.debug("contexta: metric export raised %s", exc)
        if result is MetricExportResult.SUCCESS:
            self.stats.metric_exports_ok += 1
        else:
            self.stats.metric_exports_failed += 1
            if not self._warned:
                self._warned = True
                log.warning(
                    "contexta: OTLP metric export failed; later failures are counted in telemetry_stats()"
                )
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        try:
            self.inner.shutdown(timeout_millis=timeout_millis)
        except Exception:  # pragma: no cover
            log.debug("contexta: metric exporter shutdown failed", exc_info=True)
