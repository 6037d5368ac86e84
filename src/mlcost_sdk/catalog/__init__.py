"""Price and device catalogs: accelerator peaks, CPU peak, instance prices, LLM token prices.

Data ships inside the package and loads on first lookup (never at import, never from the
network). Override or extend it with a TOML/JSON file (``load_overrides(path)`` or the
``MLCOST_CATALOG`` environment variable) or in code (``register_accelerator``,
``register_instance``).
"""

from ._store import ENV_VAR, check_catalog, reset_catalog
from .accelerators import (
    DTYPES,
    Accelerator,
    all_accelerators,
    lookup_accelerator,
    normalize_dtype,
    register_accelerator,
)
from .cpu import CpuPeak, cpu_peak
from .instances import Instance, all_instances, lookup_instance, register_instance, require_instance
from .overrides import load_overrides
from .tokens import LlmCost, TokenPrice, llm_cost, provider_name, token_price

__all__ = [
    "DTYPES",
    "ENV_VAR",
    "Accelerator",
    "CpuPeak",
    "Instance",
    "LlmCost",
    "TokenPrice",
    "all_accelerators",
    "all_instances",
    "check_catalog",
    "cpu_peak",
    "llm_cost",
    "provider_name",
    "load_overrides",
    "lookup_accelerator",
    "lookup_instance",
    "normalize_dtype",
    "register_accelerator",
    "register_instance",
    "require_instance",
    "reset_catalog",
    "token_price",
]
