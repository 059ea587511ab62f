"""``CollectorServer``: OTLP/HTTP and OTLP/gRPC receivers in front of one sink.

::

    with CollectorServer(sink, http_port=0, grpc_port=0) as server:
        print(server.http_address, server.grpc_address)

The collector listens on loopback by default. Binding any other address without a
token is refused (``ConfigError``) unless ``insecure=True`` says it is deliberate:
anyone who can reach the port could otherwise write into the workspace. The token
travels in clear text: put TLS in front (a reverse proxy) when leaving the host.

**Several processes** (``workers=N``, POSIX only): one Python process holds the GIL, so decoding
and mapping use one core at most. With ``workers=N`` the server binds the OTLP/HTTP socket, then
forks ``N - 1`` worker processes that serve the same listening socket (the kernel hands each new
connection to one of them) before anything else is opened; OTLP/gRPC stays in this process. The
sink must then be given as a function that opens one (``CollectorServer(lambda:
WorkspaceSink(SQLiteStore(path)), workers=2)``): every process calls it after the fork, so each
has its own SQLite connection (a connection must never cross a fork). Counters are summed over
the processes (a shared memory page). Stopping the server stops the workers (each finishes its
in-flight requests); a worker whose parent died (even by SIGKILL) stops by itself.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import mmap
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Final, TextIO

from contexta.collector.forward import Forwarder
from contexta.collector.grpc_server import OtlpGrpcServer
from contexta.collector.http_server import OtlpHttpServer, listen
from contexta.collector.ingest import Ingestor
from contexta.collector.sink import SIGNALS, OtlpSink
from contexta.collector.stats import CollectorStats
from contexta.errors import ConfigError, ContextaError

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
MAX_WORKERS: Final = 64
_WORKER_READY_SECONDS: Final = 120.0  # a worker opens (and may migrate) the workspace first
_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

SinkFactory = Callable[[], OtlpSink]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP literal (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False


def _is_factory(sink: Any) -> bool:
    return callable(sink) and not hasattr(sink, "consume")


class CollectorServer:
    """Receives OTLP over HTTP (and gRPC unless ``grpc_port=None``) and feeds ``sink``.

    ``sink`` is an :class:`OtlpSink`, or a function without arguments that opens one: the
    server then opens it in :meth:`start` and closes it (``sink.close()``, if it has one) in
    :meth:`stop`. ``workers > 1`` (OTLP/HTTP in that many processes) needs the function form.
    """

    def __init__(
        self,
        sink: OtlpSink | SinkFactory,
        host: str = "127.0.0.1",
        http_port: int | None = 4318,
        grpc_port: int | None = 4317,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        forward_url: str | None = None,
        insecure: bool = False,
        workers: int = 1,
    ) -> None:
        _check_port("http_port", http_port)
        _check_port("grpc_port", grpc_port)
        if http_port is None and grpc_port is None:
            raise ConfigError("http_port and grpc_port are both None: enable at least one receiver")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes: must be a positive int (got {max_body_bytes!r})")
        if token is not None and (not token.strip() or token != token.strip() or not token.isprintable()):
            raise ConfigError("token: must be a non-empty printable string without surrounding spaces")
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
            raise ConfigError(f"workers: must be an int from 1 to {MAX_WORKERS} (got {workers!r})")
        factory = _is_factory(sink)
        if workers > 1:
            if not hasattr(os, "fork"):
                raise ConfigError("workers: more than 1 needs os.fork (Linux, macOS); use workers=1")
            if http_port is None:
                raise ConfigError("workers: the worker processes serve OTLP/HTTP, which is disabled")
            if not factory:
                raise ConfigError(
                    "workers: more than 1 needs the sink as a function that opens one (each process "
                    "opens its own after the fork), e.g. lambda: WorkspaceSink(SQLiteStore(path))"
                )
        host = host.strip()
        if not host:
            raise ConfigError("host: must not be empty (use 127.0.0.1 for this machine only)")
        if not is_loopback(host) and token is None and not insecure:
            raise ConfigError(
                f"refusing to listen on non-loopback host {host!r} without a token: anyone who can reach "
                "it could write telemetry; pass token=... or insecure=True to allow it"
            )
        self.host = host
        self._ports = (http_port, grpc_port)
        self._token = token
        self._max_body_bytes = max_body_bytes
        self._forward_url = forward_url
        self._workers = workers
        self._factory: SinkFactory | None = sink if factory else None  # type: ignore[assignment]
        self._sink: OtlpSink | None = None if factory else sink  # type: ignore[assignment]
        self._board = _Board(workers) if workers > 1 else None
        self._stats: CollectorStats = _SharedStats(self._board, 0) if self._board else CollectorStats()
        self._forwarder = Forwarder(forward_url, stats=self._stats) if forward_url else None
        self._ingestor = Ingestor(self._sink, self._stats, self._forwarder) if self._sink else None
        self._http: OtlpHttpServer | None = None
        self._grpc: OtlpGrpcServer | None = None
        self._pool: _WorkerPool | None = None
        self._balance: _Balancer | None = None
        self._state = "new"

    @property
    def http_address(self) -> tuple[str, int] | None:
        """The bound OTLP/HTTP ``(host, port)``, or ``None`` before start / when disabled."""
        return self._http.address if self._http else None

    @property
    def grpc_address(self) -> tuple[str, int] | None:
        """The bound OTLP/gRPC ``(host, port)``, or ``None`` before start / when disabled."""
        return self._grpc.address if self._grpc else None

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the running worker processes (``workers - 1`` of them; [] without)."""
        return self._pool.alive() if self._pool else []

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot of the collector's counters (the same as ``GET /health`` reports); with
        ``workers > 1``, the sums over every process."""
        return self._stats.snapshot()

    def start(self) -> None:
        """Bind the ports and start serving; a stopped server cannot be started again."""
        if self._state == "running":
            return
        if self._state == "stopped":
            raise ContextaError("this CollectorServer was stopped; create a new one")
        http_port, grpc_port = self._ports
        opened = False
        sock: socket.socket | None = None
        try:
            if self._workers > 1:
                assert http_port is not None and self._board is not None and self._factory is not None
                sock = listen(self.host, http_port)
                sock.setblocking(False)  # every process polls it; the ones that lose a race move on
                self._pool = _WorkerPool(self, sock)
                self._pool.start()  # before any database, thread or gRPC state exists here
                self._balance = _Balancer(self._board, 0)
            if self._factory is not None:
                self._sink = self._factory()
                opened = True
                self._ingestor = Ingestor(self._sink, self._stats, self._forwarder)
            assert self._ingestor is not None
            if http_port is not None:
                self._http = OtlpHttpServer(
                    self._ingestor,
                    self._stats,
                    host=self.host,
                    port=http_port,
                    token=self._token,
                    max_body_bytes=self._max_body_bytes,
                    sock=sock,
                    balance=self._balance,
                )
            if grpc_port is not None:
                self._grpc = OtlpGrpcServer(
                    self._ingestor,
                    self._stats,
                    host=self.host,
                    port=grpc_port,
                    token=self._token,
                    max_message_bytes=self._max_body_bytes,
                )
        except BaseException:
            if self._http is not None:
                self._http.stop(grace=0)
            elif sock is not None:
                sock.close()
            if self._pool is not None:
                self._pool.stop(grace=0)
            if opened:
                _close(self._sink)
            self._state = "stopped"
            raise
        if self._forwarder is not None:
            self._forwarder.start()
        if self._grpc is not None:
            self._grpc.start()
        if self._http is not None:
            self._http.start()
        self._state = "running"

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, finish in-flight requests (up to ``grace`` s), flush forwarding.

        With workers: they are told to stop first (SIGTERM) and waited for (SIGKILL after the
        grace period and a few seconds more)."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        deadline = time.monotonic() + grace
        if self._pool is not None:
            self._pool.signal_stop(grace)
        grpc_stopped = self._grpc.stop(grace) if self._grpc is not None else None
        if self._balance is not None:
            self._balance.leave()
        if self._http is not None:
            self._http.stop(grace)
        if grpc_stopped is not None and self._grpc is not None:
            grpc_stopped.wait(max(0.0, deadline - time.monotonic()) + 1.0)
            self._grpc.close()
        if self._pool is not None:
            self._pool.stop(max(0.0, deadline - time.monotonic()))
        if self._forwarder is not None:
            self._forwarder.close(timeout=max(0.5, deadline - time.monotonic()))
        if self._factory is not None:
            _close(self._sink)

    def __enter__(self) -> CollectorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever_until_signal(self, grace: float = 5.0, out: TextIO | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then shut down cleanly. Call from the main thread."""
        out = out or sys.stdout
        with _Signals() as signals:
            try:
                self.start()
                for name, address in (("OTLP/HTTP", self.http_address), ("OTLP/gRPC", self.grpc_address)):
                    if address is not None:
                        scheme = "http://" if name == "OTLP/HTTP" else ""
                        print(
                            f"contexta collector: {name} listening on {scheme}{_hostport(*address)}", file=out
                        )
                if self._pool is not None:
                    pids = " ".join(str(pid) for pid in [os.getpid(), *self.worker_pids])
                    print(
                        f"contexta collector: OTLP/HTTP served by {self._workers} processes: {pids}", file=out
                    )
                out.flush()
                signals.wait()
                print("contexta collector: shutting down", file=out)
                out.flush()
            finally:
                self.stop(grace)

    # -- inside a worker process ----------------------------------------------------------------
    def _worker_main(self, slot: int, sock: socket.socket, parent_gone: int, ready: int) -> int:
        """Serve OTLP/HTTP on ``sock`` until SIGTERM/SIGINT or until the parent is gone."""
        assert self._board is not None and self._factory is not None
        with _Signals() as signals:  # replaces the parent's wakeup pipe, inherited by the fork
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            stats = _SharedStats(self._board, slot)
            balance = _Balancer(self._board, slot)
            forwarder = Forwarder(self._forward_url, stats=stats) if self._forward_url else None
            sink: OtlpSink | None = None
            http: OtlpHttpServer | None = None
            try:
                sink = self._factory()
                http = OtlpHttpServer(
                    Ingestor(sink, stats, forwarder),
                    stats,
                    host=self.host,
                    port=sock.getsockname()[1],
                    token=self._token,
                    max_body_bytes=self._max_body_bytes,
                    sock=sock,
                    balance=balance,
                )
                if forwarder is not None:
                    forwarder.start()
                http.start()
            except BaseException as exc:
                _write_all(ready, f"{slot} error {type(exc).__name__}: {exc}\n".encode()[:3000])
                if http is None:
                    sock.close()
                _close(sink)
                raise
            _write_all(ready, f"{slot} ok\n".encode())
            os.close(ready)
            if signals.wait(parent_gone) == parent_gone:  # EOF: the parent exited or was killed
                logger.warning(
                    "contexta collector worker %d: the parent process is gone; stopping", os.getpid()
                )
            grace = self._board.grace()
            balance.leave()
            http.stop(grace)
            if forwarder is not None:
                forwarder.close(timeout=max(0.5, grace))
            _close(sink)
        return 0


