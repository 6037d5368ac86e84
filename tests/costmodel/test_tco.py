"""Layer 4, TCO: the checked example (self-hosted wins by $6,000), not the article's comments."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcost_sdk.costmodel import estimate_tco
from mlcost_sdk.errors import InvalidParameterError

EXAMPLE: dict[str, Any] = dict(compute_monthly_usd=10_000, managed_premium=0.3,
                               engineer_annual_usd=200_000, self_hosted_hours_per_week=8,
                               managed_hours_per_week=2)


def test_worked_example() -> None:
    est = estimate_tco(**EXAMPLE)
    assert est.engineer_usd_per_hour == pytest.approx(96.15, abs=0.01)
    assert est.self_hosted_compute_annual_usd == pytest.approx(120_000)
    assert est.self_hosted_engineering_annual_usd == pytest.approx(40_000)
    assert est.self_hosted_annual_usd == pytest.approx(160_000)
    assert est.managed_compute_annual_usd == pytest.approx(156_000)
    assert est.managed_engineering_annual_usd == pytest.approx(10_000)
    assert est.managed_annual_usd == pytest.approx(166_000)
    assert est.winner == "self-hosted"
    assert est.difference_usd == pytest.approx(6_000)
    assert est.break_even_compute_annual_usd == pytest.approx(100_000)
    # $120,000 of compute is above the break-even, which agrees with self-hosting winning
    assert est.self_hosted_compute_annual_usd > (est.break_even_compute_annual_usd or 0)


def test_not_the_articles_comments() -> None:
    # the comments claimed $76.9K engineering, $196.9K vs $175.2K, "managed wins"
    est = estimate_tco(**EXAMPLE)
    assert est.self_hosted_engineering_annual_usd != pytest.approx(76_900, rel=0.01)
    assert est.winner != "managed"


def test_below_break_even_managed_wins() -> None:
    est = estimate_tco(**{**EXAMPLE, "compute_monthly_usd": 5_000})
    assert est.winner == "managed"
    assert est.difference_usd == pytest.approx(30_000 - 0.3 * 60_000)


def test_no_break_even_without_a_premium_or_saved_hours() -> None:
    assert estimate_tco(**{**EXAMPLE, "managed_premium": 0}).break_even_compute_annual_usd is None
    assert estimate_tco(**{**EXAMPLE, "managed_hours_per_week": 8}
                        ).break_even_compute_annual_usd is None


@pytest.mark.parametrize("field", sorted(EXAMPLE))
def test_negative_input_names_the_parameter(field: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        estimate_tco(**{**EXAMPLE, field: -1})
    assert err.value.parameter == field


@given(premium=st.floats(0.01, 2), salary=st.floats(50_000, 500_000),
       self_hours=st.floats(1, 40), saved=st.floats(0.5, 1))
def test_at_break_even_compute_both_cost_the_same(premium: float, salary: float,
                                                  self_hours: float, saved: float) -> None:
    inputs = dict(managed_premium=premium, engineer_annual_usd=salary,
                  self_hosted_hours_per_week=self_hours,
                  managed_hours_per_week=self_hours * (1 - saved))
    break_even = estimate_tco(compute_monthly_usd=1, **inputs).break_even_compute_annual_usd
    assert break_even is not None
    est = estimate_tco(compute_monthly_usd=break_even / 12, **inputs)
    assert est.self_hosted_annual_usd == pytest.approx(est.managed_annual_usd, rel=1e-9)
    assert est.self_hosted_compute_annual_usd + est.self_hosted_engineering_annual_usd == \
        pytest.approx(est.self_hosted_annual_usd, rel=1e-12)
