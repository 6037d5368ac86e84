"""LLM API calls: token costs from genai-prices or explicit prices, as gen_ai.* spans.

A call site (an instrumented client's endpoint, a ``record_llm_call`` site with its provider,
tags and prices) is bound once — tags checked and merged, span and metric attributes, explicit
prices — and rebound only when configure() changes the settings. Pricing is the cost model's
formula (:func:`mlcost_sdk.costmodel.llm.token_cost`) on unit prices cached per (provider,
model, price-data version), so a recorded call costs about one span.

Errors are recorded as their type (``exception.type``, ``error.type``) and an HTTP status where
the provider's error has one: a provider's 400 may quote the prompt back, so messages and stack
traces go on spans only with ``configure(record_exception_details=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Token
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context

from .. import _validate as v
from .. import conventions as c
from ..catalog.tokens import TokenPrice, provider_name, token_price
from ..errors import InvalidParameterError
from ..guard import capture_internal_exceptions, record_internal_error
from . import _instruments
from ._current import CurrentSpanCall
from .config import Settings, settings, tracer
from .price import warn_no_token_price
from .spans import record_exception
from .tags import enforce_required, tag_attributes, validate_tags

if TYPE_CHECKING:
    from ..costmodel.llm import TokenCost, TokenUsage


@cache
def _cost_model() -> ModuleType:
    """The cost model's LLM module, loaded at the first LLM call rather than at import."""
    from ..costmodel import llm

    return llm


def check_prices(input_usd_per_1k: float | None, output_usd_per_1k: float | None,
                 cached_input_usd_per_1k: float | None = None,
                 cache_write_usd_per_1k: float | None = None) -> TokenPrice | None:
    """Explicit token prices (each >= 0, input and output together or not at all) as the
    price to use; None when none are given."""
    price: TokenPrice | None = _cost_model().explicit_price(
        input_usd_per_1k, output_usd_per_1k, cached_input_usd_per_1k, cache_write_usd_per_1k)
    return price


def _usage(input_tokens: object, output_tokens: object, cached_input_tokens: object,
           cache_creation_input_tokens: object, reasoning_tokens: object,
           usage: object) -> TokenUsage:
    """Counts given one by one (OTel counting: input includes cached) or a provider's usage."""
    if usage is not None:
        from ..costmodel.llm_usage import usage_from

        if input_tokens is not None or output_tokens is not None:
            raise InvalidParameterError("usage", type(usage).__name__,
                                        "given instead of input_tokens/output_tokens")
        return usage_from(usage)
    if input_tokens is None or output_tokens is None:
        missing = "input_tokens" if input_tokens is None else "output_tokens"
        raise InvalidParameterError(missing, None, "a whole number >= 0 (or usage=...)")
    counted: TokenUsage = _cost_model().TokenUsage.of(
        input_tokens=input_tokens, output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        cache_creation_input_tokens=cache_creation_input_tokens,
        reasoning_tokens=reasoning_tokens)
    return counted


def _usage_attributes(u: TokenUsage) -> dict[str, Any]:
    attrs: dict[str, Any] = {c.GEN_AI_INPUT_TOKENS: int(u.input_tokens),
                             c.GEN_AI_OUTPUT_TOKENS: int(u.output_tokens),
                             c.TOKENS: int(u.input_tokens + u.output_tokens)}
    if u.cached_input_tokens:
        attrs[c.GEN_AI_CACHED_INPUT_TOKENS] = int(u.cached_input_tokens)
    if u.cache_creation_input_tokens:
        attrs[c.GEN_AI_CACHE_CREATION_INPUT_TOKENS] = int(u.cache_creation_input_tokens)
    if u.reasoning_tokens:
        attrs[c.GEN_AI_REASONING_OUTPUT_TOKENS] = int(u.reasoning_tokens)
    return attrs


def _record_failure(span: Any, exc: BaseException, attrs: dict[str, Any]) -> None:
    """The exception as every span records it (its type; details only when asked for), plus
    the error's class and the provider's HTTP status."""
    record_exception(span, exc)
    attrs[c.ERROR_TYPE] = type(exc).__qualname__
    status = getattr(exc, "status_code", None)  # an HTTP error from the provider's API
    if isinstance(status, int) and not isinstance(status, bool):
        attrs[c.HTTP_STATUS_CODE] = status


