"""The OpenTelemetry Collector example configuration is well-formed and wires every signal to contexta."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (the dev extra) reads the example configuration")

EXAMPLE = Path(__file__).resolve().parents[2] / "collector" / "otelcol-config.example.yaml"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_example_is_well_formed_yaml_with_the_four_sections(config: dict[str, Any]) -> None:
    """The file parses and has receivers, processors, exporters and service pipelines."""
    assert {"receivers", "processors", "exporters", "service"} <= set(config)
    assert set(config["service"]["pipelines"]) == {"traces", "metrics", "logs"}


def test_every_pipeline_batches_and_fans_out_to_contexta_and_a_backend(config: dict[str, Any]) -> None:
    """traces, metrics and logs: otlp in, batch processor, contexta plus one other exporter out."""
    for name, pipeline in config["service"]["pipelines"].items():
        assert pipeline["receivers"] == ["otlp"], name
        assert pipeline["processors"][-1] == "batch", name
        assert "memory_limiter" in pipeline["processors"], name
        assert "otlphttp/contexta" in pipeline["exporters"], name
        assert len(pipeline["exporters"]) == 2, name
    assert config["service"]["pipelines"]["traces"]["exporters"][0] in ("otlp/jaeger", "otlphttp/tempo")


def test_every_component_a_pipeline_names_is_defined(config: dict[str, Any]) -> None:
    """No pipeline refers to a receiver, processor or exporter the file does not configure."""
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind]), (kind, pipeline[kind])


def test_contexta_exporter_targets_the_local_collector_with_retries(config: dict[str, Any]) -> None:
    """otlphttp/contexta posts protobuf to 127.0.0.1:4318, retries and queues while contexta is down."""
    contexta = config["exporters"]["otlphttp/contexta"]
    assert contexta["endpoint"] == "http://127.0.0.1:4318"
    assert contexta["encoding"] == "proto"
    assert contexta["retry_on_failure"]["enabled"] is True
    assert contexta["sending_queue"]["enabled"] is True
    receivers = config["receivers"]["otlp"]["protocols"]
    assert not receivers["http"]["endpoint"].endswith(":4318")  # contexta holds 4318 on this host
