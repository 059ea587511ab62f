"""``contexta runs --since/--where``: parsing, matching, messages and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli import DAY, Builder, build_demo

from contexta import Contexta
from contexta.cli import main
from contexta.cli.filters import Condition, parse_since, parse_where, started_since
from contexta.cli.resolve import UsageError
from contexta.contract import Run


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_demo(tmp_path_factory.mktemp("runs") / ".contexta"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONTEXTA_WORKSPACE", "CONTEXTA_PROJECT", "CONTEXTA_STORE_URI", "CONTEXTA_FORCE_TTY"):
        monkeypatch.delenv(name, raising=False)


def runs(capsys: pytest.CaptureFixture[str], ws: str, *argv: str) -> tuple[int, list[str], str]:
    code = main(["runs", "--workspace", ws, "--json", *argv])
    out, err = capsys.readouterr()
    return code, [row["name"] for row in json.loads(out)] if out else [], err


# ----------------------------------------------------------------------------- --where parsing
@pytest.mark.parametrize(
    ("text", "stage", "key", "op", "value"),
    [
        ("evaluate/accuracy>0.9", "evaluate", "accuracy", ">", 0.9),
        ("loss<=0.5", None, "loss", "<=", 0.5),
        (" train/loss  !=  1e-3 ", "train", "loss", "!=", 0.001),
        ("*/train/loss<0.4", None, "train/loss", "<", 0.4),
        ("fine-tune/eval/f1>=0.7", "fine-tune", "eval/f1", ">=", 0.7),
        ("acc==1", None, "acc", "==", 1.0),
        ("acc>-2", None, "acc", ">", -2.0),
    ],
)
def test_parse_where(text: str, stage: str | None, key: str, op: str, value: float) -> None:
    condition = parse_where(text)
    assert (condition.stage, condition.key, condition.op, condition.value) == (stage, key, op, value)
    assert condition.text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accuracy=0.9", "must be [STAGE/]KEY OP NUMBER with OP one of > >= < <= == !="),
        ("accuracy", "must be [STAGE/]KEY OP NUMBER"),
        (">0.9", "must be [STAGE/]KEY OP NUMBER"),
        ("accuracy>", "must be [STAGE/]KEY OP NUMBER"),
        ("accuracy>>0.9", "the value '>0.9' is not a number"),
        ("accuracy>high", "the value 'high' is not a number"),
        ("Eval/accuracy>0.9", "stage 'Eval' must be a stage name"),
        ("evaluate/>0.9", "metric key '' must start with a letter or digit"),
        ("_acc>0.9", "metric key '_acc' must start with a letter or digit"),
    ],
)
def test_parse_where_rejects_bad_syntax(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_where(text)
    assert str(info.value).startswith(f"--where {text!r}: ")
    assert message in str(info.value)


def test_condition_semantics() -> None:
    latest = {None: {"score": 1.0}, "train": {"loss": 0.3}, "evaluate": {"loss": 0.6, "accuracy": 0.91}}
    assert Condition("", "evaluate", "accuracy", ">", 0.9).holds(latest)
    assert not Condition("", "train", "accuracy", ">", 0.0).holds(latest)  # not in that stage
    assert Condition("", None, "loss", "<", 0.4).holds(latest)  # any stage: train
    assert not Condition("", None, "loss", ">", 0.7).holds(latest)
    assert Condition("", None, "score", "==", 1.0).holds(latest)  # run level
    assert not Condition("", None, "missing", "!=", 0.0).holds(latest)  # no value: never passes


# ----------------------------------------------------------------------------- --since parsing
def test_parse_since() -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("45s", now) == now - timedelta(seconds=45)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_since("2025-03-01T02:30") == datetime(2025, 3, 1, 2, 30, tzinfo=UTC)
    assert parse_since("2025-03-01T04:30:00+02:00") == datetime(2025, 3, 1, 2, 30, tzinfo=UTC)
    assert parse_since("2025-03-01T02:30:00Z") == datetime(2025, 3, 1, 2, 30, tzinfo=UTC)
    assert started_since("2025-03-01T02:30:00Z", parse_since("2025-03-01T02:30:00Z"))
    assert not started_since("2025-03-01T02:29:59Z", parse_since("2025-03-01T02:30:00Z"))


@pytest.mark.parametrize("text", ["yesterday", "7", "7y", "-3d", "2025-13-01", ""])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(UsageError, match=r"must be an ISO date or time .* or N followed by s, m, h, d or w"):
        parse_since(text)


# ----------------------------------------------------------------------------- the command
def test_since_filters_by_start(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    assert runs(capsys, ws, "--since", f"{DAY}T02:00:00Z")[:2] == (0, ["bad", "warn", "stuck"])
    assert runs(capsys, ws, "--since", f"{DAY}T02:00:01Z")[1] == ["warn", "stuck"]
    assert runs(capsys, ws, "--since", DAY)[1] == ["good", "bad", "warn", "stuck"]
    assert runs(capsys, ws, "--since", "1d")[1] == []  # the demo runs are from 2025


def test_since_relative_on_fresh_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    now = datetime.now(UTC).replace(microsecond=0)
    with Contexta(workspace=root) as ctx:
        Builder(ctx, "demo")
        for name, age in (("old", timedelta(days=10)), ("recent", timedelta(hours=2))):
            moment = (now - age).isoformat().replace("+00:00", "Z")
            ctx.metadata_store.runs.put_run(
                Run(run_ref=f"run:demo.{name}", project_ref="project:demo", name=name, status="completed",
                    started_at=moment, ended_at=moment)
            )  # fmt: skip
    assert runs(capsys, str(root), "--since", "7d")[1] == ["recent"]
    assert runs(capsys, str(root), "--since", "3h")[1] == ["recent"]
    assert runs(capsys, str(root), "--since", "1h")[1] == []
    assert runs(capsys, str(root), "--since", "2w")[1] == ["old", "recent"]


def test_where_stage_and_any_scope(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    assert runs(capsys, ws, "--where", "evaluate/accuracy>0.9") == (0, ["good"], "")
    assert runs(capsys, ws, "--where", "evaluate/accuracy>0.91")[1] == []
    assert runs(capsys, ws, "--where", "evaluate/accuracy>=0.91")[1] == ["good"]
    assert runs(capsys, ws, "--where", "train/loss<0.4")[1] == ["good", "warn"]
    assert runs(capsys, ws, "--where", "loss<0.2")[1] == ["warn"]  # stage 'gone' of warn: any stage
    assert runs(capsys, ws, "--where", "*/loss<0.2")[1] == ["warn"]
    assert runs(capsys, ws, "--where", "loss==0.45")[1] == ["bad"]
    assert runs(capsys, ws, "--where", "loss!=0.45")[1] == ["good", "warn"]  # stuck has no loss


def test_where_is_repeatable_and_means_and(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    assert runs(capsys, ws, "--where", "train/loss<0.5", "--where", "evaluate/accuracy>0")[1] == ["good"]
    assert runs(capsys, ws, "--where", "train/loss<0.5", "--status", "failed")[1] == ["bad"]
    code, names, _ = runs(capsys, ws, "--where", "train/loss<0.5", "--since", f"{DAY}T03:00:00Z")
    assert (code, names) == (0, ["warn"])


def test_where_run_level_metric(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "levels"
    with Contexta(workspace=root) as ctx:
        b = Builder(ctx, "demo")
        run = b.run("r", "completed", 1)
        b.metric(run, None, "score", 3.0, 1)
        b.metric(run, None, "eval/f1", 0.8, 1)
        other = b.run("s", "completed", 2)
        b.stage(other, "eval", "completed", 2, 0)
        b.metric(other, "stage:demo.s.eval", "f1", 0.9, 2)
    assert runs(capsys, str(root), "--where", "score>2")[1] == ["r"]
    assert runs(capsys, str(root), "--where", "*/eval/f1>0.5")[1] == ["r"]  # run-level key with '/'
    assert runs(capsys, str(root), "--where", "eval/f1>0.5")[1] == ["s"]  # stage eval, key f1


def test_no_match_message_names_the_filters(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    code = main(
        [
            "runs",
            "--workspace",
            ws,
            "--status",
            "completed",
            "--since",
            DAY,
            "--where",
            "acc>1",
            "--where",
            "x<0",
        ]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (0, "")
    assert err.strip() == (
        "no runs in project:demo with status completed since 2025-03-01T00:00:00Z where acc>1 and x<0"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--where", "accuracy=0.9"], "--where 'accuracy=0.9': must be [STAGE/]KEY OP NUMBER"),
        (["--where", "a>1", "--where", "b>>1"], "--where 'b>>1': the value '>1' is not a number"),
        (["--since", "yesterday"], "--since 'yesterday': must be an ISO date or time"),
    ],
)
def test_bad_filters_exit_2(
    capsys: pytest.CaptureFixture[str], ws: str, argv: list[str], message: str
) -> None:
    code = main(["runs", "--workspace", ws, *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"contexta: error: {message}")
    assert "Traceback" not in err


def test_bad_filters_fail_before_the_workspace_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["runs", "--workspace", str(tmp_path / "none"), "--where", "nope"])
    assert code == 2
    assert "--where 'nope'" in capsys.readouterr().err


def test_where_reads_only_the_listed_runs(
    capsys: pytest.CaptureFixture[str], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    original = Contexta.get_run_snapshot

    def spy(self: Contexta, run: object) -> object:
        read.append(getattr(run, "run_id", run))  # type: ignore[arg-type]
        return original(self, run)  # type: ignore[arg-type]

    monkeypatch.setattr(Contexta, "get_run_snapshot", spy)
    assert runs(capsys, ws, "--status", "failed", "--where", "loss>0")[1] == ["bad"]
    assert read == ["run:demo.bad"]
    read.clear()
    assert runs(capsys, ws, "--status", "failed")[1] == ["bad"]
    assert read == []  # no --where: no metric reads at all
