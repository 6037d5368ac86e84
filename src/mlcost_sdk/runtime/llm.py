"""LLM API calls: token costs from genai-prices or explicit prices, as gen_ai.* spans."""

from __future__ import annotations

from contextvars import Token
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode

from .. import _validate as v
from .. import conventions as c
from ..errors import InvalidParameterError
from . import _instruments
from ._current import CurrentSpanCall
from ._safety import capture_internal_exceptions
from .config import settings, tracer
from .tags import enforce_required, tag_attributes, validate_tags


def _check_tokens(**counts: int) -> None:
    for name, value in counts.items():
        v.count(name, value, minimum=0)


def check_prices(input_usd_per_1k: float | None, output_usd_per_1k: float | None,
                 cached_input_usd_per_1k: float | None = None) -> None:
    """Explicit token prices: each >= 0, input and output given together or not at all."""
    for name, value in (("input_usd_per_1k", input_usd_per_1k),
                        ("output_usd_per_1k", output_usd_per_1k),
                        ("cached_input_usd_per_1k", cached_input_usd_per_1k)):
        if value is not None:
            v.non_negative(name, value)
    if (input_usd_per_1k is None) != (output_usd_per_1k is None):
        raise InvalidParameterError("input_usd_per_1k/output_usd_per_1k",
                                    (input_usd_per_1k, output_usd_per_1k), "both given")


def price_tokens(
    *, provider: str | None, model: str, input_tokens: int, output_tokens: int,
    cached_input_tokens: int = 0, input_usd_per_1k: float | None = None,
    output_usd_per_1k: float | None = None, cached_input_usd_per_1k: float | None = None,
) -> tuple[float, float, str] | None:
    """(input cost, output cost, price source), or None when the model's price is unknown.

    Cached input tokens are part of ``input_tokens`` (as providers report them) and are
    charged at the cached price when one is known.
    """
    check_prices(input_usd_per_1k, output_usd_per_1k, cached_input_usd_per_1k)
    if input_usd_per_1k is not None and output_usd_per_1k is not None:
        cached = input_usd_per_1k if cached_input_usd_per_1k is None else cached_input_usd_per_1k
        in_cost = ((input_tokens - cached_input_tokens) * input_usd_per_1k
                   + cached_input_tokens * cached) / 1000.0
        return in_cost, output_tokens * output_usd_per_1k / 1000.0, "user"
    from ..catalog import llm_cost

    cost = llm_cost(model, provider, input_tokens, output_tokens, cached_input_tokens)
    if cost is None:
        return None
    return cost.input_usd, cost.output_usd, cost.source


