from __future__ import annotations

from typing import Any

import pytest
from genai_prices import Usage, calc_price, extract_usage
from genai_prices.data_snapshot import get_snapshot

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


# --- usage in each provider's own shape (issue 11, item 5) -------------------------------------

ANTHROPIC = {"input_tokens": 120, "output_tokens": 300, "cache_read_input_tokens": 4_000,
             "cache_creation_input_tokens": 1_000}
GEMINI = {"promptTokenCount": 5_000, "candidatesTokenCount": 200,
          "cachedContentTokenCount": 3_000, "thoughtsTokenCount": 800}
OPENAI_CHAT = {"prompt_tokens": 2_000, "completion_tokens": 900,
               "prompt_tokens_details": {"cached_tokens": 1_024},
               "completion_tokens_details": {"reasoning_tokens": 600}}
OPENAI_RESPONSES = {"input_tokens": 2_000, "output_tokens": 900,
                    "input_tokens_details": {"cached_tokens": 1_024},
                    "output_tokens_details": {"reasoning_tokens": 600}}


@pytest.mark.parametrize(("provider", "model", "body", "flavor"), [
    ("anthropic", "claude-3-5-sonnet-latest", {"usage": ANTHROPIC}, "default"),
    ("gcp.gemini", "gemini-2.5-pro", {"usageMetadata": GEMINI}, "default"),
    ("openai", "o3", {"usage": OPENAI_CHAT}, "chat"),
    ("openai", "o3", {"usage": OPENAI_RESPONSES}, "responses"),
])
def test_each_providers_usage_is_priced_as_genai_prices_extracts_it(
        cap: Capture, provider: str, model: str, body: dict[str, Any], flavor: str) -> None:
    # genai-prices' own extractor and calculator are the outside reference
    ref_provider = {"gcp.gemini": "google"}.get(provider, provider)
    ref = extract_usage(body, provider_id=ref_provider, api_flavor=flavor)
    info = get_snapshot().find_provider_model(model, None, ref_provider, None)[1]
    expected = float(ref.calc_price(model=info).total_price)
    usage = body if provider == "gcp.gemini" else body["usage"]  # a whole response, or its usage
    cost = mlcost.record_llm_call(provider=provider, model=model, usage=usage)
    assert cost == pytest.approx(expected, rel=1e-9)
    a = cap.span(c.KIND_LLM_CALL).attributes
    assert a[c.GEN_AI_INPUT_TOKENS] == ref.usage.input_tokens  # cached ones included
    assert a[c.GEN_AI_OUTPUT_TOKENS] == ref.usage.output_tokens  # reasoning included


def test_anthropic_input_tokens_exclude_cached_ones_and_are_accepted(cap: Capture) -> None:
    # the same usage given as counts the Anthropic way is one typed error that says what to do
    with pytest.raises(mlcost.InvalidParameterError, match="usage="):
        mlcost.record_llm_call(provider="anthropic", model="claude-3-5-sonnet-latest",
                               input_tokens=120, output_tokens=300, cached_input_tokens=4_000)
    mlcost.record_llm_call(provider="anthropic", model="claude-3-5-sonnet-latest",
                           usage=ANTHROPIC)
    a = cap.span(c.KIND_LLM_CALL).attributes
    assert a[c.GEN_AI_INPUT_TOKENS] == 5_120
    assert a[c.GEN_AI_CACHED_INPUT_TOKENS] == 4_000
    assert a[c.GEN_AI_CACHE_CREATION_INPUT_TOKENS] == 1_000


def test_cache_writes_cost_the_price_datas_figure_or_one_and_a_quarter_times_input(
        cap: Capture) -> None:
    written = {"input_tokens": 1_000, "output_tokens": 0, "cache_creation_input_tokens": 1_000}
    claude = mlcost.record_llm_call(provider="anthropic", model="claude-3-5-sonnet-latest",
                                    usage={**written, "input_tokens": 0})
    assert claude == pytest.approx(1_000 * 3.75e-6)  # genai-prices: $3.75/MTok = 1.25 x $3
    explicit = mlcost.record_llm_call(model="self-hosted", input_tokens=2_000, output_tokens=0,
                                      cache_creation_input_tokens=1_000, input_usd_per_1k=1.0,
                                      output_usd_per_1k=2.0)
    assert explicit == pytest.approx(1.0 + 1.25)
    own = mlcost.record_llm_call(model="self-hosted", input_tokens=1_000, output_tokens=0,
                                 cache_creation_input_tokens=1_000, input_usd_per_1k=1.0,
                                 output_usd_per_1k=2.0, cache_write_usd_per_1k=1.5)
    assert own == pytest.approx(1.5)


