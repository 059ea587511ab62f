"""Production handoff: promotion gates, model registry, approvals, model cards, rollback candidates.

Every object has a stable ref and version, a predicate that decides validity, recorded
evidence, an owner and a next action, and can run in CI (``contexta gate``). The guide is
``docs/production-handoff.md``.
"""

from contexta.handoff._common import DEFAULT_ENVIRONMENT, EXCLUSIVE_STAGES, PROTECTED_STAGES
from contexta.handoff.api import HandoffAPI
from contexta.handoff.approvals import approve, list_approvals
from contexta.handoff.card import ModelCard, build_model_card
from contexta.handoff.gate import evaluate_gate, get_gate_evaluation, list_gate_evaluations
from contexta.handoff.models import Approval, GateCheck, GateResult, ModelVersion, StageTransition
from contexta.handoff.policy import (
    ArtifactRule,
    DatasetRule,
    DiagnosticsRule,
    EnvironmentRule,
    GatePolicy,
    MetricThreshold,
    RegressionRule,
)
from contexta.handoff.promotion import PromotionBlockedError, promote
from contexta.handoff.registry import get_model_version, list_model_versions, model_history, register_model
from contexta.handoff.rollback import ConsideredDeployment, RollbackCandidate, rollback_candidate

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "EXCLUSIVE_STAGES",
    "PROTECTED_STAGES",
    "Approval",
    "ArtifactRule",
    "ConsideredDeployment",
    "DatasetRule",
    "DiagnosticsRule",
    "EnvironmentRule",
    "GateCheck",
    "GatePolicy",
    "GateResult",
    "HandoffAPI",
    "MetricThreshold",
    "ModelCard",
    "ModelVersion",
    "PromotionBlockedError",
    "RegressionRule",
    "RollbackCandidate",
    "StageTransition",
    "approve",
    "build_model_card",
    "evaluate_gate",
    "get_gate_evaluation",
    "get_model_version",
    "list_approvals",
    "list_gate_evaluations",
    "list_model_versions",
    "model_history",
    "promote",
    "register_model",
    "rollback_candidate",
]
