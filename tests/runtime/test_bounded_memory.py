"""Memory stays flat however long a run or a server lives (spans go to a provider with no
processor, so only mlcost's own state could grow)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import mlcost_sdk as mlcost
from mlcost_sdk.testing import capture
from tests.conftest import FULL_TAGS

pytestmark = pytest.mark.slow


def _growth(work: Callable[[int], None], small: int, large: int, attempts: int = 3) -> int:
    """Bytes still allocated after ``large`` iterations minus after ``small``, the least of
    ``attempts``: tracemalloc counts every thread, and a background thread's temporaries (the
    sampler's tick, caught mid-way on a loaded machine) can land in one reading; a leak shows
    in every attempt."""
    growths = []
    for _ in range(attempts):
        held = []
        for n in (small, large):
            gc.collect()
            tracemalloc.start()
            work(n)
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])
            tracemalloc.stop()
        growths.append(held[1] - held[0])
    return min(growths)


def test_a_long_training_run_with_many_windows_holds_flat_memory() -> None:
    def train(steps: int) -> None:
        with mlcost.training_run("long", tags={"experiment_id": "e"}, window_steps=50) as run:
            for _ in range(steps):
                run.step(tokens=8, samples=1)

    with capture(tags=FULL_TAGS, price=1.0):
        mlcost.configure(tracer_provider=TracerProvider(), meter_provider=MeterProvider())
        assert _growth(train, 5_000, 100_000) < 64 * 1024


def test_many_inference_calls_hold_flat_memory() -> None:
    def serve(calls: int) -> None:
        for i in range(calls):
            with mlcost.inference("predict", model="m") as call:
                call.add(tokens=i % 7)
        # Request costs wait (at most 8,192 of them) for the once-a-second hand-over to the
        # metric instruments; flush() hands them over now.
        mlcost.flush()

    with capture(tags=FULL_TAGS, price=1.0):
        mlcost.configure(tracer_provider=TracerProvider(), meter_provider=MeterProvider())
        serve(100)  # the process meter and call site exist before measuring
        assert _growth(serve, 1_000, 20_000) < 64 * 1024
