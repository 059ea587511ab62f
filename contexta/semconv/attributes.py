"""Attribute keys, enum values and span event names of contexta's semantic conventions.

Generated from ``registry.yaml`` by ``python -m contexta.semconv._generate``; do not edit.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "ARTIFACT_KIND",
    "ARTIFACT_REF",
    "ARTIFACT_SHA256",
    "ARTIFACT_SIZE_BYTES",
    "ARTIFACT_URI",
    "ATTRIBUTE_TYPES",
    "BATCH_NAME",
    "BATCH_REF",
    "DATASET_REFS",
    "DEGRADED_CATEGORY",
    "DEGRADED_ISSUE_KEY",
    "DEGRADED_SEVERITY",
    "DEGRADED_SUMMARY",
    "DEPLOYMENT_ARTIFACT_REF",
    "DEPLOYMENT_ENVIRONMENT",
    "DEPLOYMENT_NAME",
    "DEPLOYMENT_REF",
    "ENTITY_KIND",
    "ENVIRONMENT_ENV_VARS",
    "ENVIRONMENT_GIT_COMMIT",
    "ENVIRONMENT_GIT_DIRTY",
    "ENVIRONMENT_PACKAGES",
    "ENVIRONMENT_PLATFORM",
    "ENVIRONMENT_PYTHON_VERSION",
    "EVENT_ARTIFACT",
    "EVENT_ATTRIBUTES",
    "EVENT_DEGRADED",
    "EVENT_ENVIRONMENT",
    "EVENT_EVENT",
    "EVENT_KEY",
    "EVENT_LEVEL",
    "EVENT_MESSAGE",
    "EVENT_METRIC",
    "LINK_KIND",
    "METRIC_AGGREGATION_SCOPE",
    "METRIC_KEY",
    "METRIC_NAME_PREFIX",
    "METRIC_POINT_ATTRIBUTES",
    "METRIC_STEP",
    "METRIC_UNIT",
    "METRIC_VALUE",
    "METRIC_VALUE_TYPE",
    "ORDER_INDEX",
    "PROJECT",
    "RECORD_ATTRIBUTES",
    "RECORD_COMPLETENESS",
    "RECORD_DEGRADATION",
    "RECORD_ORIGIN",
    "RECORD_PRODUCER",
    "RECORD_RECORDED_AT",
    "RECORD_REF",
    "REQUIRED_EVENT_ATTRIBUTES",
    "REQUIRED_SPAN_ATTRIBUTES",
    "RUN_NAME",
    "RUN_PARAMS",
    "RUN_REF",
    "RUN_TAGS",
    "SAMPLE_NAME",
    "SAMPLE_REF",
    "SPAN_ATTRIBUTES",
    "SPAN_EVENTS",
    "STAGE_NAME",
    "STAGE_REF",
    "STATUS",
    "AggregationScope",
    "Completeness",
    "Degradation",
    "DegradedCategory",
    "EntityKind",
    "EventLevel",
    "LinkKind",
    "MetricValueType",
    "Origin",
    "Severity",
    "Status",
]

# registry.contexta.entity: What a contexta span stands for.

ENTITY_KIND: Final = "contexta.entity.kind"
"""Kind of contexta entity the span represents.

Consumers recognise contexta spans by this attribute, never by the span name.

Type ``string``, one of :class:`EntityKind`. Examples: ``run``, ``stage``.
"""

# registry.contexta.common: Attributes shared by every contexta span.

PROJECT: Final = "contexta.project"
"""Project the entity belongs to (the first component of each of its refs).

Type ``string``. Example: ``iris-svm``.
"""

ORDER_INDEX: Final = "contexta.order_index"
"""Zero-based position of the entity among its siblings, when the caller gave one.

Type ``int``. Examples: ``0``, ``3``.
"""

STATUS: Final = "contexta.status"
"""Lifecycle state of the entity.

OTel span status only knows OK/ERROR/UNSET; this attribute keeps the difference between
completed, cancelled and still-open entities.

Type ``string``, one of :class:`Status`. Examples: ``completed``, ``failed``.
"""

# registry.contexta.run: Identity and inputs of a run.

RUN_REF: Final = "contexta.run.ref"
"""Ref of the run, ``run:<project>.<run>``.

