"""Unit economics: realized cost per prediction, gross margin, cost per active user."""

from __future__ import annotations

import pytest

from mlcost_sdk.costmodel import (
    cost_per_active_user,
    cost_per_prediction,
    estimate_inference,
    estimate_unit_economics,
    gross_margin,
)
from mlcost_sdk.errors import InvalidParameterError


def test_unit_economics_of_the_inference_example() -> None:
    month = estimate_inference(instance_usd_per_hour=3.06, instances=2, rps_per_instance=50,
                               idle_buffer=0.3, overhead=0.15).monthly_cost_usd
    unit = estimate_unit_economics(monthly_cost_usd=month, monthly_predictions=1e7,
                                   price_per_prediction_usd=0.001, monthly_active_users=20_000)
    assert unit.cost_per_prediction_usd == pytest.approx(0.000514, abs=5e-7)
    assert unit.gross_margin == pytest.approx((0.001 - 0.000513774) / 0.001)
    assert unit.cost_per_active_user_usd == pytest.approx(5_137.74 / 20_000)


def test_a_price_below_cost_has_a_negative_margin() -> None:
    assert gross_margin(0.0004, 0.000514) == pytest.approx(-0.285)
    assert gross_margin(1.0, 0.0) == 1.0


def test_optional_parts_stay_empty() -> None:
    unit = estimate_unit_economics(monthly_cost_usd=100, monthly_predictions=1000)
    assert unit.gross_margin is None and unit.cost_per_active_user_usd is None
    assert unit.cost_per_prediction_usd == pytest.approx(0.1)


def test_bad_input_names_the_parameter() -> None:
    with pytest.raises(InvalidParameterError, match="monthly_predictions"):
        cost_per_prediction(100, 0)
    with pytest.raises(InvalidParameterError, match="price_usd"):
        gross_margin(0, 1)
    with pytest.raises(InvalidParameterError, match="monthly_active_users"):
        cost_per_active_user(100, -5)
