"""Terminal or not: rich tables and progress bars on a TTY, stable plain text and silence elsewhere.

A TTY is simulated two ways: ``CONTEXTA_FORCE_TTY=1`` (rich draws into the captured stream) and a
real pseudo-terminal (``pty``) around ``python -m contexta.cli``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from otlp_receiver import OtlpReceiver
from test_cli import Builder, build_demo

from contexta import Contexta
from contexta.cli import main
from contexta.cli.terminal import is_terminal, progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PLAIN_RUNS = (
    "run            status     started_at            ended_at\n"
    "run:demo.good  completed  2025-03-01T01:00:00Z  2025-03-01T01:30:00Z\n"
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_demo(tmp_path_factory.mktemp("terminal") / ".contexta"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CONTEXTA_", "OTEL_")) or name in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TERM", "xterm-256color")


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTA_FORCE_TTY", "1")
    monkeypatch.setenv("COLUMNS", "160")


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- detection
class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("value", "stream_tty", "expected"),
    [
        (None, True, True),
        (None, False, False),
        ("1", False, True),
        ("true", False, True),
        ("0", True, False),
        ("no", True, False),
        ("maybe", True, True),  # anything else: ask the stream
    ],
)
def test_is_terminal(
    monkeypatch: pytest.MonkeyPatch, value: str | None, stream_tty: bool, expected: bool
) -> None:
    if value is not None:
        monkeypatch.setenv("CONTEXTA_FORCE_TTY", value)
    assert is_terminal(_Stream(stream_tty)) is expected


def test_a_closed_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    stream.close()
    assert is_terminal(stream) is False


def test_progress_is_a_no_op_when_quiet(tty: None, capsys: pytest.CaptureFixture[str]) -> None:
    with progress("work", 3, quiet=True) as bar:
        bar.advance()
        bar.update(3, 3)
        assert not bar.shown
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- tables
def test_not_a_terminal_prints_plain_tables(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code, out, err = cli(capsys, "runs", "--workspace", ws, "--where", "evaluate/accuracy>0.9")
    assert (code, err) == (0, "")
    assert out == PLAIN_RUNS
    assert not ANSI.search(out)


def test_forced_terminal_draws_rich_tables(capsys: pytest.CaptureFixture[str], ws: str, tty: None) -> None:
    code, out, _ = cli(capsys, "runs", "--workspace", ws, "--where", "evaluate/accuracy>0.9", "--no-progress")
    assert code == 0
    assert ANSI.search(out), "bold headers"
    text = ANSI.sub("", out)
    assert out != PLAIN_RUNS
    assert "─" in text, "a rule under the header"
    assert re.search(r"run\s+status\s+started_at\s+ended_at", text)
    assert re.search(r"run:demo\.good\s+completed\s+2025-03-01T01:00:00Z", text)


@pytest.mark.parametrize(
    "argv",
    [["show", "good"], ["diagnose", "bad"], ["compare", "good", "bad"], ["compare", "good", "bad", "warn"],
     ["lineage", "good"], ["deployments"], ["doctor", "--no-progress"]],
)  # fmt: skip
def test_every_table_command_draws_on_a_terminal(
    capsys: pytest.CaptureFixture[str], ws: str, tty: None, argv: list[str]
) -> None:
    code, out, _ = cli(capsys, *argv, "--workspace", ws)
    assert code in (0, 1)
    assert ANSI.search(out)
    json_code = main([*argv, "--workspace", ws, "--json"])  # JSON stays plain on a terminal
    json_out = capsys.readouterr().out
    assert json_code == code
    assert not ANSI.search(json_out)
    json.loads(json_out)


def test_force_tty_0_prints_plain_text(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTEXTA_FORCE_TTY", "0")
    code, out, _ = cli(capsys, "runs", "--workspace", ws, "--where", "evaluate/accuracy>0.9")
    assert (code, out) == (0, PLAIN_RUNS)


def test_user_text_is_not_rich_markup(capsys: pytest.CaptureFixture[str], tmp_path: Path, tty: None) -> None:
    root = tmp_path / "markup"
    with Contexta(workspace=root) as ctx:
        b = Builder(ctx, "demo")
        run = b.run("r", "completed", 1)
        b.degraded(run, None, "warning", "[bold]not markup[/bold] [red]", 1)
    code, out, _ = cli(capsys, "diagnose", "r", "--workspace", str(root))
    assert code == 0
    assert "[bold]not markup[/bold] [red]" in ANSI.sub("", out)


# ----------------------------------------------------------------------------- progress bars
def test_no_progress_bar_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path
) -> None:
    target = tmp_path / "m.csv"
    code, out, err = cli(capsys, "export", "metrics", "--workspace", ws, "-o", str(target))
    assert (code, out) == (0, "")
    assert err == f"wrote 5 row(s) of metrics to {target} (csv)\n"
    assert cli(capsys, "doctor", "--workspace", ws, "--json")[2] == ""
    assert cli(capsys, "runs", "--workspace", ws, "--where", "loss>0")[2] == ""


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (["export", "runs", "-o", "{tmp}/r.csv"], "export runs"),
        (["export", "metrics"], "export metrics"),
        (["doctor"], "doctor"),
        (["runs", "--where", "loss>0"], "runs --where"),
    ],
)
def test_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path, tty: None, argv: list[str], label: str
) -> None:
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    code, out, err = cli(capsys, *argv, "--workspace", ws)
    assert code == 0
    assert label in ANSI.sub("", err)
    assert re.search(r"\d+/\d+", ANSI.sub("", err)), "done/total"
    assert label not in ANSI.sub("", out), "the bar never goes to stdout"
    if argv[:2] == ["export", "metrics"]:
        assert out.splitlines()[0] == "run,stage,batch,sample,key,step,value,time", "CSV stays clean"
    code, _, err = cli(capsys, *argv, "--workspace", ws, "--no-progress")
    assert code == 0
    assert label not in err and not ANSI.search(err)


def test_replay_progress_bar(capsys: pytest.CaptureFixture[str], ws: str, tty: None) -> None:
    with OtlpReceiver() as rx:
        code, out, err = cli(capsys, "replay", "--workspace", ws, "--endpoint", rx.http_endpoint)
        assert code == 0
        assert "replay [" in err and "100%" in err
        assert out.startswith("replayed 4 run(s)")
        code, _, err = cli(
            capsys, "replay", "--workspace", ws, "--endpoint", rx.http_endpoint, "--no-progress"
        )
        assert (code, err) == (0, "")
        code, out, err = cli(capsys, "replay", "--workspace", ws, "--endpoint", rx.http_endpoint, "--json")
        assert (code, err) == (0, "")
        assert json.loads(out)["ok"] is True


# ----------------------------------------------------------------------------- a real terminal
def _in_pty(*argv: str) -> str:
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTA_")}
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="40")
    process = subprocess.Popen(
        [sys.executable, "-m", "contexta.cli", *argv], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="pty is POSIX only")
def test_a_real_terminal(ws: str, tmp_path: Path) -> None:
    screen = _in_pty("runs", "--workspace", ws)
    assert ANSI.search(screen)
    assert "─" in screen and "run:demo.stuck" in screen
    target = tmp_path / "runs.csv"
    screen = _in_pty("export", "runs", "--workspace", ws, "-o", str(target))
    assert "export runs" in ANSI.sub("", screen)
    assert f"wrote 4 row(s) of runs to {target} (csv)" in screen
    assert target.read_text(encoding="utf-8").splitlines()[0].startswith("ref,name,status")


@pytest.mark.skipif(sys.platform == "win32", reason="pty is POSIX only")
def test_a_pipe_is_plain(ws: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTA_")}
    done = subprocess.run(
        [sys.executable, "-m", "contexta.cli", "doctor", "--workspace", ws],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert not ANSI.search(done.stdout)
    assert done.stdout.splitlines()[0] == f"workspace:              {ws}"
