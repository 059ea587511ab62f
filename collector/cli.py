"""``contexta collector``: run an OTLP receiver that fills a workspace."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from contexta.errors import ContextaError

if TYPE_CHECKING:
    from contexta.collector.workspace_sink import WorkspaceSink


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="contexta collector")
    parser.description = (
        "Receive OTLP (HTTP and gRPC) from any instrumented service and write the spans, "
        "events and metrics that carry contexta attributes into a workspace."
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="workspace folder, created if missing"
        " (default: $CONTEXTA_STORE_URI, $CONTEXTA_WORKSPACE or .contexta)",
    )
    parser.add_argument(
        "--host", metavar="HOST", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", metavar="PORT", type=int, default=4318, help="OTLP/HTTP port (default 4318; 0 picks one)"
    )
    parser.add_argument(
        "--grpc-port",
        metavar="PORT",
        type=int,
        default=4317,
        help="OTLP/gRPC port (default 4317; -1 disables)",
    )
    parser.add_argument(
        "--token-file", metavar="FILE", type=Path, help="file holding the bearer token clients must send"
    )
    parser.add_argument(
        "--forward", metavar="URL", help="also forward every request unchanged to this OTLP/HTTP URL"
    )
    parser.add_argument(
        "--max-body-bytes", metavar="N", type=int, default=16 * 1024 * 1024, help="request size limit"
    )
    parser.add_argument("--insecure", action="store_true", help="allow a non-loopback host without a token")
    parser.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=1,
        help="processes serving OTLP/HTTP on the one port (default 1; 2 on a 2-core machine uses"
        " both cores; each opens its own connection to the workspace; gRPC stays in the first)",
    )
    return parser


def collector_command(argv: list[str] | None = None) -> int:
    """Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for bad settings."""
    from contexta.cli.resolve import workspace_target
    from contexta.collector.server import CollectorServer
    from contexta.collector.workspace_sink import WorkspaceSink
    from contexta.store.sqlite_store import SQLiteStore
    from contexta.store.uri import open_store

    args = build_parser().parse_args(argv)
    target = workspace_target(args.workspace)
    location = target.store_uri or target.folder
    try:
        token = args.token_file.read_text().strip() if args.token_file else None
        store = open_store(location)  # creates (or upgrades) the workspace, or says why it cannot
    except (OSError, ContextaError) as exc:
        print(f"contexta: error: {exc}", file=sys.stderr)
        return 2
    if not isinstance(store, SQLiteStore):  # pragma: no cover - only SQLite stores exist today
        store.close()
        print("contexta: error: the collector needs a SQLite workspace", file=sys.stderr)
        return 2
    sink: WorkspaceSink | Callable[[], WorkspaceSink] = WorkspaceSink(store)
    if args.workers != 1:
        # Every process opens its own connection after the fork: none may be open before it.
        store.close()
        path = store.path
        sink = lambda: WorkspaceSink(SQLiteStore(path), shared=True)  # noqa: E731
    try:
        server = CollectorServer(
            sink,
            host=args.host,
            http_port=args.port,
            grpc_port=None if args.grpc_port < 0 else args.grpc_port,
            token=token,
            max_body_bytes=args.max_body_bytes,
            forward_url=args.forward,
            insecure=args.insecure,
            workers=args.workers,
        )
        print(f"contexta collector: writing workspace {target.folder.absolute()}", flush=True)
        server.serve_forever_until_signal(out=sys.stdout)
    except ContextaError as exc:
        print(f"contexta: error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(collector_command())
