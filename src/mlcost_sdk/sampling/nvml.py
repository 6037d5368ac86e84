"""The NVML backend (nvidia-ml-py): every GPU visible to this process, matched by UUID.

Each query is wrapped on its own. "Not supported" (MIG slices, virtual GPUs, old drivers) is
normal: that figure is recorded as missing and not asked for again. A lost GPU stops being
queried while the others go on; every other failure is counted and logged once per kind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errorlog import ErrorLog
from .readings import DeviceInfo, DeviceReading, HwKind, Reading, UtilizationSource

# The figure is missing on this device for good / just for now / because the device is gone.
_UNAVAILABLE = ("NVML_ERROR_NOT_SUPPORTED", "NVML_ERROR_FUNCTION_NOT_FOUND",
                "NVML_ERROR_NO_PERMISSION")
_NO_DATA_NOW = ("NVML_SUCCESS", "NVML_ERROR_NOT_FOUND", "NVML_ERROR_NO_DATA")
_LOST = ("NVML_ERROR_GPU_IS_LOST", "NVML_ERROR_GPU_NOT_FOUND", "NVML_ERROR_RESET_REQUIRED")

_N = TypeVar("_N", int, float)


def _codes(nvml: Any, names: tuple[str, ...]) -> frozenset[int]:
    return frozenset(getattr(nvml, n) for n in names if hasattr(nvml, n))


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class NoVisibleGpu(Exception):
    """NVML works but CUDA_VISIBLE_DEVICES leaves this process no GPU."""


@dataclass
class _Device:
    info: DeviceInfo
    handle: Any
    unavailable: set[str] = field(default_factory=set)
    lost: bool = False
    energy_mj: int | None = None  # the counter at the previous tick
    process_samples_since_us: int = 0


def visible_handles(nvml: Any, spec: str | None) -> list[Any]:
    """The handles CUDA_VISIBLE_DEVICES grants, in its order.

    ``spec`` None means every GPU. Tokens are NVML indices (CUDA's order matches when
    CUDA_DEVICE_ORDER=PCI_BUS_ID), or unique prefixes of "GPU-..."/"MIG-..." UUIDs. Like CUDA,
    parsing stops at the first token that names no device ("-1" and "" hide every GPU).
    """
    gpus = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    if spec is None:
        return gpus
    by_uuid = {_text(nvml.nvmlDeviceGetUUID(h)): h for h in gpus}
    migs: dict[str, Any] | None = None
    chosen: list[Any] = []
    for token in (t.strip() for t in spec.split(",")):
        if token.isdigit() and int(token) < len(gpus):
            handle = gpus[int(token)]
        elif token.startswith(("GPU-", "MIG-")):
            if token.startswith("MIG-") and migs is None:
                migs = _mig_handles(nvml, gpus)
            pool = migs if token.startswith("MIG-") and migs is not None else by_uuid
            matches = [h for u, h in pool.items() if u.startswith(token)]
            if len(matches) != 1:
                break
            handle = matches[0]
        else:
            break
        if not any(handle is h for h in chosen):
            chosen.append(handle)
    return chosen


def _mig_handles(nvml: Any, gpus: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for gpu in gpus:
        try:
            slots = nvml.nvmlDeviceGetMaxMigDeviceCount(gpu)
        except nvml.NVMLError:
            continue  # not MIG-capable
        for i in range(slots):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu, i)
            except nvml.NVMLError:
                continue  # empty slot
            found[_text(nvml.nvmlDeviceGetUUID(mig))] = mig
    return found


class NvmlBackend:
    source: UtilizationSource = "nvml"
    hw_kind: HwKind = "gpu"

    def __init__(self, nvml: Any, errors: ErrorLog, visible: str | None = None) -> None:
        """Initialise NVML and find the visible GPUs (``visible``, in CUDA_VISIBLE_DEVICES
        syntax, narrows them further); raises if there is none to sample."""
        self._nvml = nvml
        self._errors = errors
        self._unavailable = _codes(nvml, _UNAVAILABLE)
        self._no_data = _codes(nvml, _NO_DATA_NOW)
        self._lost = _codes(nvml, _LOST)
        self._pid = os.getpid()
        nvml.nvmlInit()
        try:
            spec = visible if visible is not None else os.environ.get("CUDA_VISIBLE_DEVICES")
            handles = visible_handles(nvml, spec)
            if not handles:
                raise NoVisibleGpu(spec)
            self._devices = [self._describe(i, h) for i, h in enumerate(handles)]
        except BaseException:
            self.close()
            raise
        self.devices = tuple(d.info for d in self._devices)
        self.hw_count = float(len(self.devices))
        self.hw_model: str | None = " + ".join(dict.fromkeys(d.name for d in self.devices))

    def _describe(self, index: int, handle: Any) -> _Device:
        nvml = self._nvml
        uuid = _text(nvml.nvmlDeviceGetUUID(handle))
        device = _Device(DeviceInfo(index, uuid, "", None), handle)
        name = self._query(device, "name", nvml.nvmlDeviceGetName)
        memory = self._query(device, "memory", nvml.nvmlDeviceGetMemoryInfo)
        device.info = DeviceInfo(index, uuid, _text(name) if name else uuid,
                                 int(memory.total) if memory is not None else None)
        return device

    def close(self) -> None:
        with contextlib.suppress(Exception):  # shutting down is best effort
            self._nvml.nvmlShutdown()

    def _query(self, device: _Device, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """One driver query; None when the figure is unavailable (and why is remembered)."""
        if device.lost or what in device.unavailable:
            return None
        try:
            return fn(device.handle, *args)
        except self._nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code in self._unavailable:
                device.unavailable.add(what)
            elif code in self._lost:
                device.lost = True
                self._errors.report(f"{device.info.uuid} lost", exc)
            elif code not in self._no_data:
                self._errors.report(f"NVML {what} on {device.info.uuid}", exc)
        except Exception as exc:  # noqa: BLE001 - a driver binding must never stop sampling
            self._errors.report(f"NVML {what} on {device.info.uuid}", exc)
        return None

    def _read_device(self, d: _Device, dt: float | None) -> tuple[DeviceReading, float | None,
                                                                  bool]:
        """The device's reading, its energy since the last tick, and whether that came from
        the counter (True) or from integrating power (False)."""
        nvml = self._nvml
        rates = self._query(d, "utilization", nvml.nvmlDeviceGetUtilizationRates)
        memory = self._query(d, "memory", nvml.nvmlDeviceGetMemoryInfo)
        power_mw = self._query(d, "power", nvml.nvmlDeviceGetPowerUsage)
        energy_mj = self._query(d, "energy", nvml.nvmlDeviceGetTotalEnergyConsumption)
        clock = self._query(d, "sm_clock", nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_SM)
        power = power_mw / 1000.0 if power_mw is not None else None

        energy: float | None = None
        from_counter = energy_mj is not None
        if energy_mj is not None:
            if dt is not None and d.energy_mj is not None and energy_mj >= d.energy_mj:
                energy = (energy_mj - d.energy_mj) / 1000.0  # a drop means a driver reload
            d.energy_mj = energy_mj
        elif dt is not None and power is not None:
            energy = power * dt
        reading = DeviceReading(
            device=d.info,
            utilization=rates.gpu / 100.0 if rates is not None else None,
            process_utilization=self._process_utilization(d),
            memory_used_bytes=int(memory.used) if memory is not None else None,
            memory_total_bytes=int(memory.total) if memory is not None else None,
            power_w=power,
            energy_total_j=energy_mj / 1000.0 if energy_mj is not None else None,
            sm_clock_mhz=int(clock) if clock is not None else None)
        return reading, energy, from_counter

    def _process_utilization(self, d: _Device) -> float | None:
        """This process's SM share since the last tick, if the driver sampled it at all."""
        samples = self._query(d, "process_utilization", self._nvml.nvmlDeviceGetProcessUtilization,
                              d.process_samples_since_us)
        if not samples:
            return None
        d.process_samples_since_us = max(s.timeStamp for s in samples)
        # NVML reports host PIDs: inside a PID namespace ours may never match (then: None).
        mine = [s.smUtil for s in samples if s.pid == self._pid]
        return sum(mine) / len(mine) / 100.0 if mine else None

    def read(self, dt: float | None) -> Reading:
        readings: list[DeviceReading] = []
        energies: list[float] = []
        counters_only = True
        for d in self._devices:
            if d.lost:
                continue
            reading, energy, from_counter = self._read_device(d, dt)
            if d.lost:  # lost during this read: drop its partial figures
                continue
            readings.append(reading)
            if energy is not None:
                energies.append(energy)
                counters_only = counters_only and from_counter
        return Reading(
            utilization=_mean(r.utilization for r in readings),
            process_utilization=_mean(r.process_utilization for r in readings),
            system_utilization=None,
            memory_bytes=_sum(r.memory_used_bytes for r in readings),
            power_w=_sum(r.power_w for r in readings),
            energy_j=sum(energies) if energies else None,
            energy_source=("nvml_counter" if counters_only else "nvml_power") if energies
            else "none",
            devices=tuple(readings))


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _sum(values: Iterable[_N | None]) -> _N | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
