"""The real ``openai`` client, instrumented, against an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, cast

import openai
import pytest
from openai.types.chat import ChatCompletion
from opentelemetry.trace import StatusCode

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.catalog import llm_cost
from mlcost_sdk.errors import InvalidParameterError, TagError
from mlcost_sdk.integrations.openai import instrument, uninstrument
from mlcost_sdk.testing import Capture
from tests.integrations.asgi.uvicorn_server import serve
from tests.integrations.openai.openai_compatible_server import Log, make_app

IN_PER_1K, OUT_PER_1K = 0.5, 1.5
MESSAGES = [{"role": "system", "content": "be brief"},
            {"role": "user", "content": "what does this request cost"}]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Log]]:
    log: Log = []
    with serve(make_app(log)) as url:
        yield url + "/v1", log


@pytest.fixture
def log(server: tuple[str, Log]) -> Log:
    server[1].clear()
    return server[1]


def _client(server: tuple[str, Log], cls: Any = openai.OpenAI, **prices: Any) -> Any:
    prices = prices or {"input_usd_per_1k": IN_PER_1K, "output_usd_per_1k": OUT_PER_1K}
    return instrument(cls(base_url=server[0], api_key="test-key", max_retries=0), **prices)


def _user_priced(usage: dict[str, Any]) -> float:
    """The cost at the test's own prices (cached input at the input price: none was given)."""
    return float(usage["prompt_tokens"] * IN_PER_1K
                 + usage["completion_tokens"] * OUT_PER_1K) / 1000


def _assert_costed(span: Any, usage: dict[str, Any]) -> None:
    attrs = span.attributes
    assert attrs[c.GEN_AI_INPUT_TOKENS] == usage["prompt_tokens"]
    assert attrs[c.GEN_AI_OUTPUT_TOKENS] == usage["completion_tokens"]
    assert attrs[c.GEN_AI_CACHED_INPUT_TOKENS] == usage["prompt_tokens_details"]["cached_tokens"]
    assert attrs[c.COST_USD] == pytest.approx(_user_priced(usage), rel=1e-12)
    assert attrs[c.PRICE_SOURCE] == "user"


def test_a_chat_completion_is_an_llm_call_priced_by_its_reported_usage(
        cap: Capture, server: tuple[str, Log], log: Log) -> None:
    response = _client(server).chat.completions.create(model="my-llm", messages=MESSAGES)
    assert isinstance(response, ChatCompletion)  # the caller gets the real object back
    assert response.choices[0].message.content == "echo: be brief what does this request cost"
    span = cap.span(c.KIND_LLM_CALL)
    assert span.name == "chat my-llm"
    assert span.attributes[c.GEN_AI_OPERATION_NAME] == "chat"
    assert span.attributes[c.GEN_AI_PROVIDER_NAME] == "openai"
    assert span.attributes[c.GEN_AI_REQUEST_MODEL] == "my-llm"
    assert span.attributes[c.GEN_AI_RESPONSE_MODEL] == response.model == "my-llm-2024-07-18"
    _assert_costed(span, log[0][1] or {})
    assert log[0][0].get("stream_options") is None  # only streams are asked for usage


def test_a_stream_asks_for_usage_reads_it_and_hides_the_chunk_nobody_asked_for(
        cap: Capture, server: tuple[str, Log], log: Log) -> None:
    stream = _client(server).chat.completions.create(model="my-llm", messages=MESSAGES,
                                                     stream=True)
    assert cap.spans(c.KIND_LLM_CALL) == []  # still in flight
    chunks = list(stream)
    assert all(chunk.choices for chunk in chunks)
    assert "".join(ch.choices[0].delta.content for ch in chunks).split()[0] == "echo:"
    body, usage = log[0]
    assert body["stream_options"] == {"include_usage": True}
    assert usage is not None
    _assert_costed(cap.span(c.KIND_LLM_CALL), usage)
    assert stream.response.status_code == 200  # the rest of openai.Stream is still there


