"""Capture: runs, stages, batches, samples and deployments as OpenTelemetry spans."""

from contexta.capture.deployments import DeploymentScope
from contexta.capture.scopes import BatchScope, CaptureScope, RunScope, SampleScope, StageScope
from contexta.capture.session import CaptureSession
from contexta.capture.sinks import LocalJsonlSink, Sink

__all__ = [
    "BatchScope",
    "CaptureScope",
    "CaptureSession",
    "DeploymentScope",
    "LocalJsonlSink",
    "RunScope",
    "SampleScope",
    "Sink",
    "StageScope",
]