def test_reasoning_tokens_are_priced_as_output_and_emitted(cap: Capture) -> None:
    cost = mlcost.record_llm_call(model="m", input_tokens=100, output_tokens=1_000,
                                  reasoning_tokens=700, input_usd_per_1k=1.0,
                                  output_usd_per_1k=4.0)
    assert cost == pytest.approx(0.1 + 4.0)
    a = cap.span(c.KIND_LLM_CALL).attributes
    assert a[c.GEN_AI_REASONING_OUTPUT_TOKENS] == 700
    assert a[c.GEN_AI_OUTPUT_TOKENS] == 1_000
    with pytest.raises(mlcost.InvalidParameterError, match="reasoning_tokens"):
        mlcost.record_llm_call(model="m", input_tokens=1, output_tokens=1, reasoning_tokens=2)


@pytest.mark.parametrize("spelling", ["x_ai", "xai", "x-ai", "XAI"])
def test_provider_names_follow_the_genai_conventions(cap: Capture, spelling: str) -> None:
    cost = mlcost.record_llm_call(provider=spelling, model="grok-3", input_tokens=1_000,
                                  output_tokens=100)
    expected = calc_price(Usage(input_tokens=1_000, output_tokens=100), model_ref="grok-3",
                          provider_id="x-ai").total_price
    assert cost == pytest.approx(float(expected))
    assert cap.span(c.KIND_LLM_CALL).attributes[c.GEN_AI_PROVIDER_NAME] == "x_ai"


@pytest.mark.parametrize("usage", [{"total_tokens": 5}, "12 tokens", 12])
def test_an_unknown_usage_shape_is_one_typed_error(usage: object) -> None:
    with capture(tags=FULL_TAGS), pytest.raises(mlcost.InvalidParameterError) as err:
        mlcost.record_llm_call(model="gpt-4o", usage=usage)
    assert err.value.parameter == "usage"


def test_a_bad_count_inside_a_usage_names_the_providers_field() -> None:
    with capture(tags=FULL_TAGS), pytest.raises(mlcost.InvalidParameterError) as err:
        mlcost.record_llm_call(model="gpt-4o", usage={**OPENAI_CHAT, "completion_tokens": -1})
    assert err.value.parameter == "usage.completion_tokens"


# --- cheap per call: prices cached, sites bound once (issue 10) --------------------------------

def test_calls_never_run_genai_prices_calculator(cap: Capture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_prices import types

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("genai-prices' calculator ran on the call path")

    monkeypatch.setattr(types.ModelInfo, "calc_price", refuse)
    monkeypatch.setattr(types.ModelPrice, "calc_price", refuse)
    for _ in range(3):
        assert mlcost.record_llm_call(provider="openai", model="gpt-4o", input_tokens=10,
                                      output_tokens=5)
    assert len(cap.spans(c.KIND_LLM_CALL)) == 3


def test_a_reconfigure_rebinds_the_tags_of_a_site() -> None:
    with capture(tags=FULL_TAGS) as cap:
        mlcost.record_llm_call(model="gpt-4o", input_tokens=1, output_tokens=1)
        mlcost.configure(tags={"team": "ranking"})
        mlcost.record_llm_call(model="gpt-4o", input_tokens=1, output_tokens=1)
    first, second = cap.spans(c.KIND_LLM_CALL)
    assert first.attributes[c.tag_attribute("team")] == "search"
    assert second.attributes[c.tag_attribute("team")] == "ranking"


def test_the_cost_metric_counts_each_priced_call(cap: Capture) -> None:
    for _ in range(3):
        mlcost.record_llm_call(model="m", input_tokens=1_000, output_tokens=0,
                               input_usd_per_1k=0.5, output_usd_per_1k=1.0)
    points = [p for p in cap.metric_points(c.METRIC_COST)
              if p.attributes.get(c.KIND) == c.KIND_LLM_CALL]
    assert sum(p.value for p in points) == pytest.approx(1.5)


# --- privacy (issue 9): a provider's error may quote the prompt back -------------------------

class PromptEchoError(Exception):
    status_code = 400


def test_an_error_is_recorded_as_its_type_and_status_only(cap: Capture) -> None:
    secret = "my card is 4111-1111-1111-1111"
    with pytest.raises(PromptEchoError), mlcost.llm_call(provider="openai", model="gpt-4o"):
        raise PromptEchoError(f"Invalid prompt: {secret!r}")
    span = cap.span(c.KIND_LLM_CALL)
    assert "4111" not in span.to_json()
    (event,) = span.events
    assert event.name == "exception"
    assert dict(event.attributes or {}) == {
        c.EXCEPTION_TYPE: "tests.runtime.test_llm.PromptEchoError"}
    assert span.attributes[c.ERROR_TYPE] == "PromptEchoError"
    assert span.attributes[c.HTTP_STATUS_CODE] == 400
    assert span.status.description == "PromptEchoError"


def test_exception_details_are_recorded_when_asked_for() -> None:
    with capture(tags=FULL_TAGS, record_exception_details=True) as cap, \
            pytest.raises(PromptEchoError), mlcost.llm_call(provider="openai", model="gpt-4o"):
        raise PromptEchoError("echoed prompt")
    (event,) = cap.span(c.KIND_LLM_CALL).events
    assert (event.attributes or {})["exception.message"] == "echoed prompt"
