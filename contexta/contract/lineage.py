"""Artifacts and explicit lineage edges."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field

from contexta.contract._base import Attributes, ContractModel, Timestamp
from contexta.contract.refs import parse_ref

RelationType = Literal[
    "used",
    "produced",
    "deployed",
    "derived_from",
    "contains",
    "executed_in",
    "evaluated",
    "approved",
    "related",
]


class ArtifactManifest(ContractModel):
    """A file a run produced (a model, a report, a dataset extract), with its content hash."""

    artifact_ref: str
    run_ref: str
    artifact_kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
    uri: str = Field(min_length=1, max_length=4096)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(default=None, ge=0)
    created_at: Timestamp
    stage_execution_ref: str | None = None
    attributes: Attributes = Field(default_factory=dict)

    def _check(self) -> None:
        run = parse_ref(self.run_ref, "ArtifactManifest.run_ref", "run")
        artifact = parse_ref(self.artifact_ref, "ArtifactManifest.artifact_ref", "artifact")
        if artifact.parts[:2] != run.parts:
            raise self._fail(
                "artifact_ref",
                f"must start with the run's components {'.'.join(run.parts)!r}",
                self.artifact_ref,
            )
        if self.stage_execution_ref is not None:
            stage = parse_ref(self.stage_execution_ref, "ArtifactManifest.stage_execution_ref", "stage")
            if stage.parts[:2] != run.parts:
                raise self._fail(
                    "stage_execution_ref", f"must belong to run {self.run_ref!r}", self.stage_execution_ref
                )


class LineageEdge(ContractModel):
    """An explicit edge ``source -> target`` ("target was made from / by source")."""

    source_ref: str
    target_ref: str
    relation_type: RelationType
    recorded_at: Timestamp
    attributes: Attributes = Field(default_factory=dict)

    def _check(self) -> None:
        parse_ref(self.source_ref, "LineageEdge.source_ref")
        parse_ref(self.target_ref, "LineageEdge.target_ref")
        if self.source_ref == self.target_ref:
            raise self._fail("target_ref", "must differ from source_ref", self.target_ref)

    @property
    def relation_ref(self) -> str:
        """Deterministic: the same (source, target, type) always has the same ref."""
        key = "\x1f".join((self.source_ref, self.target_ref, self.relation_type))
        project = parse_ref(self.source_ref).project
        return f"relation:{project}.{hashlib.sha256(key.encode()).hexdigest()[:20]}"
