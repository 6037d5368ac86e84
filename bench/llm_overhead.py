"""CPU cost of recording one LLM call, against a bare OpenTelemetry span.

    python bench/llm_overhead.py     # prints a markdown table (paste into docs/benchmarks.md)

Every figure is process CPU time (all threads: the span processor's too) per call, best of
``--repeats`` runs of ``--calls`` calls, all through the same BatchSpanProcessor and a
do-nothing exporter, with a metric reader attached as in a real set-up:

- ``record_llm_call`` priced from genai-prices (gpt-4o, cached input), and at explicit prices;
- a bare span, and a bare span carrying the same attributes (what OpenTelemetry itself costs);
- genai-prices' own ``calc_price`` for one call's usage (what each call used to run).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import mlcost_sdk as mlcost

TAGS = {"team": "bench", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def cpu_per_call(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Best-of-``repeats`` process CPU seconds per call."""
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - t) / calls)
    return best


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args(argv)

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 16))
    mlcost.configure(tags=TAGS, tracer_provider=provider, exporters=["none"],
                     meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]))
    tracer = provider.get_tracer("bench")

    def catalog() -> object:
        return mlcost.record_llm_call(provider="openai", model="gpt-4o", input_tokens=2_000,
                                      output_tokens=500, cached_input_tokens=1_024)

    def explicit() -> object:
        return mlcost.record_llm_call(model="self-hosted", input_tokens=2_000,
                                      output_tokens=500, input_usd_per_1k=0.5,
                                      output_usd_per_1k=1.5)

    with mlcost.testing.capture(tags=TAGS) as probe:
        catalog()
    same = dict(probe.spans()[0].attributes or {})

    def bare() -> None:
        tracer.start_span("chat gpt-4o").end()

    def bare_same() -> None:
        tracer.start_span("chat gpt-4o", attributes=same).end()

    from genai_prices import Usage, calc_price

    def genai_prices_calc() -> object:
        return calc_price(Usage(input_tokens=2_000, output_tokens=500, cache_read_tokens=1_024),
                          "gpt-4o", provider_id="openai")

    rows = [("record_llm_call, genai-prices price (gpt-4o)", cpu_per_call(catalog, a.calls,
                                                                          a.repeats)),
            ("record_llm_call, explicit prices", cpu_per_call(explicit, a.calls, a.repeats)),
            ("bare OTel span", cpu_per_call(bare, a.calls, a.repeats)),
            (f"bare OTel span with the same {len(same)} attributes",
             cpu_per_call(bare_same, a.calls, a.repeats)),
            ("genai-prices calc_price alone (per call before this change)",
             cpu_per_call(genai_prices_calc, max(a.calls // 5, 1), a.repeats))]
    provider.shutdown()
    base = rows[2][1]
    print(f"best of {a.repeats} x {a.calls} calls, process CPU per call\n")
    print("| what | us CPU per call | vs bare span |\n|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e6:.1f} | {seconds / base:.2f}x |")


if __name__ == "__main__":
    import mlcost_sdk.testing  # noqa: F401 - capture() above

    main()
