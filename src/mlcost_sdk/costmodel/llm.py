"""Layer 2, LLM APIs: per-request, daily and monthly cost from token counts and prices.

    request cost = fresh input x input price + cache reads x cache-read price
                 + cache writes x cache-write price + output x output price (+ a fee per request)

with "fresh input" the prompt tokens neither read from nor written to a cache, and reasoning
tokens part of the output (billed at a reasoning price only where the price data has one).
:func:`token_cost` is that formula, the only one: estimates here and the runtime's LLM spans
both use it. Prices are explicit (USD per 1K tokens, as provider price pages used to show them)
or looked up by model name in genai-prices. An LLM month is counted in days (30 by default, as
the worked example), and the result says how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .. import _validate as v
from ..catalog.tokens import TokenPrice, token_price
from ..errors import InvalidParameterError
from ._estimate import Estimate

LLM_MONTH_DAYS = 30.0
_PER_1K = 1000.0
# A cache write costs 1.25x the base input price (Anthropic's 5-minute cache, the providers
# that report writes); used where the price data gives no cache-write figure of its own.
CACHE_WRITE_MULTIPLIER = 1.25


def _tokens(name: str, value: object) -> float:
    if type(value) is int and value >= 0:  # the hot path: skip the generic checks
        return value
    return v.non_negative(name, value)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """What one call used, counted as the OpenTelemetry GenAI conventions count it:
    ``input_tokens`` is every prompt token (cache reads and writes included) and
    ``output_tokens`` every generated one (reasoning included). Build it with :meth:`of`,
    which checks the counts, or from a provider's own usage object with
    :func:`mlcost_sdk.costmodel.llm_usage.usage_from`."""

    input_tokens: float = 0
    output_tokens: float = 0
    cached_input_tokens: float = 0  # read from a cache
    cache_creation_input_tokens: float = 0  # written to a cache
    reasoning_tokens: float = 0

    @classmethod
    def of(cls, *, input_tokens: object, output_tokens: object, cached_input_tokens: object = 0,
           cache_creation_input_tokens: object = 0, reasoning_tokens: object = 0) -> TokenUsage:
        """Checked counts: each a finite number >= 0, the parts within their whole."""
        inputs = _tokens("input_tokens", input_tokens)
        outputs = _tokens("output_tokens", output_tokens)
        read = _tokens("cached_input_tokens", cached_input_tokens)
        written = _tokens("cache_creation_input_tokens", cache_creation_input_tokens)
        reasoning = _tokens("reasoning_tokens", reasoning_tokens)
        if read + written > inputs:
            name = "cached_input_tokens" if read > inputs or not written else \
                "cache_creation_input_tokens"
            raise InvalidParameterError(
                name, cached_input_tokens if name == "cached_input_tokens"
                else cache_creation_input_tokens,
                f"<= input_tokens ({input_tokens}), cache reads and writes together: input "
                "tokens count cached ones (OpenAI, OTel); for Anthropic-style usage, where they "
                "do not, pass the response's usage as usage=")
        if reasoning > outputs:
            raise InvalidParameterError("reasoning_tokens", reasoning_tokens,
                                        f"<= output_tokens ({output_tokens}), which include them")
        return cls(inputs, outputs, read, written, reasoning)


class TokenCost(NamedTuple):
    input_usd: float
    output_usd: float
    request_usd: float = 0.0  # a fixed per-call fee, where the price data has one

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.output_usd + self.request_usd


def token_cost(price: TokenPrice, usage: TokenUsage) -> TokenCost:
    """What ``usage`` costs at ``price`` (its tier for this prompt size)."""
    r = price.for_prompt(usage.input_tokens) if price.tiers else price
    base = r.input_usd_per_token
    read = base if r.cached_input_usd_per_token is None else r.cached_input_usd_per_token
    write = (CACHE_WRITE_MULTIPLIER * base if r.cache_write_usd_per_token is None
             else r.cache_write_usd_per_token)
    cached, created = usage.cached_input_tokens, usage.cache_creation_input_tokens
    input_usd = (usage.input_tokens - cached - created) * base + cached * read + created * write
    out = r.output_usd_per_token
    reasoning = usage.reasoning_tokens
    output_usd = (usage.output_tokens - reasoning) * out + reasoning * (
        out if r.reasoning_usd_per_token is None else r.reasoning_usd_per_token)
    return TokenCost(input_usd, output_usd, r.usd_per_request)


def explicit_price(input_usd_per_1k: float | None, output_usd_per_1k: float | None,
                   cached_input_usd_per_1k: float | None = None,
                   cache_write_usd_per_1k: float | None = None) -> TokenPrice | None:
    """The caller's own prices (each >= 0; input and output together or not at all) as a
    TokenPrice with source ``user``; None when none are given."""
    optional = (("cached_input_usd_per_1k", cached_input_usd_per_1k),
                ("cache_write_usd_per_1k", cache_write_usd_per_1k))
    for name, value in (("input_usd_per_1k", input_usd_per_1k),
                        ("output_usd_per_1k", output_usd_per_1k), *optional):
        if value is not None:
            v.non_negative(name, value)
    if input_usd_per_1k is None or output_usd_per_1k is None:
        if input_usd_per_1k is not None or output_usd_per_1k is not None:
            raise InvalidParameterError("input_usd_per_1k/output_usd_per_1k",
                                        (input_usd_per_1k, output_usd_per_1k), "both given")
        for name, value in optional:
            if value is not None:
                raise InvalidParameterError(name, value,
                                            "given with input_usd_per_1k/output_usd_per_1k")
        return None

    def per_token(usd_per_1k: float | None) -> float | None:
        return None if usd_per_1k is None else float(usd_per_1k) / _PER_1K

    return TokenPrice(
        model="", provider="", input_usd_per_token=float(input_usd_per_1k) / _PER_1K,
        output_usd_per_token=float(output_usd_per_1k) / _PER_1K,
        cached_input_usd_per_token=per_token(cached_input_usd_per_1k), tiered=False,
        source="user", cache_write_usd_per_token=per_token(cache_write_usd_per_1k))


@dataclass(frozen=True)
class LlmEstimate(Estimate):
    requests_per_day: float
    input_tokens: float  # per request, cached input included
    output_tokens: float
    cached_input_tokens: float
    input_cost_per_request_usd: float
    output_cost_per_request_usd: float
    cost_per_request_usd: float
    daily_cost_usd: float
    month_days: float
    monthly_cost_usd: float
    model: str | None
    provider: str | None
    price_source: str  # "user" or "genai-prices <version>"


def estimate_llm(
    *,
    requests_per_day: float,
    input_tokens: float,
    output_tokens: float,
    input_usd_per_1k: float | None = None,
    output_usd_per_1k: float | None = None,
    cached_input_usd_per_1k: float | None = None,
    model: str | None = None,
    provider: str | None = None,
    cached_input_tokens: float = 0.0,
    month_days: float = LLM_MONTH_DAYS,
) -> LlmEstimate:
    """Give either both explicit prices or a ``model`` (and optionally its ``provider``).

    Cached input tokens are part of ``input_tokens``; at explicit prices they cost
    ``cached_input_usd_per_1k`` (default: the input price).
    """
    per_day = v.non_negative("requests_per_day", requests_per_day)
    usage = TokenUsage.of(input_tokens=input_tokens, output_tokens=output_tokens,
                          cached_input_tokens=cached_input_tokens)
    days = v.positive("month_days", month_days)
    if model is not None:
        if any(p is not None for p in (input_usd_per_1k, output_usd_per_1k,
                                       cached_input_usd_per_1k)):
            raise InvalidParameterError("model", model, "given without explicit per-1K prices")
        price = token_price(model, provider)
        if price is None:
            where = f" from provider {provider!r}" if provider else ""
            raise InvalidParameterError("model", model, f"a model genai-prices knows{where}")
        source = f"{price.source} ({price.provider}/{price.model})"
    else:
        if input_usd_per_1k is None or output_usd_per_1k is None:
            raise InvalidParameterError("input_usd_per_1k", input_usd_per_1k,
                                        "given with output_usd_per_1k, or a model name instead")
        price = explicit_price(input_usd_per_1k, output_usd_per_1k, cached_input_usd_per_1k)
        assert price is not None
        source = price.source
    cost = token_cost(price, usage)
    input_usd, output_usd = cost.input_usd + cost.request_usd, cost.output_usd
    per_request = input_usd + output_usd
    return LlmEstimate(
        requests_per_day=per_day, input_tokens=float(usage.input_tokens),
        output_tokens=float(usage.output_tokens),
        cached_input_tokens=float(usage.cached_input_tokens), input_cost_per_request_usd=input_usd,
        output_cost_per_request_usd=output_usd, cost_per_request_usd=per_request,
        daily_cost_usd=per_request * per_day, month_days=days,
        monthly_cost_usd=per_request * per_day * days, model=model, provider=provider,
        price_source=source)

