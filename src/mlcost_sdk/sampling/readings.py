"""What one sampler tick reads: per device, and summed up for the whole process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

HwKind = Literal["gpu", "cpu"]
UtilizationSource = Literal["nvml", "psutil", "none"]
EnergySource = Literal["nvml_counter", "nvml_power", "none"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A GPU visible to this process."""

    index: int  # the CUDA ordinal this process sees (position in CUDA_VISIBLE_DEVICES)
    uuid: str  # "GPU-..." or "MIG-..."; devices are matched by it, never by NVML index
    name: str
    memory_total_bytes: int | None


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """One device at one tick; None wherever the driver does not report the figure."""

    device: DeviceInfo
    utilization: float | None  # fraction of time a kernel was running (not SM occupancy)
    process_utilization: float | None  # this process's SM share, from NVML process samples
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    power_w: float | None
    energy_total_j: float | None  # the driver's cumulative counter (since driver load)
    sm_clock_mhz: int | None


@dataclass(frozen=True, slots=True)
class Reading:
    """One tick for the whole process: devices combined (utilizations averaged, rest summed)."""

    utilization: float | None
    process_utilization: float | None
    system_utilization: float | None
    memory_bytes: int | None
    power_w: float | None
    energy_j: float | None  # used since the previous tick; None on a baseline tick
    energy_source: EnergySource
    devices: tuple[DeviceReading, ...] = ()


EMPTY_READING = Reading(None, None, None, None, None, None, "none")


class Backend(Protocol):
    """A source of readings (NVML, psutil). ``read`` is only ever called from one thread."""

    source: UtilizationSource
    hw_kind: HwKind
    hw_count: float
    hw_model: str | None
    devices: tuple[DeviceInfo, ...]

    def read(self, dt: float | None) -> Reading:
        """Read every figure; ``dt`` is seconds since the previous read (None: a new baseline)."""
        ...