class LlmSite:
    """Where LLM calls come from: provider, operation, tags and explicit prices, bound to the
    settings once and again only after configure() changes them."""

    __slots__ = ("provider", "operation", "price", "_user_tags", "_settings", "disabled", "tags",
                 "static", "series")

    def __init__(self, *, provider: str | None, operation: str = "chat",
                 tags: Mapping[str, str] | None = None, input_usd_per_1k: float | None = None,
                 output_usd_per_1k: float | None = None,
                 cached_input_usd_per_1k: float | None = None,
                 cache_write_usd_per_1k: float | None = None) -> None:
        self.provider = provider_name(provider) if provider else None
        self.operation = operation
        self.price = check_prices(input_usd_per_1k, output_usd_per_1k, cached_input_usd_per_1k,
                                  cache_write_usd_per_1k)
        self._user_tags = validate_tags(tags, "llm call tags")
        self._settings: Settings | None = None

    def bind(self) -> Settings:
        s = settings()
        if s is not self._settings:
            merged = {**s.tags, **self._user_tags}
            if not s.disabled:
                enforce_required(merged, s.required_tags, s.on_missing_tags,
                                 f"llm call ({self.provider or 'any provider'})")
            static: dict[str, Any] = {c.KIND: c.KIND_LLM_CALL,
                                      c.GEN_AI_OPERATION_NAME: self.operation,
                                      **tag_attributes(merged)}
            if self.provider:
                static[c.GEN_AI_PROVIDER_NAME] = self.provider
            self.disabled, self.tags, self.static = s.disabled, merged, static
            self.series = _instruments.series(c.KIND_LLM_CALL, merged, s.metric_tag_keys)
            self._settings = s
        return s

    def price_of(self, model: str, response_model: str | None) -> TokenPrice | None:
        if self.price is not None:
            return self.price
        found = token_price(response_model, self.provider) if response_model else None
        return found if found is not None else token_price(model, self.provider)

    def outcome(self, model: str, usage: TokenUsage | None, response_model: str | None,
                attrs: dict[str, Any]) -> float | None:
        """Add the call's usage and cost to ``attrs``; its cost (None: unpriced), counted."""
        if response_model:
            attrs[c.GEN_AI_RESPONSE_MODEL] = response_model
        if usage is None:  # never price a call whose usage nobody reported as free
            attrs[c.PRICE_SOURCE] = "none"
            return None
        attrs.update(_usage_attributes(usage))
        price = self.price_of(model, response_model)
        if price is None:
            attrs[c.PRICE_SOURCE] = "none"
            warn_no_token_price(self.provider or "any provider", response_model or model)
            return None
        cost: TokenCost = _cost_model().token_cost(price, usage)
        total = cost.total_usd
        attrs[c.COST_USD] = total
        attrs[c.COST_INPUT_USD] = cost.input_usd
        attrs[c.COST_OUTPUT_USD] = cost.output_usd
        attrs[c.PRICE_SOURCE] = price.source
        _instruments.add(self.series, total, 1)
        return total


class LlmCall(CurrentSpanCall):
    """``with mlcost.llm_call(provider="openai", model="gpt-4o") as call: ...
    call.set_usage(input_tokens=.., output_tokens=..)`` — or record_llm_call() afterwards."""

    __slots__ = ("_site", "model", "usage", "response_model", "cost_usd", "_span", "_ended",
                 "_disabled")

    def __init__(self, site: LlmSite, model: str) -> None:
        self._disabled = site.bind().disabled
        self._site = site
        self.model = model
        self.usage: TokenUsage | None = None
        self.response_model: str | None = None
        self.cost_usd: float | None = None  # known once the call has ended
        self._span: Any = None
        self._ended = False
        self._token: Token[Context] | None = None

    @property
    def provider(self) -> str | None:
        return self._site.provider

    @property
    def operation(self) -> str:
        return self._site.operation

    def set_usage(self, input_tokens: int | None = None, output_tokens: int | None = None,
                  cached_input_tokens: int = 0, response_model: str | None = None, *,
                  cache_creation_input_tokens: int = 0, reasoning_tokens: int = 0,
                  usage: object = None) -> None:
        """The call's usage: counts (input includes cached, output includes reasoning, as the
        OTel GenAI conventions count them), or ``usage=`` in OpenAI, Anthropic or Gemini shape.
        """
        self.usage = _usage(input_tokens, output_tokens, cached_input_tokens,
                            cache_creation_input_tokens, reasoning_tokens, usage)
        if response_model:
            self.response_model = response_model

    def _start(self, start_time_ns: int | None = None) -> None:
        attrs = {**self._site.static, c.GEN_AI_REQUEST_MODEL: self.model}
        self._span = tracer().start_span(f"{self.operation} {self.model}", attributes=attrs,
                                         start_time=start_time_ns)

    def _finish(self, exc: BaseException | None = None, end_time_ns: int | None = None) -> None:
        span = self._span
        try:
            attrs: dict[str, Any] = {}
            try:
                self.cost_usd = self._site.outcome(self.model, self.usage, self.response_model,
                                                   attrs)
            finally:
                if exc is not None:
                    _record_failure(span, exc, attrs)
                span.set_attributes(attrs)
        finally:  # whatever pricing did, the span is never left open
            span.end(end_time=end_time_ns)

    @property
    def span(self) -> trace.Span:
        """The call's span (a non-recording one before start() or when disabled)."""
        return self._span if self._span is not None else trace.INVALID_SPAN

    def start(self) -> LlmCall:
        """Start the call without making its span current: for a call that ends somewhere else
        than it began (a streamed response ends when its consumer has read the last chunk)."""
        if not self._disabled and self._span is None:
            with capture_internal_exceptions("llm_call.start"):
                self._start()
        return self

    def end(self, exc: BaseException | None = None) -> None:
        """Price the usage set so far and end the span; only the first call counts."""
        if self._span is None or self._ended:
            return
        self._ended = True
        with capture_internal_exceptions("llm_call.end"):
            self._finish(exc)


