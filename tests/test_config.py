"""Configuration: argument > environment variable > default, and ConfigError naming the bad setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contexta import ConfigError, Contexta, ContextaError, UnifiedConfig, WorkspaceConfig
from contexta.config import ENVIRONMENT, resolve_config
from contexta.store import DB_FILENAME


def setting(config: UnifiedConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


# setting, argument (as resolve_config kwargs), environment variable and text, value from each source, default
PRECEDENCE = [
    (
        "workspace.root_path",
        {"workspace": "from-arg"},
        ("CONTEXTA_WORKSPACE", "from-env"),
        Path("from-arg"),
        Path("from-env"),
        Path(".contexta"),
    ),
    (
        "project_name",
        {"config": {"project_name": "arg-proj"}},
        ("CONTEXTA_PROJECT", "env-proj"),
        "arg-proj",
        "env-proj",
        None,
    ),
    (
        "diagnostics.stale_after_seconds",
        {"config": {"diagnostics": {"stale_after_seconds": 5}}},
        ("CONTEXTA_STALE_AFTER_SECONDS", "7.5"),
        5.0,
        7.5,
        3600.0,
    ),
    (
        "workspace.store_uri",
        {"config": {"workspace": {"store_uri": "sqlite:///arg.db"}}},
        ("CONTEXTA_STORE_URI", "sqlite:///env.db"),
        "sqlite:///arg.db",
        "sqlite:///env.db",
        None,
    ),
    (
        "workspace.root_path",
        {"config": UnifiedConfig(workspace=WorkspaceConfig(root_path=Path("model-arg")))},
        ("CONTEXTA_WORKSPACE", "from-env"),
        Path("model-arg"),
        Path("from-env"),
        Path(".contexta"),
    ),
    (
        "project_name",
        {"config": UnifiedConfig(project_name="model-proj")},
        ("CONTEXTA_PROJECT", "env-proj"),
        "model-proj",
        "env-proj",
        None,
    ),
]


@pytest.mark.parametrize(
    ("dotted", "argument", "env", "from_argument", "from_env", "default"),
    PRECEDENCE,
    ids=[
        "workspace-kwarg",
        "project-mapping",
        "stale-mapping",
        "store-uri-mapping",
        "workspace-model",
        "project-model",
    ],
)
def test_argument_beats_environment_beats_default(
    dotted: str,
    argument: dict[str, Any],
    env: tuple[str, str],
    from_argument: Any,
    from_env: Any,
    default: Any,
) -> None:
    """Each setting takes the argument if given, else its environment variable, else the default."""
    variable, text = env
    assert ENVIRONMENT[variable][0] == dotted
    assert setting(resolve_config(**argument, environ={variable: text}), dotted) == from_argument
    assert setting(resolve_config(**argument, environ={}), dotted) == from_argument
    assert setting(resolve_config(environ={variable: text}), dotted) == from_env
    assert setting(resolve_config(environ={}), dotted) == default


def test_empty_environment_variable_means_unset() -> None:
    """CONTEXTA_PROJECT='' is ignored: the default applies."""
    assert resolve_config(environ={"CONTEXTA_PROJECT": ""}).project_name is None


def test_unset_fields_of_a_config_model_still_take_the_environment() -> None:
    """UnifiedConfig(project_name=...) leaves the workspace to CONTEXTA_WORKSPACE: only set fields count."""
    config = resolve_config(UnifiedConfig(project_name="p"), environ={"CONTEXTA_WORKSPACE": "env-ws"})
    assert (config.project_name, config.workspace.root_path) == ("p", Path("env-ws"))


def test_workspace_argument_beats_config_root_path() -> None:
    """workspace= wins over config's workspace.root_path and keeps its other workspace settings."""
    config = resolve_config(
        {"workspace": {"root_path": "in-config", "commit_interval_seconds": 1.5}},
        workspace="explicit",
        environ={},
    )
    assert (config.workspace.root_path, config.workspace.commit_interval_seconds) == (Path("explicit"), 1.5)


