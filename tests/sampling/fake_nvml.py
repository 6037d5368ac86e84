"""Test double for NVIDIA hardware these machines lack: a scriptable stand-in for ``pynvml``.

Only the driver is faked. The error classes, error codes and result structures are the real
nvidia-ml-py ones, so the sampler's handling of NVML errors is exercised as in production.
Each ``FakeGpu`` draws constant power, and its energy counter advances with its ``clock``
(real time by default; give it the sampler's manual clock for exact energy figures).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED


@dataclass(eq=False)
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    memory_total: int = 80 * 2**30
    memory_used: int | Callable[[], int] = 2**30
    utilization_pct: int | Callable[[], int] = 50
    power_w: float = 300.0
    sm_clock_mhz: int = 1980
    # names of pynvml functions that raise NotSupported on this device (as on MIG, vGPU)
    unsupported: set[str] = field(default_factory=set)
    lost: bool = False  # once True, every query raises GPUIsLost
    migs: list[FakeGpu] = field(default_factory=list)
    process_sm_pct: dict[int, int] = field(default_factory=dict)  # pid -> SM %
    clock: Callable[[], float] = time.monotonic
    _sample_ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self._t0 = self.clock()

    def energy_mj(self) -> int:
        return int(self.power_w * (self.clock() - self._t0) * 1000)


def mig_slice(uuid: str, memory_total: int = 10 * 2**30) -> FakeGpu:
    """A MIG slice: memory is reported, utilization, power, energy and clocks are not."""
    return FakeGpu(uuid, name="NVIDIA A100-SXM4-80GB MIG 1g.10gb", memory_total=memory_total,
                   unsupported={"nvmlDeviceGetUtilizationRates", "nvmlDeviceGetPowerUsage",
                                "nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetClockInfo",
                                "nvmlDeviceGetProcessUtilization"})


def _value(v: int | Callable[[], int]) -> int:
    return v() if callable(v) else v


class FakeNvml:
    """Exposes the pynvml functions the sampler calls; ``calls`` counts them by name."""

    NVMLError = pynvml.NVMLError

    def __init__(self, gpus: list[FakeGpu], init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.initialized = False
        self.init_calls = 0
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("NVML_"):  # the real constants: error codes, NVML_CLOCK_SM...
            return getattr(pynvml, name)
        raise AttributeError(name)

    def _check(self, fn: str, gpu: FakeGpu | None = None) -> None:
        self.calls[fn] += 1
        if not self.initialized:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        if gpu is not None and gpu.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if gpu is not None and fn in gpu.unsupported:
            raise pynvml.NVMLError(NOT_SUPPORTED)

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self.initialized = False

    def nvmlDeviceGetCount(self) -> int:
        self._check("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check("nvmlDeviceGetHandleByIndex")
        return self.gpus[index]

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        self._check("nvmlDeviceGetUUID", gpu)
        return gpu.uuid

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> str:
        self._check("nvmlDeviceGetName", gpu)
        return gpu.name

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> Any:
        self._check("nvmlDeviceGetMemoryInfo", gpu)
        used = _value(gpu.memory_used)
        return SimpleNamespace(total=gpu.memory_total, used=used, free=gpu.memory_total - used)

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> Any:
        self._check("nvmlDeviceGetUtilizationRates", gpu)
        return SimpleNamespace(gpu=_value(gpu.utilization_pct), memory=10)

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        self._check("nvmlDeviceGetPowerUsage", gpu)
        return int(gpu.power_w * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, gpu: FakeGpu) -> int:
        self._check("nvmlDeviceGetTotalEnergyConsumption", gpu)
        return gpu.energy_mj()

    def nvmlDeviceGetClockInfo(self, gpu: FakeGpu, clock: int) -> int:
        self._check("nvmlDeviceGetClockInfo", gpu)
        assert clock == pynvml.NVML_CLOCK_SM
        return gpu.sm_clock_mhz

    def nvmlDeviceGetProcessUtilization(self, gpu: FakeGpu, since_us: int) -> list[Any]:
        self._check("nvmlDeviceGetProcessUtilization", gpu)
        if not gpu.process_sm_pct:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)  # what the driver says
        ts = next(gpu._sample_ts)
        return [pynvml.c_nvmlProcessUtilizationSample_t(pid=pid, timeStamp=ts, smUtil=pct)
                for pid, pct in gpu.process_sm_pct.items()]

    def nvmlDeviceGetMaxMigDeviceCount(self, gpu: FakeGpu) -> int:
        self._check("nvmlDeviceGetMaxMigDeviceCount", gpu)
        if not gpu.migs:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return len(gpu.migs)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, gpu: FakeGpu, index: int) -> FakeGpu:
        self._check("nvmlDeviceGetMigDeviceHandleByIndex", gpu)
        return gpu.migs[index]
