"""The only place the runtime touches the OpenTelemetry SDK: building default providers.

Called by configure() only when the application has not set a provider of its own. The
providers stay private to mlcost: setting them as the global ones would switch on every other
instrumented library in the process (FastAPI's own tracing, for one) and send its spans into
mlcost's exporters, which is not a library's call to make.
"""

from __future__ import annotations

import functools
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


EXPORTER_NAMES = ("jsonl", "otlp", "console", "none")


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


def _stamped(spec: str) -> Any:
    """The exporter ``spec`` names, rebuilt (in a forked child) as ExporterSlot wraps it."""
    from ..exporters.pipeline import StampingExporter

    exporter = make_span_exporter(spec)
    assert exporter is not None  # "none" gets no processor, so never a remake
    return StampingExporter(exporter)


class ExporterSlot:
    """The one span processor mlcost adds to a provider; ``configure(exporters=...)`` replaces
    what it holds instead of adding processors next to the old ones (which wrote every span
    once per configure() call). Old processors are shut down, which flushes what they queued.
    """

    def __init__(self) -> None:
        self._processors: tuple[Any, ...] = ()

    def replace(self, specs: Sequence[Any]) -> None:
        from ..exporters.pipeline import StampingExporter, span_processor

        built = [(spec, make_span_exporter(spec)) for spec in specs]  # a bad name raises first
        # An exporter mlcost built by name is rebuilt in a forked child (its own connections);
        # an instance the application passed is the application's.
        new = tuple(span_processor(StampingExporter(e),
                                   remake=functools.partial(_stamped, spec)
                                   if isinstance(spec, str) else None)
                    for spec, e in built if e is not None)
        old, self._processors = self._processors, new
        for p in old:
            p.shutdown()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for p in self._processors:
            p.on_start(span, parent_context)

    def on_end(self, span: Any) -> None:
        for p in self._processors:
            p.on_end(span)

    def _on_ending(self, span: Any) -> None:  # recent SDKs call it on every processor
        for p in self._processors:
            p._on_ending(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([p.force_flush(timeout_millis) for p in self._processors])

    def shutdown(self) -> None:
        for p in self._processors:
            p.shutdown()


def attach_slot(provider: Any) -> ExporterSlot:
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        raise ConfigError("exporters: the application's TracerProvider accepts no span processors")
    slot = ExporterSlot()
    add(slot)
    return slot


def install_tracer_provider(s: Any) -> Any:
    from opentelemetry.sdk.trace import TracerProvider

    # shutdown_on_exit=False: mlcost's exit path shuts it down within the shared deadline.
    return TracerProvider(resource=_resource(s), shutdown_on_exit=False)


def install_meter_provider(s: Any) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

    readers: list[MetricReader] = []  # a periodic OTLP reader and/or Prometheus's pull reader
    if _otlp_configured("METRICS") and os.environ.get("OTEL_METRICS_EXPORTER", "otlp") == "otlp":
        from ..exporters.otlp import metric_exporter

        readers.append(PeriodicExportingMetricReader(metric_exporter()))
    port = os.environ.get("MLCOST_PROMETHEUS_PORT")
    if port:
        from ..exporters.prometheus import start_prometheus_endpoint

        readers.append(start_prometheus_endpoint(int(port)))
    return MeterProvider(resource=_resource(s), metric_readers=readers, shutdown_on_exit=False)
