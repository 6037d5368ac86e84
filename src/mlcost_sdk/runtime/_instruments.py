"""The metric instruments, and the running totals they read at collection time.

Costs are summed here, in process, per metric attribute set; OpenTelemetry reads the totals
when it collects (a Prometheus scrape, a periodic export). So a request costs one short locked
addition instead of SDK metric calls, and a collection at any moment sees the cost up to that
moment: before reading, every live source (the inference meter's idle time, a training run in
progress) brings its share up to now.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from .. import conventions as c
from ..guard import capture_internal_exceptions

_MAX_SERIES = 1024  # metric attributes are low-cardinality by design; past this, one overflow set


class Series:
    """The cumulative cost and request count of one metric attribute set."""

    __slots__ = ("attributes", "usd", "count")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes
        self.usd = 0.0
        self.count = 0


# One lock for every series: taken per request (uncontended it costs ~0.1 us) and by the
# collection, which must see each live source's fold and the totals at one instant. Reentrant:
# a fold may look up its series.
lock = threading.RLock()
_live: dict[int, Callable[[], None]] = {}
_gauges: dict[int, tuple[dict[str, Any], float]] = {}  # running training runs' MFU so far


def series(kind: str, tags: dict[str, str], keys: tuple[str, ...]) -> Series:
    """The current meter's series for this kind and these tags (created once). Totals belong
    to a meter: a new meter provider (a test's, say) starts from zero."""
    attrs: dict[str, Any] = metric_attributes(kind, tags, keys)
    inst = _current
    if inst is None:
        return Series(attrs)  # no meter: counted nowhere
    known = inst.series
    key = tuple(sorted(attrs.items()))
    found = known.get(key)
    if found is None:
        with lock:
            found = known.get(key)
            if found is None:
                if len(known) >= _MAX_SERIES:
                    attrs = {c.KIND: kind, c.METRIC_OVERFLOW: True}
                    key = tuple(sorted(attrs.items()))
                    found = known.get(key)
                if found is None:
                    found = known[key] = Series(attrs)
    return found


def add(target: Series, usd: float, requests: int = 0) -> None:
    with lock:
        target.usd += usd
        target.count += requests


def add_live(source: object, fold: Callable[[], None]) -> None:
    """Call ``fold()`` (with ``lock`` held) before each collection, until ``remove_live``."""
    with lock:
        _live[id(source)] = fold


def remove_live(source: object) -> None:
    with lock:
        _live.pop(id(source), None)


def set_mfu(source: object, attributes: dict[str, Any], mfu: float | None) -> None:
    """The MFU gauge's value for ``source`` (a running training run); None removes it."""
    with lock:
        if mfu is None:
            _gauges.pop(id(source), None)
        else:
            _gauges[id(source)] = (attributes, mfu)


def _observed(series: dict[Any, Series]) -> list[tuple[dict[str, Any], float, int]]:
    with lock:
        for fold in list(_live.values()):
            with capture_internal_exceptions("metrics.fold"):
                fold()
        return [(s.attributes, s.usd, s.count) for s in series.values()]


class Instruments:
    def __init__(self, meter: metrics.Meter) -> None:
        cost = c.METRICS[c.METRIC_COST]
        requests = c.METRICS[c.METRIC_REQUESTS]
        self.series: dict[tuple[tuple[str, Any], ...], Series] = {}
        meter.create_observable_counter(cost.name, callbacks=[self._observe_cost],
                                        unit=cost.unit, description=cost.brief)
        meter.create_observable_counter(requests.name, callbacks=[self._observe_requests],
                                        unit=requests.unit, description=requests.brief)
        mfu = c.METRICS[c.METRIC_MFU]
        meter.create_observable_gauge(mfu.name, callbacks=[self._observe_mfu], unit=mfu.unit,
                                      description=mfu.brief)
        self.meter = meter
        self.hw_registered = False
        self._hw_lock = threading.Lock()

    def _observe_cost(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(usd, attrs) for attrs, usd, _ in _observed(self.series) if usd > 0]

    def _observe_requests(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, attrs) for attrs, _, n in _observed(self.series) if n]

    def _observe_mfu(self, options: CallbackOptions) -> Iterable[Observation]:
        with lock:
            return [Observation(value, attrs) for attrs, value in _gauges.values()]

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
# Observable instruments registered twice on one meter would be read twice: one set per meter.
_by_meter: weakref.WeakKeyDictionary[metrics.Meter, Instruments] = weakref.WeakKeyDictionary()


def reset(meter: metrics.Meter) -> None:
    global _current
    inst = _by_meter.get(meter)
    if inst is None:
        inst = _by_meter[meter] = Instruments(meter)
    _current = inst


def get() -> Instruments | None:
    return _current


def _after_fork_in_child() -> None:
    """A child's totals start at the fork (the parent reports its own; its resource differs by
    pid, so carrying them over would count them twice), and the lock a parent thread may have
    held is re-made. The inference meter re-registers its fold; the parent's runs do not."""
    global lock
    lock = threading.RLock()
    _live.clear()
    for inst in list(_by_meter.values()):
        for s in inst.series.values():
            s.usd, s.count = 0.0, 0
        inst._hw_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def metric_attributes(kind: str, tags: dict[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """Low-cardinality metric attributes: the kind plus the configured tag keys only."""
    attrs = {c.KIND: kind}
    for key in keys:
        if key in tags:
            attrs[c.tag_attribute(key)] = tags[key]
    return attrs
