"""hw.* metrics through the real OpenTelemetry SDK (InMemoryMetricReader) over FakeNvml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pynvml
from fake_nvml import FakeGpu, FakeNvml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    InMemoryMetricReader,
    Sum,
)
from sampling_helpers import ticks, wait_for, wait_ticks

from mlcost_sdk import conventions as c
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.sampling import Sampler
from mlcost_sdk.sampling.metrics import register_hw_metrics

NewSampler = Callable[..., Sampler]

UUID_A = "GPU-aaaa1111-0000-0000-0000-000000000000"
UUID_B = "GPU-bbbb2222-0000-0000-0000-000000000000"


def collect(sampler: Sampler) -> dict[str, Any]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])  # never set as the global provider
    register_hw_metrics(provider.get_meter(c.INSTRUMENTATION_SCOPE), sampler)
    data = reader.get_metrics_data()
    provider.shutdown()
    metrics = [m for rm in (data.resource_metrics if data else [])
               for sm in rm.scope_metrics for m in sm.metrics]
    return {m.name: m for m in metrics}


def test_gpu_metrics_follow_the_hardware_semconv(new_sampler: NewSampler) -> None:
    clock = ManualClock()  # readings stay current however long the collection takes
    gpus = [FakeGpu(UUID_A, utilization_pct=25, power_w=300.0, clock=clock.monotonic),
            FakeGpu(UUID_B, name="NVIDIA L4", utilization_pct=75, power_w=70.0,
                    memory_total=24 * 2**30, clock=clock.monotonic)]
    s = new_sampler(nvml=FakeNvml(gpus), interval=0.01, clock=clock.monotonic)
    ticks(s, clock, 2)
    metrics = collect(s)
    assert set(metrics) == {c.METRIC_GPU_UTILIZATION, c.METRIC_GPU_MEMORY_USAGE,
                            c.METRIC_GPU_MEMORY_LIMIT, c.METRIC_POWER, c.METRIC_ENERGY}
    for name, metric in metrics.items():
        assert metric.unit == c.METRICS[name].unit
    assert isinstance(metrics[c.METRIC_GPU_UTILIZATION].data, Gauge)
    assert isinstance(metrics[c.METRIC_POWER].data, Gauge)
    usage, energy = metrics[c.METRIC_GPU_MEMORY_USAGE].data, metrics[c.METRIC_ENERGY].data
    assert isinstance(usage, Sum) and not usage.is_monotonic
    assert isinstance(energy, Sum) and energy.is_monotonic

    def by_device(name: str) -> dict[str, float]:
        points = metrics[name].data.data_points
        for p in points:
            assert p.attributes[c.HW_TYPE] == "gpu" and p.attributes[c.HW_VENDOR] == "NVIDIA"
        return {p.attributes[c.HW_ID]: p.value for p in points}

    assert by_device(c.METRIC_GPU_UTILIZATION) == {UUID_A: 0.25, UUID_B: 0.75}
    assert by_device(c.METRIC_GPU_MEMORY_LIMIT) == {UUID_A: 80 * 2**30, UUID_B: 24 * 2**30}
    assert by_device(c.METRIC_GPU_MEMORY_USAGE) == {UUID_A: 2**30, UUID_B: 2**30}
    assert by_device(c.METRIC_POWER) == {UUID_A: 300.0, UUID_B: 70.0}
    energy_j = by_device(c.METRIC_ENERGY)
    assert energy_j.keys() == {UUID_A, UUID_B} and energy_j[UUID_A] > energy_j[UUID_B] > 0
    names = {p.attributes[c.HW_NAME] for p in metrics[c.METRIC_POWER].data.data_points}
    assert names == {"NVIDIA H100 80GB HBM3", "NVIDIA L4"}


def test_a_lost_gpu_leaves_the_metrics(new_sampler: NewSampler) -> None:
    lost = FakeGpu(UUID_A)
    clock = ManualClock()
    s = new_sampler(nvml=FakeNvml([lost, FakeGpu(UUID_B)]), interval=0.01, clock=clock.monotonic)
    ticks(s, clock, 2)
    lost.lost = True
    ticks(s, clock, 1)
    points = collect(s)[c.METRIC_POWER].data.data_points
    assert [p.attributes[c.HW_ID] for p in points] == [UUID_B]


def test_cpu_host_exports_no_hw_metrics(new_sampler: NewSampler) -> None:
    nvml = FakeNvml([FakeGpu(UUID_A)], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    clock = ManualClock()
    s = new_sampler(nvml=nvml, interval=0.01, clock=clock.monotonic)
    ticks(s, clock, 2)  # current readings: nothing is left out for being stale
    assert s.hw_kind == "cpu" and s.snapshot().totals.latest is not None
    assert collect(s) == {}


def test_no_readings_while_the_sampler_is_stopped(new_sampler: NewSampler) -> None:
    s = new_sampler(nvml=FakeNvml([FakeGpu(UUID_A)]), interval=0.01)
    assert collect(s) == {}  # never acquired: nothing read, nothing exported
    s.acquire()
    wait_ticks(s, 1)
    s.release()
    wait_for(lambda: not s.latest())  # stale readings are not exported as current
    assert collect(s) == {}
