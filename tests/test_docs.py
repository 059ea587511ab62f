"""The docs stay true: every CLI command and option documented, every diagnostic code listed
with its severity, the ref grammar and enumerations as in the code, and every Python example runs."""

from __future__ import annotations

import argparse
import inspect
import re
import typing
from pathlib import Path
from unittest import mock

import pytest

import contexta.contract._base as base
from contexta.cli.delegated import DELEGATED
from contexta.cli.main import build_parser, main
from contexta.contract.lineage import RelationType
from contexta.contract.refs import ARITY
from contexta.query.diagnose import CODES
from contexta.query.service import QueryService

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, re.MULTILINE)
    return rest[: stop.start()] if stop else rest


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row (separator rows left out)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[\s\-:|]+\|", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


# ----------------------------------------------------------------------------- docs/cli.md
class _Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def _delegated_parser(name: str) -> argparse.ArgumentParser:
    """The parser ``contexta NAME`` really uses: the delegate builds its own, caught as it parses."""

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Parsed(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture):
        try:
            main([name])
        except _Parsed as parsed:
            return parsed.parser
    raise AssertionError(f"contexta {name} never parsed its arguments")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = dict(action.choices)
    for name in DELEGATED:
        commands[name] = _delegated_parser(name)
    return commands


COMMANDS = _subcommands()
ALL = {
    "runs", "show", "diagnose", "compare", "lineage", "report", "deployments", "export", "doctor",
    "gate", "rollback-candidate", "collector", "replay",
}  # fmt: skip


def test_there_are_commands() -> None:
    assert set(COMMANDS) == ALL
    assert set(DELEGATED) == {"gate", "rollback-candidate", "collector"}


def test_delegated_parsers_are_the_real_ones() -> None:
    assert COMMANDS["gate"].prog == "contexta gate"
    assert "--policy" in COMMANDS["gate"]._option_string_actions
    assert COMMANDS["rollback-candidate"].prog == "contexta rollback-candidate"
    assert "--grpc-port" in COMMANDS["collector"]._option_string_actions
    assert "--endpoint" in COMMANDS["replay"]._option_string_actions


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_is_documented(command: str) -> None:
    text = read("cli.md")
    heading = f"## `contexta {command}`"
    assert heading + "\n" in text, f"docs/cli.md has no section {heading!r}"
    body = section(text, heading)
    assert f"\ncontexta {command}" in body, "the section starts with a synopsis"
    for part in ("**Output", "**Exit codes.**", "$ contexta " + command):
        if part == "**Output" and command == "report":
            continue  # the report's output is the report: its formats are in the options table
        assert part in body, f"section {heading!r} lacks {part!r}"
    codes = body.split("**Exit codes.**", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"\b0\b", codes) and re.search(r"\b2\b", codes), f"{command}: exit codes 0 and 2"
    parser = COMMANDS[command]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            for option in action.option_strings:
                assert f"`{option}" in body, f"{command}: option {option} is not documented"
        else:
            assert action.metavar in body, f"{command}: argument {action.metavar} is not documented"
    assert f"[`contexta {command}`](#contexta-{command})" in text, "listed in the command table"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_works(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"usage: contexta {command}")
    assert err == ""
    assert COMMANDS[command].description.split(":")[0] in " ".join(out.split())


def test_top_level_help_and_version_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out, _ = capsys.readouterr()
    for command in COMMANDS:
        assert re.search(rf"^\s+{re.escape(command)}\b", out, re.MULTILINE), f"{command} not in --help"
    text = read("cli.md")
    assert "contexta --version" in text
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in text


def test_cli_design_notes_say_why_argparse() -> None:
    notes = section(read("cli.md"), "## Design notes")
    assert "argparse" in notes and "click" in notes and "rich" in notes
    assert "CONTEXTA_FORCE_TTY" in read("cli.md")


