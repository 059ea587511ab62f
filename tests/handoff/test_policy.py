"""GatePolicy: built in Python, read from YAML, TOML and JSON, hashed; bad input names the field."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from contexta.errors import ConfigError, ValidationError
from contexta.handoff import DatasetRule, GatePolicy, MetricThreshold, RegressionRule

BASE: dict[str, Any] = {
    "id": "ranker-release",
    "version": 2,
    "owner": "mlops@example.com",
    "next_action": "re-evaluate on the holdout set",
    "evaluation_stage": "evaluate",
    "required_metrics": ["accuracy", "auc"],
    "thresholds": [{"metric": "auc", "min": 0.9}],
    "regressions": [{"metric": "loss", "direction": "lower_is_better", "absolute_tolerance": 0.01}],
    "datasets": {"match_baseline": True},
}

YAML = """\
id: ranker-release
version: 2
owner: mlops@example.com
next_action: re-evaluate on the holdout set
evaluation_stage: evaluate
required_metrics: [accuracy, auc]
thresholds:
  - {metric: auc, min: 0.9}
regressions:
  - {metric: loss, direction: lower_is_better, absolute_tolerance: 0.01}
datasets: {match_baseline: true}
"""

TOML = """\
id = "ranker-release"
version = "2"
owner = "mlops@example.com"
next_action = "re-evaluate on the holdout set"
evaluation_stage = "evaluate"
required_metrics = ["accuracy", "auc"]

[[thresholds]]
metric = "auc"
min = 0.9

[[regressions]]
metric = "loss"
direction = "lower_is_better"
absolute_tolerance = 0.01

[datasets]
match_baseline = true
"""


def python_policy() -> GatePolicy:
    return GatePolicy(
        id="ranker-release",
        version="2",
        owner="mlops@example.com",
        next_action="re-evaluate on the holdout set",
        evaluation_stage="evaluate",
        required_metrics=("accuracy", "auc"),
        thresholds=(MetricThreshold(metric="auc", min=0.9),),
        regressions=(RegressionRule(metric="loss", direction="lower_is_better", absolute_tolerance=0.01),),
        datasets=DatasetRule(match_baseline=True),
    )


@pytest.mark.parametrize(
    ("suffix", "text"), [(".yaml", YAML), (".yml", YAML), (".toml", TOML), (".json", json.dumps(BASE))]
)
def test_policy_files_load_to_the_python_policy_with_the_same_hash(
    tmp_path: Path, suffix: str, text: str
) -> None:
    path = tmp_path / f"policy{suffix}"
    path.write_text(text)
    loaded = GatePolicy.from_file(path)
    assert loaded == python_policy()
    assert loaded.content_hash == python_policy().content_hash
    assert loaded.version == "2" and loaded.label.startswith("ranker-release v2 (sha256 ")


def test_content_hash_changes_with_any_field() -> None:
    policy = python_policy()
    assert len(policy.content_hash) == 64
    changed = policy.model_copy(update={"owner": "someone-else"})
    assert GatePolicy.model_validate(changed.model_dump()).content_hash != policy.content_hash


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"thresholds": [{"metric": "auc", "min": "high"}]}, "GatePolicy.thresholds.0.min", "valid number"),
        ({"thresholds": [{"metric": "auc"}]}, "GatePolicy.thresholds.0", "needs min, max or both"),
        (
            {"thresholds": [{"metric": "auc", "min": 2, "max": 1}]},
            "GatePolicy.thresholds.0",
            "must not be greater",
        ),
        ({"treshold": 1}, "GatePolicy.treshold", "Extra inputs are not permitted"),
        ({"evaluation_stage": "Evaluate"}, "GatePolicy.evaluation_stage", "pattern"),
        ({"owner": ""}, "GatePolicy.owner", "at least 1 character"),
        (
            {"regressions": [{"metric": "auc", "direction": "up"}]},
            "GatePolicy.regressions.0.direction",
            "higher_is_better",
        ),
        (
            {"regressions": [{"metric": "auc", "relative_tolerance": -1}]},
            "GatePolicy.regressions.0.relative_tolerance",
            "greater than or equal to 0",
        ),
        ({"required_metrics": ["auc", "auc"]}, "GatePolicy.required_metrics", "twice"),
        ({"required_metrics": ["bad key!"]}, "GatePolicy.required_metrics.0", "metric key"),
        (
            {"blocked_degraded_categories": ["nonsense"]},
            "GatePolicy.blocked_degraded_categories.0",
            "capture",
        ),
        ({"version": True}, "GatePolicy.version", "version string"),
    ],
)
def test_invalid_policies_name_the_field_rule_and_value(
    change: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        GatePolicy.from_dict({**BASE, **change})
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_missing_required_field_is_named() -> None:
    data = {key: value for key, value in BASE.items() if key != "next_action"}
    with pytest.raises(ValidationError) as caught:
        GatePolicy.from_dict(data)
    assert caught.value.field == "GatePolicy.next_action"


def test_a_bad_policy_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text(YAML.replace("min: 0.9", "min: high"))
    with pytest.raises(ValidationError) as caught:
        GatePolicy.from_file(path)
    assert str(caught.value).startswith(f"{path}: GatePolicy.thresholds.0.min: ")
    assert caught.value.field == "GatePolicy.thresholds.0.min"
    assert caught.value.value == "high"


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("gate.toml", "id = ", "is not valid TOML"),
        ("gate.yaml", "id: [unclosed", "is not valid YAML"),
        ("gate.json", "{", "is not valid JSON"),
        ("gate.yaml", "- just\n- a list\n", "must be a mapping of policy fields"),
        ("gate.ini", "id=1", "must be a .yaml, .yml, .toml or .json file"),
    ],
)
def test_unreadable_policy_files_are_validation_errors(
    tmp_path: Path, name: str, text: str, fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        GatePolicy.from_file(path)
    assert fragment in str(caught.value)


def test_a_missing_policy_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="policy: cannot be read"):
        GatePolicy.from_file(tmp_path / "absent.toml")


def test_yaml_without_pyyaml_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text(YAML)
    real_import = builtins.__import__

    def no_yaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(ConfigError, match=r"needs PyYAML: pip install 'contexta\[yaml\]'"):
        GatePolicy.from_file(path)
    (tmp_path / "gate.toml").write_text(TOML)
    assert GatePolicy.from_file(tmp_path / "gate.toml") == python_policy()


def test_importing_the_handoff_package_does_not_load_yaml() -> None:
    import subprocess
    import sys

    code = "import sys, contexta.handoff, contexta.handoff.cli; print('yaml' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
