"""Layer 3, the costs beside compute: checkpoint storage, data transfer, monitoring.

Defaults are typical AWS list prices, for estimates only; pass your own prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .. import _validate as v
from ..errors import InvalidParameterError
from ._estimate import Estimate

BYTES_PER_GB = 1e9  # storage and transfer are billed in decimal GB
OBJECT_STORAGE_USD_PER_GB_MONTH = 0.023

TransferKind = Literal["internet", "inter_region", "cross_az"]
# kind -> (USD per GB per direction charged, directions charged)
TRANSFER_PRICES: dict[str, tuple[float, int]] = {
    "internet": (0.09, 1),  # egress only
    "inter_region": (0.02, 1),  # charged by the sending region
    "cross_az": (0.01, 2),  # $0.01/GB out of one zone AND into the other
}


@dataclass(frozen=True)
class StorageEstimate(Estimate):
    params: float
    bytes_per_param: float  # 2 for fp16/bf16 weights; optimizer state adds 2-3x more
    checkpoints: int
    checkpoint_size_gb: float
    size_gb: float  # all checkpoints kept
    usd_per_gb_month: float
    monthly_cost_usd: float


def estimate_storage(*, params: float, bytes_per_param: float = 2.0, checkpoints: int = 1,
                     usd_per_gb_month: float = OBJECT_STORAGE_USD_PER_GB_MONTH) -> StorageEstimate:
    """Monthly cost of keeping ``checkpoints`` copies of a model's weights."""
    n = v.positive("params", params)
    width = v.positive("bytes_per_param", bytes_per_param)
    kept = v.count("checkpoints", checkpoints)
    price = v.non_negative("usd_per_gb_month", usd_per_gb_month)
    one_gb = n * width / BYTES_PER_GB
    return StorageEstimate(
        params=n, bytes_per_param=width, checkpoints=kept,
        checkpoint_size_gb=one_gb, size_gb=one_gb * kept, usd_per_gb_month=price,
        monthly_cost_usd=one_gb * kept * price)


@dataclass(frozen=True)
class TransferEstimate(Estimate):
    gb: float
    kind: str
    usd_per_gb: float  # per direction charged
    directions_charged: int
    cost_usd: float


def estimate_transfer(gb: float, kind: TransferKind = "internet",
                      usd_per_gb: float | None = None) -> TransferEstimate:
    """Cost of moving ``gb`` decimal gigabytes; cross-AZ traffic is billed on both sides."""
    if kind not in TRANSFER_PRICES:
        raise InvalidParameterError("kind", kind, "one of " + ", ".join(TRANSFER_PRICES))
    default_price, directions = TRANSFER_PRICES[kind]
    price = default_price if usd_per_gb is None else v.non_negative("usd_per_gb", usd_per_gb)
    size = v.non_negative("gb", gb)
    return TransferEstimate(gb=size, kind=kind, usd_per_gb=price, directions_charged=directions,
                            cost_usd=size * price * directions)


@dataclass(frozen=True)
class MonitoringEstimate(Estimate):
    compute_usd: float
    share: float
    monitoring_usd: float
    total_usd: float  # compute + monitoring


def estimate_monitoring(compute_usd: float, share: float = 0.10) -> MonitoringEstimate:
    """Monitoring as a share of compute (typically 5-15%, 10% by default)."""
    compute = v.non_negative("compute_usd", compute_usd)
    fraction = v.fraction("share", share, zero=True)
    return MonitoringEstimate(compute_usd=compute, share=fraction,
                              monitoring_usd=compute * fraction,
                              total_usd=compute * (1 + fraction))
