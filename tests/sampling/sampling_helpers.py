"""Helpers for sampler tests.

Tests that assert on figures drive the sampler by hand (``manual_sampler``: a manual clock and
``Sampler.tick()``), so nothing depends on a thread being scheduled. Tests of the thread itself
wait for its ticks, with deadlines generous enough for a machine loaded many times over."""

from __future__ import annotations

import time
from collections.abc import Callable

from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.sampling import Sampler

DEADLINE_S = 60.0


def ticks(sampler: Sampler, clock: ManualClock, n: int, every_s: float = 0.01) -> None:
    """``n`` readings, ``every_s`` apart on the manual clock (the sampler is not acquired)."""
    for _ in range(n):
        clock.advance(every_s)
        sampler.tick()


def wait_for(condition: Callable[[], bool], timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def wait_ticks(sampler: Sampler, n: int = 1, timeout: float = DEADLINE_S) -> None:
    """Wait until the sampler has read ``n`` more times."""
    start = sampler.snapshot().totals.ticks
    wait_for(lambda: sampler.snapshot().totals.ticks >= start + n, timeout)
