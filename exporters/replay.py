"""Replay a workspace as OTLP: the runs it holds, re-sent to any OpenTelemetry backend.

What a replay sends, for each run (or the one asked for):

- the **run span** (root of the run's trace), its **stage, batch and sample spans** with their
  historical start and end times, ``contexta.status`` and the OTel span status (ERROR when
  failed, with the exception message when one was recorded);
- every **record as a span event** on the span of its scope: ``contexta.metric``,
  ``contexta.event``, ``contexta.degraded`` (an ``exception`` event for exceptions the capture
  API recorded), with the record ref, the original RFC 3339 ``recorded_at``, the producer, the
  completeness and degradation markers, and a metric's aggregation scope and value type when
  they are not the defaults, so records written through the explicit API come back exactly;
- ``contexta.artifact`` and ``contexta.environment`` events;
- **span records** (``record_type == "span"``: HTTP, DB... spans captured under a stage) as
  plain spans under the span of their scope, with their own ids, kind, status, attributes and
  their producer as ``service.name``;
- **deployments** as spans in their own trace, linked to the run's span;
- **metric points**: one gauge per metric key (``contexta.metric.<key>``), one data point per
  metric record at its historical time, with the same point attributes live capture uses.

Ids come from the stored ones when the run was captured live (so a backend that already holds
the live spans deduplicates them) and otherwise from the refs (:mod:`contexta.exporters.ids`):
replaying twice sends identical trace and span ids.

Why spans are built by hand and metrics as SDK data, not through a tracer and a meter: the
SDK's instruments stamp the current time (a ``Gauge`` keeps only the last value per attribute
set per collection) and its tracer draws random ids. ``ReadableSpan`` and the SDK's metric data
classes (``MetricsData`` ... ``NumberDataPoint``) carry any time and id, and the *official*
OTLP exporters (http/protobuf or gRPC, built by :mod:`contexta.exporters.otlp`) encode and send
them with their retries, headers, TLS and compression: no second OTLP encoder or transport.

The way back is :func:`spans_from_otlp` (protobuf -> :class:`SpanData`) and
:func:`writes_for_spans` (-> the rows :func:`~contexta.exporters.mapping.map_span` makes):
a replayed workspace maps back to the same rows (``tests/test_replay.py`` checks it).
An entity that is still ``open`` (a running or a crashed run) is sent **without an end time**:
the mapping turns a finished span into a terminal row whatever its ``contexta.status``, and an
unset end time is what keeps it open on the way back. Trace UIs may show such a span with no
or a negative duration.

Not carried, because the semantic conventions have no attribute for them: a run's
``description``, and the free-form ``attributes`` of stages, batches, samples, deployments and
environment snapshots.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from contexta.errors import ContextaError, ValidationError
from contexta.exporters.replay_events import ReplaySummary
from contexta.exporters.replay_send import replay_workspace

log = logging.getLogger("contexta.exporters")

Progress = Callable[[int, int], None]


# -- command line ------------------------------------------------------------------------------
def add_replay_arguments(parser: argparse.ArgumentParser, *, common: bool = True) -> argparse.ArgumentParser:
    """Add the ``replay`` options to ``parser``; ``common=False`` leaves out ``--workspace``,
    ``--project`` and ``--json`` (when a parent parser already has them)."""
    if common:
        parser.add_argument(
            "--workspace", metavar="DIR", help="workspace folder (default: $CONTEXTA_WORKSPACE or .contexta)"
        )
        parser.add_argument("--project", metavar="P", help="only this project (default: every project)")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--run", metavar="REF", help="replay one run (run:P.NAME, or a run name)")
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="OTLP endpoint (default: $OTEL_EXPORTER_OTLP_ENDPOINT); "
        "for http/protobuf a base URL such as http://localhost:4318",
    )
    parser.add_argument(
        "--protocol",
        choices=("http/protobuf", "grpc"),
        help="default: $OTEL_EXPORTER_OTLP_PROTOCOL or http/protobuf",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra request header (repeatable; default: $OTEL_EXPORTER_OTLP_HEADERS)",
    )
    parser.add_argument("--no-metrics", action="store_true", help="send spans only, no gauge points")
    parser.add_argument(
        "--service-name",
        metavar="NAME",
        help="service.name of the replayed spans (default: $OTEL_SERVICE_NAME or the project name)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=512, metavar="N", help="spans per request (default 512)"
    )
    parser.add_argument(
        "--max-span-events",
        type=int,
        metavar="N",
        help="keep only the last N events of each span (default: all; contexta's collector needs all)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="per request, retries included (default 10)",
    )
    return parser


def _headers(items: Sequence[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError.for_field("--header", "must be KEY=VALUE", item)
        headers[key.strip().lower()] = value.strip()
    return headers


class ProgressBar:
    """A one-line progress bar on a terminal (``progress(done, total)``); silent elsewhere."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._last = -1.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width if total == 0 else self.width * done // total
        percent = 100 if total == 0 else 100 * done // total
        self.stream.write(
            f"\rreplay [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% {done}/{total}"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def format_summary(summary: ReplaySummary) -> str:
    lines = [
        f"replayed {summary.runs} run(s), {summary.deployments} deployment(s): {summary.spans} spans, "
        f"{summary.events} events, {summary.metric_points} metric points in {summary.seconds:.2f} s"
    ]
    if summary.traces_endpoint:
        lines.append(f"to {summary.traces_endpoint} ({summary.protocol})")
    if summary.failures:
        lines.append(
            f"FAILED: {summary.failures} batch(es); {summary.failed_spans} spans and "
            f"{summary.failed_metric_points} metric points were not accepted"
        )
    lines += [f"  {problem}" for problem in summary.problems]
    return "\n".join(lines)


def replay_command(
    args: argparse.Namespace, ctx: Any = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``replay`` for parsed ``args`` (see :func:`add_replay_arguments`): 0 when everything
    was accepted, 1 when something failed. ``ctx`` (a Contexta) replaces ``--workspace``."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    workspace = (
        ctx
        if ctx is not None
        else (getattr(args, "workspace", None) or os.environ.get("CONTEXTA_WORKSPACE") or ".contexta")
    )
    summary = replay_workspace(
        workspace,
        run=args.run,
        project=getattr(args, "project", None),
        endpoint=args.endpoint,
        protocol=args.protocol,
        headers=_headers(args.header),
        metrics=not args.no_metrics,
        service_name=args.service_name,
        batch_size=args.batch_size,
        max_span_events=getattr(args, "max_span_events", None),
        timeout=args.timeout,
        progress=None if getattr(args, "json", False) else ProgressBar(err),
    )
    if getattr(args, "json", False):
        out.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        out.write(format_summary(summary) + "\n")
    return 0 if summary.ok else 1


def main_replay(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """``python -m contexta.exporters.replay [options]``: 0 ok, 1 failures, 2 bad input."""
    parser = add_replay_arguments(
        argparse.ArgumentParser(
            prog="contexta replay",
            description="Re-send a workspace's runs as OTLP spans, events and metrics.",
        )
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return replay_command(args, stdout=stdout, stderr=stderr)
    except ContextaError as exc:
        (stderr or sys.stderr).write(f"contexta: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_replay())
