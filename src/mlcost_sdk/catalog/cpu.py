"""Theoretical CPU peak: cores x clock x FLOPs per cycle of the widest instruction set present.

Read from the OS: instruction-set flags, model name and ``cpu MHz`` from ``/proc/cpuinfo``, the
clock from cpufreq's ``cpuinfo_max_freq`` when present (else psutil's maximum, else the current
clock, labelled ``current_clock`` in the peak source), cores as the container's cgroup and
affinity allow (never more than the host's physical cores: SMT siblings share FMA units).

FLOPs per cycle per core assume the widest units are all present, which the OS cannot tell:
  - AVX-512 is assumed to have TWO 512-bit FMA units (64 fp32 FLOPs/cycle). Some Xeon
    Bronze/Silver parts have one (half that). AMD Zen 4 (family 0x19) executes 512-bit
    instructions on 256-bit halves and is counted at half rate.
  - AVX2 + FMA: two 256-bit FMA units, 32 fp32 FLOPs/cycle; AVX without FMA 16; SSE2 8.
  - bf16/fp16: AMX tiles (1,024 FLOPs/cycle), else AVX-512 bf16/fp16 (128), else the fp32 rate
    (the math is widened to fp32). int8: AMX (2,048), AVX-512 VNNI (256), AVX-VNNI (128).
  - tf32 has no CPU path and is treated as fp32; fp8 has none: no peak.
The clock is the maximum turbo frequency, which wide vector code rarely holds on every core, so
this is an upper bound: MFU measured against it errs low, never impossibly high.
ARM and other architectures get no peak (None) rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

from ..host import effective_cpu_cores
from .accelerators import normalize_dtype

_CPUINFO = Path("/proc/cpuinfo")
_MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")

_FP32 = (("avx512", ("avx512f",), 64), ("avx2_fma", ("avx2", "fma"), 32),
         ("avx", ("avx",), 16), ("sse2", ("sse2",), 8))
# dtype -> ladder of (isa, flags required, FLOPs per cycle per core), widest first
_LADDERS: dict[str, tuple[tuple[str, tuple[str, ...], int], ...]] = {
    "fp32": _FP32,
    "tf32": _FP32,
    "bf16": (("amx_bf16", ("amx_bf16",), 1024), ("avx512_bf16", ("avx512_bf16",), 128), *_FP32),
    "fp16": (("amx_fp16", ("amx_fp16",), 1024), ("avx512_fp16", ("avx512_fp16",), 128), *_FP32),
    "int8": (("amx_int8", ("amx_int8",), 2048), ("avx512_vnni", ("avx512_vnni",), 256),
             ("avx_vnni", ("avx_vnni",), 128)),
    "fp8": (),
}


@dataclass(frozen=True)
class CpuInfo:
    flags: frozenset[str]
    model: str | None
    vendor: str | None
    family: int | None
    mhz: float | None  # current clock of the first CPU


@dataclass(frozen=True)
class CpuPeak:
    flops_per_s: float
    dtype: str
    cores: int
    clock_hz: float
    clock_source: str  # "cpufreq:cpuinfo_max_freq", "psutil:max", "cpuinfo:cpu MHz", ...
    isa: str
    flops_per_cycle: int  # per core
    source: str  # "cpu_isa:<isa>,max_clock" (or current_clock): mlcost.flops.peak_source
    model: str | None


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor block of ``/proc/cpuinfo`` text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    family = fields.get("cpu family", "")
    mhz = fields.get("cpu MHz", "")
    try:
        clock = float(mhz) if mhz else None
    except ValueError:
        clock = None
    return CpuInfo(
        flags=frozenset(fields.get("flags", "").split()),
        model=fields.get("model name"),
        vendor=fields.get("vendor_id"),
        family=int(family) if family.isdigit() else None,
        mhz=clock if clock and clock > 0 else None,
    )


def flops_per_cycle(info: CpuInfo, dtype: str) -> tuple[str, int] | None:
    """(isa, FLOPs per cycle per core) of the widest path for ``dtype``; None if there is none."""
    for isa, needs, per_cycle in _LADDERS[normalize_dtype(dtype)]:
        if all(flag in info.flags for flag in needs):
            if isa.startswith("avx512") and info.vendor == "AuthenticAMD" and info.family == 0x19:
                return f"{isa}_zen4", per_cycle // 2  # 512-bit ops run as two 256-bit halves
            return isa, per_cycle
    return None


def compute_cpu_peak(info: CpuInfo, dtype: str, cores: int, clock_hz: float,
                     clock_source: str) -> CpuPeak | None:
    path = flops_per_cycle(info, dtype)
    if path is None or cores < 1 or clock_hz <= 0:
        return None
    isa, per_cycle = path
    return CpuPeak(flops_per_s=cores * clock_hz * per_cycle, dtype=normalize_dtype(dtype),
                   cores=cores, clock_hz=clock_hz, clock_source=clock_source, isa=isa,
                   flops_per_cycle=per_cycle,
                   source=f"cpu_isa:{isa}," + _CLOCK_LABELS.get(clock_source, clock_source),
                   model=info.model)


def _clock_hz(info: CpuInfo) -> tuple[float, str] | None:
    """The maximum clock where the kernel exposes one (cpufreq, or psutil's max), else the
    current clock (a VM's /proc/cpuinfo often shows only that): the label says which."""
    try:
        khz = float(_MAX_FREQ.read_text().strip())
        if khz > 0:
            return khz * 1e3, "cpufreq:cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    freq = psutil.cpu_freq()
    if freq is not None and freq.max > 0:
        return freq.max * 1e6, "psutil:max"
    if info.mhz:
        return info.mhz * 1e6, "cpuinfo:cpu MHz"
    return (freq.current * 1e6, "psutil:current") if freq is not None and freq.current > 0 \
        else None


# How peak_source names the clock: a current clock is not the maximum and says so.
_CLOCK_LABELS = {"cpufreq:cpuinfo_max_freq": "max_clock", "psutil:max": "max_clock",
                 "cpuinfo:cpu MHz": "current_clock", "psutil:current": "current_clock"}


def _cores() -> int:
    physical = psutil.cpu_count(logical=False)
    allowed = effective_cpu_cores()
    return min(allowed, physical) if physical else allowed


def cpu_peak(dtype: str = "fp32") -> CpuPeak | None:
    """This host's theoretical peak for ``dtype`` as this process may use it; None if unknown."""
    try:
        info = parse_cpuinfo(_CPUINFO.read_text())
    except OSError:
        return None
    clock = _clock_hz(info)
    if clock is None:
        return None
    return compute_cpu_peak(info, dtype, _cores(), *clock)