Type ``string``. Example: ``run:iris-svm.baseline``.
"""

RUN_NAME: Final = "contexta.run.name"
"""Name of the run (the last component of its ref).

Type ``string``. Example: ``baseline``.
"""

RUN_PARAMS: Final = "contexta.run.params"
"""Run parameters as a JSON object.

Attribute values cannot be maps, so the object is carried as one JSON string.

Type ``string``. Example: ``{"C": 1.0, "kernel": "rbf"}``.
"""

RUN_TAGS: Final = "contexta.run.tags"
"""Run tags as a JSON object of strings.

Attribute values cannot be maps, so the object is carried as one JSON string.

Type ``string``. Example: ``{"team": "vision", "purpose": "baseline"}``.
"""

# registry.contexta.stage: Identity of a stage.

STAGE_REF: Final = "contexta.stage.ref"
"""Ref of the stage, ``stage:<project>.<run>.<stage>``.

Type ``string``. Example: ``stage:iris-svm.baseline.train``.
"""

STAGE_NAME: Final = "contexta.stage.name"
"""Name of the stage (the last component of its ref).

Type ``string``. Examples: ``train``, ``evaluate``.
"""

# registry.contexta.batch: Identity of a batch.

BATCH_REF: Final = "contexta.batch.ref"
"""Ref of the batch, ``batch:<project>.<run>.<stage>.<batch>``.

Type ``string``. Example: ``batch:iris-svm.baseline.train.epoch-3``.
"""

BATCH_NAME: Final = "contexta.batch.name"
"""Name of the batch (the last component of its ref).

Type ``string``. Example: ``epoch-3``.
"""

# registry.contexta.sample: Identity of a sample.

SAMPLE_REF: Final = "contexta.sample.ref"
"""Ref of the sample, ``sample:<project>.<run>.<stage>[.<batch>].<sample>``.

The observation time of a sample is its span start time; there is no separate attribute.

Type ``string``. Example: ``sample:iris-svm.baseline.evaluate.row-17``.
"""

SAMPLE_NAME: Final = "contexta.sample.name"
"""Name of the sample (the last component of its ref).

Type ``string``. Example: ``row-17``.
"""

# registry.contexta.deployment: Identity and target of a deployment.

DEPLOYMENT_REF: Final = "contexta.deployment.ref"
"""Ref of the deployment, ``deployment:<project>.<deployment>``.

Type ``string``. Example: ``deployment:iris-svm.svm-prod``.
"""

DEPLOYMENT_NAME: Final = "contexta.deployment.name"
"""Name of the deployment (the last component of its ref).

Type ``string``. Example: ``svm-prod``.
"""

DEPLOYMENT_ENVIRONMENT: Final = "contexta.deployment.environment"
"""Environment the deployment went to.

Type ``string``. Examples: ``prod``, ``staging``.
"""

DEPLOYMENT_ARTIFACT_REF: Final = "contexta.deployment.artifact_ref"
"""Ref of the deployed artifact, ``artifact:<project>.<run>.<key>``.

One underscore-joined component, so that ``contexta.deployment.artifact`` never becomes a
namespace of its own.

Type ``string``. Example: ``artifact:iris-svm.baseline.model``.
"""

# registry.contexta.dataset: Data an entity read.

DATASET_REFS: Final = "contexta.dataset.refs"
"""Refs of the datasets the entity read, ``dataset:<component>...``.

Type ``string[]``. Examples: ``["dataset:sklearn.iris"]``, ``["dataset:iris-svm.train",
"dataset:iris-svm.holdout"]``.
"""

# registry.contexta.record: Identity and provenance of the record a span event carries.

RECORD_REF: Final = "contexta.record.ref"
"""Ref of the record, ``record:<project>.<run>.<id>``.

Type ``string``. Example: ``record:iris-svm.baseline.m-0001``.
"""

RECORD_ATTRIBUTES: Final = "contexta.record.attributes"
"""User attributes of the record as a JSON object.

One JSON string, so that arbitrary user keys never enter the attribute namespace.

Type ``string``. Example: ``{"split": "test"}``.
"""

RECORD_RECORDED_AT: Final = "contexta.record.recorded_at"
"""Capture time of the record as RFC 3339 text, kept so that replay restores it exactly.

