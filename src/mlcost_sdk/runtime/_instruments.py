"""The metric instruments, created once per meter."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import metrics

from .. import conventions as c
from ._safety import capture_internal_exceptions

# A request costs from fractions of a micro-dollar to dollars: 1-2.5-5 steps per decade.
REQUEST_COST_BUCKETS_USD = [m * 10.0**e for e in range(-9, 1) for m in (1.0, 2.5, 5.0)]


class Instruments:
    def __init__(self, meter: metrics.Meter) -> None:
        cost = c.METRICS[c.METRIC_COST]
        req = c.METRICS[c.METRIC_REQUEST_COST]
        self.cost = meter.create_counter(cost.name, unit=cost.unit, description=cost.brief)
        self.request_cost = meter.create_histogram(
            req.name, unit=req.unit, description=req.brief,
            explicit_bucket_boundaries_advisory=REQUEST_COST_BUCKETS_USD)
        self.meter = meter
        self.hw_registered = False
        self._hw_lock = threading.Lock()

    def register_hw(self, sampler: Any) -> None:
        """hw.* observable instruments, once a sampler is running (GPU hosts only)."""
        with self._hw_lock:
            if self.hw_registered:
                return
            self.hw_registered = True
        with capture_internal_exceptions("register_hw_metrics"):
            from ..sampling.metrics import register_hw_metrics

            register_hw_metrics(self.meter, sampler)


_current: Instruments | None = None


def reset(meter: metrics.Meter) -> None:
    global _current
    _current = Instruments(meter)


def get() -> Instruments | None:
    return _current


def metric_attributes(kind: str, tags: dict[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """Low-cardinality metric attributes: the kind plus the configured tag keys only."""
    attrs = {c.KIND: kind}
    for key in keys:
        if key in tags:
            attrs[c.tag_attribute(key)] = tags[key]
    return attrs
