"""Layer 3: checkpoint storage (checked example), transfer and monitoring."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcost_sdk.costmodel import estimate_monitoring, estimate_storage, estimate_transfer
from mlcost_sdk.errors import InvalidParameterError


def test_worked_example_13b_fp16_checkpoints() -> None:
    one = estimate_storage(params=13e9, bytes_per_param=2, checkpoints=1)
    assert one.checkpoint_size_gb == pytest.approx(26)  # GB = 1e9 bytes
    kept = estimate_storage(params=13e9, bytes_per_param=2, checkpoints=100)
    assert kept.size_gb == pytest.approx(2_600)
    assert kept.usd_per_gb_month == 0.023
    assert kept.monthly_cost_usd == pytest.approx(59.80)
    ten_runs = estimate_storage(params=13e9, bytes_per_param=2, checkpoints=10 * 100)
    assert ten_runs.monthly_cost_usd == pytest.approx(598)


def test_storage_price_is_the_callers() -> None:
    assert estimate_storage(params=1e9, usd_per_gb_month=0.01).monthly_cost_usd == \
        pytest.approx(0.02)


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"params": 0}, "params"),
    ({"params": 1e9, "bytes_per_param": -2}, "bytes_per_param"),
    ({"params": 1e9, "checkpoints": 0}, "checkpoints"),
    ({"params": 1e9, "usd_per_gb_month": -0.023}, "usd_per_gb_month"),
])
def test_storage_rejects_bad_input(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        estimate_storage(**kwargs)
    assert err.value.parameter == parameter


def test_transfer_defaults_are_typical_list_prices() -> None:
    assert estimate_transfer(100, "internet").cost_usd == pytest.approx(9.0)
    assert estimate_transfer(100, "inter_region").cost_usd == pytest.approx(2.0)
    cross_az = estimate_transfer(100, "cross_az")  # $0.01/GB out AND $0.01/GB in
    assert (cross_az.usd_per_gb, cross_az.directions_charged) == (0.01, 2)
    assert cross_az.cost_usd == pytest.approx(2.0)
    assert estimate_transfer(100, "internet", usd_per_gb=0.05).cost_usd == pytest.approx(5.0)


def test_transfer_rejects_unknown_kind_and_negative_volume() -> None:
    with pytest.raises(InvalidParameterError, match="kind"):
        estimate_transfer(1, cast(Any, "carrier-pigeon"))
    with pytest.raises(InvalidParameterError, match="gb"):
        estimate_transfer(-1)


def test_monitoring_is_a_share_of_compute() -> None:
    est = estimate_monitoring(10_000)
    assert est.share == 0.10
    assert est.monitoring_usd == pytest.approx(1_000)
    assert est.total_usd == pytest.approx(11_000)
    with pytest.raises(InvalidParameterError, match="share"):
        estimate_monitoring(10_000, share=1.5)


@given(params=st.floats(1e6, 1e12), width=st.sampled_from([1, 2, 4, 12]),
       kept=st.integers(1, 1000), price=st.floats(0.001, 1), factor=st.floats(0.1, 10))
def test_storage_adds_up_and_is_linear_in_price(params: float, width: int, kept: int,
                                                price: float, factor: float) -> None:
    est = estimate_storage(params=params, bytes_per_param=width, checkpoints=kept,
                           usd_per_gb_month=price)
    assert est.size_gb == pytest.approx(est.checkpoint_size_gb * kept, rel=1e-12)
    scaled = estimate_storage(params=params, bytes_per_param=width, checkpoints=kept,
                              usd_per_gb_month=price * factor)
    assert scaled.monthly_cost_usd == pytest.approx(est.monthly_cost_usd * factor, rel=1e-9)


@given(compute=st.floats(0, 1e9), share=st.floats(0, 1))
def test_monitoring_components_add_up(compute: float, share: float) -> None:
    est = estimate_monitoring(compute, share)
    assert est.compute_usd + est.monitoring_usd == pytest.approx(est.total_usd, rel=1e-12)
