"""Hot-path overhead of mlcost, each as a ratio against its baseline.

    python bench/overhead.py            # prints a markdown table (paste into docs/benchmarks.md)

- run.step(): per call inside an active run, vs the same loop with no call at all.
- a ``track_inference`` call vs a bare OpenTelemetry span, both through mlcost's own provider
  and span processor (its default set-up) and a do-nothing exporter.
- the sampler thread's CPU share at 10 Hz vs the same process idle.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import psutil
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer

import mlcost_sdk as mlcost
from mlcost_sdk.runtime import config
from mlcost_sdk.testing import capture, shutdown_meter

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


def own_provider_tracer() -> Tracer:
    """mlcost's own set-up (its provider, its span processor) with a do-nothing exporter; the
    bare spans go through that same provider, processor and exporter."""
    mlcost.configure(service_name="bench", tags=TAGS, price=1.0, exporters=[DropExporter()])
    provider = config.tracer_provider()
    assert config.exports_own_spans() and provider is not None
    return cast(Tracer, provider.get_tracer("bench"))


class Recorder(SpanProcessor):
    """Keeps the attributes of the last span ended on the application's thread."""

    last: dict[str, Any] = {}

    def on_end(self, span: ReadableSpan) -> None:
        Recorder.last = dict(span.attributes or {})


def bench_inference(n: int, repeats: int) -> tuple[float, float, float, int]:
    """(mlcost call, bare span, bare span carrying the same attributes), seconds per call,
    and how many attributes an mlcost inference span carries on the application's thread."""
    tracer = own_provider_tracer()

    @mlcost.track_inference(name="predict", model="m")
    def predict() -> None:
        pass

    predict()  # the first call starts the process meter
    probe = Recorder()
    config.tracer_provider().add_span_processor(probe)
    predict()
    same = dict(Recorder.last)
    probe.on_end = lambda span: None  # type: ignore[method-assign]

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

    def wrapped() -> float:
        t = time.perf_counter()
        for _ in range(n):
            predict()
        return (time.perf_counter() - t) / n

    samples = [(wrapped(), bare(), bare_same_attributes()) for _ in range(repeats)]
    shutdown_meter()
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
        ("track_inference call", f"{call_s * 1e6:.2f} us", f"bare OTel span {span_s * 1e6:.2f} us",
         f"{call_s / span_s:.2f}x", "<= 1.3x"),
        ("track_inference call", f"{call_s * 1e6:.2f} us",
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