The event timestamp has no UTC offset and may be rounded by exporters.

Type ``string``. Example: ``2024-06-01T12:30:45.123456+00:00``.
"""

RECORD_PRODUCER: Final = "contexta.record.producer"
"""Component that produced the record.

Type ``string``. Examples: ``contexta``, ``contexta.sklearn``.
"""

RECORD_COMPLETENESS: Final = "contexta.record.completeness"
"""How much of the record was captured.

Type ``string``, one of :class:`Completeness`. Example: ``complete``.
"""

RECORD_DEGRADATION: Final = "contexta.record.degradation"
"""Why the record is degraded, if it is.

Type ``string``, one of :class:`Degradation`. Examples: ``none``, ``capture_gap``.
"""

RECORD_ORIGIN: Final = "contexta.record.origin"
"""How the record entered contexta.

Type ``string``, one of :class:`Origin`. Example: ``explicit_capture``.
"""

# registry.contexta.metric: One metric value, as a span event.

METRIC_KEY: Final = "contexta.metric.key"
"""Name of the metric as the user logged it.

Type ``string``. Examples: ``accuracy``, ``loss``.
"""

METRIC_VALUE: Final = "contexta.metric.value"
"""The value.

Type ``double``. Examples: ``0.973``, ``12.0``.
"""

METRIC_STEP: Final = "contexta.metric.step"
"""Step (iteration, epoch) the value belongs to.

Type ``int``. Examples: ``0``, ``100``.
"""

METRIC_UNIT: Final = "contexta.metric.unit"
"""Unit of the value, UCUM-style where possible.

Type ``string``. Examples: ``1``, ``s``, ``By``.
"""

METRIC_AGGREGATION_SCOPE: Final = "contexta.metric.aggregation_scope"
"""Level at which the value was aggregated.

Type ``string``, one of :class:`AggregationScope`. Examples: ``run``, ``batch``.
"""

METRIC_VALUE_TYPE: Final = "contexta.metric.value_type"
"""Numeric type the value was logged with (``contexta.metric.value`` is always a double).

Type ``string``, one of :class:`MetricValueType`. Example: ``float64``.
"""

# registry.contexta.event: One structured event, as a span event.

EVENT_KEY: Final = "contexta.event.key"
"""Name of the structured event.

Type ``string``. Examples: ``checkpoint-saved``, ``data-loaded``.
"""

EVENT_LEVEL: Final = "contexta.event.level"
"""Level of the structured event.

Type ``string``, one of :class:`EventLevel`. Examples: ``info``, ``warning``.
"""

EVENT_MESSAGE: Final = "contexta.event.message"
"""Human-readable message of the structured event.

Type ``string``. Example: ``Loaded 150 rows from dataset:sklearn.iris``.
"""

# registry.contexta.degraded: One degraded record (a problem in the telemetry itself), as a span event.

DEGRADED_ISSUE_KEY: Final = "contexta.degraded.issue_key"
"""Stable identifier of the kind of problem, for grouping.

Type ``string``. Examples: ``capture.queue_full``, ``replay.missing_span``.
"""

DEGRADED_CATEGORY: Final = "contexta.degraded.category"
"""Area in which the problem arose.

Type ``string``, one of :class:`DegradedCategory`. Examples: ``capture``, ``replay``.
"""

DEGRADED_SEVERITY: Final = "contexta.degraded.severity"
"""How serious the problem is.

Type ``string``, one of :class:`Severity`. Example: ``warning``.
"""

DEGRADED_SUMMARY: Final = "contexta.degraded.summary"
"""One-line human description of the problem.

Type ``string``. Example: ``3 metric values dropped: export queue full``.
"""

# registry.contexta.artifact: One artifact (a file or blob a run produced), as a span event.

ARTIFACT_REF: Final = "contexta.artifact.ref"
"""Ref of the artifact, ``artifact:<project>.<run>.<key>``.

Type ``string``. Example: ``artifact:iris-svm.baseline.model``.
"""

ARTIFACT_KIND: Final = "contexta.artifact.kind"
"""What the artifact is.

Type ``string``. Examples: ``model``, ``dataset``, ``report``.
"""

ARTIFACT_URI: Final = "contexta.artifact.uri"
"""Where the artifact's bytes are stored.

