"""OpenAI-compatible clients (the ``openai`` package): every call is an ``llm_call`` span priced
by the tokens its response reports.

    client = instrument(openai.OpenAI())            # AsyncOpenAI, AzureOpenAI, any base_url
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])

Covers ``chat.completions``, ``completions`` and ``embeddings`` of that client object, sync and
async, streamed or not (clients made later by ``with_options()`` or ``copy()`` are new objects:
instrument them too). A streamed call lasts until its last chunk is read or the stream is
closed; its usage comes from the final usage chunk, so ``stream_options={"include_usage":
True}`` is added when the caller did not choose, and that extra chunk is kept from the caller,
who did not ask for it. Prices come from genai-prices by ``provider`` and the response's model,
or from ``input_usd_per_1k``/``output_usd_per_1k`` (self-hosted models). A call whose response
reports no usage gets no cost (``mlcost.price.source=none``), never a cost of zero.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

try:
    import openai
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("mlcost_sdk.integrations.openai needs the openai package: "
                      "pip install 'mlcost-sdk[openai]'") from exc

from opentelemetry import trace

from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.instrumentation import (
    LlmCall,
    LlmSite,
    capture_internal_exceptions,
    record_internal_error,
)

from ._instrumentor import Instrumented

__all__ = ["instrument", "uninstrument"]

Client = TypeVar("Client", bound="openai.OpenAI | openai.AsyncOpenAI")

# (attribute path on the client, gen_ai.operation.name, accepts stream_options)
_ENDPOINTS: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (("chat", "completions"), "chat", True),
    (("completions",), "text_completion", True),
    (("embeddings",), "embeddings", False),
)


_instrumented: Instrumented[Any, bool] = Instrumented("openai")


@dataclass(frozen=True, slots=True)
class _Options:
    site: LlmSite  # provider, tags and prices, bound once per client endpoint
    inject_stream_usage: bool


def instrument(client: Client, *, provider: str = "openai", tags: Mapping[str, str] | None = None,
               input_usd_per_1k: float | None = None, output_usd_per_1k: float | None = None,
               cached_input_usd_per_1k: float | None = None,
               inject_stream_usage: bool = True) -> Client:
    """Record every call of ``client`` (an ``openai.OpenAI`` or ``openai.AsyncOpenAI``) as an
    llm_call; returns the client. Calling it again on the same client warns and changes
    nothing (uninstrument() it first to change its options).

    ``inject_stream_usage=False`` leaves ``stream_options`` alone, for servers that reject it
    (streams then carry usage only when the caller asks for it).
    """
    if not isinstance(client, openai.OpenAI | openai.AsyncOpenAI):
        raise InvalidParameterError("client", type(client).__name__,
                                    "an openai.OpenAI or openai.AsyncOpenAI instance")
    if _instrumented.already(client, f"{type(client).__name__} client"):
        return client
    wrap = _async_create if isinstance(client, openai.AsyncOpenAI) else _sync_create
    sites = [(resource, streams, LlmSite(  # all checked before anything is wrapped
        provider=provider, operation=operation, tags=tags, input_usd_per_1k=input_usd_per_1k,
        output_usd_per_1k=output_usd_per_1k, cached_input_usd_per_1k=cached_input_usd_per_1k))
        for resource, operation, streams in _resources(client)]
    for resource, streams, site in sites:
        resource.create = wrap(resource.create, streams, _Options(site, inject_stream_usage))
    _instrumented.add(client, True)
    return client


def uninstrument(client: Client) -> Client:
    """Undo instrument() (warns when the client is not instrumented); returns the client."""
    if _instrumented.pop(client, f"{type(client).__name__} client"):
        for resource, _, _ in _resources(client):
            vars(resource).pop("create", None)
    return client


def _resources(client: Any) -> Iterator[tuple[Any, str, bool]]:
    for path, operation, streams in _ENDPOINTS:
        resource = functools.reduce(getattr, path, client)
        yield resource, operation, streams


def _begin(opts: _Options, streams: bool,
           kwargs: dict[str, Any]) -> tuple[LlmCall | None, bool]:
    """The started call (None if mlcost cannot start one) and whether a usage chunk was asked
    for on the caller's behalf (and must be kept from them). May add stream_options."""
    try:
        call = LlmCall(opts.site, str(kwargs.get("model"))).start()
    except Exception as exc:  # noqa: BLE001 - e.g. a required tag missing in 'error' mode
        record_internal_error("openai.call", exc)
        return None, False
    injected = False
    if streams and opts.inject_stream_usage and kwargs.get("stream") is True:
        chosen = kwargs.get("stream_options")
        chosen = chosen if isinstance(chosen, Mapping) else {}
        if "include_usage" not in chosen:
            kwargs["stream_options"] = {**chosen, "include_usage": True}
            injected = True
    return call, injected


