"""Interval arithmetic on real Totals/Extremes: means from deltas, p95 from bins, energy."""

from __future__ import annotations

import math
import random

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.sampling.readings import Reading
from mlcost_sdk.sampling.stats import (
    Extremes,
    HardwareMeta,
    Snapshot,
    Totals,
    UtilizationHistogram,
    interval_stats,
)

GPU = HardwareMeta("gpu", 2.0, "NVIDIA H100 80GB HBM3", "nvml")


def reading(util: float | None = None, mem: int | None = None, power: float | None = None,
            energy: float | None = None) -> Reading:
    return Reading(util, None, None, mem, power, energy,
                   "nvml_counter" if energy is not None else "none")


def run_ticks(totals: Totals, readings: list[Reading], t0: float, dt: float,
              extremes: Extremes | None = None) -> Totals:
    for i, r in enumerate(readings, 1):
        totals = totals.add(r, t0 + i * dt, dt)
        if extremes is not None:
            extremes.add(r)
    return totals


def test_p95_is_nearest_rank_to_one_percent() -> None:
    values = [random.Random(7).random() for _ in range(1000)]
    h = UtilizationHistogram()
    for v in values:
        h.add(v)
    exact = sorted(values)[math.ceil(0.95 * len(values)) - 1]
    q = h.quantile(0.95)
    assert q is not None and abs(q - exact) <= 0.005 + 1e-9
    assert h.count == 1000 and len(h.bins) == 101  # memory independent of the sample count


def test_histogram_edges() -> None:
    h = UtilizationHistogram()
    assert h.quantile(0.95) is None
    for v in (0.0, 1.0, 1.7):  # above 1 (a CPU quota overshoot) lands in the top bin
        h.add(v)
    assert h.quantile(0.0) == 0.0 and h.quantile(1.0) == 1.0


def test_means_and_extremes_over_a_tracked_interval() -> None:
    before = run_ticks(Totals(), [reading(0.9, 10)] * 5, 0.0, 0.1)  # not part of the interval
    ext = Extremes()
    utils = [0.2, 0.4, 0.6, 0.8, 1.0, 0.3]
    after = run_ticks(before, [reading(u, 100 + i) for i, u in enumerate(utils)], 0.5, 0.1, ext)
    s = interval_stats(GPU, Snapshot(0.5, before), Snapshot(1.1, after), ext, 0.3)
    assert s.utilization_mean == pytest.approx(sum(utils) / len(utils))
    assert s.utilization_max == 1.0 and s.utilization_p95 == 1.0
    assert s.memory_peak_bytes == 105 and s.samples == 6
    assert s.utilization_source == "nvml" and s.energy_source == "none"
    assert s.energy_joules is None and s.power_mean_w is None


def test_energy_is_mean_power_times_the_exact_duration() -> None:
    # 400 W for 10 ticks of 0.1 s; the span starts 0.03 s after a tick and ends 0.05 s after one
    base = run_ticks(Totals(), [reading(0.5, power=400.0, energy=40.0)], 0.0, 0.1)
    end = run_ticks(base, [reading(0.5, power=400.0, energy=40.0)] * 10, 0.1, 0.1)
    s = interval_stats(GPU, Snapshot(0.13, base), Snapshot(1.15, end), None, 0.3)
    assert s.power_mean_w == pytest.approx(400.0)
    assert s.energy_joules == pytest.approx(400.0 * 1.02)
    assert s.energy_source == "nvml_counter"


def test_between_gives_no_extremes() -> None:
    end = run_ticks(Totals(), [reading(0.5, 10)] * 3, 0.0, 0.1)
    s = interval_stats(GPU, Snapshot(0.0, Totals()), Snapshot(0.3, end), None, 0.3)
    assert s.utilization_mean == pytest.approx(0.5)
    assert s.utilization_max is None and s.utilization_p95 is None and s.memory_peak_bytes is None


def test_span_shorter_than_a_tick_gets_the_current_reading() -> None:
    t = run_ticks(Totals(), [reading(0.7, 123, power=250.0)], 0.0, 0.1)  # tick at 0.1
    s = interval_stats(GPU, Snapshot(0.12, t), Snapshot(0.17, t), Extremes(), 0.3)
    assert s.samples == 0
    assert s.utilization_mean == s.utilization_max == s.utilization_p95 == 0.7
    assert s.memory_peak_bytes == 123
    assert s.power_mean_w == 250.0 and s.energy_source == "nvml_power"
    assert s.energy_joules == pytest.approx(250.0 * 0.05)


def test_stale_reading_is_not_used() -> None:
    t = run_ticks(Totals(), [reading(0.7, 123, power=250.0)], 0.0, 0.1)
    s = interval_stats(GPU, Snapshot(5.0, t), Snapshot(5.1, t), Extremes(), 0.3)
    assert s.utilization_mean is None and s.utilization_source == "none"
    assert s.energy_joules is None and s.energy_source == "none"


def test_attributes_use_the_conventions_and_omit_unmeasured() -> None:
    t = run_ticks(Totals(), [reading(0.25, 64)] * 2, 0.0, 0.1)
    attrs = interval_stats(GPU, Snapshot(0.0, Totals()), Snapshot(0.2, t), Extremes(),
                           0.3).attributes()
    assert set(attrs) <= set(c.ATTRIBUTES)
    assert attrs[c.HW_KIND] == "gpu" and attrs[c.HW_COUNT] == 2.0
    assert attrs[c.UTILIZATION_MEAN] == pytest.approx(0.25)
    assert attrs[c.UTILIZATION_SOURCE] == "nvml" and attrs[c.ENERGY_SOURCE] == "none"
    assert c.ENERGY_JOULES not in attrs and c.POWER_MEAN_W not in attrs
    assert None not in attrs.values()
