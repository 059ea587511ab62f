"""OpenTelemetry exporters and processors that write a Contexta workspace or mirror it over OTLP."""
