"""The psutil backend, for hosts without a usable GPU: process CPU time, host CPU, RSS.

Nothing here blocks: utilizations are deltas between two reads, never a psutil ``interval``.
The host figure is computed from ``psutil.cpu_times()`` rather than ``psutil.cpu_percent()``,
whose module-global baseline the host program may be using for its own measurements; it is
read about once a second only, as /proc/stat costs more than everything else in a tick.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from ..host import effective_cpu_count
from .readings import DeviceInfo, HwKind, Reading, UtilizationSource

_HOST_PERIOD_S = 1.0


def cpu_model_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's marketing name ("model name" in /proc/cpuinfo), else platform's guess."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _rss_reader(process: psutil.Process) -> Callable[[], int]:
    """This process's resident set size in bytes. On Linux one pread of /proc/self/statm on a
    descriptor kept open (psutil opens, reads and closes the file: 40% of a tick's CPU). The
    descriptor names this pid: a forked child makes a new backend, so its own."""
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        page = os.sysconf("SC_PAGE_SIZE")

        def statm() -> int:
            return int(os.pread(fd, 128, 0).split()[1]) * page

        statm()
        return statm
    except (OSError, ValueError, IndexError):
        return lambda: int(process.memory_info().rss)


def _host_busy_and_total() -> tuple[float, float]:
    t = psutil.cpu_times()
    # Linux counts guest time inside user/nice already; psutil's cpu_percent drops it too.
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return total - t.idle - getattr(t, "iowait", 0.0), total


class PsutilBackend:
    source: UtilizationSource = "psutil"
    hw_kind: HwKind = "cpu"

    def __init__(self, share: float = 1.0) -> None:
        self._rss = _rss_reader(psutil.Process())
        self.hw_count = effective_cpu_count() * share  # a rank sharing the host: its part
        self.hw_model = cpu_model_name()
        self.devices: tuple[DeviceInfo, ...] = ()
        self._cpu_s = 0.0
        self._host = (0.0, 0.0)
        self._since_host_s = 0.0

    def read(self, dt: float | None) -> Reading:
        cpu_s = time.process_time()  # user + system of every thread, to the nanosecond
        rss = self._rss()
        utilization = system = None
        if dt is not None and dt > 0:
            # CPU seconds over the CPU seconds this process may use (cgroup quota included).
            # Capped at 1: the tick's wall clock and the CPU clock are read a moment apart,
            # which can put a fully busy interval a percent or two over its allotment.
            utilization = min(1.0, (cpu_s - self._cpu_s) / (dt * self.hw_count))
            self._since_host_s += dt
        if dt is None or self._since_host_s >= _HOST_PERIOD_S:
            host = _host_busy_and_total()
            if dt is not None and host[1] > self._host[1]:
                system = (host[0] - self._host[0]) / (host[1] - self._host[1])
            self._host, self._since_host_s = host, 0.0
        self._cpu_s = cpu_s
        return Reading(utilization=utilization, process_utilization=None,
                       system_utilization=system, memory_bytes=rss, power_w=None,
                       energy_j=None, energy_source="none")
