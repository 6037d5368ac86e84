"""Token prices come from genai-prices' bundled data and agree with its own calculator."""

from __future__ import annotations

from typing import Any

import genai_prices
import pytest
from genai_prices import Usage, calc_price

from mlcost_sdk.catalog import llm_cost, token_price
from mlcost_sdk.errors import InvalidParameterError


def test_token_price_of_a_known_model() -> None:
    price = token_price("gpt-4", provider="openai")
    assert price is not None
    assert (price.model, price.provider) == ("gpt-4", "openai")
    assert price.input_usd_per_token == pytest.approx(30e-6)  # $0.03 per 1K
    assert price.output_usd_per_token == pytest.approx(60e-6)
    assert price.source == f"genai-prices {genai_prices.__version__}"


@pytest.mark.parametrize(("model", "provider"), [
    ("gpt-4o", None), ("gpt-4o-2024-08-06", "openai"), ("claude-3-5-sonnet-latest", None),
    ("claude-sonnet-4-5", "anthropic"),
])
def test_llm_cost_agrees_with_genai_prices(model: str, provider: str | None) -> None:
    cost = llm_cost(model, provider, input_tokens=12_345, output_tokens=678,
                    cached_input_tokens=2_000)
    ref = calc_price(Usage(input_tokens=12_345, output_tokens=678, cache_read_tokens=2_000),
                     model, provider_id=provider)
    assert cost is not None
    assert cost.total_usd == pytest.approx(float(ref.total_price))
    assert cost.input_usd + cost.output_usd == pytest.approx(cost.total_usd)
    assert cost.provider == ref.provider.id and cost.model == ref.model.id


def test_cached_tokens_cost_less() -> None:
    full = llm_cost("gpt-4o", None, 10_000, 0)
    cached = llm_cost("gpt-4o", None, 10_000, 0, cached_input_tokens=8_000)
    assert full is not None and cached is not None
    price = token_price("gpt-4o")
    assert price is not None and price.cached_input_usd_per_token is not None
    assert cached.input_usd == pytest.approx(2_000 * price.input_usd_per_token
                                             + 8_000 * price.cached_input_usd_per_token)
    assert cached.input_usd < full.input_usd


def test_tiered_model_is_flagged_and_priced_by_tier() -> None:
    price = token_price("claude-sonnet-4-5")
    assert price is not None and price.tiered
    small = llm_cost("claude-sonnet-4-5", None, 100_000, 0)
    large = llm_cost("claude-sonnet-4-5", None, 300_000, 0)
    assert small is not None and large is not None
    assert small.input_usd == pytest.approx(100_000 * price.input_usd_per_token)
    assert large.input_usd > 3 * small.input_usd  # the whole prompt moves to the higher tier


def test_unknown_model_or_provider_is_none() -> None:
    assert token_price("no-such-model-xyz") is None
    assert token_price("gpt-4o", provider="no-such-provider") is None
    assert llm_cost("no-such-model-xyz", None, 1, 1) is None


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"input_tokens": -1, "output_tokens": 1}, "input_tokens"),
    ({"input_tokens": 1, "output_tokens": float("nan")}, "output_tokens"),
    ({"input_tokens": 10, "output_tokens": 1, "cached_input_tokens": 11}, "cached_input_tokens"),
])
def test_bad_token_counts(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        llm_cost("gpt-4o", None, **kwargs)
    assert err.value.parameter == parameter