Type ``string``. Examples: ``file:///srv/artifacts/iris-svm/model.pkl``, ``s3://ml-
artifacts/iris-svm/model.pkl``.
"""

ARTIFACT_SHA256: Final = "contexta.artifact.sha256"
"""SHA-256 digest of the artifact's bytes, lowercase hex.

Type ``string``. Example: ``9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08``.
"""

ARTIFACT_SIZE_BYTES: Final = "contexta.artifact.size_bytes"
"""Size of the artifact in bytes.

Type ``int``. Example: ``20480``.
"""

# registry.contexta.environment: The software environment of a run, as one span event on the run span.

ENVIRONMENT_PYTHON_VERSION: Final = "contexta.environment.python_version"
"""Python version that ran the pipeline.

Type ``string``. Example: ``3.11.9``.
"""

ENVIRONMENT_PLATFORM: Final = "contexta.environment.platform"
"""Platform string of the host (as ``platform.platform()`` reports it).

Type ``string``. Example: ``Linux-6.8.0-45-generic-x86_64-with-glibc2.39``.
"""

ENVIRONMENT_GIT_COMMIT: Final = "contexta.environment.git_commit"
"""Commit of the source repository the pipeline ran from.

Type ``string``. Example: ``3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39``.
"""

ENVIRONMENT_GIT_DIRTY: Final = "contexta.environment.git_dirty"
"""Whether the working tree had uncommitted changes.

Type ``boolean``. Examples: ``true``, ``false``.
"""

ENVIRONMENT_PACKAGES: Final = "contexta.environment.packages"
"""Installed packages as a JSON object of name to version.

Attribute values cannot be maps, so the object is carried as one JSON string.

Type ``string``. Example: ``{"numpy": "1.26.4", "scikit-learn": "1.5.0"}``.
"""

ENVIRONMENT_ENV_VARS: Final = "contexta.environment.env_vars"
"""Captured environment variables as a JSON object of name to value.

Only the variables the capture settings allow are included.

Type ``string``. Example: ``{"CUDA_VISIBLE_DEVICES": "0"}``.
"""

# registry.contexta.link: Attributes of OTel span links between contexta spans.

LINK_KIND: Final = "contexta.link.kind"
"""Why the span link exists.

Type ``string``, one of :class:`LinkKind`. Example: ``deployed_run``.
"""

# Span event names (a namespace of their own, apart from attribute keys)

EVENT_METRIC: Final = "contexta.metric"
"""Span event name. One logged metric value, kept exactly (the gauge keeps the same value for
dashboards).
"""

EVENT_EVENT: Final = "contexta.event"
"""Span event name. One structured event logged by the user or an integration."""

EVENT_DEGRADED: Final = "contexta.degraded"
"""Span event name. One degraded record; a problem in capturing, storing or replaying telemetry."""

EVENT_ARTIFACT: Final = "contexta.artifact"
"""Span event name. One artifact registered on a run or stage."""

EVENT_ENVIRONMENT: Final = "contexta.environment"
"""Span event name. The run's software environment, once, on the run span."""

# Metric instruments (a namespace of their own, apart from attribute keys)

METRIC_NAME_PREFIX: Final = "contexta.metric."
"""Gauge names are ``contexta.metric.<key>``. One synchronous gauge per metric key; every logged
value is also recorded on it.
"""

METRIC_POINT_ATTRIBUTES: Final[tuple[str, ...]] = (PROJECT, RUN_NAME, STAGE_NAME)
"""The only attributes of gauge points (bounded cardinality)."""


class EntityKind(StrEnum):
    """Values of ``contexta.entity.kind``. Kind of contexta entity the span represents."""

    RUN = "run"
    """One execution of a pipeline; the root span of its trace."""

    STAGE = "stage"
    """A named step of a run, such as ``train`` or ``evaluate``."""

    BATCH = "batch"
    """One unit of iteration inside a stage, such as an epoch or a shard."""

    SAMPLE = "sample"
    """One observed item (row, request, example) inside a stage or batch."""

    DEPLOYMENT = "deployment"
    """The release of something a run produced into an environment."""


class Status(StrEnum):
    """Values of ``contexta.status``. Lifecycle state of the entity."""

    OPEN = "open"
    """Started and not finished when the span was exported."""

    COMPLETED = "completed"
    """Finished normally."""

    FAILED = "failed"
    """Finished with an error; the span status is ERROR as well."""

    CANCELLED = "cancelled"
    """Stopped on purpose before it finished."""