def test_a_caller_who_asks_for_usage_chunks_sees_them_and_one_who_declines_gets_no_cost(
        cap: Capture, server: tuple[str, Log], log: Log) -> None:
    client = _client(server)
    chunks = list(client.chat.completions.create(
        model="my-llm", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    declined = list(client.chat.completions.create(
        model="my-llm", messages=MESSAGES, stream=True, stream_options={"include_usage": False}))
    assert all(ch.usage is None for ch in declined)
    asked, unknown = cap.spans(c.KIND_LLM_CALL)
    _assert_costed(asked, log[0][1] or {})
    assert unknown.attributes[c.PRICE_SOURCE] == "none"  # unknown usage is never "free"
    assert c.COST_USD not in unknown.attributes
    assert c.GEN_AI_INPUT_TOKENS not in unknown.attributes


def test_closing_a_stream_early_ends_its_call(cap: Capture, server: tuple[str, Log]) -> None:
    with _client(server).chat.completions.create(model="my-llm", messages=MESSAGES,
                                                 stream=True) as stream:
        assert next(stream).choices[0].delta.content == "echo: "
    span = cap.span(c.KIND_LLM_CALL)
    assert span.attributes[c.PRICE_SOURCE] == "none"  # it never reached the usage chunk


def test_async_client_plain_and_streamed(cap: Capture, server: tuple[str, Log],
                                         log: Log) -> None:
    client = _client(server, openai.AsyncOpenAI)

    async def calls() -> list[Any]:
        plain = await client.chat.completions.create(model="my-llm", messages=MESSAGES)
        async with await client.chat.completions.create(
                model="my-llm", messages=MESSAGES, stream=True) as stream:
            chunks = [chunk async for chunk in stream]
        await client.close()
        return [plain, chunks]

    plain, chunks = asyncio.run(calls())
    assert plain.usage.prompt_tokens == log[0][1]["prompt_tokens"]  # type: ignore[index]
    assert all(chunk.choices for chunk in chunks)
    assert log[1][0]["stream_options"] == {"include_usage": True}
    spans = cap.spans(c.KIND_LLM_CALL)
    assert len(spans) == 2
    for span, (_, usage) in zip(spans, log, strict=True):
        _assert_costed(span, usage or {})


def test_known_models_are_priced_by_genai_prices(cap: Capture, server: tuple[str, Log],
                                                 log: Log) -> None:
    client = instrument(openai.OpenAI(base_url=server[0], api_key="k", max_retries=0))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    usage = log[0][1] or {}
    expected = llm_cost("gpt-4o-mini-2024-07-18", "openai", usage["prompt_tokens"],
                        usage["completion_tokens"],
                        usage["prompt_tokens_details"]["cached_tokens"])
    assert expected is not None
    span = cap.span(c.KIND_LLM_CALL)
    assert span.attributes[c.COST_USD] == pytest.approx(expected.total_usd, rel=1e-12)
    assert str(span.attributes[c.PRICE_SOURCE]).startswith("genai-prices")


def test_completions_and_embeddings(cap: Capture, server: tuple[str, Log], log: Log) -> None:
    client = _client(server)
    client.completions.create(model="my-llm", prompt="say something short")
    vectors = client.embeddings.create(model="my-embedder", input=["one two", "three"])
    assert [d.embedding for d in vectors.data] == [[0.5, -0.5, 7.0], [0.5, -0.5, 5.0]]
    text, embed = cap.spans(c.KIND_LLM_CALL)
    assert text.attributes[c.GEN_AI_OPERATION_NAME] == "text_completion"
    assert text.attributes[c.GEN_AI_OUTPUT_TOKENS] == log[0][1]["completion_tokens"]  # type: ignore[index]
    assert embed.attributes[c.GEN_AI_OPERATION_NAME] == "embeddings"
    assert embed.attributes[c.GEN_AI_INPUT_TOKENS] == 3
    assert embed.attributes[c.COST_USD] == pytest.approx(3 * IN_PER_1K / 1000)


def test_api_errors_pass_through_untouched(cap: Capture, server: tuple[str, Log]) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        _client(server).chat.completions.create(model="broken", messages=MESSAGES)
    assert info.value.status_code == 500
    span = cap.span(c.KIND_LLM_CALL)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[c.PRICE_SOURCE] == "none"


def test_a_400_that_quotes_the_prompt_leaks_nothing_into_the_span(
        cap: Capture, server: tuple[str, Log]) -> None:
    secret = "patient 4111-1111-1111-1111 has"
    messages = [{"role": "user", "content": f"{secret} what condition"}]
    with pytest.raises(openai.BadRequestError) as info:
        _client(server).chat.completions.create(model="rejects-prompt", messages=messages)
    assert secret in str(info.value)  # the caller still gets the whole error
    span = cap.span(c.KIND_LLM_CALL)
    assert "4111" not in span.to_json()
    assert span.attributes[c.ERROR_TYPE] == "BadRequestError"
    assert span.attributes[c.HTTP_STATUS_CODE] == 400
    assert [dict(e.attributes or {}) for e in span.events] == [
        {c.EXCEPTION_TYPE: "openai.BadRequestError"}]


def test_reasoning_tokens_are_read_emitted_and_priced_as_output(
        cap: Capture, server: tuple[str, Log], log: Log) -> None:
    _client(server).chat.completions.create(model="my-reasoner", messages=MESSAGES)
    usage = log[0][1] or {}
    attrs = cap.span(c.KIND_LLM_CALL).attributes
    assert attrs[c.GEN_AI_REASONING_OUTPUT_TOKENS] == \
        usage["completion_tokens_details"]["reasoning_tokens"] > 0
    _assert_costed(cap.span(c.KIND_LLM_CALL), usage)


def test_calls_nest_under_the_current_span(cap: Capture, server: tuple[str, Log]) -> None:
    client = _client(server)
    with mlcost.inference("rag", model="retriever"):
        client.chat.completions.create(model="my-llm", messages=MESSAGES)
    llm, outer = cap.span(c.KIND_LLM_CALL), cap.span(c.KIND_INFERENCE)
    assert llm.parent is not None and llm.parent.span_id == outer.context.span_id


def test_instrument_again_warns_and_changes_nothing_and_uninstrument_undoes_it(
        cap: Capture, server: tuple[str, Log]) -> None:
    client = _client(server, input_usd_per_1k=1.0, output_usd_per_1k=2.0)
    with pytest.warns(RuntimeWarning, match="already instrumented"):
        assert instrument(client, input_usd_per_1k=100.0, output_usd_per_1k=100.0) is client
    response = client.chat.completions.create(model="my-llm", messages=MESSAGES)
    assert len(cap.spans(c.KIND_LLM_CALL)) == 1  # one span, priced by the first options
    usage = response.usage
    assert usage is not None
    assert cap.span(c.KIND_LLM_CALL).attributes[c.COST_USD] == pytest.approx(
        usage.prompt_tokens / 1000 * 1.0 + usage.completion_tokens / 1000 * 2.0)
    uninstrument(client)
    client.chat.completions.create(model="my-llm", messages=MESSAGES)
    assert len(cap.spans(c.KIND_LLM_CALL)) == 1
    with pytest.warns(RuntimeWarning, match="not instrumented"):
        uninstrument(client)
    instrument(client, input_usd_per_1k=1.0, output_usd_per_1k=2.0)  # instrumentable anew
    client.chat.completions.create(model="my-llm", messages=MESSAGES)
    assert len(cap.spans(c.KIND_LLM_CALL)) == 2


def test_bad_arguments_get_one_typed_error_naming_them(server: tuple[str, Log]) -> None:
    client = openai.OpenAI(base_url=server[0], api_key="k")
    with pytest.raises(InvalidParameterError, match="client"):
        instrument(cast(Any, object()))
    with pytest.raises(InvalidParameterError, match="output_usd_per_1k"):
        instrument(client, input_usd_per_1k=1.0)
    with pytest.raises(InvalidParameterError, match="input_usd_per_1k"):
        instrument(client, input_usd_per_1k=-1.0, output_usd_per_1k=1.0)
    with pytest.raises(TagError, match="Team"):
        instrument(client, tags={"Team": "x"})


@pytest.mark.slow  # a fresh Python process
def test_a_missing_openai_package_names_the_extra() -> None:
    code = "import sys; sys.modules['openai'] = None; import mlcost_sdk.integrations.openai"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "pip install 'mlcost-sdk[openai]'" in result.stderr