class LlmCall(CurrentSpanCall):
    """``with mlcost.llm_call(provider="openai", model="gpt-4o") as call: ...
    call.set_usage(input_tokens=.., output_tokens=..)`` — or record_llm_call() afterwards."""

    def __init__(self, *, provider: str | None, model: str, operation: str = "chat",
                 tags: dict[str, str] | None = None, input_usd_per_1k: float | None = None,
                 output_usd_per_1k: float | None = None,
                 cached_input_usd_per_1k: float | None = None) -> None:
        s = settings()
        self._disabled = s.disabled
        self._tags = {**s.tags, **validate_tags(tags, "llm call tags")}
        if not s.disabled:
            enforce_required(self._tags, s.required_tags, s.on_missing_tags,
                             f"llm call {model!r}")
        # here, not swallowed in end()
        check_prices(input_usd_per_1k, output_usd_per_1k, cached_input_usd_per_1k)
        self.provider, self.model, self.operation = provider, model, operation
        self._prices = (input_usd_per_1k, output_usd_per_1k, cached_input_usd_per_1k)
        self.input_tokens = self.output_tokens = self.cached_input_tokens = 0
        self.response_model: str | None = None
        self._usage_known = False
        self.cost_usd: float | None = None  # known once the call has ended
        self._span: Any = None
        self._ended = False
        self._token: Token[Context] | None = None

    def set_usage(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0,
                  response_model: str | None = None) -> None:
        _check_tokens(input_tokens=input_tokens, output_tokens=output_tokens,
                      cached_input_tokens=cached_input_tokens)
        if cached_input_tokens > input_tokens:
            raise InvalidParameterError("cached_input_tokens", cached_input_tokens,
                                        f"<= input_tokens ({input_tokens})")
        self.input_tokens, self.output_tokens = input_tokens, output_tokens
        self._usage_known = True
        self.cached_input_tokens = cached_input_tokens
        if response_model:
            self.response_model = response_model

    def _start(self, start_time_ns: int | None = None) -> None:
        attrs: dict[str, Any] = {c.KIND: c.KIND_LLM_CALL, c.GEN_AI_OPERATION_NAME: self.operation,
                                 c.GEN_AI_REQUEST_MODEL: self.model, **tag_attributes(self._tags)}
        if self.provider:
            attrs[c.GEN_AI_PROVIDER_NAME] = self.provider
        self._span = tracer().start_span(f"{self.operation} {self.model}", attributes=attrs,
                                         start_time=start_time_ns)

    def _price(self) -> tuple[float, float, str] | None:
        priced = price_tokens(
            provider=self.provider, model=self.response_model or self.model,
            input_tokens=self.input_tokens, output_tokens=self.output_tokens,
            cached_input_tokens=self.cached_input_tokens, input_usd_per_1k=self._prices[0],
            output_usd_per_1k=self._prices[1], cached_input_usd_per_1k=self._prices[2])
        if priced is None and self.response_model:
            priced = price_tokens(provider=self.provider, model=self.model,
                                  input_tokens=self.input_tokens,
                                  output_tokens=self.output_tokens,
                                  cached_input_tokens=self.cached_input_tokens)
        return priced

    def _finish(self, exc: BaseException | None = None, end_time_ns: int | None = None) -> None:
        try:
            self._set_outcome(exc)
        finally:  # whatever pricing did, the span is never left open
            self._span.end(end_time=end_time_ns)

    def _set_outcome(self, exc: BaseException | None) -> None:
        span = self._span
        attrs: dict[str, Any] = {}
        if self._usage_known:  # never price a call whose usage nobody reported as free
            attrs.update({c.GEN_AI_INPUT_TOKENS: self.input_tokens,
                          c.GEN_AI_OUTPUT_TOKENS: self.output_tokens,
                          c.TOKENS: self.input_tokens + self.output_tokens})
        if self.cached_input_tokens:
            attrs[c.GEN_AI_CACHED_INPUT_TOKENS] = self.cached_input_tokens
        if self.response_model:
            attrs[c.GEN_AI_RESPONSE_MODEL] = self.response_model
        priced = self._price() if self._usage_known else None
        if priced is not None:
            in_usd, out_usd, source = priced
            self.cost_usd = in_usd + out_usd
            attrs.update({c.COST_USD: self.cost_usd, c.COST_INPUT_USD: in_usd,
                          c.COST_OUTPUT_USD: out_usd, c.PRICE_SOURCE: source})
            inst = _instruments.get()
            if inst is not None:
                inst.cost.add(self.cost_usd, _instruments.metric_attributes(
                    c.KIND_LLM_CALL, self._tags, settings().metric_tag_keys))
        else:
            attrs[c.PRICE_SOURCE] = "none"
        span.set_attributes(attrs)
        if exc is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))

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


def llm_call(*, provider: str | None, model: str, **kwargs: Any) -> LlmCall:
    return LlmCall(provider=provider, model=model, **kwargs)


def record_llm_call(
    *, provider: str | None = None, model: str, input_tokens: int, output_tokens: int,
    cached_input_tokens: int = 0, operation: str = "chat", duration_s: float | None = None,
    tags: dict[str, str] | None = None, input_usd_per_1k: float | None = None,
    output_usd_per_1k: float | None = None, cached_input_usd_per_1k: float | None = None,
    response_model: str | None = None,
) -> float | None:
    """Record a finished LLM call; returns its cost in USD (None when the price is unknown)."""
    call = LlmCall(provider=provider, model=model, operation=operation, tags=tags,
                   input_usd_per_1k=input_usd_per_1k, output_usd_per_1k=output_usd_per_1k,
                   cached_input_usd_per_1k=cached_input_usd_per_1k)
    call.set_usage(input_tokens, output_tokens, cached_input_tokens, response_model)
    if call._disabled:
        return None
    with capture_internal_exceptions("record_llm_call"):
        clock = settings().clock
        end = clock.time_ns()
        start = end - int((duration_s or 0.0) * 1e9)
        call._start(start)
        call._finish(end_time_ns=end)
        return call.cost_usd
    return None
