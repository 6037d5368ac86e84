from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.testing import Capture, capture
from tests.conftest import FULL_TAGS


def test_explicit_prices_reproduce_the_rag_example(cap: Capture) -> None:
    # cost-model.md: 2,000 input tokens at $0.03/1K + 500 output at $0.06/1K = $0.09 a request
    cost = mlcost.record_llm_call(provider="openai", model="gpt-4-class", input_tokens=2000,
                                  output_tokens=500, input_usd_per_1k=0.03,
                                  output_usd_per_1k=0.06)
    assert cost == pytest.approx(0.09)
    a = cap.span(c.KIND_LLM_CALL).attributes
    assert a[c.GEN_AI_OPERATION_NAME] == "chat"
    assert a[c.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[c.GEN_AI_REQUEST_MODEL] == "gpt-4-class"
    assert a[c.GEN_AI_INPUT_TOKENS] == 2000 and a[c.GEN_AI_OUTPUT_TOKENS] == 500
    assert a[c.COST_INPUT_USD] == pytest.approx(0.06)
    assert a[c.COST_OUTPUT_USD] == pytest.approx(0.03)
    assert a[c.PRICE_SOURCE] == "user"


def test_catalog_prices_come_from_genai_prices(cap: Capture) -> None:
    cost = mlcost.record_llm_call(provider="openai", model="gpt-4o", input_tokens=2000,
                                  output_tokens=500, cached_input_tokens=1000)
    expected = calc_price(Usage(input_tokens=2000, output_tokens=500, cache_read_tokens=1000),
                          model_ref="gpt-4o", provider_id="openai").total_price
    assert cost == pytest.approx(float(expected))
    a = cap.span(c.KIND_LLM_CALL).attributes
    assert a[c.PRICE_SOURCE].startswith("genai-prices")
    assert a[c.GEN_AI_CACHED_INPUT_TOKENS] == 1000


def test_unknown_model_has_no_cost_but_still_a_span(cap: Capture) -> None:
    assert mlcost.record_llm_call(provider="nobody", model="no-such-model-xyz",
                                  input_tokens=1, output_tokens=1) is None
    a = cap.span(c.KIND_LLM_CALL).attributes
    assert c.COST_USD not in a and a[c.PRICE_SOURCE] == "none"


def test_bad_token_counts_name_the_field() -> None:
    with capture(tags=FULL_TAGS), pytest.raises(mlcost.InvalidParameterError,
                                                match="output_tokens"):
        mlcost.record_llm_call(model="gpt-4o", input_tokens=1, output_tokens=-5)


def test_context_manager_form_times_the_call(cap: Capture) -> None:
    with mlcost.llm_call(provider="openai", model="gpt-4o") as call:
        call.set_usage(input_tokens=100, output_tokens=10, response_model="gpt-4o-2024-08-06")
    span = cap.span(c.KIND_LLM_CALL)
    assert span.attributes[c.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert span.attributes[c.COST_USD] > 0
    assert span.name == "chat gpt-4o"
