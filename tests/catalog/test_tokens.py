"""Token prices come from genai-prices' bundled data and agree with its own calculator."""

from __future__ import annotations

from typing import Any

import genai_prices
import pytest
from genai_prices import Usage, calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcost_sdk.catalog import llm_cost, token_price
from mlcost_sdk.costmodel.llm import CACHE_WRITE_MULTIPLIER, TokenUsage, token_cost
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


def _token_priced_models() -> list[tuple[str, str]]:
    """Every (provider, model) of the bundled data that genai-prices finds by its own id (other
    units — searches, audio, pages — cost nothing at zero use on both sides)."""
    from genai_prices.data_snapshot import get_snapshot

    return [(p.id, m.id) for p in get_snapshot().providers for m in p.models
            if token_price(m.id, p.id) is not None]


MODELS = _token_priced_models()


@settings(max_examples=300, deadline=None)
@given(pick=st.integers(0, len(MODELS) - 1), inputs=st.integers(0, 2_000_000),
       read=st.floats(0, 1), write=st.floats(0, 1), outputs=st.integers(0, 100_000),
       reasoning=st.floats(0, 1))
def test_the_cost_models_formula_agrees_with_genai_prices_on_every_model(
        pick: int, inputs: int, read: float, write: float, outputs: int,
        reasoning: float) -> None:
    provider, model = MODELS[pick]
    cached = int(inputs * read)
    written = int((inputs - cached) * write)
    thought = int(outputs * reasoning)
    price = token_price(model, provider)
    assert price is not None
    if price.cache_write_usd_per_token is None:
        written = 0  # where genai-prices has no write price, mlcost bills 1.25x input (below)
    usage = TokenUsage.of(input_tokens=inputs, output_tokens=outputs, cached_input_tokens=cached,
                          cache_creation_input_tokens=written, reasoning_tokens=thought)
    ref = calc_price(Usage(input_tokens=inputs, output_tokens=outputs, cache_read_tokens=cached,
                           cache_write_tokens=written, output_reasoning_tokens=thought),
                     model, provider_id=provider)
    assert token_cost(price, usage).total_usd == pytest.approx(float(ref.total_price),
                                                               rel=1e-9, abs=1e-15)


def test_a_model_without_a_cache_write_price_bills_writes_at_one_and_a_quarter_input() -> None:
    price = token_price("gpt-4o", "openai")
    assert price is not None and price.cache_write_usd_per_token is None
    usage = TokenUsage.of(input_tokens=1_000, output_tokens=0, cache_creation_input_tokens=1_000)
    assert token_cost(price, usage).input_usd == pytest.approx(
        1_000 * CACHE_WRITE_MULTIPLIER * price.input_usd_per_token)


def test_prices_are_looked_up_once_per_provider_model_and_data_version() -> None:
    assert token_price("gpt-4o", "openai") is token_price("gpt-4o", "openai")
    assert token_price("grok-3", "x_ai") is token_price("grok-3", "xai") is not None
