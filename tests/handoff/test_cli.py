"""``gate_command`` and ``rollback_command``: exit codes 0/1/2, text and JSON, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contexta import Contexta
from contexta.handoff import HandoffAPI
from contexta.handoff.cli import gate_command, rollback_command

POLICY = """\
id: product-ranker-release
version: 1
owner: mlops@example.com
next_action: do not deploy; fix the evaluation and re-run the gate
evaluation_stage: evaluate
required_metrics: [accuracy, auc, f1]
regressions:
  - {metric: accuracy, relative_tolerance: 0.02}
  - {metric: auc, relative_tolerance: 0.02}
  - {metric: f1, relative_tolerance: 0.02}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(POLICY)
    return path


def gate(case05: Path, policy: Path, *extra: str) -> list[str]:
    return ["--workspace", str(case05), "--policy", str(policy), *extra]


def test_gate_passes_with_exit_0_and_stores_the_evaluation(
    case05: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate_command(gate(case05, policy, "candidate-v2-good")) == 0
    out = capsys.readouterr().out
    assert out.startswith("gate product-ranker-release v1 (sha256 ")
    assert "for run:product-ranker.candidate-v2-good: PASS" in out
    with Contexta(workspace=case05, config={"project_name": "product-ranker"}, environ={}) as ctx:
        (stored,) = HandoffAPI().list_gate_evaluations(ctx, "run:product-ranker.candidate-v2-good")
    assert stored.passed and stored.baseline_run_ref == "run:product-ranker.baseline-v1"


@pytest.mark.parametrize(
    ("run", "failed"),
    [
        ("candidate-v4-regressed", "regression"),
        ("run:product-ranker.candidate-v3-no-eval", "required_metrics"),
    ],
)
def test_gate_fails_with_exit_1_and_says_who_owns_it(
    case05: Path, policy: Path, run: str, failed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate_command(gate(case05, policy, run)) == 1
    out = capsys.readouterr().out
    assert f"[FAIL] {failed}: " in out
    assert "owner: mlops@example.com" in out and "next action: do not deploy" in out


def test_gate_json(case05: Path, policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        gate_command(gate(case05, policy, "candidate-v4-regressed", "--json", "--project", "product-ranker"))
        == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False and data["policy"]["id"] == "product-ranker-release"
    assert [c["name"] for c in data["checks"] if not c["passed"]] == ["regression"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["candidate-v9"], "run not found: 'run:product-ranker.candidate-v9'"),
        (["candidate-v2-good", "--baseline", "deployment:product-ranker.nope"], "deployment not found"),
        (["candidate-v2-good", "--baseline", "last-week"], "baseline"),
        (["Candidate V2"], "did you mean 'candidate-v2'?"),
    ],
)
def test_gate_bad_input_exits_2_without_traceback(
    case05: Path, policy: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate_command(gate(case05, policy, *argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("contexta: error: ") and message in err and "Traceback" not in err


def test_gate_bad_policy_exits_2_naming_the_field(
    case05: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "x"\nversion = 1\nowner = "o"\nnext_action = "n"\nevaluation_stage = "evaluate"\n'
        '[[thresholds]]\nmetric = "auc"\nmin = "high"\n'
    )
    assert gate_command(gate(case05, bad, "candidate-v2-good")) == 2
    err = capsys.readouterr().err
    assert f"contexta: error: {bad}: GatePolicy.thresholds.0.min: " in err and "'high'" in err
    assert gate_command(gate(case05, tmp_path / "missing.yaml", "candidate-v2-good")) == 2
    assert "policy: cannot be read" in capsys.readouterr().err


def test_gate_usage_errors_exit_2(tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gate_command(["--workspace", str(tmp_path / "none"), "--policy", str(policy), "r"]) == 2
    assert f"contexta: error: no workspace at {tmp_path / 'none'}" in capsys.readouterr().err
    assert gate_command(["--policy", str(policy)]) == 2  # RUN is required (argparse)
    assert gate_command(["--help"]) == 0
    assert "--baseline" in capsys.readouterr().out


def test_rollback_command(case04: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollback_command(["--workspace", str(case04)]) == 0
    out = capsys.readouterr().out
    assert (
        "rollback candidate: deployment:ctr-ranking-model.prod-deploy-march -> "
        "run:ctr-ranking-model.friday-run-b"
    ) in out
    assert (
        rollback_command(
            ["--workspace", str(case04), "--json", "deployment:ctr-ranking-model.prod-deploy-april"]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["found"] and data["run_ref"] == "run:ctr-ranking-model.friday-run-b"
    assert (
        rollback_command(["--workspace", str(case04), "deployment:ctr-ranking-model.prod-deploy-march"]) == 1
    )
    assert "no rollback candidate" in capsys.readouterr().out
    assert rollback_command(["--workspace", str(case04), "deployment:ctr-ranking-model.nope"]) == 2
    assert "deployment not found" in capsys.readouterr().err
    assert rollback_command(["--workspace", str(case04), "--environment", "Prod"]) == 2
    assert "environment" in capsys.readouterr().err
