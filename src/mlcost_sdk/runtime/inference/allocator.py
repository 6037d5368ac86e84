"""The cost allocator: each request pays its share of the process's price while in flight.

It integrates ``price / n_in_flight`` over time into one running number; a request pays the
difference between its end and start readings. Time with nothing in flight is idle cost. So,
exactly: sum(request costs) + idle = price x elapsed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..clock import Clock


class CostAllocator:
    """Splits a price per second among the requests in flight at each moment."""

    def __init__(self, usd_per_s: float, clock: Clock) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._p = usd_per_s
        self._t = self.t0 = clock.monotonic()
        self._n = 0
        self._acc = 0.0  # integral of p / n over time with n > 0: what one request has paid
        self.idle_usd = 0.0
        self.request_usd = 0.0
        self.requests = 0

    def _advance(self, now: float) -> None:
        dt = now - self._t
        if dt > 0:
            if self._n:
                self._acc += self._p * dt / self._n
            else:
                self.idle_usd += self._p * dt
            self._t = now

    def start(self) -> float:
        with self._lock:
            self._advance(self._clock.monotonic())
            self._n += 1
            return self._acc

    def end(self, started_at: float) -> float:
        with self._lock:
            self._advance(self._clock.monotonic())
            self._n = max(0, self._n - 1)  # a call begun before a fork ends in the child too
            cost = self._acc - started_at
            self.request_usd += cost
            self.requests += 1
            return cost

    def sync(self) -> float:
        """Bring the totals up to now; returns the elapsed seconds since creation."""
        with self._lock:
            now = self._clock.monotonic()
            self._advance(now)
            return now - self.t0

    def restart_in_child(self) -> None:
        """After a fork: the parent's requests are not in flight here, and its idle time and
        totals are the parent's to report; the child's start now."""
        self._lock = threading.Lock()
        self._t = self.t0 = self._clock.monotonic()
        self._n = 0
        self.idle_usd = self.request_usd = 0.0
        self.requests = 0

    def set_price(self, usd_per_s: float) -> None:
        with self._lock:
            self._advance(self._clock.monotonic())
            self._p = usd_per_s


@dataclass(frozen=True)
class InferenceSummary:
    requests: int
    request_cost_usd: float
    idle_cost_usd: float
    elapsed_s: float
    usd_per_hour: float | None

    @property
    def total_cost_usd(self) -> float:
        return self.request_cost_usd + self.idle_cost_usd

    @property
    def realized_cost_per_request_usd(self) -> float | None:
        return self.total_cost_usd / self.requests if self.requests else None

    @property
    def idle_share(self) -> float | None:
        total = self.total_cost_usd
        return self.idle_cost_usd / total if total > 0 else None