# ----------------------------------------------------------------------------- docs/diagnostics.md
def _documented_codes() -> dict[str, tuple[str, str]]:
    text = read("diagnostics.md")
    block = text.split("<!-- codes:start -->", 1)[1].split("<!-- codes:end -->", 1)[0]
    rows = table_rows(block)
    assert rows[0] == ["Code", "Severity", "Trigger"]
    return {row[0].strip("`"): (row[1], row[2]) for row in rows[1:]}


def test_every_diagnostic_code_is_documented_with_its_severity() -> None:
    documented = _documented_codes()
    assert set(documented) == set(CODES), "docs/diagnostics.md and diagnose.CODES list different codes"
    for code, (severity, trigger) in CODES.items():
        assert documented[code] == (severity, trigger), code


def test_every_code_is_explained() -> None:
    explained = section(read("diagnostics.md"), "## Each code, exactly")
    for code in CODES:
        assert f"**`{code}`**" in explained, code


# ----------------------------------------------------------------------------- docs/data-model.md
def test_ref_grammar_table_matches_the_parser() -> None:
    rows = table_rows(section(read("data-model.md"), "## Refs"))
    kinds = {row[0].strip("`"): row[2] for row in rows[1:] if len(row) == 3 and row[0].startswith("`")}
    assert set(kinds) == set(ARITY)
    for kind, counts in ARITY.items():
        if kind == "dataset":
            assert kinds[kind].startswith(f"{counts[0]} to {counts[-1]}")
        else:
            assert kinds[kind] == " or ".join(str(n) for n in counts), kind


@pytest.mark.parametrize(
    "name",
    [
        "Status",
        "RecordType",
        "CompletenessMarker",
        "DegradationMarker",
        "DegradedCategory",
        "Severity",
        "EventLevel",
        "OriginMarker",
        "AggregationScope",
        "ValueType",
        "RelationType",
    ],
)
def test_enumerations_match_the_contract(name: str) -> None:
    literal = RelationType if name == "RelationType" else getattr(base, name)
    rows = {row[0].strip("`"): row[1] for row in table_rows(read("data-model.md")) if row}
    documented = [value.strip().strip("`") for value in rows[name].split(",")]
    assert documented == list(typing.get_args(literal)), name


# ----------------------------------------------------------------------------- docs/query-api.md
def call_signature(name: str) -> str:
    """``name(a, b=None, *, c=None)``: how docs/query-api.md spells a method's parameters."""
    parts: list[str] = []
    star = False
    for parameter in list(inspect.signature(getattr(QueryService, name)).parameters.values())[1:]:
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        default = parameter.default
        if default is inspect.Parameter.empty:
            parts.append(parameter.name)
        else:
            parts.append(f"{parameter.name}={default!r}".replace("'", '"'))
    return f"{name}({', '.join(parts)})"


def test_every_query_method_is_documented() -> None:
    text = read("query-api.md")
    headings = re.findall(r"^### .*$", text, re.MULTILINE)
    methods = [n for n, m in inspect.getmembers(QueryService, inspect.isfunction) if not n.startswith("_")]
    assert "get_run_snapshot" in methods
    for name in methods:
        assert any(f"`{name}(" in heading for heading in headings), (
            f"docs/query-api.md: no ### heading for {name}"
        )
        assert f"`{call_signature(name)} -> " in text, f"docs/query-api.md: signature of {name} differs"


# ----------------------------------------------------------------------------- runnable examples
@pytest.mark.parametrize("page", ["data-model.md", "query-api.md", "diagnostics.md"])
def test_python_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of a page run in order, sharing one namespace, in an empty folder."""
    blocks = FENCE.findall(read(page))
    assert blocks or page == "diagnostics.md"
    for variable in (
        "CONTEXTA_WORKSPACE",
        "CONTEXTA_PROJECT",
        "CONTEXTA_STORE_URI",
        "CONTEXTA_STALE_AFTER_SECONDS",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.replace('-', '_').removesuffix('.md')}"}
    for index, block in enumerate(blocks, 1):
        code = compile(block, f"docs/{page} (python block {index})", "exec")
        exec(code, namespace)