def test_contexta_takes_every_setting_from_environ(tmp_path: Path) -> None:
    """Contexta(environ=...) opens the workspace, project and stale limit the variables name."""
    environ = {
        "CONTEXTA_WORKSPACE": str(tmp_path / "env-ws"),
        "CONTEXTA_PROJECT": "env-proj",
        "CONTEXTA_STALE_AFTER_SECONDS": "42",
    }
    with Contexta(environ=environ) as ctx:
        assert ctx.workspace_path == tmp_path / "env-ws"
        assert ctx.project_name == "env-proj"
        assert ctx.stale_after == 42.0
        assert repr(ctx) == f"Contexta(workspace={str(tmp_path / 'env-ws')!r}, project='env-proj')"
    assert (tmp_path / "env-ws" / DB_FILENAME).is_file()


def test_environment_is_read_when_contexta_is_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without environ=, os.environ is read at construction time (not at import)."""
    monkeypatch.setenv("CONTEXTA_PROJECT", "late-proj")
    with Contexta(workspace=tmp_path / "ws") as ctx:
        assert ctx.project_name == "late-proj"
    monkeypatch.delenv("CONTEXTA_PROJECT")
    assert resolve_config().project_name != "late-proj"


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        (
            "CONTEXTA_STALE_AFTER_SECONDS",
            "soon",
            "config.diagnostics.stale_after_seconds (from $CONTEXTA_STALE_AFTER_SECONDS): "
            "Input should be a valid number, unable to parse string as a number (got 'soon')",
        ),
        (
            "CONTEXTA_STALE_AFTER_SECONDS",
            "-5",
            "config.diagnostics.stale_after_seconds (from $CONTEXTA_STALE_AFTER_SECONDS): "
            "Input should be greater than 0 (got '-5')",
        ),
    ],
)
def test_invalid_environment_value_is_config_error_naming_the_variable(
    tmp_path: Path, variable: str, text: str, message: str
) -> None:
    """A bad environment value raises ConfigError naming the setting, the variable and the value."""
    with pytest.raises(ConfigError) as caught:
        resolve_config(environ={variable: text})
    assert str(caught.value) == message
    with pytest.raises(ConfigError, match=rf"\(from \${variable}\)"):
        Contexta(workspace=tmp_path, environ={variable: text})
    assert not (tmp_path / DB_FILENAME).exists()


def test_invalid_store_uri_from_environment_is_config_error(tmp_path: Path) -> None:
    """CONTEXTA_STORE_URI with an unsupported scheme is refused when Contexta opens the store."""
    with pytest.raises(ConfigError, match=r"scheme 'postgresql' is not supported"):
        Contexta(workspace=tmp_path, environ={"CONTEXTA_STORE_URI": "postgresql://db/contexta"})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"workspace": {"commit_interval_seconds": 0}},
            "config.workspace.commit_interval_seconds: Input should be greater than 0 (got 0)",
        ),
        ({"projekt": "x"}, "config.projekt: Extra inputs are not permitted (got 'x')"),
        (
            {"diagnostics": {"stale_after": 1}},
            "config.diagnostics.stale_after: Extra inputs are not permitted (got 1)",
        ),
        (42, "config: must be a UnifiedConfig or a mapping (got int)"),
    ],
)
def test_invalid_argument_is_config_error_naming_the_setting(config: Any, message: str) -> None:
    """A bad argument raises ConfigError (a ContextaError) naming the dotted setting and the value."""
    with pytest.raises(ConfigError) as caught:
        resolve_config(config, environ={})
    assert str(caught.value) == message
    assert isinstance(caught.value, ContextaError)


def test_invalid_argument_is_not_blamed_on_a_set_environment_variable() -> None:
    """An invalid argument value is reported without '(from $VAR)' even if the variable is set."""
    with pytest.raises(ConfigError) as caught:
        resolve_config(
            {"diagnostics": {"stale_after_seconds": -1}}, environ={"CONTEXTA_STALE_AFTER_SECONDS": "60"}
        )
    assert (
        str(caught.value) == "config.diagnostics.stale_after_seconds: Input should be greater than 0 (got -1)"
    )


def test_mapping_holding_a_workspace_config_model_resolves_with_environment(tmp_path: Path) -> None:
    """config={'workspace': WorkspaceConfig(...)} wins over a set CONTEXTA_WORKSPACE instead of crashing."""
    config = resolve_config(
        {"project_name": "p", "workspace": WorkspaceConfig(root_path=tmp_path / "arg")},
        environ={"CONTEXTA_WORKSPACE": str(tmp_path / "env")},
    )
    assert config.workspace.root_path == tmp_path / "arg"
