"""Where an inference call's time goes: the call built up piece by piece, in one process.

    python bench/inference_breakdown.py

Each row adds one piece of what ``mlcost.inference()`` does to the row before, through the same
BatchSpanProcessor and a do-nothing exporter; best of 7 x 20,000 calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.runtime import _instruments
from mlcost_sdk.runtime import inference as inf
from mlcost_sdk.testing import capture

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
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 16))
    tracer = provider.get_tracer("bench")
    with capture(tags=TAGS, price=1.0):
        mlcost.configure(tracer_provider=provider)
        with mlcost.inference("predict", model="m"):
            pass
        meter = inf._meter
        assert meter is not None
        site = inf._CallSite("predict", "m", None)
        site.call()
        start_attrs = site.start_attributes(meter)
        alloc, sampler = meter.allocator, meter.sampler

        def bare() -> None:
            with tracer.start_as_current_span("predict"):
                pass

        def span(cost: float = 1e-9, extra: dict[str, Any] | None = None) -> None:
            s = tracer.start_span("predict", attributes=start_attrs)
            token = otel_context.attach(trace.set_span_in_context(s))
            otel_context.detach(token)
            s.set_attributes({c.COST_USD: cost, **(extra or {})})
            s.end()

        def with_allocator() -> None:
            a = alloc.start()
            span(alloc.end(a))

        def with_snapshots() -> None:
            a = alloc.start()
            sampler.snapshot()
            sampler.snapshot()
            span(alloc.end(a))

        def with_stats() -> None:
            a, snap = alloc.start(), sampler.snapshot()
            stats = sampler.between(snap, sampler.snapshot()).attributes(hardware=False)
            span(alloc.end(a), stats)

        def call_site() -> None:
            with site.call():
                pass

        rows = [("a bare span, no attributes", per_call_us(bare)),
                (f"the span with its {len(start_attrs)} start attributes and the cost",
                 per_call_us(span)),
                ("+ the cost allocator", per_call_us(with_allocator)),
                ("+ two sampler snapshots", per_call_us(with_snapshots)),
                ("+ interval statistics and their attributes", per_call_us(with_stats))]
        saved, _instruments._current = _instruments._current, None
        rows.append(("+ the rest of the call, without metrics", per_call_us(call_site)))
        _instruments._current = saved
        rows.append(("+ request-cost histogram and counter = the whole call",
                     per_call_us(call_site)))
        inf._shutdown_meter()
    print("| piece | us per call |\n|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} |")


if __name__ == "__main__":
    main()