class Completeness(StrEnum):
    """Values of ``contexta.record.completeness``. How much of the record was captured."""

    COMPLETE = "complete"
    """Everything expected was captured."""

    PARTIAL = "partial"
    """Some fields were captured, some were not."""

    MISSING = "missing"
    """The value itself could not be captured."""

    UNKNOWN = "unknown"
    """Completeness was not assessed."""


class Degradation(StrEnum):
    """Values of ``contexta.record.degradation``. Why the record is degraded, if it is."""

    NONE = "none"
    """The record is not degraded."""

    CAPTURE_GAP = "capture_gap"
    """Capture skipped or lost part of the data."""

    PARTIAL_FAILURE = "partial_failure"
    """Part of the operation that produced the record failed."""

    COMPATIBILITY_UPGRADE = "compatibility_upgrade"
    """The record was upgraded from an older format."""

    REPLAY_GAP = "replay_gap"
    """Replay could not restore all of the record."""

    REDACTED = "redacted"
    """Values were removed on purpose, for example secrets."""


class Origin(StrEnum):
    """Values of ``contexta.record.origin``. How the record entered contexta."""

    EXPLICIT_CAPTURE = "explicit_capture"
    """Written through the explicit contexta API."""

    AUTO_CAPTURE = "auto_capture"
    """Captured by an integration hook without an explicit call."""

    IMPORTED = "imported"
    """Imported from another system or file."""

    REPLAYED = "replayed"
    """Emitted again from a stored workspace."""

    DERIVED = "derived"
    """Computed from other records."""

    COLLECTED = "collected"
    """Received by the contexta collector over OTLP."""


class AggregationScope(StrEnum):
    """Values of ``contexta.metric.aggregation_scope``. Level at which the value was aggregated."""

    RUN = "run"
    """Summarises the whole run."""

    STAGE = "stage"
    """Summarises one stage."""

    BATCH = "batch"
    """Summarises one batch."""

    SAMPLE = "sample"
    """Describes one sample."""

    OPERATION = "operation"
    """Describes one operation (for example one call) rather than an entity."""


class MetricValueType(StrEnum):
    """Values of ``contexta.metric.value_type``. Numeric type the value was logged with
    (``contexta.metric.value`` is always a double).
    """

    FLOAT64 = "float64"
    """Logged as a floating-point number."""

    INT64 = "int64"
    """Logged as an integer; replay turns the double back into an integer."""


class EventLevel(StrEnum):
    """Values of ``contexta.event.level``. Level of the structured event."""

    DEBUG = "debug"
    """Detail for debugging."""

    INFO = "info"
    """Normal progress."""

    WARNING = "warning"
    """Something unexpected that did not stop the work."""

    ERROR = "error"
    """An operation failed."""

    CRITICAL = "critical"
    """The run cannot go on."""


class DegradedCategory(StrEnum):
    """Values of ``contexta.degraded.category``. Area in which the problem arose."""

    CAPTURE = "capture"
    """Capturing telemetry in the process."""

    COMPATIBILITY = "compatibility"
    """Reading data written by another version."""

    IMPORT = "import"
    """Importing data from another system."""

    REPLAY = "replay"
    """Replaying a stored workspace."""

    VERIFICATION = "verification"
    """Checking stored data for consistency."""

    RECOVERY = "recovery"
    """Recovering after a crash or an interrupted write."""

    DATA = "data"
    """The user's data itself (for example missing values)."""

    ENVIRONMENT = "environment"
    """The runtime environment (for example a missing package)."""


class Severity(StrEnum):
    """Values of ``contexta.degraded.severity``. How serious the problem is."""

    WARNING = "warning"
    """The data is usable with caveats."""

    ERROR = "error"
    """Data is missing or wrong."""


class LinkKind(StrEnum):
    """Values of ``contexta.link.kind``. Why the span link exists."""

    DEPLOYED_RUN = "deployed_run"
    """From a deployment span to the span of the run that produced what was deployed."""


