"""The process-wide hardware sampler: one lazy, reference-counted daemon thread.

Nothing starts at import. The first ``acquire()`` starts the thread, which opens NVML (or
psutil when there is no usable GPU) and reads every ``interval`` seconds; the last
``release()`` stops it. Readers never wait on a driver: each tick publishes an immutable
``Totals``, so ``snapshot()`` is one attribute read, and the lock guarding trackers is held
only to fold a finished reading in, never across a driver query.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from .. import _validate as v
from .. import conventions as c
from ..errors import InvalidParameterError
from ..guard import Lazy
from ..host import effective_cpu_count
from .cpu import PsutilBackend, cpu_model_name
from .errorlog import ErrorLog
from .nvml import NvmlBackend
from .readings import (
    EMPTY_READING,
    Backend,
    DeviceInfo,
    DeviceReading,
    HwKind,
    Reading,
    UtilizationSource,
)
from .stats import Extremes, HardwareMeta, IntervalStats, Snapshot, Totals, interval_stats

logger = logging.getLogger("mlcost_sdk.sampling")

THREAD_NAME = "mlcost-sampler"
DEFAULT_INTERVAL_S = 0.1
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.001, 3600.0  # configure(sample_interval_s=) checks these too
_JOIN_TIMEOUT_S = 1.0
_STALE_AFTER_INTERVALS = 3  # an older reading no longer stands for "now"
# The last readings, kept so between() can give a span its max, p95 and peak memory without
# registering it: a fixed ring (about 100 s at 10 Hz), so memory stays constant.
_RECENT_TICKS = 1024
# What a span that saw no tick implies about itself (see runtime/_process.py, which adds them)
_IMPLIED_WITHOUT_TICKS = frozenset({c.UTILIZATION_SAMPLES, c.UTILIZATION_SOURCE,
                                    c.ENERGY_SOURCE})


class _Unmeasured:
    """The backend of last resort when even psutil fails: the CPU count, no readings."""

    source: UtilizationSource = "none"
    hw_kind: HwKind = "cpu"

    def __init__(self, share: float = 1.0) -> None:
        self.hw_count = effective_cpu_count() * share
        self.hw_model = cpu_model_name()
        self.devices: tuple[DeviceInfo, ...] = ()

    def read(self, dt: float | None) -> Reading:
        return EMPTY_READING


class _Run:
    """One life of the sampling thread; a thread only ever publishes for its own run."""

    __slots__ = ("wake", "stopped", "thread")

    def __init__(self, target: Any) -> None:
        self.wake = threading.Event()  # stop, or a new interval
        self.stopped = False
        self.thread = threading.Thread(target=target, args=(self,), name=THREAD_NAME,
                                       daemon=True)


class Tracker:
    """Streaming max/p95/peak-memory for one interval; updated each tick, O(1) memory."""

    __slots__ = ("__weakref__", "_sampler", "start", "extremes", "_result")

    def __init__(self, sampler: Sampler, start: Snapshot) -> None:
        self._sampler = sampler
        self.start = start
        self.extremes = Extremes()
        self._result: IntervalStats | None = None

    def close(self) -> IntervalStats:
        """Stop tracking and return the interval's statistics (again on later calls)."""
        if self._result is None:
            self._result = self._sampler._close(self)
        return self._result

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Sampler:
    """Samples the hardware this process uses. Use the shared ``get_sampler()`` instance.

    ``nvml`` replaces the nvidia-ml-py module (tests pass a double); None imports ``pynvml``.
    Hold ``acquire()`` while you need readings: snapshots and trackers taken while the
    thread is stopped see no ticks.
    """

    def __init__(self, *, nvml: Any = None, interval: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._nvml = nvml
        self._interval = checked_interval(interval)
        self._lock = threading.Lock()  # refs, run, trackers, and publishing totals
        self._init_lock = threading.Lock()  # opening the backend
        self._backend: Backend | None = None
        self._meta: HardwareMeta | None = None
        self._gpus: str | None = None  # limit_to(): this process's GPUs
        self._cpu_share = 1.0  # limit_to(): this process's share of the CPUs
        self._refs = 0
        self._run: _Run | None = None
        self._resume_in_child = False
        self._trackers: weakref.WeakSet[Tracker] = weakref.WeakSet()
        self._totals = Totals()
        self._recent: list[Reading | None] = [None] * _RECENT_TICKS  # by tick number
        # span_attributes()' reading of the current tick: (totals, fresh, attributes, the same
        # without what no tick implies, power)
        self._current: tuple[Totals, bool, dict[str, Any], dict[str, Any],
                             float | None] | None = None
        self.error_log = ErrorLog()
        self._clock = clock
        self._last_manual_tick: float | None = None  # tick(): the previous reading's time
        this = weakref.ref(self)

        def after_fork() -> None:
            sampler = this()
            if sampler is not None:
                sampler._after_fork_in_child()

        os.register_at_fork(after_in_child=after_fork)

    # --- what is sampled ----------------------------------------------------------------------
    @property
    def source(self) -> UtilizationSource:
        return self._backend_now().source

    @property
    def hw_kind(self) -> HwKind:
        return self._backend_now().hw_kind

    @property
    def hw_count(self) -> float:
        return self._backend_now().hw_count

    @property
    def hw_model(self) -> str | None:
        return self._backend_now().hw_model

    @property
    def devices(self) -> list[DeviceInfo]:
        return list(self._backend_now().devices)

    @property
    def cpu_share(self) -> float:
        """The fraction of the CPUs this process is priced for (see ``limit_to``)."""
        return self._cpu_share

    def limit_to(self, *, gpus: str | None = None, cpu_share: float = 1.0) -> bool:
        """Sample and price only this process's part of the host, e.g. one torchrun rank's:
        ``gpus`` names its GPUs as CUDA_VISIBLE_DEVICES does (UUID prefixes or NVML indices);
        ``cpu_share`` is its fraction of the CPUs, for ranks sharing a CPU host. Applies when
        the backend opens: False, and nothing changed, if it is open already."""
        if not 0 < cpu_share <= 1:
            raise InvalidParameterError("cpu_share", cpu_share, "a fraction in (0, 1]")
        with self._init_lock:
            if self._backend is not None:
                return False
            self._gpus, self._cpu_share = gpus, float(cpu_share)
            return True

    @property
    def errors(self) -> int:
        """Driver and sampling errors swallowed so far (each kind is logged once)."""
        return self.error_log.total

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def running(self) -> bool:
        return self._run is not None

    # --- lifecycle ----------------------------------------------------------------------------
    def acquire(self) -> None:
        """Declare a user; the first one starts the sampling thread."""
        with self._lock:
            self._refs += 1
            self._resume_in_child = False
            if self._run is None:
                self._start_locked()

    def release(self) -> None:
        """Drop a user; the last one stops the thread (waiting at most a second)."""
        with self._lock:
            if self._refs == 0:
                self.error_log.report("release() without acquire()", RuntimeError("unbalanced"))
                return
            self._refs -= 1
            run = self._run
            if self._refs or run is None:
                return
            self._run = None
            run.stopped = True
        run.wake.set()
        if run.thread is not threading.current_thread():
            run.thread.join(_JOIN_TIMEOUT_S)

    def tick(self) -> None:
        """Take one reading now, in the calling thread, when no thread samples (not acquired).

        For tests and simulations that drive time themselves (``clock=``): each reading is
        published before this returns, so nothing depends on a thread being scheduled."""
        if self._run is not None:
            return  # the thread owns the readings; a second writer would skew its deltas
        backend = self._backend_now()
        now, last = self._clock(), self._last_manual_tick
        self._last_manual_tick = now
        self._tick(None, backend, now, None if last is None else now - last)

    def set_interval(self, seconds: float) -> None:
        """Seconds between readings (0.001 to 3600); takes effect at once, even mid-wait."""
        seconds = checked_interval(seconds)
        if seconds != self._interval:
            self._interval = seconds
            run = self._run
            if run is not None:
                run.wake.set()

    # --- readers ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The cumulative totals now: O(1), no lock, nothing registered."""
        if self._resume_in_child:
            self._resume()
        return Snapshot(self._clock(), self._totals)

    def between(self, a: Snapshot, b: Snapshot) -> IntervalStats:
        """Statistics between two snapshots: means and energy from the totals; max, p95 and
        peak memory from the ticks inside, while they are still among the recent readings (a
        span shorter than a tick gets means only, from the reading current at its end)."""
        return interval_stats(self._hardware(), a, b, self._recent_extremes(a, b),
                              self._stale_after_s())

    def span_attributes(self, a: Snapshot, b: Snapshot, *, implied: bool = True
                        ) -> dict[str, Any]:
        """``between(a, b).attributes(hardware=False)``, cheaply for the common case of a
        span that saw no tick (most requests are shorter than one): the reading current at
        its end stands for it, and that reading's attributes are built once per tick.
        ``implied=False`` leaves out, for such a span, what its having no tick implies (zero
        samples, the sources), for spans that get them added on export."""
        totals = b.totals
        if a.totals is not totals:
            return self.between(a, b).attributes(hardware=False)
        fresh = b.time - totals.time <= self._stale_after_s()
        cached = self._current
        if cached is None or cached[0] is not totals or cached[1] is not fresh:
            at = Snapshot(totals.time if fresh else b.time, totals)
            stats = interval_stats(self._hardware(), at, at, None, self._stale_after_s())
            attrs = stats.attributes(hardware=False)
            attrs.pop(c.ENERGY_JOULES, None)  # the span's own duration, below
            bare = {k: v for k, v in attrs.items() if k not in _IMPLIED_WITHOUT_TICKS}
            cached = self._current = (totals, fresh, attrs, bare, stats.power_mean_w)
        attrs = dict(cached[2] if implied else cached[3])
        if cached[4] is not None:
            attrs[c.ENERGY_JOULES] = cached[4] * max(0.0, b.time - a.time)
        return attrs

    def _recent_extremes(self, a: Snapshot, b: Snapshot) -> Extremes | None:
        first, last = a.totals.ticks + 1, b.totals.ticks
        if last < first or self._totals.ticks - first >= _RECENT_TICKS - 1:
            return None
        recent = self._recent
        extremes = Extremes()
        for tick in range(first, last + 1):
            reading = recent[tick % _RECENT_TICKS]
            if reading is not None:
                extremes.add(reading)
        # the ring may have wrapped while we read (a stall of ~100 s): then trust nothing
        return extremes if self._totals.ticks - first < _RECENT_TICKS - 1 else None

    def track(self) -> Tracker:
        """Start a streaming aggregate (max, p95, peak memory too); ``close()`` it when done."""
        if self._resume_in_child:
            self._resume()
        with self._lock:
            tracker = Tracker(self, Snapshot(self._clock(), self._totals))
            self._trackers.add(tracker)
        return tracker

    def latest(self) -> tuple[DeviceReading, ...]:
        """Each GPU's most recent reading, or nothing when there is no current one."""
        if self._resume_in_child:
            self._resume()
        totals = self._totals
        if totals.latest is None or self._clock() - totals.time > self._stale_after_s():
            return ()
        return totals.latest.devices

    # --- internals ----------------------------------------------------------------------------
    def _close(self, tracker: Tracker) -> IntervalStats:
        with self._lock:
            self._trackers.discard(tracker)
            end = Snapshot(self._clock(), self._totals)
        return interval_stats(self._hardware(), tracker.start, end, tracker.extremes,
                              self._stale_after_s())

    def _stale_after_s(self) -> float:
        return _STALE_AFTER_INTERVALS * self._interval

    def _hardware(self) -> HardwareMeta:
        meta = self._meta
        if meta is None:
            b = self._backend_now()
            meta = self._meta = HardwareMeta(b.hw_kind, b.hw_count, b.hw_model, b.source)
        return meta

    def _backend_now(self) -> Backend:
        """The backend, opened on first need (NVML's init is a one-time cost)."""
        backend = self._backend
        if backend is None:
            with self._init_lock:
                if self._backend is None:
                    self._backend = self._open_backend()
                backend = self._backend
        return backend

    def _open_backend(self) -> Backend:
        try:
            nvml = self._nvml if self._nvml is not None else importlib.import_module("pynvml")
            return NvmlBackend(nvml, self.error_log, visible=self._gpus)
        except Exception as exc:  # noqa: BLE001 - no GPU is the normal case on CPU hosts
            logger.info("mlcost sampling: no NVML GPU (%r); sampling CPUs with psutil", exc)
        try:
            return PsutilBackend(share=self._cpu_share)
        except Exception as exc:  # noqa: BLE001
            self.error_log.report("psutil unavailable", exc)
            return _Unmeasured(share=self._cpu_share)

    def _start_locked(self) -> None:
        self._run = _Run(self._loop)
        self._run.thread.start()

    def _loop(self, run: _Run) -> None:
        try:
            backend = self._backend_now()
        except Exception as exc:  # noqa: BLE001 - the thread must end quietly
            self.error_log.report("opening the sampling backend", exc)
            return
        last = self._clock()
        self._tick(run, backend, last, None)  # the baseline every later delta starts from
        while not run.stopped:
            delay = last + self._interval - self._clock()
            if delay > 0 and run.wake.wait(delay):
                run.wake.clear()  # stopped, or a new interval: re-check both
                continue
            now = self._clock()
            self._tick(run, backend, now, now - last)
            last = now

    def _tick(self, run: _Run | None, backend: Backend, now: float, dt: float | None) -> None:
        try:
            reading = backend.read(dt)  # no lock held: readers never wait on a driver
        except Exception as exc:  # noqa: BLE001
            self.error_log.report(f"{backend.source} read", exc)
            return
        with self._lock:
            if self._run is not run:  # stopped or started while reading (or the join timed out)
                return
            self._totals = self._totals.add(reading, now, dt)
            self._recent[self._totals.ticks % _RECENT_TICKS] = reading
            for tracker in self._trackers:
                tracker.extremes.add(reading)

    def _after_fork_in_child(self) -> None:
        # Locks may have been held by threads that do not exist here, and NVML handles do
        # not survive a fork: start over, and restart the thread on the child's first use.
        self._lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._trackers = weakref.WeakSet(list(self._trackers))
        self._backend = None
        self._meta = None
        self._run = None
        self._resume_in_child = self._refs > 0

    def _resume(self) -> None:
        with self._lock:
            if self._resume_in_child and self._run is None:
                self._start_locked()
            self._resume_in_child = False


def checked_interval(seconds: object, name: str = "interval") -> float:
    """The one rule for a sampling interval: the sampler's own and ``configure()``'s."""
    return v.in_range(name, seconds, MIN_INTERVAL_S, MAX_INTERVAL_S, "seconds")


_shared: Lazy[Sampler] = Lazy(Sampler)


def get_sampler() -> Sampler:
    """The process-wide sampler, created on first call (it starts nothing until acquired)."""
    return _shared.get()


@contextmanager
def use_sampler(sampler: Sampler) -> Iterator[Sampler]:
    """Make ``sampler`` (e.g. one on a test double or a manual clock) the process-wide sampler
    inside the block; the previous one comes back after, and ``sampler``'s thread is stopped."""
    global _shared
    previous, _shared = _shared, Lazy(lambda: sampler)
    try:
        yield sampler
    finally:
        _shared = previous
        while sampler.running:  # users that never released it (a run left open)
            sampler.release()
