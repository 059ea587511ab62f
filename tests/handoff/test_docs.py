"""docs/production-handoff.md: the worked example runs, and its YAML and TOML policies are the same
policy as the Python one (same content hash)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from contexta.handoff import GatePolicy
from contexta.handoff.cli import gate_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "production-handoff.md"


def blocks(language: str, text: str | None = None) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text if text is not None else DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run the worked example in an empty folder; returns the folder and what it printed."""
    worked = DOC.read_text().split("## Worked example", 1)[1]
    (code,) = blocks("python", worked)
    folder = tmp_path_factory.mktemp("worked-example")
    script = folder / "example.py"
    script.write_text(code + '\nprint("POLICY-HASH", policy.content_hash)\n')
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, done.stdout


def test_worked_example_runs_and_prints_each_decision(example: tuple[Path, str]) -> None:
    folder, out = example
    assert "gate churn-release v3 (sha256 " in out and "for run:churn.candidate: PASS" in out
    assert "requires 1 approval(s), 0 given" in out
    assert "rollback candidate: deployment:churn.prod-june -> run:churn.baseline" in out
    page = (folder / "churn-model-v1.html").read_text()
    assert "Model card: churn-model v1" in page and "Rank accounts by churn risk." in page


@pytest.mark.parametrize(("language", "suffix"), [("yaml", ".yaml"), ("toml", ".toml")])
def test_policy_files_in_the_doc_equal_the_example_policy(
    example: tuple[Path, str], tmp_path: Path, language: str, suffix: str
) -> None:
    (text,) = blocks(language)
    path = tmp_path / f"churn-release{suffix}"
    path.write_text(text)
    expected = re.search(r"POLICY-HASH ([0-9a-f]{64})", example[1])
    assert expected is not None
    assert GatePolicy.from_file(path).content_hash == expected.group(1)


def test_the_cli_line_of_the_doc_runs_against_the_example_workspace(
    example: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (text,) = blocks("yaml")
    path = tmp_path / "churn-release.yaml"
    path.write_text(text)
    workspace = example[0] / ".contexta"
    argv = [
        "candidate",
        "--policy",
        str(path),
        "--baseline",
        "run:churn.baseline",
        "--workspace",
        str(workspace),
    ]
    assert gate_command(argv) == 0
    assert "PASS" in capsys.readouterr().out


def test_every_object_of_the_doc_table_names_its_five_properties() -> None:
    table = DOC.read_text().split("| Object |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert [row.split("|")[1].strip() for row in rows] == [
        "Gate policy",
        "Gate evaluation",
        "Model version",
        "Stage transition",
        "Approval",
        "Model card",
        "Rollback candidate",
    ]
    assert all(len(row.split("|")) == 8 for row in rows)  # six cells each, none empty
    assert all(cell.strip() for row in rows for cell in row.split("|")[1:-1])
