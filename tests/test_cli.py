"""The ``contexta`` command line, run for real against workspaces built with the explicit API."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contexta import Contexta, __version__
from contexta.cli import doctor as cli_doctor
from contexta.cli import main
from contexta.contract import (
    ArtifactManifest,
    DegradedPayload,
    DegradedRecord,
    DeploymentExecution,
    EnvironmentSnapshot,
    LineageEdge,
    MetricPayload,
    MetricRecord,
    Project,
    RecordEnvelope,
    Run,
    StageExecution,
    parse_ref,
)
from contexta.errors import ValidationError
from contexta.query.diagnose import CODES

P = "demo"
DAY = "2025-03-01"


# ----------------------------------------------------------------------------- workspace builder
class Builder:
    """A few runs written with ``ctx.metadata_store`` / ``ctx.record_store``."""

    def __init__(self, ctx: Contexta, project: str) -> None:
        self.ctx = ctx
        self.p = project
        self.meta = ctx.metadata_store
        self.counter = 0
        self.meta.projects.put_project(
            Project(project_ref=f"project:{project}", name=project, created_at=f"{DAY}T00:00:00Z")
        )

    def run(self, name: str, status: str, hour: int, *, ended: bool = True, **extra: Any) -> str:
        ref = f"run:{self.p}.{name}"
        self.meta.runs.put_run(
            Run(
                run_ref=ref,
                project_ref=f"project:{self.p}",
                name=name,
                status=status,
                started_at=f"{DAY}T{hour:02d}:00:00Z",
                ended_at=f"{DAY}T{hour:02d}:30:00Z" if ended else None,
                **extra,
            )
        )
        return ref

    def stage(self, run: str, name: str, status: str, hour: int, index: int) -> str:
        ref = f"stage:{run[4:]}.{name}"
        self.meta.stages.put_stage_execution(
            StageExecution(
                stage_execution_ref=ref,
                run_ref=run,
                stage_name=name,
                status=status,
                started_at=f"{DAY}T{hour:02d}:0{index}:00Z",
                ended_at=f"{DAY}T{hour:02d}:0{index + 1}:00Z",
                order_index=index,
            )
        )
        return ref

    def _envelope(self, run: str, stage: str | None, kind: str, hour: int) -> RecordEnvelope:
        self.counter += 1
        moment = f"{DAY}T{hour:02d}:10:{self.counter % 60:02d}Z"
        return RecordEnvelope(
            record_ref=f"record:{run[4:]}.r{self.counter:04d}",
            record_type=kind,
            recorded_at=moment,
            observed_at=moment,
            run_ref=run,
            stage_execution_ref=stage,
        )

    def metric(self, run: str, stage: str | None, key: str, value: float, hour: int) -> None:
        self.ctx.record_store.append(
            MetricRecord(
                envelope=self._envelope(run, stage, "metric", hour),
                payload=MetricPayload(metric_key=key, value=value),
            )
        )

    def degraded(self, run: str, stage: str | None, severity: str, summary: str, hour: int) -> None:
        self.ctx.record_store.append(
            DegradedRecord(
                envelope=self._envelope(run, stage, "degraded", hour),
                payload=DegradedPayload(
                    issue_key="data.rows-dropped", category="data", severity=severity, summary=summary
                ),
            )
        )

    def deployment(self, name: str, run: str, status: str, index: int, artifact: str | None = None) -> None:
        self.meta.deployments.put_deployment_execution(
            DeploymentExecution(
                deployment_execution_ref=f"deployment:{self.p}.{name}",
                project_ref=f"project:{self.p}",
                deployment_name=name,
                status=status,
                started_at=f"{DAY}T20:0{index}:00Z",
                ended_at=f"{DAY}T20:0{index}:30Z",
                order_index=index,
                run_ref=run,
                environment="prod",
                artifact_ref=artifact,
            )
        )


def build_demo(root: Path) -> Path:
    """Project ``demo``: runs good, bad, warn (warnings only), stuck (open, stale), ghost (records only)."""
    with Contexta(workspace=root) as ctx:
        b = Builder(ctx, P)
        good = b.run("good", "completed", 1, dataset_refs=("dataset:warehouse.events",))
        for index, name in enumerate(("ingest", "train", "evaluate")):
            b.stage(good, name, "completed", 1, index)
        b.metric(good, f"stage:{P}.good.train", "loss", 0.30, 1)
        b.metric(good, f"stage:{P}.good.evaluate", "accuracy", 0.91, 1)
        artifact = f"artifact:{P}.good.model"
        ctx.metadata_store.artifacts.put_artifact_manifest(
            ArtifactManifest(
                artifact_ref=artifact,
                run_ref=good,
                artifact_kind="model",
                uri="file:///models/good.pkl",
                size_bytes=1234,
                created_at=f"{DAY}T01:29:00Z",
            )
        )
        ctx.metadata_store.environments.put_environment_snapshot(
            EnvironmentSnapshot(
                environment_snapshot_ref=f"environment:{P}.good",
                run_ref=good,
                captured_at=f"{DAY}T01:00:00Z",
                python_version="3.11.7",
            )
        )
        b.deployment("prod-v1", good, "completed", 0, artifact)

        bad = b.run("bad", "failed", 2)
        b.stage(bad, "ingest", "completed", 2, 0)
        train = b.stage(bad, "train", "failed", 2, 1)
        b.metric(bad, train, "loss", 0.45, 2)
        b.degraded(bad, train, "warning", "3 rows dropped", 2)
        b.deployment("prod-v2", bad, "failed", 1)
        ctx.metadata_store.relations.put_relation(
            LineageEdge(
                source_ref=good, target_ref=bad, relation_type="derived_from", recorded_at=f"{DAY}T02:00:00Z"
            )
        )

        warn = b.run("warn", "completed", 3)
        b.stage(warn, "train", "completed", 3, 0)
        b.metric(warn, f"stage:{P}.warn.train", "loss", 0.35, 3)
        b.degraded(warn, None, "warning", "late labels", 3)
        b.metric(warn, f"stage:{P}.warn.gone", "loss", 0.1, 3)  # orphan: the stage was never written

        b.run("stuck", "open", 4, ended=False)
        b.metric(f"run:{P}.ghost", None, "loss", 1.0, 5)  # the run itself is never written
    return root


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_demo(tmp_path_factory.mktemp("cli") / ".contexta"))


@pytest.fixture(scope="module")
def two_projects(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli-two") / "ws"
    with Contexta(workspace=root) as ctx:
        for project in ("alpha", "beta"):
            b = Builder(ctx, project)
            b.run("r1", "completed", 1)
            b.run("shared", "completed", 2)
            b.metric(f"run:{project}.shared", None, "score", 1.0 if project == "alpha" else 2.0, 2)
    return str(root)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CONTEXTA_WORKSPACE",
        "CONTEXTA_PROJECT",
        "CONTEXTA_STORE_URI",
        "CONTEXTA_STALE_AFTER_SECONDS",
        "CONTEXTA_FORCE_TTY",
    ):
        monkeypatch.delenv(name, raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def no_traceback(err: str) -> None:
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- top level
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--version")
    assert code == 0
    assert out.strip() == f"contexta {__version__}"


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys)
    assert code == 2
    assert out == ""
    assert "usage: contexta" in err and "diagnose" in err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "runs", "--workspace", ws, "--bogus")
    assert code == 2
    assert "unrecognized arguments: --bogus" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["runs"],
        ["show", "run:demo.good"],
        ["diagnose", "run:demo.good"],
        ["compare", "run:demo.good", "run:demo.bad"],
        ["lineage", "run:demo.good"],
        ["report", "run:demo.good"],
        ["deployments"],
        ["doctor"],
        ["export", "runs"],
        ["replay", "--endpoint", "http://127.0.0.1:9"],
        ["rollback-candidate"],
    ],
)
def test_read_commands_never_create_a_workspace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    missing = tmp_path / "nothing-here"
    code, out, err = cli(capsys, *argv, "--workspace", str(missing))
    assert code == 2
    assert out == ""
    assert err.strip() == f"contexta: error: no workspace at {missing}"
    assert not missing.exists()


def test_empty_folder_is_not_a_workspace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = cli(capsys, "runs", "--workspace", str(tmp_path))
    assert code == 2
    assert f"no workspace at {tmp_path}" in err
    assert list(tmp_path.iterdir()) == []


def test_workspace_from_environment(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTEXTA_WORKSPACE", ws)
    code, out, _ = cli(capsys, "runs")
    assert code == 0
    assert "run:demo.good" in out


def test_default_workspace_is_dot_contexta(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(ws).parent)  # the fixture's folder is literally ".contexta"
    code, out, _ = cli(capsys, "runs")
    assert code == 0
    assert "run:demo.good" in out


# ----------------------------------------------------------------------------- runs
def test_runs_lists_the_only_project(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, err = cli(capsys, "runs", "--workspace", ws)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["run", "status", "started_at", "ended_at"]
    assert [line.split()[0] for line in lines[1:]] == [
        "run:demo.good",
        "run:demo.bad",
        "run:demo.warn",
        "run:demo.stuck",
    ]
    assert lines[4].split() == ["run:demo.stuck", "open", f"{DAY}T04:00:00Z", "-"]


def test_runs_status_filter_and_json(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "runs", "--workspace", ws, "--status", "failed", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [row["run_id"] for row in rows] == ["run:demo.bad"]
    assert rows[0]["status"] == "failed" and rows[0]["name"] == "bad" and rows[0]["project"] == "demo"


def test_runs_status_filter_with_no_match(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, err = cli(capsys, "runs", "--workspace", ws, "--status", "cancelled")
    assert code == 0
    assert out == ""
    assert "no runs in project:demo with status cancelled" in err


def test_runs_rejects_unknown_status(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "runs", "--workspace", ws, "--status", "done")
    assert code == 2
    assert "invalid choice: 'done'" in err


def test_runs_needs_a_project_when_there_are_several(
    capsys: pytest.CaptureFixture[str], two_projects: str
) -> None:
    code, out, err = cli(capsys, "runs", "--workspace", two_projects)
    assert code == 2
    assert out == ""
    assert "no project given: pass --project or set CONTEXTA_PROJECT" in err
    assert "2 projects: alpha, beta" in err
    no_traceback(err)
    code, out, _ = cli(capsys, "runs", "--workspace", two_projects, "--project", "beta")
    assert code == 0
    assert "run:beta.r1" in out and "alpha" not in out


def test_project_from_environment(
    capsys: pytest.CaptureFixture[str], two_projects: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTEXTA_PROJECT", "alpha")
    code, out, _ = cli(capsys, "runs", "--workspace", two_projects)
    assert code == 0
    assert "run:alpha.r1" in out
    code, out, _ = cli(capsys, "show", "shared", "--workspace", two_projects, "--json")
    assert json.loads(out)["run"]["run_ref"] == "run:alpha.shared"


def test_runs_of_an_unknown_project(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "runs", "--workspace", ws, "--project", "nope")
    assert code == 2
    assert err.strip() == "contexta: error: project not found: 'project:nope'"


def test_unknown_project_from_environment(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTEXTA_PROJECT", "elsewhere")
    code, _, err = cli(capsys, "deployments", "--workspace", ws)
    assert code == 2
    assert err.strip() == "contexta: error: project not found: 'project:elsewhere'"


def test_runs_with_an_invalid_project_name(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "runs", "--workspace", ws, "--project", "Not Valid")
    assert code == 2
    assert "project:" in err and "'project:Not Valid'" in err
    no_traceback(err)


# ----------------------------------------------------------------------------- show
def test_show_by_name_and_by_ref(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, by_name, _ = cli(capsys, "show", "good", "--workspace", ws, "--project", "demo")
    assert code == 0
    code, by_ref, _ = cli(capsys, "show", "run:demo.good", "--workspace", ws)
    assert code == 0
    assert by_name == by_ref
    assert "run:         run:demo.good" in by_ref
    assert "datasets:    dataset:warehouse.events" in by_ref
    assert "records:     2 (metric 2)" in by_ref
    for line in (
        "0      ingest    completed",
        "train     loss      0.3",
        "evaluate  accuracy  0.91",
        "artifact:demo.good.model",
        "deployment:demo.prod-v1",
    ):
        assert line in by_ref


def test_show_json_is_the_snapshot(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "show", "run:demo.bad", "--workspace", ws, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["run"]["status"] == "failed"
    assert [stage["name"] for stage in data["stages"]] == ["ingest", "train"]
    assert {record["record_type"] for record in data["records"]} == {"metric", "degraded"}
    assert [d["deployment_id"] for d in data["deployments"]] == ["deployment:demo.prod-v2"]


def test_show_unknown_run(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, err = cli(capsys, "show", "run:demo.nope", "--workspace", ws)
    assert code == 2
    assert out == ""
    assert err.strip() == "contexta: error: run not found: 'run:demo.nope'"


def test_show_run_with_records_but_no_run_row(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "show", "ghost", "--workspace", ws)
    assert code == 2
    assert "run not found: 'run:demo.ghost'" in err


@pytest.mark.parametrize("bad", ["run:Demo.good", "run:demo", "stage:demo.good.train", "run:demo.a..b"])
def test_show_invalid_ref_prints_the_validation_error(
    capsys: pytest.CaptureFixture[str], ws: str, bad: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_ref(bad, "run", "run")
    code, out, err = cli(capsys, "show", bad, "--workspace", ws)
    assert code == 2
    assert out == ""
    assert err.strip() == f"contexta: error: {info.value}"
    no_traceback(err)


def test_show_invalid_name_suggests_the_slug(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "show", "Good Run", "--workspace", ws)
    assert code == 2
    assert "run: must be lowercase alphanumerics with single hyphens" in err
    assert "(did you mean 'good-run'?)" in err


def test_run_name_needs_a_project_when_there_are_several(
    capsys: pytest.CaptureFixture[str], two_projects: str
) -> None:
    code, _, err = cli(capsys, "show", "r1", "--workspace", two_projects)
    assert code == 2
    assert "no project given" in err


# ----------------------------------------------------------------------------- diagnose
def test_diagnose_clean_run(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "diagnose", "good", "--workspace", ws)
    assert code == 0
    assert out.strip() == "run:demo.good: no issues found"


def test_diagnose_errors_exit_1(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "diagnose", "bad", "--workspace", ws)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "run:demo.bad: 3 error(s), 1 warning(s)"
    assert lines[1].split() == ["severity", "code", "subject", "summary"]
    codes = {line.split()[1] for line in lines[2:]}
    assert codes == {"failed_run", "failed_stage", "failed_deployment", "degraded_record"}
    assert "3 rows dropped" in out


def test_diagnose_fail_on(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "diagnose", "warn", "--workspace", ws)
    assert code == 0  # warnings only: fine at the default --fail-on error
    assert "0 error(s), 2 warning(s)" in out
    assert "orphan_record" in out and "degraded_record" in out
    code, _, _ = cli(capsys, "diagnose", "warn", "--workspace", ws, "--fail-on", "warning")
    assert code == 1
    code, _, _ = cli(capsys, "diagnose", "good", "--workspace", ws, "--fail-on", "warning")
    assert code == 0


def test_diagnose_stale_and_missing_runs(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "diagnose", "stuck", "--workspace", ws, "--json")
    assert code == 1
    assert [issue["code"] for issue in json.loads(out)["issues"]] == ["stale_open_run"]
    code, out, _ = cli(capsys, "diagnose", "ghost", "--workspace", ws, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["run_id"] == "run:demo.ghost"
    assert [(i["severity"], i["code"]) for i in data["issues"]] == [("error", "missing_run")]


def test_diagnose_json_codes_are_known(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "diagnose", "run:demo.bad", "--workspace", ws, "--json")
    assert code == 1
    issues = json.loads(out)["issues"]
    assert all(issue["code"] in CODES for issue in issues)
    degraded = next(issue for issue in issues if issue["code"] == "degraded_record")
    assert degraded["severity"] == "warning"
    assert degraded["subject_ref"] == "stage:demo.bad.train"
    assert degraded["evidence_refs"][0].startswith("record:demo.bad.")


def test_diagnose_unknown_run(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "diagnose", "nope", "--workspace", ws)
    assert code == 2
    assert err.strip() == "contexta: error: run not found: 'run:demo.nope'"


def test_diagnose_bad_fail_on(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "diagnose", "good", "--workspace", ws, "--fail-on", "info")
    assert code == 2
    assert "invalid choice: 'info'" in err


# ----------------------------------------------------------------------------- compare
def test_compare_two_runs(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "compare", "good", "run:demo.bad", "--workspace", ws)
    assert code == 0
    assert "left:   run:demo.good" in out and "right:  run:demo.bad" in out
    assert "train     completed  failed" in out
    metric_lines = out.split("Metrics\n", 1)[1].splitlines()
    assert metric_lines[0].split() == ["stage", "metric", "left", "right", "delta"]
    assert metric_lines[1].split() == ["train", "loss", "0.3", "0.45", "+0.15"]
    assert metric_lines[2].split() == ["evaluate", "accuracy", "0.91", "-", "-"]


def test_compare_two_runs_json(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "compare", "good", "bad", "--workspace", ws, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["left_run_id"] == "run:demo.good" and data["right_run_id"] == "run:demo.bad"
    train = next(s for s in data["stage_comparisons"] if s["stage_name"] == "train")
    assert train["metric_deltas"] == [{"metric_key": "loss", "left_value": 0.3, "right_value": 0.45}]


def test_compare_many_runs(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "compare", "good", "bad", "warn", "--workspace", ws)
    assert code == 0
    assert "good: run:demo.good" in out
    table = out.split("Metrics\n", 1)[1].splitlines()
    assert table[0].split() == ["stage", "metric", "good", "bad", "warn"]
    assert table[1].split() == ["train", "loss", "0.3", "0.45", "0.35"]
    code, out, _ = cli(capsys, "compare", "good", "bad", "warn", "--workspace", ws, "--json")
    data = json.loads(out)
    assert data["run_ids"] == ["run:demo.good", "run:demo.bad", "run:demo.warn"]
    assert ["train", "loss", [0.3, 0.45, 0.35]] in data["table"]


def test_compare_same_name_in_two_projects_shows_refs(
    capsys: pytest.CaptureFixture[str], two_projects: str
) -> None:
    code, out, _ = cli(
        capsys, "compare", "run:alpha.shared", "run:beta.shared", "run:alpha.r1", "--workspace", two_projects
    )
    assert code == 0
    header = out.split("Metrics\n", 1)[1].splitlines()[0].split()
    assert header == ["stage", "metric", "run:alpha.shared", "run:beta.shared", "run:alpha.r1"]


def test_compare_needs_two_runs(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "compare", "good", "--workspace", ws)
    assert code == 2
    assert "runs: needs at least two runs" in err
    code, _, err = cli(capsys, "compare", "--workspace", ws)
    assert code == 2
    assert "the following arguments are required: RUN" in err


def test_compare_unknown_run(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "compare", "good", "missing", "--workspace", ws)
    assert code == 2
    assert err.strip() == "contexta: error: run not found: 'run:demo.missing'"


# ----------------------------------------------------------------------------- lineage
def _edges(out: str) -> set[tuple[str, str, str]]:
    data = json.loads(out)
    return {(e["source_ref"], e["relation_type"], e["target_ref"]) for e in data["edges"]}


def test_lineage_of_a_run(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "lineage", "good", "--workspace", ws, "--json")
    assert code == 0
    edges = _edges(out)
    assert ("dataset:warehouse.events", "used", "run:demo.good") in edges
    assert ("environment:demo.good", "executed_in", "run:demo.good") in edges
    assert ("run:demo.good", "contains", "stage:demo.good.train") in edges
    assert ("run:demo.good", "produced", "artifact:demo.good.model") in edges
    assert ("run:demo.good", "deployed", "deployment:demo.prod-v1") in edges
    assert ("run:demo.good", "derived_from", "run:demo.bad") in edges
    code, text, _ = cli(capsys, "lineage", "run:demo.good", "--workspace", ws)
    assert text.splitlines()[0].startswith("run:demo.good (both: ")
    assert text.splitlines()[1].split() == ["source", "relation", "target", "edge"]
    rows = [line.split() for line in text.splitlines()[2:]]
    assert ["run:demo.good", "derived_from", "run:demo.bad", "explicit"] in rows
    assert ["run:demo.good", "contains", "stage:demo.good.train", "derived"] in rows


def test_lineage_direction_and_depth(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(
        capsys, "lineage", "run:demo.good", "--workspace", ws, "--direction", "upstream", "--json"
    )
    assert code == 0
    assert _edges(out) == {
        ("dataset:warehouse.events", "used", "run:demo.good"),
        ("environment:demo.good", "executed_in", "run:demo.good"),
    }
    code, out, _ = cli(
        capsys, "lineage", "stage:demo.good.train", "--workspace", ws, "--max-depth", "0", "--json"
    )
    assert code == 0
    assert json.loads(out)["edges"] == []
    code, out, _ = cli(
        capsys, "lineage", "dataset:warehouse.events", "--workspace", ws, "--direction", "downstream",
        "--max-depth", "1", "--json",
    )  # fmt: skip
    assert _edges(out) == {("dataset:warehouse.events", "used", "run:demo.good")}


def test_lineage_unknown_and_invalid_refs(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, _, err = cli(capsys, "lineage", "stage:demo.good.nope", "--workspace", ws)
    assert code == 2
    assert err.strip() == "contexta: error: stage not found: 'stage:demo.good.nope'"
    code, _, err = cli(capsys, "lineage", "widget:demo.x", "--workspace", ws)
    assert code == 2
    assert "ref: unknown ref kind 'widget'" in err
    code, _, err = cli(capsys, "lineage", "good", "--workspace", ws, "--max-depth", "-1")
    assert code == 2
    assert "--max-depth must be 0 or more" in err
    code, _, err = cli(capsys, "lineage", "good", "--workspace", ws, "--direction", "sideways")
    assert code == 2
    assert "invalid choice: 'sideways'" in err


# ----------------------------------------------------------------------------- report
@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        ("text", "Run report: run:demo.bad\n====="),
        ("md", "# Run report: run:demo.bad"),
        ("html", "<!DOCTYPE html>"),
    ],
)
def test_report_formats(capsys: pytest.CaptureFixture[str], ws: str, fmt: str, marker: str) -> None:
    code, out, _ = cli(capsys, "report", "bad", "--workspace", ws, "--format", fmt)
    assert code == 0
    assert out.startswith(marker)
    assert "failed_stage" in out


def test_report_json_and_output_file(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, err = cli(
        capsys, "report", "run:demo.good", "--workspace", ws, "--format", "json", "-o", str(target)
    )
    assert code == 0
    assert out == ""
    assert str(target) in err
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["title"] == "Run report: run:demo.good"
    assert "Deployments" in [section["title"] for section in data["sections"]]


def test_report_to_stdout_with_a_dash(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, err = cli(capsys, "report", "good", "--workspace", ws, "--format", "md", "-o", "-")
    assert (code, err) == (0, "")
    assert out.startswith("# Run report: run:demo.good")


def test_report_errors(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "report", "good", "--workspace", ws, "-o", str(tmp_path / "no" / "r.txt"))
    assert code == 2
    assert "does not exist" in err
    assert not (tmp_path / "no").exists()
    code, _, err = cli(capsys, "report", "good", "--workspace", ws, "--format", "pdf")
    assert code == 2
    assert "invalid choice: 'pdf'" in err
    code, _, err = cli(capsys, "report", "nope", "--workspace", ws)
    assert code == 2
    assert "run not found: 'run:demo.nope'" in err


# ----------------------------------------------------------------------------- deployments
def test_deployments(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "deployments", "--workspace", ws)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["deployment", "environment", "status", "run", "started_at", "ended_at"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["deployment:demo.prod-v1", "prod", "completed", "run:demo.good"],
        ["deployment:demo.prod-v2", "prod", "failed", "run:demo.bad"],
    ]
    code, out, _ = cli(capsys, "deployments", "--workspace", ws, "--project", "demo", "--json")
    assert [d["name"] for d in json.loads(out)] == ["prod-v1", "prod-v2"]
    code, out, err = cli(capsys, "deployments", "--workspace", ws, "--environment", "staging")
    assert code == 0 and out == ""
    assert "no deployments" in err


# ----------------------------------------------------------------------------- doctor
def test_doctor(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "doctor", "--workspace", ws)
    assert code == 0
    assert "integrity:" in out and out.count(" ok") >= 1
    code, out, _ = cli(capsys, "doctor", "--workspace", ws, "--json")
    facts = json.loads(out)
    assert facts["ok"] is True
    assert facts["integrity"] == ["ok"]
    assert facts["schema_version"] == facts["latest_schema_version"] >= 1
    assert (facts["projects"], facts["runs"], facts["deployments"]) == (1, 4, 2)
    assert facts["contexta_version"] == __version__


def test_doctor_reports_failing_integrity(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems = ["row 3 missing from index runs_by_project", "wrong # of entries in index runs_by_project"]
    monkeypatch.setattr(cli_doctor, "_integrity", lambda ctx: problems)
    code, out, _ = cli(capsys, "doctor", "--workspace", ws)
    assert code == 1
    assert "2 problem(s)" in out and problems[0] in out


def test_doctor_on_a_damaged_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "contexta.db").write_bytes(b"this is not an sqlite database" * 200)
    code, out, _ = cli(capsys, "doctor", "--workspace", str(folder), "--json")
    assert code == 1
    facts = json.loads(out)
    assert facts["ok"] is False
    assert "cannot open" in facts["integrity"][0]
    code, _, err = cli(capsys, "runs", "--workspace", str(folder))
    assert code == 2
    assert "cannot open workspace database" in err
    no_traceback(err)


# ----------------------------------------------------------------------------- as a program
def _program(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTA_")}
    return subprocess.run(
        [sys.executable, "-m", "contexta.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_runs_as_a_subprocess(ws: str) -> None:
    done = _program("diagnose", "run:demo.bad", "--workspace", ws)
    assert done.returncode == 1, done.stderr
    assert "failed_stage" in done.stdout
    done = _program("runs", "--workspace", ws, "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 4


def test_subprocess_errors_have_no_traceback(tmp_path: Path, ws: str) -> None:
    done = _program("show", "run:demo.nope", "--workspace", ws)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == "contexta: error: run not found: 'run:demo.nope'"
    done = _program("runs", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "contexta: error: no workspace at .contexta"
    assert not (tmp_path / ".contexta").exists()


# ----------------------------------------------------------------------------- docs/cli.md examples
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _fences(text: str) -> list[tuple[str, list[str]]]:
    """Every fenced block of a Markdown text: (info string, its lines)."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
                blocks.append((line[3:].strip(), current))
            else:
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _doc_examples() -> list[tuple[str, list[str]]]:
    """``$ command`` lines of the plain fences of docs/cli.md, each with the lines it prints.

    ``console`` fences are illustrations (they need a backend, a policy file...): not run here."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    examples: list[tuple[str, list[str]]] = []
    for info, lines in _fences(text):
        if info or not lines or not lines[0].startswith("$ "):
            continue
        for line in lines:
            if line.startswith("$ "):
                examples.append((line[2:], []))
            else:
                examples[-1][1].append(line)
    return examples


def _in_order(expected: list[str], actual: list[str]) -> bool:
    """Every expected line other than ``...`` is in ``actual``, in this order."""
    position = 0
    for line in expected:
        if line == "...":
            continue
        try:
            position = actual.index(line, position) + 1
        except ValueError:
            return False
    return True


def _versionless(lines: list[str]) -> list[str]:
    """Version numbers (of contexta, of the schema) and the WAL's size change; the examples need
    not follow them."""
    return [
        re.sub(r"^((?:contexta|schema|latest schema) version:\s+|wal bytes:\s+)\S+$", r"\1N", line)
        for line in lines
    ]


def test_cli_md_examples_are_real_output(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every example of docs/cli.md, run in the folder of this module's workspace, prints what it shows."""
    folder = Path(ws).parent
    monkeypatch.chdir(folder)  # the workspace is ./.contexta, as in the docs
    examples = _doc_examples()
    assert len(examples) > 20
    ran = {shlex.split(command)[1] for command, _ in examples if command != "echo $?"}
    assert {"runs", "export", "doctor", "rollback-candidate"} <= ran
    last_code = None
    for command, shown in examples:
        while shown and not shown[-1].strip():
            shown.pop()
        if command == "echo $?":
            assert shown == [str(last_code)], f"exit code after the previous example: {last_code}"
            continue
        argv = shlex.split(command)
        assert argv[0] == "contexta"
        last_code = main(argv[1:])
        out, err = capsys.readouterr()
        printed = (out + err).replace(str(folder), "/home/me/project").rstrip("\n").splitlines()
        printed, shown = _versionless(printed), _versionless(shown)
        if "..." in shown:
            assert _in_order(shown, printed), f"$ {command}\n" + "\n".join(printed)
        else:
            assert printed == shown, f"$ {command}"
