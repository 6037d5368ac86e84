"""Hot-path overhead of mlcost, each as a ratio against its baseline.

    python bench/overhead.py            # prints a markdown table (paste into docs/benchmarks.md)

- run.step(): per call inside an active run, vs the same loop with no call at all.
- an inference call (mlcost.inference context manager) vs a bare OpenTelemetry span, both
  through the same BatchSpanProcessor and a do-nothing exporter.
- the sampler thread's CPU share at 10 Hz vs the same process idle.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import psutil
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import mlcost_sdk as mlcost
from mlcost_sdk.runtime import inference as inf
from mlcost_sdk.testing import capture

TAGS = {"team": "bench", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def best_of(fn: Callable[[], float], repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def bench_step(n: int, repeats: int) -> tuple[float, float]:
    def bare() -> float:
        t = time.perf_counter()
        for _ in range(n):
            pass
        return (time.perf_counter() - t) / n

    with capture(tags=TAGS, price=1.0, warmup_steps=2):
        with mlcost.training_run("bench", tags={"experiment_id": "b"}, window_seconds=1.0) as run:
            step = run.step

            def stepped() -> float:
                t = time.perf_counter()
                for _ in range(n):
                    step(tokens=128, samples=1)
                return (time.perf_counter() - t) / n

            per_step = best_of(stepped, repeats)
    return per_step, best_of(bare, repeats)


def bench_inference(n: int, repeats: int) -> tuple[float, float, float, int]:
    """(mlcost call, bare span, bare span carrying the same attributes), seconds per call,
    and how many attributes an mlcost inference span carries."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 16))
    tracer = provider.get_tracer("bench")
    with capture(tags=TAGS, price=1.0) as probe, mlcost.inference("predict", model="m"):
        pass
    same = dict(probe.spans()[0].attributes or {})

    def bare() -> float:
        t = time.perf_counter()
        for _ in range(n):
            with tracer.start_as_current_span("predict"):
                pass
        return (time.perf_counter() - t) / n

    def bare_same_attributes() -> float:
        t = time.perf_counter()
        for _ in range(n):
            with tracer.start_as_current_span("predict", attributes=same):
                pass
        return (time.perf_counter() - t) / n

    with capture(tags=TAGS, price=1.0) as cap:
        mlcost.configure(tracer_provider=provider)

        def wrapped() -> float:
            t = time.perf_counter()
            for _ in range(n):
                with mlcost.inference("predict", model="m"):
                    pass
            return (time.perf_counter() - t) / n

        wrapped()  # first call starts the process meter
        samples = [(wrapped(), bare(), bare_same_attributes()) for _ in range(repeats)]
        inf._shutdown_meter()
        del cap
    provider.shutdown()
    return (min(s[0] for s in samples), min(s[1] for s in samples),
            min(s[2] for s in samples), len(same))


def bench_sampler(seconds: float) -> tuple[float, str]:
    from mlcost_sdk.sampling import get_sampler

    proc = psutil.Process()

    def cpu_over(period: float) -> float:
        t0 = sum(proc.cpu_times()[:2])
        time.sleep(period)
        used: float = sum(proc.cpu_times()[:2]) - t0
        return used

    idle = cpu_over(seconds)
    sampler = get_sampler()
    sampler.set_interval(0.1)
    sampler.acquire()
    try:
        time.sleep(0.5)
        busy = cpu_over(seconds)
    finally:
        sampler.release()
    return max(0.0, busy - idle) / seconds, sampler.source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--sampler-seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    step_s, loop_s = bench_step(args.steps, args.repeats)
    call_s, span_s, same_s, n_attrs = bench_inference(args.calls, args.repeats)
    share, source = bench_sampler(args.sampler_seconds)
    rows = [
        ("run.step() per call", f"{step_s * 1e9:.0f} ns",
         f"bare loop iteration {loop_s * 1e9:.0f} ns",
         f"{step_s / loop_s:.1f}x", "<= 1 us per call"),
        ("inference call", f"{call_s * 1e6:.2f} us", f"bare OTel span {span_s * 1e6:.2f} us",
         f"{call_s / span_s:.2f}x", "<= 1.3x"),
        ("inference call", f"{call_s * 1e6:.2f} us",
         f"bare OTel span with the same {n_attrs} attributes {same_s * 1e6:.2f} us",
         f"{call_s / same_s:.2f}x", "(what mlcost itself adds)"),
        (f"sampler at 10 Hz ({source})", f"{share * 100:.3f}% of a core", "idle process",
         "", "<= 0.5% of a core"),
    ]
    print("| what | mlcost | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
