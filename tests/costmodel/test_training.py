"""Layer 1: the checked worked example (not the source article's slip) and the training formula."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcost_sdk.costmodel import estimate_training, training_flops
from mlcost_sdk.errors import InvalidParameterError

EXAMPLE: dict[str, Any] = dict(params=7e9, tokens=1e12, gpus=8, mfu=0.4, peak_flops_per_s=312e12,
               gpu_usd_per_hour=3.0)


def test_worked_example_7b_on_8_a100() -> None:
    est = estimate_training(**EXAMPLE)
    assert est.total_flops == pytest.approx(4.2e22)
    assert est.flops_source == "formula_6nd"
    assert est.cluster_flops_per_s == pytest.approx(9.984e14)
    assert est.cluster_flops_per_s / est.gpus == pytest.approx(1.248e14)
    assert est.wall_clock_hours * 3600 == pytest.approx(4.207e7, rel=1e-3)
    assert round(est.wall_clock_hours) == 11_685
    assert est.wall_clock_hours / 24 == pytest.approx(487, abs=0.5)
    assert round(est.gpu_hours) == 93_483
    assert est.cost_usd == pytest.approx(280_449, abs=1)


def test_not_the_articles_slip() -> None:
    # The article read 4.2e7 seconds as hours and divided by 8 twice: 5,258 h, $126,192.
    est = estimate_training(**EXAMPLE)
    assert est.wall_clock_hours != pytest.approx(5_258, rel=0.05)
    assert est.cost_usd != pytest.approx(126_192, rel=0.05)


def test_communication_overhead_adds_to_wall_clock_and_cost() -> None:
    base = estimate_training(**EXAMPLE)
    slow = estimate_training(**EXAMPLE, comm_overhead=0.2)
    assert slow.wall_clock_hours == pytest.approx(base.wall_clock_hours * 1.2)
    assert slow.cost_usd == pytest.approx(base.cost_usd * 1.2)
    assert slow.total_flops == base.total_flops  # overhead is time, not model FLOPs


def test_measured_flops_replace_the_formula() -> None:
    inputs = {k: val for k, val in EXAMPLE.items() if k not in ("params", "tokens")}
    est = estimate_training(**inputs, flops=4.2e22)
    assert est.flops_source == "user"
    assert est.cost_usd == pytest.approx(estimate_training(**EXAMPLE).cost_usd)
    assert training_flops(7e9, 1e12) == pytest.approx(4.2e22)


def test_result_keys_and_sources() -> None:
    data = estimate_training(**EXAMPLE, peak_source="catalog:a100-sxm4-80gb").as_dict()
    assert {"total_flops", "gpu_hours", "wall_clock_hours", "cost_usd"} <= data.keys()
    assert data["peak_source"] == "catalog:a100-sxm4-80gb"
    assert data["price_source"] == "user"


@pytest.mark.parametrize(("change", "parameter", "allowed"), [
    ({"mfu": 0.0}, "mfu", "(0, 1]"),
    ({"mfu": 1.2}, "mfu", "(0, 1]"),
    ({"mfu": math.nan}, "mfu", "(0, 1]"),
    ({"gpus": 0}, "gpus", ">= 1"),
    ({"gpus": 2.5}, "gpus", "whole number"),
    ({"gpus": True}, "gpus", "whole number"),
    ({"gpu_usd_per_hour": -1.0}, "gpu_usd_per_hour", ">= 0"),
    ({"peak_flops_per_s": 0.0}, "peak_flops_per_s", "> 0"),
    ({"params": -7e9}, "params", "> 0"),
    ({"tokens": None}, "params", "with tokens"),
    ({"flops": 1e20}, "flops", "instead of params"),
    ({"comm_overhead": -0.1}, "comm_overhead", ">= 0"),
])
def test_out_of_range_input_names_the_parameter(change: dict[str, object], parameter: str,
                                                allowed: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        estimate_training(**{**EXAMPLE, **change})
    assert err.value.parameter == parameter
    assert allowed in str(err.value) and parameter in str(err.value)


@given(price=st.floats(0.01, 100), factor=st.floats(0.1, 10))
def test_cost_is_linear_in_price(price: float, factor: float) -> None:
    one = estimate_training(**{**EXAMPLE, "gpu_usd_per_hour": price})
    scaled = estimate_training(**{**EXAMPLE, "gpu_usd_per_hour": price * factor})
    assert scaled.cost_usd == pytest.approx(one.cost_usd * factor, rel=1e-9)


@given(gpus=st.integers(1, 4096), mfu=st.floats(0.01, 1.0))
def test_gpu_hours_do_not_depend_on_gpu_count(gpus: int, mfu: float) -> None:
    # more GPUs finish sooner but burn the same GPU-hours for the same FLOPs at the same MFU
    est = estimate_training(**{**EXAMPLE, "gpus": gpus, "mfu": mfu})
    assert est.gpu_hours == pytest.approx(4.2e22 / (312e12 * mfu) / 3600, rel=1e-9)
    assert est.gpu_hours == pytest.approx(est.wall_clock_hours * gpus, rel=1e-12)