def _read_usage(call: LlmCall, response: Any) -> bool:
    """Take the usage a response or chunk reports; True when it is the usage-only last chunk."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return False
    with capture_internal_exceptions("openai.usage"):  # cached and reasoning tokens included
        call.set_usage(usage=usage, response_model=getattr(response, "model", None))
    return not getattr(response, "choices", None)


@contextmanager
def _sending(call: LlmCall) -> Iterator[None]:
    """The call's span is current while the request is sent, so HTTP client spans nest in it;
    a request that fails ends the call with its exception."""
    try:
        with trace.use_span(call.span, end_on_exit=False, record_exception=False,
                            set_status_on_exception=False):
            yield
    except BaseException as exc:
        call.end(exc)
        raise


def _answered(call: LlmCall, response: Any) -> Any:
    """A whole response: its usage priced and the call ended."""
    _read_usage(call, response)
    call.end()
    return response


def _sync_create(create: Callable[..., Any], streams: bool, opts: _Options) -> Callable[..., Any]:
    @functools.wraps(create)
    def create_costed(*args: Any, **kwargs: Any) -> Any:
        call, injected = _begin(opts, streams, kwargs)
        if call is None:
            return create(*args, **kwargs)
        with _sending(call):
            response = create(*args, **kwargs)
        if isinstance(response, openai.Stream):
            return _Stream(response, call, injected)
        return _answered(call, response)

    return create_costed


def _async_create(create: Callable[..., Awaitable[Any]], streams: bool,
                  opts: _Options) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(create)
    async def create_costed(*args: Any, **kwargs: Any) -> Any:
        call, injected = _begin(opts, streams, kwargs)
        if call is None:
            return await create(*args, **kwargs)
        with _sending(call):
            response = await create(*args, **kwargs)
        if isinstance(response, openai.AsyncStream):
            return _AsyncStream(response, call, injected)
        return _answered(call, response)

    return create_costed


class _Stream:
    """An ``openai.Stream`` whose call ends at its last chunk, an error, or close()."""

    def __init__(self, stream: openai.Stream[Any], call: LlmCall, hide_usage_chunk: bool) -> None:
        self._stream = stream
        self._chunks = iter(stream)
        self._call = call
        self._hide = hide_usage_chunk

    def __getattr__(self, name: str) -> Any:  # response, and whatever else the stream offers
        return getattr(self._stream, name)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                chunk = next(self._chunks)
            except BaseException as exc:
                self._call.end(None if isinstance(exc, StopIteration) else exc)
                raise
            if not (_read_usage(self._call, chunk) and self._hide):
                return chunk

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._call.end()


class _AsyncStream:
    """An ``openai.AsyncStream`` whose call ends at its last chunk, an error, or close()."""

    def __init__(self, stream: openai.AsyncStream[Any], call: LlmCall,
                 hide_usage_chunk: bool) -> None:
        self._stream = stream
        self._chunks: AsyncIterator[Any] = stream.__aiter__()
        self._call = call
        self._hide = hide_usage_chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __aiter__(self) -> _AsyncStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                chunk = await self._chunks.__anext__()
            except BaseException as exc:
                self._call.end(None if isinstance(exc, StopAsyncIteration) else exc)
                raise
            if not (_read_usage(self._call, chunk) and self._hide):
                return chunk

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._call.end()
