"""The semantic-convention registry: generated outputs are current and keys follow the rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import contexta.semconv as semconv
from contexta.semconv import _generate as gen
from contexta.semconv import attributes

PATHS = gen.Paths.default()
OTEL_KEY = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


@pytest.fixture(scope="module")
def registry() -> gen.Registry:
    return gen.load_registry(PATHS.registry)


@pytest.fixture(scope="module")
def raw_yaml() -> dict:
    return yaml.safe_load(PATHS.registry.read_text(encoding="utf-8"))


def _copy_outputs(tmp_path: Path) -> gen.Paths:
    """Copy the registry and its real outputs into ``tmp_path``."""
    copies = {name: tmp_path / getattr(PATHS, name).name for name in ("registry", "module", "init", "docs")}
    for name, target in copies.items():
        shutil.copyfile(getattr(PATHS, name), target)
    return gen.Paths(**copies)


def _registry_with(raw_yaml: dict, group_id: str, attribute: dict) -> dict:
    """A copy of the registry document with ``attribute`` added to group ``group_id``."""
    data = yaml.safe_load(yaml.safe_dump(raw_yaml))
    group = next(group for group in data["groups"] if group["id"] == group_id)
    group["attributes"].append(attribute)
    return data


# ----------------------------------------------------------------------------- generated outputs


def test_attributes_module_equals_generator_output(registry: gen.Registry) -> None:
    """attributes.py is exactly what the generator makes of registry.yaml."""
    assert PATHS.module.read_text(encoding="utf-8") == gen.render_module(registry)


def test_package_init_equals_generator_output(registry: gen.Registry) -> None:
    """__init__.py is exactly the generated re-export module."""
    assert PATHS.init.read_text(encoding="utf-8") == gen.render_init(registry)


def test_docs_tables_equal_generated_tables(registry: gen.Registry) -> None:
    """Every generated block of docs/semantic-conventions.md is current."""
    docs = PATHS.docs.read_text(encoding="utf-8")
    for name, body in (
        ("table", gen.render_attribute_table(registry)),
        ("enums", gen.render_enum_tables(registry)),
        ("signals", gen.render_signal_tables(registry)),
    ):
        start, end = f"<!-- semconv-{name}:start -->\n", f"\n<!-- semconv-{name}:end -->"
        assert docs.split(start, 1)[1].split(end, 1)[0] == body


def test_docs_table_lists_every_attribute_once(registry: gen.Registry) -> None:
    """The attribute table has one row per registered key."""
    table = gen.render_attribute_table(registry)
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == sorted(registry.keys)


def test_check_mode_reports_nothing_on_committed_files() -> None:
    """``--check`` exits 0 on the committed files."""
    assert gen.main(["--check"]) == 0


def test_check_mode_reports_a_stale_docs_table_and_write_mode_fixes_it(tmp_path: Path) -> None:
    """A hand-edited table is reported stale by check mode and restored by write mode."""
    paths = _copy_outputs(tmp_path)
    original = paths.docs.read_text(encoding="utf-8")
    paths.docs.write_text(
        original.replace("| `contexta.run.ref` |", "| `contexta.run.id` |"), encoding="utf-8"
    )

    assert gen.sync(paths, check=True) == [paths.docs]
    assert gen.sync(paths, check=False) == [paths.docs]
    assert paths.docs.read_text(encoding="utf-8") == original
    assert gen.sync(paths, check=True) == []


def test_check_mode_reports_outputs_stale_after_a_registry_edit(tmp_path: Path, raw_yaml: dict) -> None:
    """Adding an attribute to the YAML makes the module, init and docs stale."""
    paths = _copy_outputs(tmp_path)
    extra = {"id": "contexta.run.owner", "type": "string", "brief": "Owner.", "stability": "development"}
    data = _registry_with(raw_yaml, "registry.contexta.run", {**extra, "examples": ["ana"]})
    paths.registry.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    assert sorted(gen.sync(paths, check=True)) == sorted([paths.module, paths.init, paths.docs])


def test_runtime_import_does_not_load_yaml() -> None:
    """Importing contexta.semconv needs no PyYAML."""
    code = "import sys, contexta.semconv; assert 'yaml' not in sys.modules, 'yaml was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_init_reexports_exactly_the_attributes_module() -> None:
    """contexta.semconv exports the same names and objects as contexta.semconv.attributes."""
    assert semconv.__all__ == attributes.__all__
    assert all(getattr(semconv, name) is getattr(attributes, name) for name in semconv.__all__)


def test_all_is_sorted_constants_then_classes() -> None:
    """__all__ is sorted the way ruff's RUF022 expects (CONSTANTS, then Classes)."""
    assert attributes.__all__ == sorted(attributes.__all__, key=gen.export_sort_key)
    assert len(attributes.__all__) == len(set(attributes.__all__))


# ----------------------------------------------------------------------------- constants and enums


def test_every_registered_key_has_a_constant_holding_it(registry: gen.Registry) -> None:
    """Each key is importable as a constant named after it (``contexta.run.ref`` -> RUN_REF)."""
    for attribute in registry.attributes:
        assert getattr(attributes, attribute.constant) == attribute.key
    assert attributes.RUN_REF == "contexta.run.ref"
    assert attributes.DEPLOYMENT_ARTIFACT_REF == "contexta.deployment.artifact_ref"


def test_event_name_constants_match_event_groups(registry: gen.Registry) -> None:
    """EVENT_* constants hold the registry's span event names."""
    assert {event.constant: getattr(attributes, event.constant) for event in registry.events} == {
        "EVENT_METRIC": "contexta.metric",
        "EVENT_EVENT": "contexta.event",
        "EVENT_DEGRADED": "contexta.degraded",
        "EVENT_ARTIFACT": "contexta.artifact",
        "EVENT_ENVIRONMENT": "contexta.environment",
    }


