"""Layer 2, LLM APIs: the checked RAG example, explicit prices and genai-prices lookups."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcost_sdk.catalog import token_price
from mlcost_sdk.costmodel import LLM_MONTH_DAYS, estimate_llm
from mlcost_sdk.errors import InvalidParameterError

RAG: dict[str, Any] = dict(requests_per_day=500, input_tokens=2000, output_tokens=500,
                           input_usd_per_1k=0.03, output_usd_per_1k=0.06)


def test_worked_example_rag_on_a_gpt4_class_api() -> None:
    est = estimate_llm(**RAG)
    assert est.input_cost_per_request_usd * 500 == pytest.approx(30)
    assert est.output_cost_per_request_usd * 500 == pytest.approx(15)
    assert est.daily_cost_usd == pytest.approx(45)
    assert est.month_days == LLM_MONTH_DAYS == 30
    assert est.monthly_cost_usd == pytest.approx(1_350)
    assert est.price_source == "user"


def test_worked_example_at_50k_requests_a_day() -> None:
    assert estimate_llm(**{**RAG, "requests_per_day": 50_000}).monthly_cost_usd == \
        pytest.approx(135_000)


def test_month_in_days_is_the_callers_choice_and_reported() -> None:
    est = estimate_llm(**RAG, month_days=365 / 12)
    assert est.month_days == pytest.approx(30.4167, abs=1e-4)
    assert est.monthly_cost_usd == pytest.approx(45 * 365 / 12)


def test_model_name_priced_by_genai_prices() -> None:
    # GPT-4 (8K) lists $0.03 / $0.06 per 1K tokens: the worked example's prices
    est = estimate_llm(requests_per_day=500, input_tokens=2000, output_tokens=500, model="gpt-4")
    assert est.monthly_cost_usd == pytest.approx(1_350)
    assert est.price_source.startswith("genai-prices ")
    assert "openai/gpt-4" in est.price_source


def test_model_price_matches_the_catalog_token_price() -> None:
    price = token_price("gpt-4o")
    assert price is not None and not price.tiered
    est = estimate_llm(requests_per_day=1, input_tokens=1234, output_tokens=567, model="gpt-4o")
    assert est.cost_per_request_usd == pytest.approx(
        1234 * price.input_usd_per_token + 567 * price.output_usd_per_token)


def test_cached_input_is_billed_at_its_own_price() -> None:
    est = estimate_llm(**RAG, cached_input_tokens=1000, cached_input_usd_per_1k=0.015)
    assert est.input_cost_per_request_usd == pytest.approx((1000 * 0.03 + 1000 * 0.015) / 1000)
    same = estimate_llm(**RAG, cached_input_tokens=1000)  # no cached price: billed as input
    assert same.input_cost_per_request_usd == pytest.approx(0.06)


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({**RAG, "model": "gpt-4"}, "model"),
    ({k: v for k, v in RAG.items() if k != "output_usd_per_1k"}, "input_usd_per_1k"),
    ({**RAG, "input_usd_per_1k": -0.03}, "input_usd_per_1k"),
    ({**RAG, "requests_per_day": -1}, "requests_per_day"),
    ({**RAG, "cached_input_tokens": 3000}, "cached_input_tokens"),
    ({**RAG, "month_days": 0}, "month_days"),
    ({"requests_per_day": 1, "input_tokens": 1, "output_tokens": 1,
      "model": "no-such-model-xyz"}, "model"),
])
def test_bad_input_names_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        estimate_llm(**kwargs)
    assert err.value.parameter == parameter


@given(price=st.floats(0.0001, 1), factor=st.floats(0.1, 10))
def test_cost_is_linear_in_price(price: float, factor: float) -> None:
    one = estimate_llm(**{**RAG, "input_usd_per_1k": price, "output_usd_per_1k": 2 * price})
    scaled = estimate_llm(**{**RAG, "input_usd_per_1k": price * factor,
                             "output_usd_per_1k": 2 * price * factor})
    assert scaled.monthly_cost_usd == pytest.approx(one.monthly_cost_usd * factor, rel=1e-9)


@given(tokens=st.integers(0, 300_000), more=st.integers(1, 300_000),
       model=st.sampled_from([None, "gpt-4o", "claude-sonnet-4-5"]))
def test_cost_is_monotone_in_tokens(tokens: int, more: int, model: str | None) -> None:
    # claude-sonnet-4-5 is tiered: past 200K input tokens the whole request costs more
    explicit = {"input_usd_per_1k": 0.003, "output_usd_per_1k": 0.015}
    prices: dict[str, Any] = {} if model else explicit

    def cost(inp: int, out: int) -> float:
        per_request: float = estimate_llm(requests_per_day=1, input_tokens=inp, output_tokens=out,
                                          model=model, **prices).cost_per_request_usd
        return per_request
    assert cost(tokens + more, 100) > cost(tokens, 100)
    assert cost(100, tokens + more) > cost(100, tokens)


@given(inp=st.integers(0, 100_000), out=st.integers(0, 100_000), per_day=st.floats(0, 1e6))
def test_components_add_up(inp: int, out: int, per_day: float) -> None:
    est = estimate_llm(**{**RAG, "input_tokens": inp, "output_tokens": out,
                          "requests_per_day": per_day})
    assert est.input_cost_per_request_usd + est.output_cost_per_request_usd == pytest.approx(
        est.cost_per_request_usd, rel=1e-12)
    assert est.monthly_cost_usd == pytest.approx(est.daily_cost_usd * est.month_days, rel=1e-12)
