"""``Contexta``: the one object users hold. Writes, reads and (with capture) instruments."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contexta.config import UnifiedConfig, resolve_config
from contexta.errors import ConfigError
from contexta.handoff.facade import HandoffMethods
from contexta.query.service import QueryService
from contexta.store.repositories import MetadataStore, RecordStore
from contexta.store.sqlite_store import SQLiteStore
from contexta.store.uri import open_store

if TYPE_CHECKING:  # capture pulls in the OpenTelemetry SDK: imported on first use only
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from contexta.capture.deployments import DeploymentScope
    from contexta.capture.scopes import RunScope
    from contexta.capture.session import CaptureSession


class Contexta(QueryService, HandoffMethods):
    """A workspace handle.

    ``Contexta(config=UnifiedConfig(project_name=..., workspace=WorkspaceConfig(root_path=...)))``
    or ``Contexta(workspace=".contexta", config={"project_name": ...})``. Usable as a context
    manager; :meth:`close` flushes every pending write.
    """

    def __init__(
        self,
        config: UnifiedConfig | Mapping[str, Any] | None = None,
        *,
        workspace: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.config = resolve_config(config, workspace=workspace, environ=environ)
        self._environ = environ
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._session: CaptureSession | None = None
        self.workspace_path = Path(self.config.workspace.root_path).absolute()
        uri = self.config.workspace.store_uri or self.workspace_path
        store = open_store(uri, commit_interval=self.config.workspace.commit_interval_seconds)
        super().__init__(
            store,
            stale_after=self.config.diagnostics.stale_after_seconds,
            default_project=self.config.project_name,
        )
        self.metadata_store = MetadataStore(store)
        self.record_store = RecordStore(store)

    @property
    def project_name(self) -> str | None:
        return self.config.project_name

    # -- capture ---------------------------------------------------------------------------------
    @property
    def capture(self) -> CaptureSession:
        """The OpenTelemetry side, built on first use (queries alone never build providers)."""
        if self._session is None:
            if not isinstance(self.store, SQLiteStore):
                raise ConfigError("capture needs the embedded SQLite store")
            from contexta.capture.session import CaptureSession

            self._session = CaptureSession(
                self.config,
                self.store,
                tracer_provider=self._tracer_provider,
                meter_provider=self._meter_provider,
                environ=self._environ,
            )
        return self._session

    @property
    def sinks(self) -> list[Any]:
        """Where finished runs go besides the database (a :class:`LocalJsonlSink` at least)."""
        return self.capture.sinks

    def run(
        self,
        name: str,
        dataset_ref: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        dataset_refs: Sequence[str] = (),
    ) -> RunScope:
        """``with ctx.run("baseline", dataset_ref="dataset:sales.v3") as run:`` — one trace per run."""
        datasets = tuple(dataset_refs) + ((dataset_ref,) if dataset_ref else ())
        return self.capture.run(name, datasets, params, tags)

    def deployment(
        self,
        name: str,
        run_ref: str | None = None,
        environment: str | None = "prod",
        artifact_ref: str | None = None,
    ) -> DeploymentScope:
        """``with ctx.deployment("prod-v2", run_ref=run.ref) as dep:`` — a span linked to the run's span."""
        from contexta.capture.deployments import open_deployment

        return open_deployment(self.capture, name, run_ref, environment, artifact_ref)

    def record_deployment(
        self,
        name: str,
        run_ref: str | None = None,
        environment: str | None = "prod",
        artifact_ref: str | None = None,
        *,
        status: str = "completed",
        started_at: Any = None,
        ended_at: Any = None,
    ) -> str:
        """Record a deployment that already happened; returns its ref."""
        from contexta.capture.deployments import record_deployment

        return record_deployment(
            self.capture,
            name,
            run_ref=run_ref,
            environment=environment,
            artifact_ref=artifact_ref,
            status=status,
            started_at=started_at,
            ended_at=ended_at,
        )

    def telemetry_stats(self) -> dict[str, Any]:
        """Counters of the telemetry path: written, rejected, dropped, mirrored, failed."""
        return self._session.stats() if self._session is not None else {}

    def flush(self) -> None:
        """Make every write so far durable and visible to other processes."""
        self.store.flush()

    def close(self) -> None:
        """Flush and close. Idempotent."""
        if self._session is not None:
            self._session.close()
        self.store.close()

    def __enter__(self) -> Contexta:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Contexta(workspace={str(self.workspace_path)!r}, project={self.project_name!r})"
