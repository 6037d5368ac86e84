"""Waiting helpers for sampler tests (real time: the sampler thread is real)."""

from __future__ import annotations

import time
from collections.abc import Callable

from mlcost_sdk.sampling import Sampler


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def wait_ticks(sampler: Sampler, n: int = 1, timeout: float = 5.0) -> None:
    """Wait until the sampler has read ``n`` more times."""
    start = sampler.snapshot().totals.ticks
    wait_for(lambda: sampler.snapshot().totals.ticks >= start + n, timeout)
