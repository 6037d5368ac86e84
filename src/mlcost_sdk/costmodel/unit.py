"""Unit economics: what one prediction costs, the margin at a price, the cost per active user."""

from __future__ import annotations

from dataclasses import dataclass

from .. import _validate as v
from ._estimate import Estimate


def cost_per_prediction(monthly_cost_usd: float, monthly_predictions: float) -> float:
    """Realized: everything the month cost (idle capacity included) over what it served."""
    return (v.non_negative("monthly_cost_usd", monthly_cost_usd)
            / v.positive("monthly_predictions", monthly_predictions))


def gross_margin(price_usd: float, cost_usd: float) -> float:
    """(price - cost) / price; negative when each sale loses money."""
    price = v.positive("price_usd", price_usd)
    return (price - v.non_negative("cost_usd", cost_usd)) / price


def cost_per_active_user(total_ml_cost_usd: float, monthly_active_users: float) -> float:
    return (v.non_negative("total_ml_cost_usd", total_ml_cost_usd)
            / v.positive("monthly_active_users", monthly_active_users))


@dataclass(frozen=True)
class UnitEconomics(Estimate):
    monthly_cost_usd: float
    monthly_predictions: float
    cost_per_prediction_usd: float
    price_per_prediction_usd: float | None
    gross_margin: float | None
    monthly_active_users: float | None
    cost_per_active_user_usd: float | None


def estimate_unit_economics(*, monthly_cost_usd: float, monthly_predictions: float,
                            price_per_prediction_usd: float | None = None,
                            monthly_active_users: float | None = None) -> UnitEconomics:
    unit_cost = cost_per_prediction(monthly_cost_usd, monthly_predictions)
    return UnitEconomics(
        monthly_cost_usd=float(monthly_cost_usd),
        monthly_predictions=float(monthly_predictions),
        cost_per_prediction_usd=unit_cost,
        price_per_prediction_usd=price_per_prediction_usd,
        gross_margin=None if price_per_prediction_usd is None
        else gross_margin(price_per_prediction_usd, unit_cost),
        monthly_active_users=monthly_active_users,
        cost_per_active_user_usd=None if monthly_active_users is None
        else cost_per_active_user(monthly_cost_usd, monthly_active_users))
