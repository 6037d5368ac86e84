"""Facts about the host this process runs on, read from the OS and shared by the catalog (a CPU's
peak) and sampling (a CPU's share): how many CPUs this process may really use (affinity, then the
container's cgroup quota)."""

from __future__ import annotations

import math
import os
from pathlib import Path

_CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = _CGROUP_ROOT) -> float | None:
    """CPUs granted by the cgroup quota (v2 ``cpu.max`` or v1 CFS files), or None if unlimited."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            if quota == "max":
                return None
            return int(quota) / int(period or "100000")
        v1_quota = root / "cpu" / "cpu.cfs_quota_us"
        if v1_quota.is_file():
            quota_us = int(v1_quota.read_text())
            period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
            return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None
    return None


def effective_cpu_count(root: Path = _CGROUP_ROOT) -> float:
    """CPUs available to this process: min(affinity mask, cgroup quota); may be fractional."""
    try:
        count = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        count = float(os.cpu_count() or 1)
    quota = cgroup_cpu_quota(root)
    if quota is not None and quota > 0:
        count = min(count, quota)
    return max(count, 0.01)


def effective_cpu_cores(root: Path = _CGROUP_ROOT) -> int:
    """Whole cores for peak-FLOP/s purposes: the effective CPU count rounded up."""
    return max(1, math.ceil(effective_cpu_count(root) - 1e-9))
