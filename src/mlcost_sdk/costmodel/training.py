"""Layer 1, training: FLOPs -> wall clock -> GPU-hours -> dollars.

    total FLOPs    = 6 x params x tokens        (2 forward + 4 backward per parameter per token)
                   + 12 x layers x d_model x seq_len x tokens   (attention, when the shape is known)
    wall clock (s) = total FLOPs / (gpus x dense peak FLOP/s per GPU x MFU) x (1 + comm overhead)
    cost           = gpus x $/GPU-hour x wall-clock hours

``params`` is N as the scaling-law papers count it: the NON-embedding parameters (Kaplan et
al. 2020, "Scaling Laws for Neural Language Models", sec. 2.1; Hoffmann et al. 2022,
"Chinchilla"): an embedding lookup does no matmul work, so counting its table overstates FLOPs
(1.26x on examples/train_tiny.py). The attention term is PaLM's (Chowdhery et al. 2022,
appendix B: 6N + 12·L·H·Q·T per token, H·Q = d_model). Both ignore elementwise work and
overcount frozen parameters: measured ``flops`` beat them when you have them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import _validate as v
from ..errors import InvalidParameterError
from ._estimate import Estimate, field_alias, renamed_parameters
from ._units import SECONDS_PER_HOUR

FLOPS_PER_PARAM_TOKEN = 6


FORMULA_6ND = "formula_6nd"  # 6N per token
FORMULA_6ND_ATTENTION = "formula_6nd_attn"  # 6N + 12·L·d_model·T per token (PaLM, appendix B)


def training_flops(params: float, tokens: float) -> float:
    """Model FLOPs of a training run by the 6ND rule (``params``: non-embedding N)."""
    return FLOPS_PER_PARAM_TOKEN * v.positive("params", params) * v.positive("tokens", tokens)


def training_flops_per_token(params: float, *, layers: int | None = None,
                             d_model: int | None = None,
                             seq_len: int | None = None) -> tuple[float, str]:
    """(training FLOPs per token, ``mlcost.flops.source``): 6N, plus PaLM's attention term
    12·L·d_model·T when all of ``layers``, ``d_model`` and ``seq_len`` are given."""
    per_token = FLOPS_PER_PARAM_TOKEN * v.positive("params", params)
    shape = (layers, d_model, seq_len)
    if all(x is None for x in shape):
        return per_token, FORMULA_6ND
    if any(x is None for x in shape):
        raise InvalidParameterError("layers", layers,
                                    "given together with d_model and seq_len (or none of them)")
    attention = 12.0 * v.count("layers", layers) * v.count("d_model", d_model) \
        * v.count("seq_len", seq_len)
    return per_token + attention, FORMULA_6ND_ATTENTION


@dataclass(frozen=True)
class TrainingEstimate(Estimate):
    total_flops: float
    flops_source: str  # "formula_6nd" or "user"
    gpus: int
    peak_flops_per_s: float  # per GPU, dense, for the dtype trained in
    mfu: float
    cluster_flops_per_s: float  # achieved: gpus x peak x MFU
    comm_overhead: float  # fraction added to the compute time
    wall_clock_hours: float
    gpu_hours: float
    gpu_usd_per_hour: float
    cost_usd: float
    peak_source: str  # "user" or "catalog:<accelerator>"
    price_source: str  # "user" or "catalog:<instance>"

    json_keys = {"peak_flops_per_s": "peak_flops_per_gpu", "gpu_usd_per_hour": "gpu_hour_usd"}
    peak_flops_per_gpu = field_alias("peak_flops_per_gpu", "peak_flops_per_s")
    gpu_hour_usd = field_alias("gpu_hour_usd", "gpu_usd_per_hour")


@renamed_parameters(peak_flops_per_gpu="peak_flops_per_s", gpu_hour_usd="gpu_usd_per_hour")
def estimate_training(
    *,
    gpus: int,
    mfu: float,
    peak_flops_per_s: float,
    gpu_usd_per_hour: float,
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
        total, flops_source = training_flops(params, tokens), FORMULA_6ND
    n = v.count("gpus", gpus)
    utilization = v.fraction("mfu", mfu)
    peak = v.positive("peak_flops_per_s", peak_flops_per_s)
    price = v.non_negative("gpu_usd_per_hour", gpu_usd_per_hour)
    overhead = v.non_negative("comm_overhead", comm_overhead)

    cluster = n * peak * utilization
    wall_hours = total / cluster * (1 + overhead) / SECONDS_PER_HOUR
    gpu_hours = n * wall_hours
    return TrainingEstimate(
        total_flops=total,
        flops_source=flops_source,
        gpus=n,
        peak_flops_per_s=peak,
        mfu=utilization,
        cluster_flops_per_s=cluster,
        comm_overhead=overhead,
        wall_clock_hours=wall_hours,
        gpu_hours=gpu_hours,
        gpu_usd_per_hour=price,
        cost_usd=gpu_hours * price,
        peak_source=peak_source,
        price_source=price_source,
    )
