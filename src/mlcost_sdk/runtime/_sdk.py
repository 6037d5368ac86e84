"""The only place the runtime touches the OpenTelemetry SDK: building default providers.

Called by configure() only when the application has not set a provider of its own. The
providers stay private to mlcost: setting them as the global ones would switch on every other
instrumented library in the process (FastAPI's own tracing, for one) and send its spans into
mlcost's exporters, which is not a library's call to make.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace

from ..errors import ConfigError


def app_has_tracer_provider() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def app_has_meter_provider() -> bool:
    from opentelemetry.metrics import _internal as metrics_internal

    return not isinstance(metrics.get_meter_provider(), metrics_internal._ProxyMeterProvider)


def _resource(s: Any) -> Any:
    from opentelemetry.sdk.resources import Resource

    attrs: dict[str, str] = {"service.name": s.service_name}
    if "environment" in s.tags:
        attrs["deployment.environment.name"] = s.tags["environment"]
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME wins if set.
    if os.environ.get("OTEL_SERVICE_NAME"):
        attrs.pop("service.name")
    return Resource.create(attrs)


def _otlp_configured(signal: str) -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"))


def default_exporter_names() -> list[str]:
    """OTEL_TRACES_EXPORTER if set; else OTLP when an endpoint is configured; else JSONL."""
    raw = os.environ.get("OTEL_TRACES_EXPORTER")
    if raw:
        return [n.strip() for n in raw.split(",") if n.strip()]
    return ["otlp"] if _otlp_configured("TRACES") else ["jsonl"]


def make_span_exporter(spec: Any) -> Any | None:
    if not isinstance(spec, str):
        return spec
    name = spec.strip().lower()
    if name == "none":
        return None
    if name == "jsonl":
        from ..exporters.jsonl import JsonlSpanExporter

        return JsonlSpanExporter()
    if name == "otlp":
        from ..exporters.otlp import span_exporter

        return span_exporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ConfigError(f"exporters: unknown exporter {spec!r} (use jsonl, otlp, console, none, "
                      "or a SpanExporter instance)")


def add_exporters(provider: Any, specs: Sequence[Any]) -> None:
    from ..exporters._health import span_processor

    add = getattr(provider, "add_span_processor", None)
    if add is None:
        raise ConfigError("exporters: the application's TracerProvider accepts no span processors")
    for spec in specs:
        exporter = make_span_exporter(spec)
        if exporter is not None:
            add(span_processor(exporter))


def install_tracer_provider(s: Any, exporters: Sequence[Any] | None) -> Any:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=_resource(s))
    add_exporters(provider, exporters if exporters is not None else default_exporter_names())
    return provider


def install_meter_provider(s: Any) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = []
    if _otlp_configured("METRICS") and os.environ.get("OTEL_METRICS_EXPORTER", "otlp") == "otlp":
        from ..exporters.otlp import metric_exporter

        readers.append(PeriodicExportingMetricReader(metric_exporter()))
    port = os.environ.get("MLCOST_PROMETHEUS_PORT")
    if port:
        from ..exporters.prometheus import start_prometheus_endpoint

        readers.append(start_prometheus_endpoint(int(port)))
    return MeterProvider(resource=_resource(s), metric_readers=readers)
