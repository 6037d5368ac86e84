"""Exporters: where mlcost telemetry goes (JSONL, OTLP, Prometheus, console)."""
