"""Dense peak FLOP/s per dtype of datacenter accelerators, keyed by the names drivers report.

Datasheets headline 2:4-sparse figures that are twice the dense rate; dense training never sees
them, so this catalog stores dense figures only. Names match exactly (after whitespace and case
normalisation): matching by substring maps the L40S to the L4, 3x off. An unknown device has no
peak and gets no MFU; nothing here borrows another device's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._validate import did_you_mean
from ..errors import InvalidParameterError
from ._fields import EntryReader
from ._store import catalog, update

DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")
_DTYPE_ALIASES = {
    "float32": "fp32", "float": "fp32", "tfloat32": "tf32", "bfloat16": "bf16",
    "float16": "fp16", "half": "fp16", "float8": "fp8", "float8_e4m3fn": "fp8",
    "float8_e5m2": "fp8", "e4m3": "fp8", "e5m2": "fp8",
}
_FIELDS = ("vendor", "names", "aliases", "memory_gb", "dense_tflops", "source", "date", "note")


def normalize_dtype(dtype: str) -> str:
    """``bf16``, ``bfloat16`` and ``torch.bfloat16`` all name bf16; anything else is an error."""
    if not isinstance(dtype, str) and not str(dtype).startswith("torch."):
        raise InvalidParameterError("dtype", dtype, "a dtype name: one of " + ", ".join(DTYPES))
    name = str(dtype).strip().lower().removeprefix("torch.")
    name = _DTYPE_ALIASES.get(name, name)
    if name not in DTYPES:
        raise InvalidParameterError("dtype", dtype, "one of " + ", ".join(DTYPES)
                                    + did_you_mean(name, [*DTYPES, *_DTYPE_ALIASES]))
    return name


@dataclass(frozen=True)
class Accelerator:
    key: str
    vendor: str
    names: tuple[str, ...]  # exactly as NVML / torch / ROCm report them
    aliases: tuple[str, ...]  # short names for people ("h100-sxm")
    memory_gb: float
    peak: Mapping[str, float] = field(hash=False)  # dtype -> dense FLOP/s (ops/s for int8)
    source: str
    date: str  # ISO date the figures were recorded
    note: str | None = None

    def peak_flops(self, dtype: str) -> float | None:
        """Dense peak for ``dtype``; None when this chip has no such tensor path (V100 bf16)."""
        return self.peak.get(normalize_dtype(dtype))

    def peak_with_fallback(self, dtype: str) -> tuple[float | None, str | None]:
        """(dense peak, note): on a chip with no bf16 path (T4, V100) a bf16 run computes in
        fp16 (what autocast runs there), so it gets the fp16 peak, noted ``fp16_for_bf16``."""
        name = normalize_dtype(dtype)
        peak = self.peak.get(name)
        if peak is None and name == "bf16" and "fp16" in self.peak:
            return self.peak["fp16"], "fp16_for_bf16"
        return peak, None

    def lookup_names(self) -> tuple[str, ...]:
        return (self.key, *self.names, *self.aliases)


def parse_accelerator(source: str, key: str, table: object) -> Accelerator:
    r = EntryReader(source, key, table)
    r.only(_FIELDS)
    tflops = r.table("dense_tflops")
    peak: dict[str, float] = {}
    for dtype, value in tflops.items():
        if dtype not in DTYPES:
            raise r.error(f"dense_tflops.{dtype}", "unknown dtype (allowed: " + ", ".join(DTYPES)
                          + ")")
        peak[dtype] = r.positive(f"dense_tflops.{dtype}", value) * 1e12
    if not peak:
        raise r.error("dense_tflops", "needs at least one dtype")
    return Accelerator(
        key=key, vendor=r.string("vendor"), names=r.strings("names"), aliases=r.strings("aliases"),
        memory_gb=r.positive("memory_gb"), peak=peak, source=r.string("source"),
        date=r.date("date"), note=r.optional_string("note"))



def lookup_accelerator(name: str) -> Accelerator | None:
    """The entry whose key, reported name or alias is exactly ``name``; None when unknown."""
    return catalog().accelerators.get(name)


def register_accelerator(key: str, **fields: Any) -> Accelerator:
    """Add or replace an accelerator; ``fields`` are those of a catalog file entry.

    ``register_accelerator("my-gpu", vendor="ACME", names=["ACME X1"], memory_gb=64,
    dense_tflops={"bf16": 400}, source="ACME datasheet rev 2", date="2026-01-15")``
    """
    accelerator = parse_accelerator("register_accelerator()", key, fields)
    update(lambda tables: tables.accelerators.add(accelerator))
    return accelerator


def all_accelerators() -> list[Accelerator]:
    return list(catalog().accelerators)