def test_enum_classes_hold_the_registry_members(registry: gen.Registry) -> None:
    """Each enum attribute has a StrEnum whose values are the YAML member values, in order."""
    for attribute in registry.enums:
        enum_class = getattr(attributes, attribute.enum_class)
        assert [member.value for member in enum_class] == [member.value for member in attribute.members]
        assert all(isinstance(member, str) for member in enum_class)
    assert attributes.EntityKind.RUN == "run" and str(attributes.EntityKind.RUN) == "run"


def test_enum_values_are_unique_within_each_enum(registry: gen.Registry) -> None:
    """No enum repeats a member value or a member id."""
    for attribute in registry.enums:
        values = [member.value for member in attribute.members]
        ids = [member.id for member in attribute.members]
        assert len(values) == len(set(values)), attribute.key
        assert len(ids) == len(set(ids)), attribute.key


def test_attribute_types_cover_every_key_with_an_otel_type(registry: gen.Registry) -> None:
    """ATTRIBUTE_TYPES maps every key to an OTel attribute type."""
    assert set(attributes.ATTRIBUTE_TYPES) == set(registry.keys)
    assert set(attributes.ATTRIBUTE_TYPES.values()) <= set(gen.SIMPLE_TYPES)


def test_every_entity_kind_has_a_span_definition() -> None:
    """Each EntityKind has span attributes, required ones including the entity kind and project."""
    assert set(attributes.SPAN_ATTRIBUTES) == set(attributes.EntityKind)
    for kind, required in attributes.REQUIRED_SPAN_ATTRIBUTES.items():
        assert {attributes.ENTITY_KIND, attributes.PROJECT, attributes.STATUS} <= set(required), kind
        assert set(required) <= set(attributes.SPAN_ATTRIBUTES[kind])


def test_metric_points_carry_only_bounded_attributes() -> None:
    """Gauge points carry project, run name and stage name, never batch or sample identity."""
    assert attributes.METRIC_POINT_ATTRIBUTES == (
        attributes.PROJECT,
        attributes.RUN_NAME,
        attributes.STAGE_NAME,
    )
    assert attributes.METRIC_NAME_PREFIX == "contexta.metric."


# ----------------------------------------------------------------------------- naming rules


def test_every_key_is_in_the_contexta_namespace(registry: gen.Registry) -> None:
    """Every registered key starts with ``contexta.``; standard OTel keys are not registered."""
    assert all(key.startswith("contexta.") for key in registry.keys)


def test_every_key_follows_otel_naming_rules(registry: gen.Registry) -> None:
    """Keys are lowercase, dot-separated, snake_case components."""
    bad = [key for key in registry.keys if not re.fullmatch(OTEL_KEY, key)]
    assert bad == []


def test_keys_are_unique(registry: gen.Registry) -> None:
    """No key is defined twice."""
    assert len(registry.keys) == len(set(registry.keys))


def test_no_key_is_also_a_namespace_of_another_key(registry: gen.Registry) -> None:
    """No key is both a leaf and the prefix of another key."""
    assert gen.prefix_conflicts(registry.keys) == []


def test_prefix_conflicts_finds_a_leaf_used_as_namespace() -> None:
    """The prefix check compares whole dot components, not raw string prefixes."""
    keys = ["contexta.run", "contexta.run.ref", "contexta.metric.value", "contexta.metric.value_type"]
    assert gen.prefix_conflicts(keys) == [("contexta.run", "contexta.run.ref")]


def test_every_attribute_is_in_development_stability(registry: gen.Registry) -> None:
    """All attributes are new, so all are ``development``."""
    assert {attribute.stability for attribute in registry.attributes} == {"development"}


def test_signal_groups_reference_only_registered_keys(registry: gen.Registry) -> None:
    """Span, event and metric groups use ``ref`` to registered keys only."""
    keys = set(registry.keys)
    for signal in (*registry.spans, *registry.events, *registry.metrics):
        assert {use.key for use in signal.uses} <= keys, signal.id


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ({"id": "contexta.run"}, "namespace of another key"),
        ({"id": "contexta.run.Owner"}, "lowercase"),
        ({"id": "service.name"}, "live under"),
        ({"id": "contexta.run.ref"}, "unique"),
    ],
)
def test_loader_rejects_keys_that_break_the_rules(raw_yaml: dict, attribute: dict, message: str) -> None:
    """The generator refuses a registry whose keys break a naming rule."""
    entry = {"type": "string", "brief": "x", "stability": "development", "examples": ["x"], **attribute}
    with pytest.raises(gen.RegistryError, match=message):
        gen.parse_registry(_registry_with(raw_yaml, "registry.contexta.run", entry))


def test_loader_rejects_duplicate_enum_values(raw_yaml: dict) -> None:
    """The generator refuses an enum with a repeated value."""
    member = {"id": "done", "value": "completed", "brief": "Done.", "stability": "development"}
    data = yaml.safe_load(yaml.safe_dump(raw_yaml))
    status = next(
        a for g in data["groups"] for a in g.get("attributes", []) if a.get("id") == "contexta.status"
    )
    status["type"]["members"].append(member)
    with pytest.raises(gen.RegistryError, match="unique"):
        gen.parse_registry(data)


def test_loader_rejects_a_reference_to_an_unregistered_key(raw_yaml: dict) -> None:
    """A span group may not reference a key the registry does not define."""
    data = _registry_with(raw_yaml, "span.contexta.run", {"ref": "contexta.run.owner"})
    with pytest.raises(gen.RegistryError, match="not a registered attribute"):
        gen.parse_registry(data)
