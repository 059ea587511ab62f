"""The model registry: immutable versions bound to a run and an artifact's bytes, and their stages.

``register_model`` gives ``model:<project>.<name>.v<N>`` (N counts per name) and records the
first transition, to ``candidate``; :mod:`contexta.handoff.promotion` records every later one.
A version's stage is the ``to_stage`` of its latest transition.
"""

from __future__ import annotations

from typing import Any

from contexta.contract.lineage import LineageEdge
from contexta.contract.refs import make_ref, parse_ref
from contexta.errors import NotFoundError, ValidationError
from contexta.handoff import telemetry as tm
from contexta.handoff._common import (
    component,
    default_actor,
    handoff_store,
    project_name,
    require_text,
    timestamp,
)
from contexta.handoff.evidence import dataset_versions
from contexta.handoff.models import ModelVersion, StageTransition
from contexta.query.service import run_ref_of


def _pick_artifact(snapshot: Any, artifact: str) -> Any:
    if artifact.startswith("artifact:"):
        found = [a for a in snapshot.artifacts if a.artifact_ref == artifact]
    else:
        found = [
            a for a in snapshot.artifacts if artifact in (a.artifact_kind, a.artifact_ref.rsplit(".", 1)[1])
        ]
    known = [a.artifact_ref for a in snapshot.artifacts]
    if not found:
        raise ValidationError.for_field(
            "artifact", f"names no artifact of {snapshot.run.run_ref} (it has {known or 'none'})", artifact
        )
    if len(found) > 1:
        raise ValidationError.for_field(
            "artifact",
            f"matches {len(found)} artifacts; pass one artifact ref of {[a.artifact_ref for a in found]}",
            artifact,
        )
    chosen = found[0]
    if chosen.sha256 is None:
        raise ValidationError.for_field(
            "artifact", f"{chosen.artifact_ref} has no sha256: a model version is bound to content", artifact
        )
    return chosen


def _with_stage(
    ctx: Any, version: ModelVersion, transitions: list[StageTransition] | None = None
) -> ModelVersion:
    history = transitions if transitions is not None else model_history(ctx, version.name, version.project)
    stage = next((t.to_stage for t in reversed(history) if t.model_ref == version.model_ref), None)
    return version.model_copy(update={"stage": stage})


def append_transition(ctx: Any, version: ModelVersion, **fields: Any) -> StageTransition:
    store = handoff_store(ctx)
    project_ref = make_ref("project", version.project)
    for _attempt in range(20):  # another process may take the number first: take the next one
        seq = len(store.list_model_transitions(project_ref, version.name)) + 1
        transition = StageTransition(
            model_ref=version.model_ref, project=version.project, name=version.name, seq=seq, **fields
        )
        if store.add_model_transition(
            project_ref, version.name, seq, version.model_ref, transition.at, transition.model_dump_json()
        ):
            return transition
    raise ValidationError.for_field("name", "transition numbers kept being taken; retry", version.name)


def register_model(
    ctx: Any,
    name: str,
    run_ref: Any,
    artifact: str = "model",
    *,
    actor: str | None = None,
    description: str | None = None,
    now: Any = None,
) -> ModelVersion:
    """Register ``run_ref``'s ``artifact`` (kind, key or ref) as the next version of ``name``.

    Registering the same run and artifact bytes under the same name again returns the existing
    version (idempotent); the run must have completed.
    """
    store = handoff_store(ctx)
    name = component(name, "name")
    run = run_ref_of(run_ref, "run_ref")
    snapshot = ctx.get_run_snapshot(run)
    if snapshot.run.status != "completed":
        raise ValidationError.for_field(
            "run_ref", f"must be a completed run ({run} is {snapshot.run.status})", run
        )
    chosen = _pick_artifact(snapshot, artifact)
    project = parse_ref(run).project
    existing = list_model_versions(ctx, name, project)
    for version in existing:
        if version.run_ref == run and version.artifact_sha256 == chosen.sha256:
            return version
    created_at, created_by = timestamp(now), actor or default_actor()
    number = max((v.version for v in existing), default=0)
    for _attempt in range(20):
        number += 1
        version = ModelVersion(
            model_ref=make_ref("model", project, name, f"v{number}"),
            project=project,
            name=name,
            version=number,
            run_ref=run,
            artifact_ref=chosen.artifact_ref,
            artifact_sha256=chosen.sha256,
            artifact_uri=chosen.uri,
            dataset_refs=snapshot.run.dataset_refs,
            dataset_versions=tuple(d.version for d in dataset_versions(snapshot) if d.source != run),
            environment_ref=snapshot.environment.environment_snapshot_ref if snapshot.environment else None,
            description=description,
            created_by=require_text(created_by, "actor", limit=256),
            created_at=created_at,
        )
        if store.add_model_version(
            version.model_ref,
            make_ref("project", project),
            name,
            number,
            run,
            created_at,
            version.model_dump_json(exclude={"stage"}),
        ):
            break
    else:
        raise ValidationError.for_field("name", "version numbers kept being taken; retry", name)
    relations = ctx.metadata_store.relations
    relations.put_relation(
        LineageEdge(
            source_ref=run, target_ref=version.model_ref, relation_type="produced", recorded_at=created_at
        )
    )
    relations.put_relation(
        LineageEdge(
            source_ref=chosen.artifact_ref,
            target_ref=version.model_ref,
            relation_type="derived_from",
            recorded_at=created_at,
            attributes={"sha256": chosen.sha256},
        )
    )
    append_transition(
        ctx,
        version,
        from_stage=None,
        to_stage="candidate",
        actor=created_by,
        reason="registered",
        at=created_at,
    )
    store.flush()
    tm.emit(
        ctx,
        f"model register {name}",
        {
            tm.MODEL_REF: version.model_ref,
            tm.MODEL_STAGE_TO: "candidate",
            tm.ACTOR: created_by,
            tm.RUN_REF: run,
            tm.PROJECT: project,
        },
        run_ref=run,
    )
    return version.model_copy(update={"stage": "candidate"})


def get_model_version(ctx: Any, ref: str) -> ModelVersion:
    """The version ``model:<project>.<name>.v<N>``, with its current stage."""
    parse_ref(ref, "ref", "model")
    body = handoff_store(ctx).get_model_version(ref)
    if body is None:
        raise NotFoundError(ref, "model version")
    return _with_stage(ctx, ModelVersion.model_validate_json(body))


def list_model_versions(ctx: Any, name: str, project: str | None = None) -> list[ModelVersion]:
    """Every version of ``name``, oldest first, each with its current stage."""
    project = project_name(ctx, project)
    name = component(name, "name")
    bodies = handoff_store(ctx).list_model_versions(make_ref("project", project), name)
    history = model_history(ctx, name, project)
    return [_with_stage(ctx, ModelVersion.model_validate_json(body), history) for body in bodies]


def model_versions_of_run(ctx: Any, run: Any) -> list[ModelVersion]:
    bodies = handoff_store(ctx).model_versions_of_run(run_ref_of(run))
    return [_with_stage(ctx, ModelVersion.model_validate_json(body)) for body in bodies]


def model_history(ctx: Any, name: str, project: str | None = None) -> list[StageTransition]:
    """Every transition of every version of ``name``, in the order they happened."""
    project = project_name(ctx, project)
    bodies = handoff_store(ctx).list_model_transitions(make_ref("project", project), component(name, "name"))
    return [StageTransition.model_validate_json(body) for body in bodies]
