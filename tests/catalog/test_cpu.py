"""CPU peak from the OS: parsing is tested on real cpuinfo shapes, the total on this host."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost_sdk.catalog import cpu_peak
from mlcost_sdk.catalog.cpu import compute_cpu_peak, flops_per_cycle, parse_cpuinfo
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.host import effective_cpu_cores


def _cpuinfo(model: str, flags: str, vendor: str = "GenuineIntel", family: int = 6,
             mhz: str = "2100.000") -> str:
    block = (f"processor\t: {{n}}\nvendor_id\t: {vendor}\ncpu family\t: {family}\n"
             f"model name\t: {model}\ncpu MHz\t\t: {mhz}\nflags\t\t: {flags}\n")
    return "\n".join(block.format(n=n) for n in range(2)) + "\n"


SAPPHIRE_RAPIDS = _cpuinfo("Intel(R) Xeon(R) Platinum 8480+",
                           "fpu sse2 avx fma avx2 avx512f avx512_vnni avx512_bf16 avx512_fp16 "
                           "amx_bf16 amx_int8 amx_tile")
ZEN4 = _cpuinfo("AMD EPYC 9654 96-Core Processor", "sse2 avx fma avx2 avx512f avx512_bf16 "
                "avx512_vnni", vendor="AuthenticAMD", family=25)
HASWELL = _cpuinfo("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "sse2 avx fma avx2")
SANDY_BRIDGE = _cpuinfo("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "sse2 avx")
GRAVITON = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes sve\n"


def test_parse_reads_the_first_processor_block() -> None:
    info = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert info.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert info.vendor == "GenuineIntel" and info.family == 6 and info.mhz == 2100.0
    assert {"amx_bf16", "avx512f"} <= info.flags


@pytest.mark.parametrize(("text", "dtype", "expected"), [
    (SAPPHIRE_RAPIDS, "fp32", ("avx512", 64)),
    (SAPPHIRE_RAPIDS, "bf16", ("amx_bf16", 1024)),
    (SAPPHIRE_RAPIDS, "torch.float16", ("avx512_fp16", 128)),
    (SAPPHIRE_RAPIDS, "int8", ("amx_int8", 2048)),
    (SAPPHIRE_RAPIDS, "tf32", ("avx512", 64)),
    (SAPPHIRE_RAPIDS, "fp8", None),
    (ZEN4, "fp32", ("avx512_zen4", 32)),  # 512-bit ops on 256-bit halves
    (ZEN4, "bf16", ("avx512_bf16_zen4", 64)),
    (HASWELL, "fp32", ("avx2_fma", 32)),
    (HASWELL, "bf16", ("avx2_fma", 32)),  # widened to fp32
    (HASWELL, "int8", None),
    (SANDY_BRIDGE, "fp32", ("avx", 16)),
    (GRAVITON, "fp32", None),  # no x86 flags: no guess
])
def test_widest_path_per_dtype(text: str, dtype: str, expected: tuple[str, int] | None) -> None:
    assert flops_per_cycle(parse_cpuinfo(text), dtype) == expected


def test_peak_is_cores_times_clock_times_flops_per_cycle() -> None:
    peak = compute_cpu_peak(parse_cpuinfo(HASWELL), "fp32", cores=4, clock_hz=2.3e9,
                            clock_source="cpuinfo:cpu MHz")
    assert peak is not None
    assert peak.flops_per_s == pytest.approx(4 * 2.3e9 * 32)
    assert (peak.source, peak.isa, peak.dtype) == ("cpu_isa:avx2_fma,current_clock", "avx2_fma",
                                                   "fp32")
    assert compute_cpu_peak(parse_cpuinfo(GRAVITON), "fp32", 4, 2.6e9, "x") is None


def test_unknown_dtype_is_an_error() -> None:
    with pytest.raises(InvalidParameterError, match="dtype"):
        flops_per_cycle(parse_cpuinfo(HASWELL), "fp64")


def test_this_host() -> None:
    info = parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    path = flops_per_cycle(info, "fp32")
    peak = cpu_peak()
    if path is None:  # not x86: an honest None, never a borrowed figure
        assert peak is None
        return
    assert peak is not None
    assert peak.isa == path[0] and peak.flops_per_cycle == path[1]
    assert 1 <= peak.cores <= effective_cpu_cores()
    assert 0.2e9 < peak.clock_hz < 6e9
    assert peak.flops_per_s == pytest.approx(peak.cores * peak.clock_hz * peak.flops_per_cycle)
    assert peak.source.startswith(f"cpu_isa:{peak.isa},") and peak.model == info.model
    max_exposed = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").exists()
    assert peak.clock_source in (("cpufreq:cpuinfo_max_freq",) if max_exposed else
                                 ("psutil:max", "cpuinfo:cpu MHz", "psutil:current"))
    assert peak.source.endswith("max_clock" if peak.clock_source.endswith("max")
                                or "max_freq" in peak.clock_source else "current_clock")
