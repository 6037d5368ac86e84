"""One inference call in per-request mode vs aggregate mode, against a bare OpenTelemetry span.

    python bench/aggregate_call.py      # prints a markdown table for docs/benchmarks.md

All three go through the same TracerProvider with a BatchSpanProcessor and a do-nothing
exporter; the figure is the best of ``--repeats`` loops of ``--calls`` calls (the least
disturbed by other load). Aggregate mode makes no span here (no sampled trace is current): the
call is the allocator plus a bucket update.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from overhead import TAGS, DropExporter

import mlcost_sdk as mlcost
from mlcost_sdk.testing import capture, shutdown_meter


def per_call(fn: Callable[[], object], n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 16))
    tracer = provider.get_tracer("bench")

    def bare() -> None:
        with tracer.start_as_current_span("predict"):
            pass

    def call() -> None:
        with mlcost.inference("predict", model="m"):
            pass

    names = ("bare OpenTelemetry span", "`mlcost.inference`, per-request span",
             "`mlcost.inference`, aggregate mode")
    best = dict.fromkeys(names, float("inf"))
    with capture(tags=TAGS, price=1.0):
        mlcost.configure(tracer_provider=provider)
        call()  # the first call starts the process meter
        for _ in range(args.repeats):  # interleaved: load drifts hit all three alike
            for name in names:
                if name != names[0]:
                    mlcost.configure(aggregate=name == names[2])
                best[name] = min(best[name], per_call(bare if name == names[0] else call,
                                                      args.calls))
        shutdown_meter()
    provider.shutdown()
    base = best[names[0]]
    print(f"`python bench/aggregate_call.py --calls {args.calls} --repeats {args.repeats}`, "
          f"load average {os.getloadavg()[0]:.1f} at the end; best of {args.repeats}.\n")
    print("| call | µs per call | vs bare span |")
    print("|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e6:.1f} | {seconds / base:.2f}x |")


if __name__ == "__main__":
    main()
