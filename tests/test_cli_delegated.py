"""``gate``, ``rollback-candidate``, ``collector`` and ``replay`` through the one ``contexta`` command."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_receiver import OtlpReceiver
from test_cli import build_demo

from contexta.cli import main

POLICY = {
    "id": "demo-release",
    "version": 1,
    "owner": "mlops@example.com",
    "next_action": "retrain before promoting",
    "evaluation_stage": "evaluate",
    "required_metrics": ["accuracy"],
    "thresholds": [{"metric": "accuracy", "min": 0.9}],
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("delegated") / ".contexta")


@pytest.fixture
def ws(pristine: Path, tmp_path: Path) -> str:
    """A copy of the demo workspace per test: gate and the collector write."""
    target = tmp_path / ".contexta"
    shutil.copytree(pristine, target)
    return str(target)


@pytest.fixture
def policy(tmp_path: Path) -> str:
    path = tmp_path / "release.json"
    path.write_text(json.dumps(POLICY), encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CONTEXTA_", "OTEL_")):
            monkeypatch.delenv(name)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- gate
def test_gate_passes_and_fails(capsys: pytest.CaptureFixture[str], ws: str, policy: str) -> None:
    code, out, err = cli(capsys, "gate", "good", "--workspace", ws, "--policy", policy, "--baseline", "none")
    assert code == 0, err
    assert "for run:demo.good: PASS" in out
    code, out, _ = cli(capsys, "gate", "bad", "--workspace", ws, "--policy", policy, "--baseline", "none")
    assert code == 1
    assert "FAIL" in out and "retrain before promoting" in out
    code, out, _ = cli(
        capsys, "gate", "run:demo.good", "--workspace", ws, "--policy", policy, "--baseline", "none", "--json"
    )
    assert code == 0
    assert json.loads(out)["passed"] is True


def test_gate_bad_input(capsys: pytest.CaptureFixture[str], ws: str, policy: str, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "gate", "good", "--workspace", ws)
    assert code == 2
    assert "the following arguments are required: --policy" in err
    code, _, err = cli(capsys, "gate", "nope", "--workspace", ws, "--policy", policy, "--baseline", "none")
    assert code == 2
    assert err.strip() == "contexta: error: run not found: 'run:demo.nope'"
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    code, _, err = cli(capsys, "gate", "good", "--workspace", ws, "--policy", str(broken))
    assert code == 2
    assert err.startswith("contexta: error: ") and "Traceback" not in err
    code, _, err = cli(capsys, "gate", "good", "--workspace", str(tmp_path / "none"), "--policy", policy)
    assert code == 2
    assert err.strip() == f"contexta: error: no workspace at {tmp_path / 'none'}"


# ----------------------------------------------------------------------------- rollback-candidate
def test_rollback_candidate(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, _ = cli(capsys, "rollback-candidate", "deployment:demo.prod-v2", "--workspace", ws)
    assert code == 0
    assert "rollback candidate: deployment:demo.prod-v1 -> run:demo.good" in out
    code, out, _ = cli(capsys, "rollback-candidate", "--workspace", ws, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["found"] is False and data["current_deployment_ref"] == "deployment:demo.prod-v1"
    code, _, err = cli(capsys, "rollback-candidate", "--workspace", ws, "--environment", "staging", "--bogus")
    assert code == 2
    assert "unrecognized arguments: --bogus" in err


# ----------------------------------------------------------------------------- collector
def test_collector_bad_settings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = cli(capsys, "collector", "--workspace", str(tmp_path / "c"), "--port", "-5")
    assert code == 2
    assert "http_port: must be an int from 0 to 65535" in err
    code, _, err = cli(capsys, "collector", "--bogus")
    assert code == 2
    assert "unrecognized arguments: --bogus" in err
    code, _, err = cli(capsys, "collector", "--port", "many")
    assert code == 2
    assert "invalid int value: 'many'" in err


def _program(*argv: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTEXTA_", "OTEL_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "contexta.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_collector_receives_a_replay(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path) -> None:
    """``contexta collector`` fills a workspace from ``contexta replay`` of another one."""
    target = tmp_path / "collected"
    collector = _program("collector", "--workspace", str(target), "--port", "0", "--grpc-port", "-1")
    try:
        assert collector.stdout is not None
        lines = [collector.stdout.readline(), collector.stdout.readline()]
        assert lines[0].startswith("contexta collector: writing workspace"), lines
        endpoint = re.search(r"listening on (http://\S+)", lines[1])
        assert endpoint, lines
        code, out, err = cli(capsys, "replay", "--workspace", ws, "--endpoint", endpoint[1], "--json")
        assert code == 0, err
        summary = json.loads(out)
        assert summary["ok"] is True and summary["runs"] == 4 and summary["deployments"] == 2
        assert summary["problems"] == [  # the orphan record of warn (diagnose: orphan_record)
            "run:demo.warn: 1 record(s) name a missing stage, batch or sample; "
            "sent on the nearest parent span"
        ]
    finally:
        collector.send_signal(signal.SIGTERM)
        rest, errors = collector.communicate(timeout=60)
    assert collector.returncode == 0, errors
    assert "shutting down" in rest
    code, out, _ = cli(capsys, "runs", "--workspace", str(target), "--json")
    assert code == 0
    assert [row["name"] for row in json.loads(out)] == ["good", "bad", "warn", "stuck"]
    code, out, _ = cli(capsys, "export", "metrics", "--workspace", str(target), "--run", "good")
    assert out.splitlines()[1:] == [
        "run:demo.good,train,,,loss,,0.3,2025-03-01T01:10:01Z",
        "run:demo.good,evaluate,,,accuracy,,0.91,2025-03-01T01:10:02Z",
    ]


# ----------------------------------------------------------------------------- replay
def test_replay_text_summary(capsys: pytest.CaptureFixture[str], ws: str, receiver: OtlpReceiver) -> None:
    code, out, err = cli(
        capsys, "replay", "--workspace", ws, "--endpoint", receiver.http_endpoint, "--run", "good"
    )
    assert code == 0, err
    assert out.startswith("replayed 1 run(s), 1 deployment(s): 5 spans, 4 events, 2 metric points in ")
    assert f"to {receiver.http_endpoint}/v1/traces (http/protobuf)" in out
    assert err == ""  # not a terminal: no progress bar


def test_replay_failure_exits_1(capsys: pytest.CaptureFixture[str], ws: str, receiver: OtlpReceiver) -> None:
    receiver.down = True
    code, out, _ = cli(
        capsys,
        "replay",
        "--workspace",
        ws,
        "--endpoint",
        receiver.http_endpoint,
        "--timeout",
        "0.5",
        "--json",
    )
    assert code == 1
    assert json.loads(out)["ok"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no OTLP endpoint"),
        (["--endpoint", "http://127.0.0.1:9", "--header", "novalue"], "--header"),
        (["--endpoint", "http://127.0.0.1:9", "--run", "nope"], "run not found: 'run:demo.nope'"),
        (["--endpoint", "http://127.0.0.1:9", "--protocol", "carrier-pigeon"], "invalid choice"),
    ],
)
def test_replay_bad_input(capsys: pytest.CaptureFixture[str], ws: str, argv: list[str], message: str) -> None:
    code, out, err = cli(capsys, "replay", "--workspace", ws, *argv)
    assert code == 2
    assert out == ""
    assert message in err and "Traceback" not in err


# ----------------------------------------------------------------------------- help
@pytest.mark.parametrize(
    ("command", "option"),
    [("gate", "--policy FILE"), ("rollback-candidate", "DEPLOYMENT"), ("collector", "--grpc-port"),
     ("replay", "--no-progress")],
)  # fmt: skip
def test_delegated_help(capsys: pytest.CaptureFixture[str], command: str, option: str) -> None:
    code, out, err = cli(capsys, command, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: contexta {command}")
    assert option in out
    code, out, _ = cli(capsys, "--help")
    assert re.search(rf"^\s+{command}\b", out, re.MULTILINE)


def test_delegated_as_a_program(ws: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "contexta.cli", "rollback-candidate", "--workspace", ws],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "no rollback candidate" in done.stdout
