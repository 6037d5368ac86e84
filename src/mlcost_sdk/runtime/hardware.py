"""What this process runs on, what it costs per hour, and its dense peak FLOP/s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import conventions as c
from ..costmodel import usd_per_second
from .config import Settings
from .price import warn_no_price


@dataclass(frozen=True)
class Hardware:
    kind: str  # "gpu" or "cpu"
    count: float
    model: str | None
    usd_per_hour: float | None
    price_source: str
    dtype: str
    peak_flops_per_s: float | None
    peak_source: str | None

    @property
    def usd_per_second(self) -> float:
        return usd_per_second(self.usd_per_hour or 0.0)

    def attributes(self, *, flops: bool = True) -> dict[str, Any]:
        """Span attributes; ``flops=False`` leaves out dtype and peak (inference spans)."""
        attrs: dict[str, Any] = {
            c.HW_KIND: self.kind,
            c.HW_COUNT: float(self.count),
            c.PRICE_SOURCE: self.price_source,
        }
        if self.model:
            attrs[c.HW_MODEL] = self.model
        if self.usd_per_hour is not None:
            attrs[c.PRICE_USD_PER_HOUR] = self.usd_per_hour
        if not flops:
            return attrs
        attrs[c.DTYPE] = self.dtype
        if self.peak_flops_per_s is not None and self.peak_source is not None:
            attrs[c.FLOPS_PEAK_PER_S] = self.peak_flops_per_s
            attrs[c.FLOPS_PEAK_SOURCE] = self.peak_source
        return attrs


def peak_flops(sampler: Any, dtype: str) -> tuple[float | None, str | None]:
    """Catalog peak of every device in use for ``dtype``; None if any device is unknown."""
    if sampler.hw_kind == "gpu":
        from ..catalog import lookup_accelerator

        total, keys, notes = 0.0, set(), set()
        for dev in sampler.devices:
            acc = lookup_accelerator(dev.name)
            per, note = acc.peak_with_fallback(dtype) if acc is not None else (None, None)
            if acc is None or per is None:
                return None, None  # never borrow another device's peak
            total += per
            keys.add(acc.key)
            notes.update([note] if note else [])
        source = "catalog:" + ",".join([*sorted(keys), *sorted(notes)])
        return (total, source) if keys else (None, None)
    from ..catalog import cpu_peak

    cpu = cpu_peak(dtype)
    if cpu is None:
        return None, None
    return cpu.flops_per_s * sampler.cpu_share, cpu.source


def resolve(s: Settings, sampler: Any, *, dtype: str | None = None,
            peak_override: float | None = None, price: Any = None,
            what: str = "this process") -> Hardware:
    kind = sampler.hw_kind
    dtype = dtype or s.dtype or ("bf16" if kind == "gpu" else "fp32")
    override = peak_override if peak_override is not None else s.peak_flops_per_s
    peak: float | None
    peak_source: str | None
    if override is not None:
        peak, peak_source = float(override), "user"
    else:
        peak, peak_source = peak_flops(sampler, dtype)
    price = price if price is not None else s.price
    usd_per_hour, price_source = (price.resolve(kind, sampler.hw_count)
                                  if price is not None else (None, "none"))
    if price is None:
        warn_no_price(what)
    return Hardware(kind=kind, count=float(sampler.hw_count), model=sampler.hw_model,
                    usd_per_hour=usd_per_hour, price_source=price_source, dtype=dtype,
                    peak_flops_per_s=peak, peak_source=peak_source)
