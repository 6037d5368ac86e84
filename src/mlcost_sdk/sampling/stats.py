"""Interval statistics from O(1)-memory aggregates: cumulative totals and fixed-bin histograms.

Memory never grows with run length: a span's mean comes from the difference of two cumulative
``Totals``; its max, p95 and peak memory from a ``Extremes`` updated in place each tick.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NamedTuple

from .. import conventions as c
from .readings import EMPTY_READING, EnergySource, HwKind, Reading, UtilizationSource

_BINS = 101  # utilization in 1% steps over 0..1; values above 1 land in the last bin


def _add(total: float, n: int, value: float | None) -> tuple[float, int]:
    return (total, n) if value is None else (total + value, n + 1)


@dataclass(frozen=True, slots=True)
class Totals:
    """Cumulative counters since the sampler was created; each tick publishes a new one."""

    time: float = 0.0  # monotonic time of the last tick
    ticks: int = 0
    utilization_sum: float = 0.0
    utilization_n: int = 0
    process_utilization_sum: float = 0.0
    process_utilization_n: int = 0
    system_utilization_sum: float = 0.0
    system_utilization_n: int = 0
    energy_j: float = 0.0
    energy_s: float = 0.0  # seconds that energy_j covers
    energy_source: EnergySource = "none"
    latest: Reading | None = None

    def add(self, r: Reading, time: float, dt: float | None) -> Totals:
        u, un = _add(self.utilization_sum, self.utilization_n, r.utilization)
        p, pn = _add(self.process_utilization_sum, self.process_utilization_n,
                     r.process_utilization)
        s, sn = _add(self.system_utilization_sum, self.system_utilization_n, r.system_utilization)
        if r.energy_j is None or dt is None:
            energy = self.energy_j, self.energy_s, self.energy_source
        else:
            energy = self.energy_j + r.energy_j, self.energy_s + dt, r.energy_source
        return Totals(time, self.ticks + 1, u, un, p, pn, s, sn, *energy, r)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The sampler's totals as of ``time`` (monotonic seconds): cheap to take, never registered."""

    time: float
    totals: Totals


class UtilizationHistogram:
    """Counts of utilization readings in 1% bins: quantiles in O(1) memory."""

    __slots__ = ("bins", "count")

    def __init__(self) -> None:
        self.bins = [0] * _BINS
        self.count = 0

    def add(self, value: float) -> None:
        self.bins[min(_BINS - 1, max(0, round(value * (_BINS - 1))))] += 1
        self.count += 1

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile, to 1% resolution."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        return bisect_left(list(accumulate(self.bins)), rank) / (_BINS - 1)


class Extremes:
    """What cumulative totals cannot give: max, p95 and peak memory of one tracked interval."""

    __slots__ = ("histogram", "utilization_max", "memory_peak_bytes")

    def __init__(self) -> None:
        self.histogram = UtilizationHistogram()
        self.utilization_max: float | None = None
        self.memory_peak_bytes: int | None = None

    def add(self, r: Reading) -> None:
        if r.utilization is not None:
            self.histogram.add(r.utilization)
            if self.utilization_max is None or r.utilization > self.utilization_max:
                self.utilization_max = r.utilization
        if r.memory_bytes is not None and (self.memory_peak_bytes is None
                                           or r.memory_bytes > self.memory_peak_bytes):
            self.memory_peak_bytes = r.memory_bytes


@dataclass(frozen=True, slots=True)
class HardwareMeta:
    kind: HwKind
    count: float
    model: str | None
    source: UtilizationSource


