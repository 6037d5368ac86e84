"""The NVML path, against the FakeNvml test double (these machines have no NVIDIA GPU)."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable

import pynvml
import pytest
from fake_nvml import FakeGpu, FakeNvml, mig_slice
from sampling_helpers import ticks, wait_for, wait_ticks

from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.sampling import Sampler
from mlcost_sdk.sampling.nvml import visible_handles

NewSampler = Callable[..., Sampler]

UUID_A = "GPU-aaaa1111-0000-0000-0000-000000000000"
UUID_B = "GPU-bbbb2222-0000-0000-0000-000000000000"
UUID_C = "GPU-bbbb3333-0000-0000-0000-000000000000"


def three_gpus() -> FakeNvml:
    return FakeNvml([FakeGpu(UUID_A), FakeGpu(UUID_B, name="NVIDIA L4", memory_total=24 * 2**30),
                     FakeGpu(UUID_C)])


def test_every_gpu_when_cuda_visible_devices_is_unset(new_sampler: NewSampler) -> None:
    s = new_sampler(nvml=three_gpus())
    assert (s.source, s.hw_kind, s.hw_count) == ("nvml", "gpu", 3.0)
    assert [(d.index, d.uuid) for d in s.devices] == [(0, UUID_A), (1, UUID_B), (2, UUID_C)]
    assert s.devices[1].name == "NVIDIA L4" and s.devices[1].memory_total_bytes == 24 * 2**30
    assert s.hw_model == "NVIDIA H100 80GB HBM3 + NVIDIA L4"


@pytest.mark.parametrize(("spec", "expected"), [
    ("1", [UUID_B]),
    ("2,0", [UUID_C, UUID_A]),  # CUDA's order, and ordinals renumbered from 0
    (UUID_B, [UUID_B]),
    ("GPU-aaaa", [UUID_A]),  # a unique UUID prefix, as CUDA accepts
    ("GPU-bbbb,0", []),  # an ambiguous prefix stops parsing, like CUDA
    ("0, 1", [UUID_A, UUID_B]),
    ("0,7,1", [UUID_A]),  # an index out of range stops parsing
    ("1,bogus,0", [UUID_B]),
    ("0,0", [UUID_A]),
])
def test_cuda_visible_devices_by_index_and_uuid(spec: str, expected: list[str]) -> None:
    nvml = three_gpus()
    nvml.nvmlInit()
    assert [h.uuid for h in visible_handles(nvml, spec)] == expected


def test_visible_devices_are_renumbered_and_matched_by_uuid(
        new_sampler: NewSampler, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-aaaa")
    s = new_sampler(nvml=three_gpus())
    assert [(d.index, d.uuid) for d in s.devices] == [(0, UUID_C), (1, UUID_A)]
    assert s.hw_count == 2.0


@pytest.mark.parametrize("spec", ["", "-1", "none"])
def test_no_visible_gpu_falls_back_to_psutil(new_sampler: NewSampler,
                                             monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", spec)
    nvml = three_gpus()
    s = new_sampler(nvml=nvml)
    assert (s.source, s.hw_kind, s.devices) == ("psutil", "cpu", [])
    assert not nvml.initialized  # NVML was shut down again
    assert s.errors == 0  # a CPU-only process is normal


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
                                  pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
                                  pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH])
def test_init_failure_falls_back_to_psutil(new_sampler: NewSampler, code: int) -> None:
    s = new_sampler(nvml=FakeNvml([FakeGpu(UUID_A)], init_error=code), interval=0.01)
    assert (s.source, s.hw_kind) == ("psutil", "cpu")
    s.acquire()
    wait_ticks(s, 3)
    assert s.between(s.snapshot(), s.snapshot()).utilization_source in ("psutil", "none")
    assert s.errors == 0


def test_mig_slice_records_what_is_available(new_sampler: NewSampler,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    mig = mig_slice("MIG-1234abcd-0000-0000-0000-000000000000")
    parent = FakeGpu(UUID_A, name="NVIDIA A100-SXM4-80GB", migs=[mig])
    nvml = FakeNvml([parent, FakeGpu(UUID_B)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-1234")
    clock = ManualClock()
    s = new_sampler(nvml=nvml, interval=0.01, clock=clock.monotonic)
    assert [d.uuid for d in s.devices] == [mig.uuid]
    assert s.devices[0].memory_total_bytes == 10 * 2**30
    with s.track() as tracker:
        ticks(s, clock, 5)
    stats = tracker.close()
    assert stats.utilization_mean is None and stats.utilization_source == "none"
    assert stats.energy_joules is None and stats.energy_source == "none"
    assert stats.memory_peak_bytes == 2**30
    assert s.errors == 0  # NotSupported is normal, not an error
    # and an unsupported query is not asked again every tick
    assert nvml.calls["nvmlDeviceGetUtilizationRates"] == 1
    (reading,) = s.latest()
    assert reading.memory_used_bytes == 2**30 and reading.power_w is None


def test_energy_from_counter_deltas(new_sampler: NewSampler) -> None:
    clock = ManualClock()
    nvml = FakeNvml([FakeGpu(UUID_A, power_w=300.0, clock=clock.monotonic),
                     FakeGpu(UUID_B, power_w=100.0, clock=clock.monotonic)])
    s = new_sampler(nvml=nvml, interval=0.02, clock=clock.monotonic)
    ticks(s, clock, 2, every_s=0.02)
    with s.track() as tracker:
        ticks(s, clock, 20, every_s=0.02)
    stats = tracker.close()
    assert stats.energy_source == "nvml_counter"
    assert stats.power_mean_w == pytest.approx(400.0)
    assert stats.energy_joules == pytest.approx(400.0 * 20 * 0.02)  # the fake's mJ rounding


def test_energy_integrates_power_without_a_counter(new_sampler: NewSampler) -> None:
    gpu = FakeGpu(UUID_A, power_w=250.0, unsupported={"nvmlDeviceGetTotalEnergyConsumption"})
    s = new_sampler(nvml=FakeNvml([gpu]), interval=0.02)
    s.acquire()
    wait_ticks(s, 2)
    a = s.snapshot()
    wait_ticks(s, 10)
    stats = s.between(a, s.snapshot())
    assert stats.energy_source == "nvml_power"
    assert stats.power_mean_w == pytest.approx(250.0)
    assert s.errors == 0


def test_utilization_memory_and_process_share(new_sampler: NewSampler) -> None:
    cycle = itertools.cycle([20, 80])
    memory = itertools.cycle([3 * 2**30, 5 * 2**30])
    clock = ManualClock()
    gpu = FakeGpu(UUID_A, utilization_pct=lambda: next(cycle), memory_used=lambda: next(memory),
                  process_sm_pct={os.getpid(): 40, os.getpid() + 1: 90}, clock=clock.monotonic)
    s = new_sampler(nvml=FakeNvml([gpu]), interval=0.01, clock=clock.monotonic)
    s.tick()  # the baseline
    with s.track() as tracker:
        ticks(s, clock, 40)
    stats = tracker.close()
    assert stats.utilization_mean == pytest.approx(0.5)  # 20 readings of 80%, 20 of 20%
    assert stats.utilization_max == 0.8 and stats.utilization_p95 == 0.8
    assert stats.memory_peak_bytes == 5 * 2**30
    assert stats.process_utilization_mean == pytest.approx(0.4)  # our PID only
    assert stats.utilization_source == "nvml"
    (reading,) = s.latest()
    assert reading.sm_clock_mhz == 1980 and reading.energy_total_j is not None


def test_a_lost_gpu_does_not_stop_the_others(new_sampler: NewSampler,
                                             caplog: pytest.LogCaptureFixture) -> None:
    lost, healthy = FakeGpu(UUID_A, utilization_pct=0), FakeGpu(UUID_B, utilization_pct=100)
    clock = ManualClock()
    s = new_sampler(nvml=FakeNvml([lost, healthy]), interval=0.01, clock=clock.monotonic)
    ticks(s, clock, 3)
    caplog.set_level(logging.WARNING, logger="mlcost_sdk.sampling")
    lost.lost = True
    ticks(s, clock, 2)
    with s.track() as tracker:
        ticks(s, clock, 20)
    stats = tracker.close()
    assert [r.device.uuid for r in s.latest()] == [UUID_B]
    assert stats.utilization_mean == pytest.approx(1.0)  # only the healthy GPU now
    assert s.errors == 1  # counted once: a lost GPU is not asked again
    assert len([r for r in caplog.records if "lost" in r.getMessage()]) == 1


def test_driver_errors_are_counted_and_logged_once(new_sampler: NewSampler,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    def flaky() -> int:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)

    caplog.set_level(logging.WARNING, logger="mlcost_sdk.sampling")
    s = new_sampler(nvml=FakeNvml([FakeGpu(UUID_A, utilization_pct=flaky)]), interval=0.01)
    s.acquire()
    with s.track() as tracker:
        wait_ticks(s, 10)
    stats = tracker.close()
    assert s.errors >= 10 and len(caplog.records) == 1
    assert stats.utilization_mean is None
    assert stats.energy_source == "nvml_counter"  # the other figures go on


def test_span_shorter_than_a_tick_on_gpu(new_sampler: NewSampler) -> None:
    clock = ManualClock()
    gpu = FakeGpu(UUID_A, power_w=200.0, utilization_pct=70, clock=clock.monotonic)
    s = new_sampler(nvml=FakeNvml([gpu]), interval=5.0, clock=clock.monotonic)
    s.tick()  # the baseline reading
    tracker = s.track()
    clock.advance(0.25)
    stats = tracker.close()
    assert stats.samples == 0 and stats.utilization_mean == pytest.approx(0.7)
    assert stats.energy_source == "nvml_power" and stats.power_mean_w == 200.0
    assert stats.energy_joules == pytest.approx(200.0 * 0.25)  # the current power, integrated


def test_fork_child_initialises_nvml_again(new_sampler: NewSampler) -> None:
    nvml = FakeNvml([FakeGpu(UUID_A)])
    s = new_sampler(nvml=nvml, interval=0.01)
    s.acquire()
    wait_ticks(s, 2)
    assert nvml.init_calls == 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            wait_ticks(s, 3)
            latest = s.snapshot().totals.latest  # not latest(): a stall must not make it stale
            devices = len(latest.devices) if latest is not None else 0
            os.write(write_end, f"{nvml.init_calls} {devices}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.read(read_end, 100).decode() == "2 1"
    assert os.waitstatus_to_exitcode(status) == 0
    assert nvml.init_calls == 1  # the parent's NVML session is untouched
    wait_for(lambda: len(s.latest()) == 1)


def test_between_snapshots_gives_max_p95_and_peak_memory_from_recent_ticks(
        new_sampler: NewSampler) -> None:
    cycle = itertools.cycle([20, 80])
    memory = itertools.cycle([3 * 2**30, 5 * 2**30])
    clock = ManualClock()
    gpu = FakeGpu(UUID_A, utilization_pct=lambda: next(cycle), memory_used=lambda: next(memory),
                  clock=clock.monotonic)
    s = new_sampler(nvml=FakeNvml([gpu]), interval=0.01, clock=clock.monotonic)
    s.tick()
    a = s.snapshot()
    ticks(s, clock, 20)
    stats = s.between(a, s.snapshot())
    assert stats.samples == 20
    assert stats.utilization_mean == pytest.approx(0.5)
    assert stats.utilization_max == 0.8 and stats.utilization_p95 == 0.8
    assert stats.memory_peak_bytes == 5 * 2**30
    # shorter than a tick: the current reading's means only, no extremes
    now = s.snapshot()
    short = s.between(now, now)
    assert short.samples == 0 and short.utilization_max is None


def test_between_gives_no_extremes_once_its_ticks_left_the_recent_ring(
        new_sampler: NewSampler) -> None:
    from mlcost_sdk.sampling import sampler as sampler_module

    clock = ManualClock()
    s = new_sampler(nvml=FakeNvml([FakeGpu(UUID_A)]), interval=0.001, clock=clock.monotonic)
    a = s.snapshot()
    ticks(s, clock, sampler_module._RECENT_TICKS + 5, every_s=0.001)
    stats = s.between(a, s.snapshot())
    assert stats.utilization_mean is not None and stats.utilization_max is None


def test_span_attributes_without_a_tick_equal_between_and_are_built_once(
        new_sampler: NewSampler) -> None:
    """The fast path for spans shorter than a tick gives exactly what between() gives: the
    current reading, energy from its power over the span's own duration, nothing if stale."""
    from mlcost_sdk import conventions as c
    from mlcost_sdk.sampling.stats import Snapshot

    s = new_sampler(nvml=three_gpus(), interval=3600)  # the baseline tick only
    s.acquire()
    wait_ticks(s, 1, timeout=60)
    now = s.snapshot()
    a, b = Snapshot(now.time, now.totals), Snapshot(now.time + 0.25, now.totals)
    fast = s.span_attributes(a, b)
    assert fast == s.between(a, b).attributes(hardware=False)
    assert fast[c.ENERGY_JOULES] == pytest.approx(fast[c.POWER_MEAN_W] * 0.25)
    assert fast[c.UTILIZATION_SAMPLES] == 0 and c.UTILIZATION_MEAN in fast
    again = s.span_attributes(a, Snapshot(now.time + 0.5, now.totals))
    assert again[c.ENERGY_JOULES] == pytest.approx(fast[c.POWER_MEAN_W] * 0.5)
    stale = Snapshot(now.totals.time + 4 * 3600, now.totals)  # three intervals old: stale
    assert s.span_attributes(a, stale) == s.between(a, stale).attributes(hardware=False)
    assert c.UTILIZATION_MEAN not in s.span_attributes(a, stale)
