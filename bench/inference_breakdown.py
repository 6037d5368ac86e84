"""Where an inference call's time goes: the call built up piece by piece, in one process.

    python bench/inference_breakdown.py

Each row adds one piece of what a ``track_inference`` call does to the row before, all through
mlcost's own provider and span processor with a do-nothing exporter; best of 7 x 20,000 calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.runtime import config
from mlcost_sdk.runtime import inference as inf

TAGS = {"team": "bench", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}
N = 20_000


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def per_call_us(fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(N):
            fn()
        best = min(best, (time.perf_counter() - start) / N)
    return best * 1e6


def main() -> None:
    # mlcost's own set-up (its provider and span processor) with a do-nothing exporter; every
    # row below goes through that same provider.
    mlcost.configure(service_name="bench", tags=TAGS, price=1.0, exporters=[DropExporter()])
    provider = config.tracer_provider()
    assert config.exports_own_spans() and provider is not None
    tracer = provider.get_tracer("bench")

    @mlcost.track_inference(name="predict", model="m")
    def predict() -> None:
        pass

    predict()  # starts the process meter
    meter = inf.current_meter()
    assert meter is not None
    alloc, sampler = meter.allocator, meter.sampler
    own = sampler.span_attributes(sampler.snapshot(), sampler.snapshot(), implied=False)

    def bare() -> None:
        with tracer.start_as_current_span("predict"):
            pass

    def span(cost: float = 1e-9, extra: dict[str, Any] | None = None) -> None:
        s = tracer.start_span("predict")
        token = otel_context.attach(trace.set_span_in_context(s))
        otel_context.detach(token)
        s.set_attributes({**(extra if extra is not None else own), c.COST_USD: cost})
        s.end()

    def with_allocator() -> None:
        a = alloc.start()
        span(alloc.end(a))

    def with_reading() -> None:
        a, snap = alloc.start(), sampler.snapshot()
        attrs = sampler.span_attributes(snap, sampler.snapshot(), implied=False)
        span(alloc.end(a), attrs)

    rows = [("a bare span, no attributes", per_call_us(bare)),
            (f"the span with the request's own {len(own) + 1} attributes "
             f"({', '.join([*own, c.COST_USD])})", per_call_us(span)),
            ("+ the cost allocator", per_call_us(with_allocator)),
            ("+ two sampler snapshots and the current reading's attributes",
             per_call_us(with_reading)),
            ("+ the rest: call site, InferenceCall, metric totals = the whole "
             "`track_inference` call", per_call_us(predict))]
    inf.shutdown_meter()
    print("| piece | us per call |\n|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} |")


if __name__ == "__main__":
    main()
