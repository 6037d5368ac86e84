"""Layer 2, inference capacity: what a request costs at capacity, and what it really costs.

    hourly cost      = $/instance-hour x instances x (1 + overhead)
    effective rps    = rps per instance x instances x (1 - idle buffer)
    at capacity      = hourly cost / 3600 / effective rps
    realized         = monthly cost / monthly requests          (idle capacity included)

The at-capacity figure assumes every instance is saturated; the realized one divides what the
month costs by what it served, and the gap between them is the price of idle capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import _validate as v
from ._estimate import Estimate, field_alias, renamed_parameters
from ._units import MONTH_HOURS, SECONDS_PER_HOUR

SERVING_UTILIZATION_TARGET = 0.7  # "> 70% average for serving"


def cost_per_request(instance_usd_per_hour: float, requests_per_second: float) -> float:
    """The simple form: one instance, saturated, no headroom or overhead."""
    price = v.non_negative("instance_usd_per_hour", instance_usd_per_hour)
    return price / (SECONDS_PER_HOUR * v.positive("requests_per_second", requests_per_second))


def instances_needed(
    monthly_requests: float,
    rps_per_instance: float,
    *,
    target_utilization: float = SERVING_UTILIZATION_TARGET,
    month_hours: float = MONTH_HOURS,
) -> int:
    """Fewest instances that serve a month's volume at the average ``target_utilization``."""
    average_rps = v.positive("monthly_requests", monthly_requests) / (
        v.positive("month_hours", month_hours) * SECONDS_PER_HOUR)
    per_instance = v.positive("rps_per_instance", rps_per_instance) * v.fraction(
        "target_utilization", target_utilization)
    return max(1, math.ceil(average_rps / per_instance))


@dataclass(frozen=True)
class InferenceEstimate(Estimate):
    instance_usd_per_hour: float
    instances: int
    rps_per_instance: float
    idle_buffer: float  # share of capacity kept free as headroom
    overhead: float  # share added to compute for load balancers, monitoring...
    month_hours: float
    fleet_usd_per_hour: float  # instances x price x (1 + overhead)
    effective_rps: float
    cost_per_request_at_capacity_usd: float
    compute_monthly_usd: float
    monthly_overhead_usd: float
    monthly_cost_usd: float
    monthly_requests: float | None
    average_rps: float | None
    capacity_utilization: float | None  # average rps / raw capacity (rps x instances)
    realized_cost_per_request_usd: float | None
    target_utilization: float
    instances_needed: int | None  # at the target utilization, for the monthly volume
    price_source: str  # "user" or "catalog:<instance>"

    json_keys = {"instance_usd_per_hour": "instance_hour_usd",
                 "fleet_usd_per_hour": "hourly_cost_usd",
                 "compute_monthly_usd": "monthly_compute_usd"}
    instance_hour_usd = field_alias("instance_hour_usd", "instance_usd_per_hour")
    monthly_compute_usd = field_alias("monthly_compute_usd", "compute_monthly_usd")
    hourly_cost_usd = field_alias("hourly_cost_usd", "fleet_usd_per_hour")


@renamed_parameters(instance_hour_usd="instance_usd_per_hour")
def estimate_inference(
    *,
    instance_usd_per_hour: float,
    instances: int,
    rps_per_instance: float,
    idle_buffer: float = 0.0,
    overhead: float = 0.0,
    monthly_requests: float | None = None,
    month_hours: float = MONTH_HOURS,
    target_utilization: float = SERVING_UTILIZATION_TARGET,
    price_source: str = "user",
) -> InferenceEstimate:
    """Serving cost of a fleet; give ``monthly_requests`` to get the realized cost per request."""
    price = v.non_negative("instance_usd_per_hour", instance_usd_per_hour)
    n = v.count("instances", instances)
    rps = v.positive("rps_per_instance", rps_per_instance)
    buffer = v.fraction("idle_buffer", idle_buffer, zero=True, one=False)
    extra = v.non_negative("overhead", overhead)
    hours = v.positive("month_hours", month_hours)
    target = v.fraction("target_utilization", target_utilization)

    hourly = price * n * (1 + extra)
    effective_rps = rps * n * (1 - buffer)
    compute = price * n * hours
    volume = average_rps = utilization = realized = needed = None
    if monthly_requests is not None:
        volume = v.positive("monthly_requests", monthly_requests)
        average_rps = volume / (hours * SECONDS_PER_HOUR)
        utilization = average_rps / (rps * n)
        realized = hourly * hours / volume
        needed = instances_needed(volume, rps, target_utilization=target, month_hours=hours)
    return InferenceEstimate(
        instance_usd_per_hour=price,
        instances=n,
        rps_per_instance=rps,
        idle_buffer=buffer,
        overhead=extra,
        month_hours=hours,
        fleet_usd_per_hour=hourly,
        effective_rps=effective_rps,
        cost_per_request_at_capacity_usd=hourly / SECONDS_PER_HOUR / effective_rps,
        compute_monthly_usd=compute,
        monthly_overhead_usd=compute * extra,
        monthly_cost_usd=hourly * hours,
        monthly_requests=volume,
        average_rps=average_rps,
        capacity_utilization=utilization,
        realized_cost_per_request_usd=realized,
        target_utilization=target,
        instances_needed=needed,
        price_source=price_source,
    )
