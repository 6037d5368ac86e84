"""Hardware sampling: one shared background thread reading NVML GPUs, or CPUs through psutil."""

from .readings import DeviceInfo, DeviceReading, Reading
from .sampler import Sampler, Tracker, get_sampler, use_sampler
from .stats import IntervalStats, Snapshot

__all__ = [
    "DeviceInfo",
    "DeviceReading",
    "IntervalStats",
    "Reading",
    "Sampler",
    "Snapshot",
    "Tracker",
    "get_sampler",
    "use_sampler",
]