class _Signals:
    """SIGTERM and SIGINT delivered as bytes on a pipe (``signal.set_wakeup_fd``), for the main
    thread to :meth:`wait` on. The Python handlers do nothing: setting a ``threading.Event`` from
    a handler deadlocks when the signal lands while the main thread holds that event's lock (a
    second signal during a wake-up does exactly that)."""

    def __enter__(self) -> _Signals:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._handlers = {sig: signal.signal(sig, _noted) for sig in _STOP_SIGNALS}
        return self

    def wait(self, *fds: int) -> int:
        """Block until a stop signal arrives or one of ``fds`` is readable; return that fd (the
        pipe's own for a signal)."""
        watched = [self._read, *fds]
        while True:
            readable, _, _ = select.select(watched, [], [])
            if readable:
                return self._read if self._read in readable else readable[0]

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._wakeup)
        os.close(self._read)
        os.close(self._write)


def _noted(signum: int, frame: FrameType | None) -> None:
    """A stop signal's Python handler: the wakeup pipe already has its byte."""


def _close(sink: Any) -> None:
    close = getattr(sink, "close", None)
    if close is not None:
        close()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_port(name: str, port: int | None) -> None:
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise ConfigError(f"{name}: must be an int from 0 to 65535, or None to disable (got {port!r})")


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, data)  # under PIPE_BUF: one atomic write