class IntervalStats(NamedTuple):
    """What the hardware did over one span; every figure is None where it was not measured.
    (A NamedTuple, not a frozen dataclass: one is built per inference request, and that is
    several times cheaper.)

    utilization_* is the headline busy fraction: on GPUs the NVML fraction of time a kernel
    was running (not SM occupancy), averaged over the devices; on CPUs this process's CPU time
    over wall time times the effective CPU count. process_utilization_mean is this process's
    own GPU share (NVML process samples, where the driver reports them); system_utilization_mean
    the whole host's CPU (CPU hosts only, read about once a second). Energy is the mean power
    over the ticks inside the span times the span's duration. A span that saw no tick gets the
    reading current when it ended (``samples == 0``; energy from its power), or nothing if that
    reading is stale. ``between()`` gives means and energy; a tracker adds max, p95 and peak.
    """

    hw_kind: HwKind
    hw_count: float
    hw_model: str | None
    utilization_mean: float | None
    utilization_max: float | None
    utilization_p95: float | None
    utilization_source: UtilizationSource
    process_utilization_mean: float | None
    system_utilization_mean: float | None
    energy_joules: float | None
    energy_source: EnergySource
    memory_peak_bytes: int | None
    power_mean_w: float | None
    samples: int

    def attributes(self, *, hardware: bool = True) -> dict[str, Any]:
        """Span attributes named per ``mlcost_sdk.conventions``; unmeasured figures left out.
        ``hardware=False`` omits hw kind/count/model (for spans that already carry them)."""
        attrs: dict[str, Any] = {
            c.UTILIZATION_MEAN: self.utilization_mean,
            c.UTILIZATION_MAX: self.utilization_max,
            c.UTILIZATION_P95: self.utilization_p95,
            c.UTILIZATION_SOURCE: self.utilization_source,
            c.UTILIZATION_SAMPLES: self.samples,
            c.UTILIZATION_PROCESS_MEAN: self.process_utilization_mean,
            c.UTILIZATION_SYSTEM_MEAN: self.system_utilization_mean,
            c.ENERGY_JOULES: self.energy_joules,
            c.ENERGY_SOURCE: self.energy_source,
            c.MEMORY_PEAK_BYTES: self.memory_peak_bytes,
            c.POWER_MEAN_W: self.power_mean_w,
        }
        if hardware:
            attrs.update({c.HW_KIND: self.hw_kind, c.HW_COUNT: self.hw_count,
                          c.HW_MODEL: self.hw_model})
        return {k: v for k, v in attrs.items() if v is not None}


def _mean(total_b: float, n_b: int, total_a: float, n_a: int) -> float | None:
    return (total_b - total_a) / (n_b - n_a) if n_b > n_a else None


def interval_stats(hw: HardwareMeta, a: Snapshot, b: Snapshot, extremes: Extremes | None,
                   stale_after_s: float) -> IntervalStats:
    """Statistics for the interval between two snapshots; ``extremes`` adds max/p95/peak."""
    ta, tb = a.totals, b.totals
    samples = tb.ticks - ta.ticks
    latest = tb.latest if b.time - tb.time <= stale_after_s else None
    if samples > 0:
        mean = _mean(tb.utilization_sum, tb.utilization_n, ta.utilization_sum, ta.utilization_n)
        proc = _mean(tb.process_utilization_sum, tb.process_utilization_n,
                     ta.process_utilization_sum, ta.process_utilization_n)
        system = _mean(tb.system_utilization_sum, tb.system_utilization_n,
                       ta.system_utilization_sum, ta.system_utilization_n)
        umax = extremes.utilization_max if extremes else None
        p95 = extremes.histogram.quantile(0.95) if extremes else None
        peak = extremes.memory_peak_bytes if extremes else None
        if p95 is not None and umax is not None:
            p95 = min(p95, umax)  # a 1% bin may round up past the true max
    else:  # shorter than a tick: the current reading, if fresh, stands for the span
        r = latest or EMPTY_READING
        mean, proc, system = r.utilization, r.process_utilization, r.system_utilization
        umax = p95 = r.utilization if extremes else None
        peak = r.memory_bytes if extremes else None

    # Mean power over the ticks inside the span times the span's exact duration: summing the
    # ticks' energy deltas instead would be off by up to one tick.
    duration = max(0.0, b.time - a.time)
    energy_s = tb.energy_s - ta.energy_s
    power: float | None = None
    energy_source: EnergySource = "none"
    if energy_s > 0:
        power, energy_source = (tb.energy_j - ta.energy_j) / energy_s, tb.energy_source
    elif samples == 0 and latest is not None and latest.power_w is not None:
        power, energy_source = latest.power_w, "nvml_power"
    return IntervalStats(
        hw_kind=hw.kind, hw_count=hw.count, hw_model=hw.model,
        utilization_mean=mean, utilization_max=umax, utilization_p95=p95,
        utilization_source=hw.source if mean is not None else "none",
        process_utilization_mean=proc, system_utilization_mean=system,
        energy_joules=power * duration if power is not None else None,
        energy_source=energy_source, memory_peak_bytes=peak, power_mean_w=power,
        samples=samples)