_sites: dict[tuple[Any, ...], LlmSite] = {}
_MAX_CACHED_SITES = 512


def _site(provider: str | None, operation: str, tags: dict[str, str] | None,
          prices: tuple[float | None, ...]) -> LlmSite:
    """The bound site for these arguments: made once, then a dict hit."""
    try:
        key = (provider, operation, tuple(tags.items()) if tags else None, prices)
        site = _sites.get(key)
    except TypeError:  # an unhashable tag value: validation names it below
        key, site = None, None
    if site is None:
        site = LlmSite(provider=provider, operation=operation, tags=tags,
                       input_usd_per_1k=prices[0], output_usd_per_1k=prices[1],
                       cached_input_usd_per_1k=prices[2], cache_write_usd_per_1k=prices[3])
        if key is not None:
            if len(_sites) >= _MAX_CACHED_SITES:
                _sites.clear()
            _sites[key] = site
    return site


def llm_call(*, provider: str | None, model: str, operation: str = "chat",
             tags: dict[str, str] | None = None, input_usd_per_1k: float | None = None,
             output_usd_per_1k: float | None = None, cached_input_usd_per_1k: float | None = None,
             cache_write_usd_per_1k: float | None = None) -> LlmCall:
    site = _site(provider, operation, tags, (input_usd_per_1k, output_usd_per_1k,
                                             cached_input_usd_per_1k, cache_write_usd_per_1k))
    return LlmCall(site, model)


def record_llm_call(
    *, provider: str | None = None, model: str, input_tokens: int | None = None,
    output_tokens: int | None = None, cached_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0, reasoning_tokens: int = 0, usage: object = None,
    operation: str = "chat", duration_s: float | None = None, tags: dict[str, str] | None = None,
    input_usd_per_1k: float | None = None, output_usd_per_1k: float | None = None,
    cached_input_usd_per_1k: float | None = None, cache_write_usd_per_1k: float | None = None,
    response_model: str | None = None,
) -> float | None:
    """Record a finished LLM call; returns its cost in USD (None when the price is unknown).

    Give the counts (``input_tokens`` includes cached ones and ``output_tokens`` reasoning ones,
    as OpenAI and the OTel GenAI conventions count them) or the provider's own ``usage``
    (OpenAI, Anthropic — whose input tokens leave cached ones out — or Gemini).
    """
    site = _site(provider, operation, tags, (input_usd_per_1k, output_usd_per_1k,
                                             cached_input_usd_per_1k, cache_write_usd_per_1k))
    used = _usage(input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens,
                  reasoning_tokens, usage)
    seconds = 0.0 if duration_s is None else v.non_negative("duration_s", duration_s)
    s = site.bind()
    if s.disabled:
        return None
    try:  # what capture_internal_exceptions does, without a generator per call
        end = s.clock.time_ns()
        start = end - int(seconds * 1e9)
        attrs = {**site.static, c.GEN_AI_REQUEST_MODEL: model}
        cost = site.outcome(model, used, response_model, attrs)
        # everything known up front: one attribute pass, no set_attributes after the start
        span = tracer().start_span(f"{operation} {model}", attributes=attrs, start_time=start)
        span.end(end_time=end)
        return cost
    except Exception as exc:  # noqa: BLE001 - telemetry never raises into the caller
        record_internal_error("record_llm_call", exc)
        return None