ATTRIBUTE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        ENTITY_KIND: "string",
        PROJECT: "string",
        ORDER_INDEX: "int",
        STATUS: "string",
        RUN_REF: "string",
        RUN_NAME: "string",
        RUN_PARAMS: "string",
        RUN_TAGS: "string",
        STAGE_REF: "string",
        STAGE_NAME: "string",
        BATCH_REF: "string",
        BATCH_NAME: "string",
        SAMPLE_REF: "string",
        SAMPLE_NAME: "string",
        DEPLOYMENT_REF: "string",
        DEPLOYMENT_NAME: "string",
        DEPLOYMENT_ENVIRONMENT: "string",
        DEPLOYMENT_ARTIFACT_REF: "string",
        DATASET_REFS: "string[]",
        RECORD_REF: "string",
        RECORD_ATTRIBUTES: "string",
        RECORD_RECORDED_AT: "string",
        RECORD_PRODUCER: "string",
        RECORD_COMPLETENESS: "string",
        RECORD_DEGRADATION: "string",
        RECORD_ORIGIN: "string",
        METRIC_KEY: "string",
        METRIC_VALUE: "double",
        METRIC_STEP: "int",
        METRIC_UNIT: "string",
        METRIC_AGGREGATION_SCOPE: "string",
        METRIC_VALUE_TYPE: "string",
        EVENT_KEY: "string",
        EVENT_LEVEL: "string",
        EVENT_MESSAGE: "string",
        DEGRADED_ISSUE_KEY: "string",
        DEGRADED_CATEGORY: "string",
        DEGRADED_SEVERITY: "string",
        DEGRADED_SUMMARY: "string",
        ARTIFACT_REF: "string",
        ARTIFACT_KIND: "string",
        ARTIFACT_URI: "string",
        ARTIFACT_SHA256: "string",
        ARTIFACT_SIZE_BYTES: "int",
        ENVIRONMENT_PYTHON_VERSION: "string",
        ENVIRONMENT_PLATFORM: "string",
        ENVIRONMENT_GIT_COMMIT: "string",
        ENVIRONMENT_GIT_DIRTY: "boolean",
        ENVIRONMENT_PACKAGES: "string",
        ENVIRONMENT_ENV_VARS: "string",
        LINK_KIND: "string",
    }
)
"""OTel attribute type of every registered key (enums are strings)."""

SPAN_ATTRIBUTES: Final[Mapping[EntityKind, tuple[str, ...]]] = MappingProxyType(
    {
        EntityKind.RUN: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            RUN_NAME,
            STATUS,
            RUN_PARAMS,
            RUN_TAGS,
            DATASET_REFS,
        ),
        EntityKind.STAGE: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            RUN_NAME,
            STAGE_REF,
            STAGE_NAME,
            STATUS,
            ORDER_INDEX,
            DATASET_REFS,
        ),
        EntityKind.BATCH: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            STAGE_REF,
            BATCH_REF,
            BATCH_NAME,
            STATUS,
            ORDER_INDEX,
        ),
        EntityKind.SAMPLE: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            STAGE_REF,
            BATCH_REF,
            SAMPLE_REF,
            SAMPLE_NAME,
            STATUS,
            ORDER_INDEX,
        ),
        EntityKind.DEPLOYMENT: (
            ENTITY_KIND,
            PROJECT,
            DEPLOYMENT_REF,
            DEPLOYMENT_NAME,
            DEPLOYMENT_ENVIRONMENT,
            DEPLOYMENT_ARTIFACT_REF,
            RUN_REF,
            STATUS,
        ),
    }
)
"""Attribute keys a span of each entity kind carries."""

REQUIRED_SPAN_ATTRIBUTES: Final[Mapping[EntityKind, tuple[str, ...]]] = MappingProxyType(
    {
        EntityKind.RUN: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            RUN_NAME,
            STATUS,
        ),
        EntityKind.STAGE: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            RUN_NAME,
            STAGE_REF,
            STAGE_NAME,
            STATUS,
        ),
        EntityKind.BATCH: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            STAGE_REF,
            BATCH_REF,
            BATCH_NAME,
            STATUS,
        ),
        EntityKind.SAMPLE: (
            ENTITY_KIND,
            PROJECT,
            RUN_REF,
            STAGE_REF,
            SAMPLE_REF,
            SAMPLE_NAME,
            STATUS,
        ),
        EntityKind.DEPLOYMENT: (
            ENTITY_KIND,
            PROJECT,
            DEPLOYMENT_REF,
            DEPLOYMENT_NAME,
            STATUS,
        ),
    }
)
"""Attribute keys a span of each entity kind must carry."""

