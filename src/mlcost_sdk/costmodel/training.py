"""Layer 1, training: FLOPs -> wall clock -> GPU-hours -> dollars.

    total FLOPs    = 6 x params x tokens        (2 forward + 4 backward per parameter per token)
    wall clock (s) = total FLOPs / (gpus x dense peak FLOP/s per GPU x MFU) x (1 + comm overhead)
    cost           = gpus x $/GPU-hour x wall-clock hours

6ND ignores attention (about 12 x layers x d_model x seq_len FLOPs per token) and overcounts
frozen parameters: pass measured ``flops`` when you have them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .. import _validate as v
from ..errors import InvalidParameterError
from ._units import SECONDS_PER_HOUR

FLOPS_PER_PARAM_TOKEN = 6


def training_flops(params: float, tokens: float) -> float:
    """Model FLOPs of a training run by the 6ND rule."""
    return FLOPS_PER_PARAM_TOKEN * v.positive("params", params) * v.positive("tokens", tokens)


@dataclass(frozen=True)
class TrainingEstimate:
    total_flops: float
    flops_source: str  # "formula_6nd" or "user"
    gpus: int
    peak_flops_per_gpu: float  # dense, for the dtype trained in
    mfu: float
    cluster_flops_per_s: float  # achieved: gpus x peak x MFU
    comm_overhead: float  # fraction added to the compute time
    wall_clock_hours: float
    gpu_hours: float
    gpu_hour_usd: float
    cost_usd: float
    peak_source: str  # "user" or "catalog:<accelerator>"
    price_source: str  # "user" or "catalog:<instance>"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_training(
    *,
    gpus: int,
    mfu: float,
    peak_flops_per_gpu: float,
    gpu_hour_usd: float,
    params: float | None = None,
    tokens: float | None = None,
    flops: float | None = None,
    comm_overhead: float = 0.0,
    peak_source: str = "user",
    price_source: str = "user",
) -> TrainingEstimate:
    """Cost of a training run from either ``params`` and ``tokens`` (6ND) or measured ``flops``."""
    if flops is not None:
        if params is not None or tokens is not None:
            raise InvalidParameterError("flops", flops, "given instead of params and tokens")
        total, flops_source = v.positive("flops", flops), "user"
    elif params is None or tokens is None:
        raise InvalidParameterError("params", params, "given with tokens (or flops instead)")
    else:
        total, flops_source = training_flops(params, tokens), "formula_6nd"
    n = v.count("gpus", gpus)
    utilization = v.fraction("mfu", mfu)
    peak = v.positive("peak_flops_per_gpu", peak_flops_per_gpu)
    price = v.non_negative("gpu_hour_usd", gpu_hour_usd)
    overhead = v.non_negative("comm_overhead", comm_overhead)

    cluster = n * peak * utilization
    wall_hours = total / cluster * (1 + overhead) / SECONDS_PER_HOUR
    gpu_hours = n * wall_hours
    return TrainingEstimate(
        total_flops=total,
        flops_source=flops_source,
        gpus=n,
        peak_flops_per_gpu=peak,
        mfu=utilization,
        cluster_flops_per_s=cluster,
        comm_overhead=overhead,
        wall_clock_hours=wall_hours,
        gpu_hours=gpu_hours,
        gpu_hour_usd=price,
        cost_usd=gpu_hours * price,
        peak_source=peak_source,
        price_source=price_source,
    )