def _set_parent_death_signal() -> None:
    """Linux: SIGTERM this process when the thread that forked it exits (belt and braces)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        pass


class _WorkerPool:
    """The forked worker processes of one :class:`CollectorServer`."""

    def __init__(self, server: CollectorServer, sock: socket.socket) -> None:
        self._server = server
        self._sock = sock
        self._pids: dict[int, int] = {}  # pid -> slot, while not reaped
        self._lock = threading.Lock()
        self._stopping = False
        self._parent_gone_w: int | None = None
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        server = self._server
        assert server._board is not None
        parent_gone_r, self._parent_gone_w = os.pipe()
        ready_r, ready_w = os.pipe()
        main_thread = threading.current_thread() is threading.main_thread()
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # or the child would print their buffers again
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            for slot in range(1, server._workers):
                old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
                try:
                    pid = os.fork()
                    if pid == 0:  # the worker: never returns
                        code = 1
                        try:
                            os.close(self._parent_gone_w)
                            os.close(ready_r)
                            if main_thread:
                                _set_parent_death_signal()
                            if os.getppid() != parent:  # the parent died before prctl took effect
                                os._exit(0)
                            code = server._worker_main(slot, self._sock, parent_gone_r, ready_w)
                        except BaseException:
                            with contextlib.suppress(Exception):
                                traceback.print_exc()
                                sys.stderr.flush()
                        finally:
                            os._exit(code)
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                self._pids[pid] = slot
            os.close(ready_w)
            ready_w = -1
            self._await_ready(ready_r)
        except BaseException:
            self.stop(grace=0)
            raise
        finally:
            os.close(ready_r)
            os.close(parent_gone_r)
            if ready_w >= 0:
                os.close(ready_w)
        self._monitor = threading.Thread(target=self._watch, name="contexta-workers", daemon=True)
        self._monitor.start()

    def _await_ready(self, ready_r: int) -> None:
        """Wait for every worker's 'ok' (it opened its sink and serves); raise on an 'error'."""
        deadline = time.monotonic() + _WORKER_READY_SECONDS
        data = b""
        expected = len(self._pids)
        while data.count(b"\n") < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ContextaError("collector workers did not start in time")
            readable, _, _ = select.select([ready_r], [], [], min(remaining, 1.0))
            if readable:
                chunk = os.read(ready_r, 4096)
                if not chunk:
                    break
                data += chunk
        lines = data.decode(errors="replace").splitlines()
        errors = [line.split(" error ", 1)[1] for line in lines if " error " in line]
        if errors:
            raise ContextaError(f"a collector worker could not start: {errors[0]}")
        if len(lines) < expected:
            raise ContextaError("a collector worker exited while starting")

    def alive(self) -> list[int]:
        with self._lock:
            self._reap()
            return sorted(self._pids)

    def _reap(self) -> None:
        """Collect exited workers (call with the lock held); report unexpected exits."""
        for pid in list(self._pids):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done == 0:
                continue
            slot = self._pids.pop(pid)
            self._server._board.set_connections(slot, _UNAVAILABLE)  # type: ignore[union-attr]
            code = os.waitstatus_to_exitcode(status)
            if not self._stopping:
                logger.error("contexta collector worker %d exited (code %s); the others go on", pid, code)
                self._server._stats.add("workers.exited")

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            with self._lock:
                if self._stopping:
                    return
                self._reap()

    def signal_stop(self, grace: float) -> None:
        """Tell every worker to stop (finishing its in-flight requests within ``grace`` s)."""
        board = self._server._board
        assert board is not None
        board.set_grace(grace)
        with self._lock:
            self._stopping = True
            for pid in self._pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def stop(self, grace: float) -> None:
        """Stop the workers and wait for them; SIGKILL the ones still there ``grace + 5`` s later."""
        self.signal_stop(grace)
        deadline = time.monotonic() + grace + 5.0
        with self._lock:
            while self._pids and time.monotonic() < deadline:
                self._reap()
                if self._pids:
                    time.sleep(0.01)
            for pid in list(self._pids):
                logger.warning("contexta collector worker %d did not stop in time; killing it", pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
                self._pids.pop(pid)
        if self._parent_gone_w is not None:
            os.close(self._parent_gone_w)
            self._parent_gone_w = None


# -- counters shared by the processes ---------------------------------------------------------------
_SLOT_BYTES: Final = 16384
_HEADER: Final = struct.Struct("<QI")  # sequence (odd while being written), payload length
_GRACE: Final = struct.Struct("<d")
_CONNECTIONS: Final = struct.Struct("<q")  # open connections of one process, at 64 + 8 * slot
_UNAVAILABLE: Final = 1 << 40  # the connection count of a process that stopped (or died)


class _Board:
    """A shared anonymous memory map: the stop grace period and each process's open connections,
    then one counter slot per process.

    A slot is written only by its own process (under its lock) as a seqlock: the sequence is odd
    while the JSON payload changes, so a reader retries instead of reading half a write."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._map = mmap.mmap(-1, _SLOT_BYTES * (processes + 1))  # MAP_SHARED: inherited by fork
        self._last: dict[int, dict[str, int]] = {}  # what this process last read of each slot
        self.set_grace(5.0)

    def set_grace(self, grace: float) -> None:
        _GRACE.pack_into(self._map, 0, grace)

    def set_connections(self, slot: int, count: int) -> None:
        _CONNECTIONS.pack_into(self._map, 64 + 8 * slot, count)

    def connections(self) -> list[int]:
        return [int(_CONNECTIONS.unpack_from(self._map, 64 + 8 * slot)[0]) for slot in range(self._processes)]

    def grace(self) -> float:
        return float(_GRACE.unpack_from(self._map, 0)[0])

    def write(self, slot: int, counts: dict[str, int]) -> None:
        payload = json.dumps(counts, separators=(",", ":")).encode()
        if len(payload) > _SLOT_BYTES - _HEADER.size:  # pragma: no cover - hundreds of counter names
            logger.warning("collector counters of process %d do not fit their slot", os.getpid())
            return
        offset = _SLOT_BYTES * (slot + 1)
        sequence = _HEADER.unpack_from(self._map, offset)[0]
        _HEADER.pack_into(self._map, offset, sequence + 1, 0)
        start = offset + _HEADER.size
        self._map[start : start + len(payload)] = payload
        _HEADER.pack_into(self._map, offset, sequence + 2, len(payload))

    def read(self, slot: int) -> dict[str, int]:
        offset = _SLOT_BYTES * (slot + 1)
        start = offset + _HEADER.size
        for _ in range(1000):
            sequence, length = _HEADER.unpack_from(self._map, offset)
            if sequence % 2:
                time.sleep(0)
                continue
            payload = self._map[start : start + length]
            if _HEADER.unpack_from(self._map, offset)[0] == sequence:
                counts: dict[str, int] = json.loads(payload) if length else {}
                self._last[slot] = counts
                return counts
        return self._last.get(slot, {})  # pragma: no cover - its writer died mid-write

    def total(self) -> dict[str, int]:
        """Every counter summed over the processes, plus ``process.<n>.requests``: the requests
        process ``n`` (0 is the parent) stored, to see how the kernel spread the connections."""
        total: Counter[str] = Counter()
        for slot in range(self._processes):
            counts = self.read(slot)
            total.update(counts)
            total[f"process.{slot}.requests"] = sum(counts.get(f"{s}.requests", 0) for s in SIGNALS)
        return dict(sorted(total.items()))


class _SharedStats(CollectorStats):
    """One process's counters, published to its slot of a :class:`_Board` after every change;
    :meth:`snapshot` and :meth:`get` report the sums over every process."""

    def __init__(self, board: _Board, slot: int) -> None:
        super().__init__()
        self._board = board
        self._slot = slot
        self._publish = threading.Lock()
        board.write(slot, {})

    def add(self, name: str, amount: int = 1) -> None:
        super().add(name, amount)
        with self._publish:  # the snapshots are written in the order they are taken
            self._board.write(self._slot, super().snapshot())

    def get(self, name: str) -> int:
        return self._board.total().get(name, 0)

    def snapshot(self) -> dict[str, int]:
        return self._board.total()


class _Balancer:
    """Leaves a waiting connection to a process that has fewer open connections, so that
    keep-alive clients spread evenly (the kernel alone may hand three of four to one process).
    A process waits at most ``patience`` seconds for another to take a connection, so a busy or
    stuck process never holds one up for long."""

    def __init__(self, board: _Board, slot: int, patience: float = 0.05) -> None:
        self._board = board
        self._slot = slot
        self._patience = patience
        self._lock = threading.Lock()
        self._open = 0
        self._left = False
        self._deferring_since: float | None = None
        self._last_look = 0.0
        board.set_connections(slot, 0)

    def opened(self) -> None:
        self._count(1)

    def closed(self) -> None:
        self._count(-1)

    def _count(self, change: int) -> None:
        with self._lock:
            self._open += change
            if not self._left:
                self._board.set_connections(self._slot, self._open)

    def leave(self) -> None:
        """This process stops accepting: the others must not leave connections to it."""
        with self._lock:
            self._left = True
            self._board.set_connections(self._slot, _UNAVAILABLE)

    def should_accept(self) -> bool:
        counts = self._board.connections()
        mine = counts[self._slot]
        now = time.monotonic()
        if any(count < mine for count in counts):
            if self._deferring_since is None or now - self._last_look > 0.01:  # a new connection
                self._deferring_since = now
            self._last_look = now
            if now - self._deferring_since < self._patience:
                return False
        self._deferring_since = None
        return True