SPAN_EVENTS: Final[Mapping[EntityKind, tuple[str, ...]]] = MappingProxyType(
    {
        EntityKind.RUN: (
            EVENT_METRIC,
            EVENT_EVENT,
            EVENT_DEGRADED,
            EVENT_ARTIFACT,
            EVENT_ENVIRONMENT,
        ),
        EntityKind.STAGE: (
            EVENT_METRIC,
            EVENT_EVENT,
            EVENT_DEGRADED,
            EVENT_ARTIFACT,
        ),
        EntityKind.BATCH: (
            EVENT_METRIC,
            EVENT_EVENT,
            EVENT_DEGRADED,
        ),
        EntityKind.SAMPLE: (
            EVENT_METRIC,
            EVENT_EVENT,
            EVENT_DEGRADED,
        ),
        EntityKind.DEPLOYMENT: (
            EVENT_EVENT,
            EVENT_DEGRADED,
        ),
    }
)
"""Span event names allowed on a span of each entity kind."""

EVENT_ATTRIBUTES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        EVENT_METRIC: (
            METRIC_KEY,
            METRIC_VALUE,
            RECORD_REF,
            METRIC_STEP,
            METRIC_UNIT,
            METRIC_AGGREGATION_SCOPE,
            METRIC_VALUE_TYPE,
            RECORD_RECORDED_AT,
            RECORD_PRODUCER,
            RECORD_COMPLETENESS,
            RECORD_DEGRADATION,
            RECORD_ORIGIN,
        ),
        EVENT_EVENT: (
            EVENT_KEY,
            EVENT_LEVEL,
            EVENT_MESSAGE,
            RECORD_REF,
            RECORD_ATTRIBUTES,
            RECORD_RECORDED_AT,
            RECORD_PRODUCER,
            RECORD_COMPLETENESS,
            RECORD_DEGRADATION,
            RECORD_ORIGIN,
        ),
        EVENT_DEGRADED: (
            DEGRADED_ISSUE_KEY,
            DEGRADED_CATEGORY,
            DEGRADED_SEVERITY,
            DEGRADED_SUMMARY,
            RECORD_REF,
            RECORD_ATTRIBUTES,
            RECORD_RECORDED_AT,
            RECORD_PRODUCER,
            RECORD_COMPLETENESS,
            RECORD_DEGRADATION,
            RECORD_ORIGIN,
        ),
        EVENT_ARTIFACT: (
            ARTIFACT_REF,
            ARTIFACT_KIND,
            ARTIFACT_URI,
            ARTIFACT_SHA256,
            ARTIFACT_SIZE_BYTES,
            RECORD_ATTRIBUTES,
        ),
        EVENT_ENVIRONMENT: (
            ENVIRONMENT_PYTHON_VERSION,
            ENVIRONMENT_PLATFORM,
            ENVIRONMENT_GIT_COMMIT,
            ENVIRONMENT_GIT_DIRTY,
            ENVIRONMENT_PACKAGES,
            ENVIRONMENT_ENV_VARS,
        ),
    }
)
"""Attribute keys each span event carries."""

REQUIRED_EVENT_ATTRIBUTES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        EVENT_METRIC: (
            METRIC_KEY,
            METRIC_VALUE,
            RECORD_REF,
        ),
        EVENT_EVENT: (
            EVENT_KEY,
            EVENT_LEVEL,
            RECORD_REF,
        ),
        EVENT_DEGRADED: (
            DEGRADED_ISSUE_KEY,
            DEGRADED_CATEGORY,
            DEGRADED_SEVERITY,
            DEGRADED_SUMMARY,
            RECORD_REF,
        ),
        EVENT_ARTIFACT: (
            ARTIFACT_REF,
            ARTIFACT_KIND,
            ARTIFACT_URI,
        ),
        EVENT_ENVIRONMENT: (
            ENVIRONMENT_PYTHON_VERSION,
            ENVIRONMENT_PLATFORM,
        ),
    }
)
"""Attribute keys each span event must carry."""
