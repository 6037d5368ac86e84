"""Layer 2, inference capacity: the checked worked example, at capacity and realized."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcost_sdk.costmodel import (
    MONTH_HOURS,
    cost_per_request,
    estimate_inference,
    instances_needed,
)
from mlcost_sdk.errors import InvalidParameterError

# $3.06/h p3.2xlarge, 2 instances, 50 rps each, 30% buffer, 15% overhead, 10M requests/month
EXAMPLE: dict[str, Any] = dict(instance_usd_per_hour=3.06, instances=2, rps_per_instance=50.0,
                               idle_buffer=0.3, overhead=0.15, monthly_requests=1e7)


def test_worked_example_at_capacity() -> None:
    est = estimate_inference(**EXAMPLE)
    assert est.fleet_usd_per_hour == pytest.approx(7.038)
    assert est.effective_rps == pytest.approx(70)
    assert est.cost_per_request_at_capacity_usd == pytest.approx(0.0000279, abs=5e-8)


def test_worked_example_month_of_730_hours() -> None:
    est = estimate_inference(**EXAMPLE)
    assert est.month_hours == MONTH_HOURS == 730
    assert est.compute_monthly_usd == pytest.approx(4_467.60)
    assert est.monthly_overhead_usd == pytest.approx(670.14)
    assert est.monthly_cost_usd == pytest.approx(5_137.74)


def test_worked_example_realized_cost_includes_idle_capacity() -> None:
    est = estimate_inference(**EXAMPLE)
    assert est.average_rps == pytest.approx(3.8, abs=0.01)
    assert est.capacity_utilization == pytest.approx(0.04, abs=0.002)  # of the raw 100 rps
    assert est.realized_cost_per_request_usd == pytest.approx(0.000514, abs=5e-7)
    assert est.realized_cost_per_request_usd is not None
    assert est.realized_cost_per_request_usd / est.cost_per_request_at_capacity_usd == \
        pytest.approx(18, abs=0.5)
    assert est.instances_needed == 1  # at 70% target utilization, one instance would do


def test_without_volume_there_is_no_realized_figure() -> None:
    est = estimate_inference(**{**EXAMPLE, "monthly_requests": None})
    assert est.realized_cost_per_request_usd is None
    assert est.capacity_utilization is None
    assert est.monthly_cost_usd == pytest.approx(5_137.74)


def test_caller_month_length_is_used_and_reported() -> None:
    est = estimate_inference(**EXAMPLE, month_hours=720)
    assert est.month_hours == 720
    assert est.monthly_cost_usd == pytest.approx(7.038 * 720)


def test_simple_cost_per_request() -> None:
    assert cost_per_request(3.06, 50) == pytest.approx(3.06 / (3600 * 50))
    with pytest.raises(InvalidParameterError, match="requests_per_second"):
        cost_per_request(3.06, 0)


def test_instances_needed_for_a_volume() -> None:
    # 1e9 requests/month = 380.5 rps; at 50 rps x 70% = 35 rps per instance -> 11 instances
    assert instances_needed(1e9, 50) == 11
    assert instances_needed(1e9, 50, target_utilization=1.0) == 8
    assert instances_needed(1, 50) == 1


@pytest.mark.parametrize(("change", "parameter"), [
    ({"idle_buffer": 1.0}, "idle_buffer"),
    ({"idle_buffer": -0.1}, "idle_buffer"),
    ({"instance_usd_per_hour": -3.06}, "instance_usd_per_hour"),
    ({"instances": 0}, "instances"),
    ({"rps_per_instance": 0.0}, "rps_per_instance"),
    ({"overhead": -0.15}, "overhead"),
    ({"monthly_requests": 0.0}, "monthly_requests"),
    ({"month_hours": 0.0}, "month_hours"),
    ({"target_utilization": 0.0}, "target_utilization"),
])
def test_out_of_range_input_names_the_parameter(change: dict[str, float], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        estimate_inference(**{**EXAMPLE, **change})
    assert err.value.parameter == parameter


@given(price=st.floats(0.01, 100), instances=st.integers(1, 64), overhead=st.floats(0, 1),
       volume=st.floats(1, 1e10))
def test_components_add_up_and_realized_divides_the_month(price: float, instances: int,
                                                          overhead: float, volume: float) -> None:
    est = estimate_inference(instance_usd_per_hour=price, instances=instances, rps_per_instance=20,
                             overhead=overhead, monthly_requests=volume)
    assert est.compute_monthly_usd + est.monthly_overhead_usd == pytest.approx(
        est.monthly_cost_usd, rel=1e-12)
    assert est.realized_cost_per_request_usd is not None
    assert est.realized_cost_per_request_usd * volume == pytest.approx(est.monthly_cost_usd,
                                                                       rel=1e-12)


@given(volume=st.floats(1, 1e8))
def test_idle_capacity_never_makes_a_request_cheaper(volume: float) -> None:
    # below full effective capacity, realized cost is at least the at-capacity cost
    est = estimate_inference(**{**EXAMPLE, "monthly_requests": volume})
    capacity = est.effective_rps * 3600 * est.month_hours
    assert est.realized_cost_per_request_usd is not None
    if volume <= capacity:
        assert est.realized_cost_per_request_usd >= est.cost_per_request_at_capacity_usd * (
            1 - 1e-12)
