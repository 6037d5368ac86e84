"""Test helpers: capture mlcost's spans and metrics in memory, drive its time, reset its state.

    from mlcost_sdk.testing import ManualClock, capture
    clock = ManualClock()
    with capture(price=3.0, clock=clock) as cap:
        with mlcost.training_run("t", tags=...) as run:
            clock.advance(2.0)
            run.step(tokens=10)
    assert cap.span(c.KIND_TRAINING_RUN).attributes[c.STEPS] == 1   # c = mlcost_sdk.conventions

- ``capture(**configure_kwargs)``: fresh settings routed to in-memory providers; the previous
  configuration comes back afterwards. Global providers are left untouched.
- ``isolated()``: the same without the in-memory providers (configure your own inside).
- ``ManualClock``: time that moves only when told to (``configure(clock=...)``).
- ``shutdown_meter()``: close the process-wide serving state now (final idle span, last
  aggregate window) and get its final ``InferenceSummary``.
- ``tick_sampler(n)``: ``n`` more hardware readings of the process-wide sampler.
- ``use_sampler(sampler)``: make ``sampler`` the process-wide one for a while.
- ``reset()``: back to a fresh process's state.

Requires the OpenTelemetry SDK (a core dependency).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import conventions as c
from .runtime import config
from .runtime.clock import ManualClock
from .runtime.inference import shutdown_meter
from .sampling import get_sampler, use_sampler

__all__ = ["Capture", "ManualClock", "capture", "isolated", "reset", "shutdown_meter",
           "tick_sampler", "use_sampler"]

TICK_DEADLINE_S = 60.0  # a loaded machine may starve the sampling thread for many seconds


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
    with isolated():
        config.configure(tracer_provider=cap.tracer_provider, meter_provider=cap.meter_provider,
                         **configure_kwargs)
        yield cap


@contextmanager
def isolated() -> Iterator[None]:
    """A fresh mlcost state inside the block (``reset()``); at its end the serving state is
    closed while still configured (its final idle span goes where the block's spans went)
    and the configuration from before comes back."""
    saved = config.snapshot()
    reset()
    try:
        yield
    finally:
        shutdown_meter()
        config.restore(saved)


def reset() -> None:
    """Back to a fresh process's state: the serving state is closed (its final idle span goes
    to the providers configured now), then all settings and providers are forgotten; the next
    instrumented call configures from the environment again."""
    shutdown_meter()
    config.reset()


def tick_sampler(n: int = 1, *, timeout_s: float = TICK_DEADLINE_S) -> None:
    """``n`` more readings of the process-wide sampler. Taken now, in this thread, when no
    sampling thread runs (nothing instrumented is live: pair with a ManualClock); otherwise
    waited for, up to ``timeout_s`` (AssertionError then), since the thread owns the readings."""
    sampler = get_sampler()
    start = sampler.snapshot().totals.ticks
    deadline = time.monotonic() + timeout_s
    while sampler.snapshot().totals.ticks < start + n:
        if time.monotonic() > deadline:
            raise AssertionError(f"the sampler read fewer than {n} times in {timeout_s} s")
        if sampler.running:
            time.sleep(0.005)
        else:
            sampler.tick()
