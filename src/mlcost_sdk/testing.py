"""Capture mlcost's spans and metrics in memory, so users can test their own instrumentation.

    from mlcost_sdk.testing import capture
    with capture(price=3.0) as cap:
        with mlcost.training_run("t", tags=...) as run: run.step(tokens=10)
    assert cap.span(c.KIND_TRAINING_RUN).attributes[c.STEPS] == 1   # c = mlcost_sdk.conventions

Requires the OpenTelemetry SDK (a core dependency). Global providers are left untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import conventions as c
from .runtime import _instruments, config, inference


class Capture:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

    def spans(self, kind: str | None = None) -> list[ReadableSpan]:
        """Finished spans, optionally only those of one ``mlcost.kind``; ledger records
        (aggregates, checkpoints) are left out: see :meth:`records`."""
        spans = [s for s in self.exporter.get_finished_spans()
                 if (s.attributes or {}).get(c.RECORD) is None]
        if kind is None:
            return spans
        return [s for s in spans if (s.attributes or {}).get(c.KIND) == kind]

    def records(self, record: str = c.RECORD_AGGREGATE) -> list[ReadableSpan]:
        """Ledger records of one type (``aggregate`` or ``checkpoint``) emitted so far."""
        return [s for s in self.exporter.get_finished_spans()
                if (s.attributes or {}).get(c.RECORD) == record]

    def span(self, kind: str) -> ReadableSpan:
        """The one finished span of this kind (AssertionError if not exactly one)."""
        found = self.spans(kind)
        assert len(found) == 1, f"expected one {kind} span, found {len(found)}"
        return found[0]

    def metric_points(self, name: str) -> list[Any]:
        """Data points of one metric, collected now."""
        data = self.metric_reader.get_metrics_data()
        points: list[Any] = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def clear(self) -> None:
        self.exporter.clear()


@contextmanager
def capture(**configure_kwargs: Any) -> Iterator[Capture]:
    """Fresh mlcost settings (environment + ``configure_kwargs``) routed to in-memory
    providers; the previous configuration is restored afterwards."""
    cap = Capture()
    saved = (config._settings, config._tracer_provider, config._meter_provider, config._tracer,
             config._meter)
    inference.shutdown_meter()
    config._reset_for_tests()
    try:
        config.configure(tracer_provider=cap.tracer_provider, meter_provider=cap.meter_provider,
                         **configure_kwargs)
        yield cap
        inference.shutdown_meter()  # emits the final idle span while captured
    finally:
        inference.shutdown_meter()
        (config._settings, config._tracer_provider, config._meter_provider, config._tracer,
         config._meter) = saved
        if config._meter is not None:
            _instruments.reset(config._meter)
