"""Fixtures of the capture tests: an OTLP receiver, Contexta factories and the iris-like workflow."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import LOCALHOST, OtlpReceiver

from contexta import Contexta

PROJECT = "iris-svm"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """An in-process OTLP receiver (HTTP and gRPC on 127.0.0.1, port 0), closed after the test."""
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture
def open_ctx(workspace: Path) -> Iterator[Callable[..., Contexta]]:
    """Open Contexta handles on the test's workspace (project ``iris-svm``); all closed at the end."""
    opened: list[Contexta] = []

    def factory(
        environ: Mapping[str, str] | None = None, *, project: str = PROJECT, **kwargs: Any
    ) -> Contexta:
        config = {"project_name": project, **kwargs.pop("config", {})}
        handle = Contexta(workspace=workspace, config=config, environ=dict(environ or {}), **kwargs)
        opened.append(handle)
        return handle

    yield factory
    for handle in reversed(opened):
        handle.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound to port 0, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dead_endpoint() -> str:
    """``http://127.0.0.1:<port>`` with no server behind it."""
    return f"http://{LOCALHOST}:{closed_port()}"


@dataclass
class IrisRun:
    """What the iris-like workflow logged, so tests can compare exported and stored data with it."""

    name: str
    label: str
    run_ref: str
    artifact_ref: str
    deployment_ref: str
    model_path: Path
    metrics: dict[str, tuple[float, int | None, str | None]] = field(default_factory=dict)


IRIS_METRICS: dict[str, tuple[str, float, int | None, str | None]] = {
    # key -> (where, value, step, unit)
    "loss": ("train", 0.25, 3, "1"),
    "fit_seconds": ("train", 0.5, None, "s"),
    "accuracy": ("batch", 0.9556, None, "ratio"),
    "macro.f1": ("batch", 0.9554, None, "ratio"),
    "correct": ("sample", 1.0, None, "ratio"),
    "wall_seconds": ("run", 2.5, None, "s"),
}


def run_iris(ctx: Contexta, folder: Path, name: str = "Linear SVM", accuracy: float = 0.9556) -> IrisRun:
    """The acceptance workflow without sklearn: run -> train/evaluate -> batch -> sample, then deploy."""
    model_path = folder / f"{name.replace(' ', '_')}.pkl"
    model_path.write_bytes(b"pickled model of " + name.encode())
    values = {
        key: (value if key != "accuracy" else accuracy, step, unit)
        for key, (_where, value, step, unit) in IRIS_METRICS.items()
    }

    def log(scope: Any, where: str) -> None:
        for key, (place, _value, _step, _unit) in IRIS_METRICS.items():
            if place == where:
                value, step, unit = values[key]
                scope.metric(key, value, step=step, unit=unit)

    with ctx.run(
        name,
        dataset_ref="dataset:sklearn.iris",
        params={"kernel": "linear", "C": 1.0},
        tags={"team": "vision"},
    ) as run:
        with run.stage("train") as train:
            log(train, "train")
        with run.stage("evaluate") as evaluate:
            with evaluate.batch("holdout-split") as batch:
                log(batch, "batch")
                with batch.sample("first-prediction") as sample:
                    log(sample, "sample")
            evaluate.event("evaluation.finished", "45 rows scored", attributes={"rows": 45})
            evaluate.degraded(
                "rows.missing_label", "2 rows had no label", category="data", severity="warning"
            )
        log(run, "run")
        artifact_ref = run.register_artifact("model", model_path, attributes={"candidate": name})
    deployment_ref = ctx.record_deployment(f"{name} prod", run_ref=run.ref, artifact_ref=artifact_ref)
    return IrisRun(run.name, name, run.ref, artifact_ref, deployment_ref, model_path, values)


@pytest.fixture
def iris(tmp_path: Path) -> Callable[..., IrisRun]:
    """``iris(ctx, name=..., accuracy=...)`` runs the iris-like workflow and returns what it logged."""

    def workflow(ctx: Contexta, name: str = "Linear SVM", accuracy: float = 0.9556) -> IrisRun:
        return run_iris(ctx, tmp_path, name, accuracy)

    return workflow
