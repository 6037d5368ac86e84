"""Time sources. Injectable (``configure(clock=...)``) so cost tests are deterministic."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""

    def time_ns(self) -> int:
        """Wall-clock nanoseconds since the epoch (span timestamps)."""


class SystemClock:
    monotonic = staticmethod(time.perf_counter)
    time_ns = staticmethod(time.time_ns)


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self._t = start_s

    def monotonic(self) -> float:
        return self._t

    def time_ns(self) -> int:
        return int(self._t * 1e9)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._t += seconds
