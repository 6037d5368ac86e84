"""The psutil path on this machine's real CPUs (no GPU here): lifecycle, utilization, memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from sampling_helpers import ticks, wait_for, wait_ticks

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.host import effective_cpu_count
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.sampling import IntervalStats, Sampler, cpu, get_sampler
from mlcost_sdk.sampling.sampler import THREAD_NAME

NewSampler = Callable[..., Sampler]


def sampler_threads() -> int:
    return sum(t.name == THREAD_NAME for t in threading.enumerate())


def burn(cpu_seconds: float) -> None:
    """Spin until this thread got ``cpu_seconds`` of CPU, however busy the machine is."""
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


@pytest.mark.slow  # a fresh Python process
def test_import_starts_nothing() -> None:
    code = ("import sys, threading, mlcost_sdk.sampling as s; s.get_sampler(); "
            "print(threading.active_count(), 'pynvml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["1", "False"]


def test_thread_starts_on_first_acquire_and_stops_on_last_release(
        new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.02)
    before = sampler_threads()
    assert not s.running
    s.acquire()
    s.acquire()
    assert s.running and sampler_threads() == before + 1
    wait_ticks(s, 2)
    s.release()
    assert s.running
    s.release()
    assert not s.running
    wait_for(lambda: sampler_threads() == before)  # release() waits at most 1 s for the join
    ticks = s.snapshot().totals.ticks
    time.sleep(0.1)
    assert s.snapshot().totals.ticks == ticks  # stopped means stopped
    s.acquire()  # and it starts again
    wait_ticks(s, 2)


def test_cpu_host_description(new_sampler: NewSampler) -> None:
    s = new_sampler()
    assert (s.source, s.hw_kind, s.devices) == ("psutil", "cpu", [])
    assert s.hw_count == effective_cpu_count()
    assert s.hw_model == cpu.cpu_model_name()
    if Path("/proc/cpuinfo").is_file():
        assert s.hw_model and s.hw_model in Path("/proc/cpuinfo").read_text()


def tracked(s: Sampler, work: Callable[[], None]) -> tuple[IntervalStats, float]:
    """Stats of ``work``, and the process CPU share psutil reports for the same window."""
    proc = psutil.Process()
    cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
    with s.track() as tracker:
        work()
    cpu1, t1 = sum(proc.cpu_times()[:2]), time.monotonic()
    return tracker.close(), (cpu1 - cpu0) / ((t1 - t0) * effective_cpu_count())


def test_process_utilization_follows_real_cpu_work(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.05)
    s.acquire()
    wait_ticks(s, 2)
    idle, _ = tracked(s, lambda: time.sleep(0.5))

    def busy() -> None:
        worker = threading.Thread(target=burn, args=(0.5,))
        worker.start()
        worker.join()
        wait_ticks(s, 5)  # ticks inside the window, however starved the sampler thread was

    hot, independent = tracked(s, busy)
    assert idle.utilization_mean is not None and hot.utilization_mean is not None
    # however long a loaded machine took for the 0.5 CPU-seconds, they show, against ~0 idle
    assert hot.utilization_mean - idle.utilization_mean > independent / 2
    # the share psutil reports for the same window, up to the tick edges
    assert hot.utilization_mean == pytest.approx(independent, abs=0.1)
    assert hot.utilization_max is not None and hot.utilization_p95 is not None
    assert hot.utilization_p95 <= hot.utilization_max
    assert hot.utilization_mean <= hot.utilization_max
    assert hot.samples >= 5 and hot.utilization_source == "psutil"
    assert hot.energy_joules is None and hot.energy_source == "none"


def test_host_cpu_utilization(new_sampler: NewSampler, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu, "_HOST_PERIOD_S", 0.0)  # read /proc/stat every tick, not each 1 s
    s = new_sampler(interval=0.02)
    s.acquire()
    wait_ticks(s, 1)
    a = s.snapshot()
    burn(0.2)
    stats = s.between(a, s.snapshot())
    assert stats.system_utilization_mean is not None
    # at least most of the CPU this process burned: one of the host CPUs while it ran (the
    # ticks at either edge of the interval straddle the burn, so allow for dilution there)
    assert 0.6 / psutil.cpu_count() <= stats.system_utilization_mean <= 1.0
    assert stats.attributes()[c.UTILIZATION_SYSTEM_MEAN] == stats.system_utilization_mean


def test_memory_peak_is_the_rss_peak(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.02)
    s.acquire()
    wait_ticks(s, 1)
    rss0 = psutil.Process().memory_info().rss
    size = 96 * 2**20

    def allocate() -> None:
        block = b"\x01" * size  # touched, so resident
        wait_ticks(s, 3)
        del block

    stats, _ = tracked(s, allocate)
    assert stats.memory_peak_bytes is not None
    assert stats.memory_peak_bytes >= rss0 + 0.8 * size
    assert stats.attributes()[c.MEMORY_PEAK_BYTES] == stats.memory_peak_bytes


def test_between_snapshots(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.02)
    s.acquire()
    wait_ticks(s, 1)
    proc = psutil.Process()
    cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
    a = s.snapshot()
    burn(0.3)
    wait_ticks(s, 3)
    stats = s.between(a, s.snapshot())
    independent = (sum(proc.cpu_times()[:2]) - cpu0) / ((time.monotonic() - t0) * s.hw_count)
    assert stats.samples >= 3 and stats.utilization_mean is not None
    assert stats.utilization_mean > independent / 2 > 0
    assert stats.utilization_mean == pytest.approx(independent, abs=0.1)


def test_span_shorter_than_a_tick(new_sampler: NewSampler) -> None:
    clock = ManualClock()
    s = new_sampler(interval=1.0, clock=clock.monotonic)
    ticks(s, clock, 2, every_s=1.0)  # baseline, then one reading with a utilization
    a = s.snapshot()
    clock.advance(0.5)
    stats = s.between(a, s.snapshot())
    latest = s.snapshot().totals.latest
    assert latest is not None
    assert stats.samples == 0 and stats.utilization_mean == latest.utilization
    clock.advance(2.6)  # 3 intervals after the last reading: stale
    stale = s.between(a, s.snapshot())  # stopped: the old reading is not passed off as now
    assert stale.utilization_mean is None and stale.utilization_source == "none"


def test_set_interval_validates_and_applies_mid_wait(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=60.0)
    bads: tuple[Any, ...] = (0, -1.0, 0.0001, 7200, float("nan"), "fast", True)  # some ill-typed
    for bad in bads:
        with pytest.raises(InvalidParameterError) as err:
            s.set_interval(bad)
        assert err.value.parameter == "interval"
    with pytest.raises(InvalidParameterError):
        Sampler(interval=0)
    s.acquire()
    wait_ticks(s, 1)  # the baseline; the next tick is a minute away
    s.set_interval(0.01)
    wait_ticks(s, 5, timeout=30)  # far sooner than the minute the old interval would take


def test_release_without_acquire_is_counted_not_raised(new_sampler: NewSampler) -> None:
    s = new_sampler()
    s.release()
    assert s.errors == 1 and not s.running


def test_trackers_from_many_threads(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.002)
    s.acquire()
    failures: list[BaseException] = []
    results: list[IntervalStats] = []

    def worker() -> None:
        try:
            for _ in range(40):
                tracker = s.track()
                time.sleep(0.001)
                results.append(tracker.close())
                assert tracker.close() is results[-1]  # closing twice is harmless
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(results) == 16 * 40
    assert all(r.hw_kind == "cpu" for r in results)
    assert not list(s._trackers)  # every closed tracker is unregistered
    assert s.errors == 0


def test_tracker_memory_does_not_grow_with_ticks(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.001)
    s.acquire()
    tracker = s.track()
    wait_ticks(s, 200)
    hist = tracker.extremes.histogram
    assert len(hist.bins) == 101 and hist.count >= 150
    stats = tracker.close()
    assert stats.samples >= 200


def test_fork_child_restarts_the_sampler(new_sampler: NewSampler) -> None:
    s = new_sampler(interval=0.02)
    s.acquire()
    wait_ticks(s, 1)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only the forking thread survived, the sampler's did not
        status = 1
        try:
            wait_ticks(s, 3)
            os.write(write_end, f"{s.running} {sampler_threads()}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.read(read_end, 100).decode() == "True 1"
    assert os.waitstatus_to_exitcode(status) == 0
    wait_for(lambda: s.running)  # the parent's sampler is untouched


def test_shared_sampler_is_one_instance() -> None:
    assert get_sampler() is get_sampler()


def test_rss_is_read_from_a_kept_descriptor_and_follows_real_allocations() -> None:
    backend = cpu.PsutilBackend()
    before = backend.read(None).memory_bytes
    assert before is not None
    assert abs(before - psutil.Process().memory_info().rss) < 16 * 2**20
    block = bytearray(256 * 2**20)  # touched: resident, not just reserved
    block[::4096] = b"x" * len(block[::4096])
    after = backend.read(None).memory_bytes
    assert after is not None and after - before > 200 * 2**20
    del block
