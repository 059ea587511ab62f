"""The data contract refuses bad input with a message naming model.field, the rule and the value."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from contexta import ContextaError, ValidationError
from contexta.contract import (
    ArtifactManifest,
    BatchExecution,
    DegradedPayload,
    DeploymentExecution,
    EnvironmentSnapshot,
    LineageEdge,
    MetricPayload,
    MetricRecord,
    Project,
    RecordEnvelope,
    Run,
    SampleObservation,
    StageExecution,
    StructuredEventPayload,
)

T0 = "2025-01-01T00:00:00Z"
T1 = "2025-01-01T01:00:00Z"
COMPONENT_RULE = "must be lowercase alphanumerics with single hyphens (at most 128 characters)"


def run(**overrides: Any) -> Run:
    fields: dict[str, Any] = {
        "run_ref": "run:demo.r1",
        "project_ref": "project:demo",
        "name": "r1",
        "status": "completed",
        "started_at": T0,
        "ended_at": T1,
    }
    return Run(**{**fields, **overrides})


def stage(**overrides: Any) -> StageExecution:
    fields: dict[str, Any] = {
        "stage_execution_ref": "stage:demo.r1.train",
        "run_ref": "run:demo.r1",
        "stage_name": "train",
        "status": "open",
        "started_at": T0,
    }
    return StageExecution(**{**fields, **overrides})


def sample(**overrides: Any) -> SampleObservation:
    fields: dict[str, Any] = {
        "sample_observation_ref": "sample:demo.r1.train.epoch-0.s1",
        "run_ref": "run:demo.r1",
        "stage_execution_ref": "stage:demo.r1.train",
        "batch_execution_ref": "batch:demo.r1.train.epoch-0",
        "sample_name": "s1",
        "observed_at": T0,
    }
    return SampleObservation(**{**fields, **overrides})


def envelope(**overrides: Any) -> RecordEnvelope:
    fields: dict[str, Any] = {
        "record_ref": "record:demo.r1.m1",
        "record_type": "metric",
        "recorded_at": T0,
        "observed_at": T0,
        "run_ref": "run:demo.r1",
    }
    return RecordEnvelope(**{**fields, **overrides})


def metric(**overrides: Any) -> MetricPayload:
    return MetricPayload(**{"metric_key": "loss", "value": 0.5, **overrides})


def deployment(**overrides: Any) -> DeploymentExecution:
    fields: dict[str, Any] = {
        "deployment_execution_ref": "deployment:demo.prod",
        "project_ref": "project:demo",
        "deployment_name": "prod",
        "status": "open",
        "started_at": T0,
    }
    return DeploymentExecution(**{**fields, **overrides})


def edge(**overrides: Any) -> LineageEdge:
    fields: dict[str, Any] = {
        "source_ref": "dataset:raw",
        "target_ref": "run:demo.r1",
        "relation_type": "used",
        "recorded_at": T0,
    }
    return LineageEdge(**{**fields, **overrides})


# (case id, builder, exact error message)
BAD_INPUT: list[tuple[str, Callable[[], object], str]] = [
    (
        "ref of the wrong kind",
        lambda: run(run_ref="stage:demo.r1.train"),
        "Run.run_ref: must be a 'run' ref ('run:...') (got 'stage:demo.r1.train')",
    ),
    (
        "wrong component count",
        lambda: run(run_ref="run:demo.a.b", name="b"),
        "Run.run_ref: a run ref has 2 dot-separated components (got 'run:demo.a.b')",
    ),
    (
        "uppercase component",
        lambda: run(run_ref="run:demo.Train", name="Train"),
        f"Run.run_ref: component 'Train' {COMPONENT_RULE} (got 'run:demo.Train')",
    ),
    (
        "underscore component",
        lambda: stage(stage_execution_ref="stage:demo.r1.my_stage", stage_name="my_stage"),
        f"StageExecution.stage_execution_ref: component 'my_stage' {COMPONENT_RULE}"
        " (got 'stage:demo.r1.my_stage')",
    ),
    (
        "double hyphen component",
        lambda: run(run_ref="run:demo.a--b", name="a--b"),
        f"Run.run_ref: component 'a--b' {COMPONENT_RULE} (got 'run:demo.a--b')",
    ),
    (
        "stage ref of another run",
        lambda: stage(stage_execution_ref="stage:demo.r2.train"),
        "StageExecution.stage_execution_ref: must extend run_ref 'run:demo.r1' by one component"
        " (got 'stage:demo.r2.train')",
    ),
    (
        "run ref of another project",
        lambda: run(run_ref="run:other.r1"),
        "Run.run_ref: must extend project_ref 'project:demo' by one component (got 'run:other.r1')",
    ),
    (
        "name differs from the last ref component",
        lambda: run(name="r2"),
        "Run.name: must equal the last component of run_ref 'run:demo.r1' (got 'r2')",
    ),
    (
        "stage name differs from the last ref component",
        lambda: stage(stage_name="eval"),
        "StageExecution.stage_name: must equal the last component of stage_execution_ref"
        " 'stage:demo.r1.train' (got 'eval')",
    ),
    (
        "terminal status without ended_at",
        lambda: run(status="failed", ended_at=None),
        "Run.ended_at: is required when status is 'failed' (got None)",
    ),
    (
        "ended_at before started_at",
        lambda: run(started_at=T1, ended_at="2025-01-01T00:30:00Z"),
        "Run.ended_at: must not be before started_at 2025-01-01T01:00:00Z (got '2025-01-01T00:30:00Z')",
    ),
    (
        "ended_at before started_at across offsets",
        lambda: stage(
            status="completed", started_at="2025-01-01T03:00:00+02:00", ended_at="2025-01-01T00:59:59Z"
        ),
        "StageExecution.ended_at: must not be before started_at 2025-01-01T01:00:00Z"
        " (got '2025-01-01T00:59:59Z')",
    ),
    (
        "naive timestamp string",
        lambda: run(started_at="2025-01-01T00:00:00"),
        "Run.started_at: must carry a timezone (use 'Z' for UTC) (got '2025-01-01T00:00:00')",
    ),
    (
        "naive datetime",
        lambda: run(started_at=datetime(2025, 1, 1)),
        "Run.started_at: must carry a timezone (use 'Z' for UTC) (got datetime.datetime(2025, 1, 1, 0, 0))",
    ),
    (
        "date without time",
        lambda: run(started_at="2025-01-01"),
        "Run.started_at: must carry a timezone (use 'Z' for UTC) (got '2025-01-01')",
    ),
    (
        "non-timestamp string",
        lambda: run(started_at="yesterday"),
        "Run.started_at: must be an RFC 3339 timestamp like '2025-01-01T00:00:00Z' (got 'yesterday')",
    ),
    (
        "epoch number instead of timestamp",
        lambda: run(started_at=1_735_689_600),
        "Run.started_at: must be an RFC 3339 timestamp string or an aware datetime (got 1735689600)",
    ),
    (
        "NaN metric value",
        lambda: metric(value=math.nan),
        "MetricPayload.value: must be a finite number (NaN and infinity are refused) (got nan)",
    ),
    (
        "infinite metric value",
        lambda: metric(value=-math.inf),
        "MetricPayload.value: must be a finite number (NaN and infinity are refused) (got -inf)",
    ),
    (
        "bool metric value",
        lambda: metric(value=True),
        "MetricPayload.value: must be a finite number (got True)",
    ),
    (
        "numeric string metric value",
        lambda: metric(value="0.5"),
        "MetricPayload.value: must be a finite number (got '0.5')",
    ),
    (
        "int64 value that is not whole",
        lambda: metric(value=2.5, value_type="int64"),
        "MetricPayload.value: must be a whole number when value_type is 'int64' (got 2.5)",
    ),
    (
        "negative step",
        lambda: metric(step=-1),
        "MetricPayload.step: Input should be greater than or equal to 0 (got -1)",
    ),
    (
        "metric key with a space",
        lambda: metric(metric_key="train loss"),
        "MetricPayload.metric_key: must be 1-200 characters of letters, digits, '_', '.', '-', '/',"
        " starting alphanumeric (got 'train loss')",
    ),
    (
        "record_type differs from the record class",
        lambda: MetricRecord(envelope=envelope(record_type="event"), payload=metric()),
        "MetricRecord.envelope.record_type: must be 'metric' for MetricRecord (got 'event')",
    ),
    (
        "record ref of another run",
        lambda: envelope(record_ref="record:demo.r2.m1"),
        "RecordEnvelope.record_ref: must start with the run's components 'demo.r1' (got 'record:demo.r2.m1')",
    ),
    (
        "envelope stage of another run",
        lambda: envelope(stage_execution_ref="stage:demo.r2.train"),
        "RecordEnvelope.stage_execution_ref: must extend run_ref 'run:demo.r1' (got 'stage:demo.r2.train')",
    ),
    (
        "batch ref without stage ref",
        lambda: envelope(batch_execution_ref="batch:demo.r1.train.epoch-0"),
        "RecordEnvelope.stage_execution_ref: is required when batch_execution_ref is set (got None)",
    ),
    (
        "envelope sample under a batch of another parent",
        lambda: envelope(
            stage_execution_ref="stage:demo.r1.train",
            batch_execution_ref="batch:demo.r1.train.epoch-0",
            sample_observation_ref="sample:demo.r1.train.epoch-1.s1",
        ),
        "RecordEnvelope.sample_observation_ref: must extend 'batch:demo.r1.train.epoch-0' by one component"
        " (got 'sample:demo.r1.train.epoch-1.s1')",
    ),
    (
        "sample observation under a batch of another parent",
        lambda: sample(sample_observation_ref="sample:demo.r1.train.epoch-1.s1"),
        "SampleObservation.sample_observation_ref: must extend batch_execution_ref"
        " 'batch:demo.r1.train.epoch-0' by one component (got 'sample:demo.r1.train.epoch-1.s1')",
    ),
    (
        "batch of another stage",
        lambda: BatchExecution(
            batch_execution_ref="batch:demo.r1.eval.epoch-0",
            run_ref="run:demo.r1",
            stage_execution_ref="stage:demo.r1.train",
            batch_name="epoch-0",
            status="open",
            started_at=T0,
        ),
        "BatchExecution.batch_execution_ref: must extend stage_execution_ref 'stage:demo.r1.train'"
        " by one component (got 'batch:demo.r1.eval.epoch-0')",
    ),
    (
        "unknown severity",
        lambda: DegradedPayload(issue_key="rows.empty", category="data", severity="fatal", summary="0 rows"),
        "DegradedPayload.severity: Input should be 'warning' or 'error' (got 'fatal')",
    ),
    (
        "unknown event level",
        lambda: StructuredEventPayload(event_key="done", level="verbose"),
        "StructuredEventPayload.level: Input should be 'debug', 'info', 'warning', 'error' or 'critical'"
        " (got 'verbose')",
    ),
    (
        "unknown run status",
        lambda: run(status="running"),
        "Run.status: Input should be 'open', 'completed', 'failed' or 'cancelled' (got 'running')",
    ),
    (
        "unknown extra field",
        lambda: run(colour="blue"),
        "Run.colour: Extra inputs are not permitted (got 'blue')",
    ),
    (
        "deployment of a run of another project",
        lambda: deployment(run_ref="run:other.r1"),
        "DeploymentExecution.run_ref: must belong to project 'demo' (got 'run:other.r1')",
    ),
    (
        "lineage edge onto itself",
        lambda: edge(target_ref="dataset:raw"),
        "LineageEdge.target_ref: must differ from source_ref (got 'dataset:raw')",
    ),
    (
        "environment ref of another run",
        lambda: EnvironmentSnapshot(
            environment_snapshot_ref="environment:demo.r2", run_ref="run:demo.r1", captured_at=T0
        ),
        "EnvironmentSnapshot.environment_snapshot_ref: must be 'environment:demo.r1'"
        " (got 'environment:demo.r2')",
    ),
    (
        "artifact ref of another run",
        lambda: ArtifactManifest(
            artifact_ref="artifact:demo.r2.model",
            run_ref="run:demo.r1",
            artifact_kind="model",
            uri="file:///m.pkl",
            created_at=T0,
        ),
        "ArtifactManifest.artifact_ref: must start with the run's components 'demo.r1'"
        " (got 'artifact:demo.r2.model')",
    ),
    (
        "project name differs from its ref",
        lambda: Project(project_ref="project:demo", name="other"),
        "Project.name: must equal the last component of project_ref 'project:demo' (got 'other')",
    ),
]


@pytest.mark.parametrize(
    ("build", "message"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input_raises_validation_error_naming_field_rule_and_value(
    build: Callable[[], object], message: str
) -> None:
    """Each broken rule raises ValidationError reading '<Model>.<field>: <rule> (got <value>)'."""
    with pytest.raises(ValidationError) as caught:
        build()
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ContextaError)
    field, _, rest = message.partition(": ")
    assert caught.value.field == field
    assert caught.value.rule == rest.rsplit(" (got ", 1)[0]


def test_unknown_ref_kind_lists_the_known_kinds() -> None:
    """A ref of an unknown kind is refused and the message lists the kinds that exist."""
    with pytest.raises(ValidationError) as caught:
        edge(source_ref="job:demo.nightly")
    text = str(caught.value)
    assert text.startswith("LineageEdge.source_ref: unknown ref kind 'job'; known: ['artifact', 'batch',")
    assert text.endswith("(got 'job:demo.nightly')")
    assert caught.value.value == "job:demo.nightly"


def test_nested_dict_payload_is_validated_like_a_model() -> None:
    """Nested dicts get the cross-field rules of models: a bad record ref in a dict envelope is refused."""
    with pytest.raises(ValidationError, match=r"record_ref: must start with the run's components 'demo\.r1'"):
        MetricRecord.model_validate(
            {
                "envelope": {
                    "record_ref": "record:demo.r2.m1",
                    "record_type": "metric",
                    "recorded_at": T0,
                    "observed_at": T0,
                    "run_ref": "run:demo.r1",
                },
                "payload": {"metric_key": "loss", "value": 0.5},
            }
        )


def test_several_errors_report_the_first_and_count_the_rest() -> None:
    """When several fields are wrong the message names the first and says how many more there are."""
    with pytest.raises(ValidationError) as caught:
        MetricPayload(metric_key="loss", value=math.nan, step=-1)
    assert str(caught.value).endswith("(+1 more)")


def test_pydantic_error_is_chained_as_cause() -> None:
    """The low-level pydantic error is kept as __cause__ for debugging."""
    with pytest.raises(ValidationError) as caught:
        run(status="running")
    assert type(caught.value.__cause__).__name__ == "ValidationError"
    assert caught.value.__cause__ is not caught.value


def test_ended_at_equal_to_started_in_another_offset_is_not_before() -> None:
    """01:00+01:00 and 00:30Z are compared as instants: ended 30 minutes after start is accepted."""
    model = run(started_at="2025-01-01T01:00:00+01:00", ended_at="2025-01-01T00:30:00Z")
    assert model.started_at == "2025-01-01T00:00:00Z"
    assert model.ended_at == "2025-01-01T00:30:00Z"


def test_open_status_needs_no_ended_at() -> None:
    """An open run is valid without ended_at."""
    assert run(status="open", ended_at=None).ended_at is None


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("2025-01-01T02:00:00+02:00", "2025-01-01T00:00:00Z"),
        ("2025-06-30T23:59:59.123456-05:30", "2025-07-01T05:29:59.123456Z"),
        ("2025-01-01T00:00:00.5Z", "2025-01-01T00:00:00.500000Z"),
        ("2025-01-01T00:00:00.000000+00:00", "2025-01-01T00:00:00Z"),
        (datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))), "2025-01-01T00:00:00Z"),
        (datetime(2024, 12, 31, 23, 0, 0, 250, tzinfo=UTC), "2024-12-31T23:00:00.000250Z"),
    ],
)
def test_timestamps_normalise_to_utc_z_form(given: object, normalised: str) -> None:
    """'Z', '+hh:mm' offsets and aware datetimes all normalise to YYYY-MM-DDTHH:MM:SS[.ffffff]Z in UTC."""
    assert run(started_at=given, status="open", ended_at=None).started_at == normalised
    assert envelope(observed_at=given).observed_at == normalised


def test_timestamp_before_year_1000_keeps_four_digit_year() -> None:
    """The normalised form always has a four-digit year, so it parses back."""
    assert run(started_at="0999-01-01T00:00:00Z", status="open", ended_at=None).started_at == (
        "0999-01-01T00:00:00Z"
    )


def test_metric_value_accepts_int_and_stores_float() -> None:
    """An int metric value is accepted and held as a float; an int64 whole float is accepted."""
    assert metric(value=3).value == 3.0
    assert isinstance(metric(value=3).value, float)
    assert metric(value=4.0, value_type="int64").value == 4.0


def test_record_scope_is_the_narrowest_ref() -> None:
    """The envelope's scope is sample, batch, stage or run by the narrowest ref it names."""
    assert envelope().scope == "run"
    assert envelope(stage_execution_ref="stage:demo.r1.train").scope == "stage"
    assert (
        envelope(
            stage_execution_ref="stage:demo.r1.train", batch_execution_ref="batch:demo.r1.train.epoch-0"
        ).scope
        == "batch"
    )
    assert (
        envelope(
            stage_execution_ref="stage:demo.r1.train", sample_observation_ref="sample:demo.r1.train.s1"
        ).scope
        == "sample"
    )


def test_models_are_frozen() -> None:
    """Contract models cannot be changed after validation (no bypass of the rules)."""
    model = run()
    with pytest.raises(ValueError, match="frozen"):
        model.status = "open"  # type: ignore[misc]
    assert model.status == "completed"


def test_relation_ref_is_deterministic_and_in_source_project() -> None:
    """The same (source, target, type) always gives the same relation ref, in the source's project."""
    first, again = edge(), edge(recorded_at=T1)
    assert first.relation_ref == again.relation_ref
    assert first.relation_ref.startswith("relation:raw.")
    assert edge(relation_type="derived_from").relation_ref != first.relation_ref
