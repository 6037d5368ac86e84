"""LLM token prices from genai-prices' bundled snapshot: offline, no network at any time.

genai-prices matches model names the way providers spell them ("gpt-4o-2024-08-06",
"claude-3-5-sonnet-latest") and finds the provider when none is given. Some models price a
whole request higher above a prompt-size threshold (tiers): :func:`llm_cost` applies them,
while :class:`TokenPrice` shows the base tier and says it is tiered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from ..errors import InvalidParameterError

_PER_MTOK = 1e6


@dataclass(frozen=True)
class TokenPrice:
    model: str  # genai-prices' model id
    provider: str  # genai-prices' provider id
    input_usd_per_token: float
    output_usd_per_token: float
    cached_input_usd_per_token: float | None  # None: cached input is billed as input
    tiered: bool  # a larger prompt moves the whole request to a higher price
    source: str  # "genai-prices <version>"


@dataclass(frozen=True)
class LlmCost:
    model: str
    provider: str
    input_tokens: float  # cached input tokens included, as providers report them
    output_tokens: float
    cached_input_tokens: float
    input_usd: float
    output_usd: float
    total_usd: float
    source: str


@cache
def _source() -> str:
    import genai_prices

    return f"genai-prices {genai_prices.__version__}"


def _find(model: str, provider: str | None) -> tuple[Any, Any] | None:
    from genai_prices.data_snapshot import get_snapshot

    try:
        return get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return None


def _per_token(price: Any) -> float | None:
    base = getattr(price, "base", price)  # a TieredPrices' base tier, or a plain Decimal
    return None if base is None else float(Decimal(base)) / _PER_MTOK


def token_price(model: str, provider: str | None = None, *,
                at: datetime | None = None) -> TokenPrice | None:
    """USD per token for ``model`` (at ``at``, default now); None when genai-prices lacks it."""
    found = _find(model, provider)
    if found is None:
        return None
    prov, info = found
    prices = info.get_prices(at or datetime.now().astimezone())
    raw = (prices.input_mtok, prices.output_mtok, prices.cache_read_mtok)
    return TokenPrice(
        model=info.id, provider=prov.id,
        input_usd_per_token=_per_token(raw[0]) or 0.0,
        output_usd_per_token=_per_token(raw[1]) or 0.0,
        cached_input_usd_per_token=_per_token(raw[2]),
        tiered=any(hasattr(p, "tiers") for p in raw), source=_source())


def _tokens(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value >= 0):
        raise InvalidParameterError(name, value, "a finite number >= 0")
    return value


def llm_cost(model: str, provider: str | None, input_tokens: float, output_tokens: float,
             cached_input_tokens: float = 0, *, at: datetime | None = None) -> LlmCost | None:
    """What one call cost; None when genai-prices has no price for ``model``.

    ``input_tokens`` includes ``cached_input_tokens`` (as OpenAI and the OpenTelemetry GenAI
    conventions count them); the cached part is billed at the cache-read price.
    """
    inputs, outputs = _tokens("input_tokens", input_tokens), _tokens("output_tokens", output_tokens)
    cached = _tokens("cached_input_tokens", cached_input_tokens)
    if cached > inputs:
        raise InvalidParameterError("cached_input_tokens", cached_input_tokens,
                                    f"<= input_tokens ({input_tokens})")
    found = _find(model, provider)
    if found is None:
        return None
    from genai_prices import Usage

    prov, info = found
    usage = Usage(input_tokens=inputs, output_tokens=outputs, cache_read_tokens=cached or None)
    calc = info.calc_price(usage, prov, genai_request_timestamp=at or datetime.now().astimezone())
    return LlmCost(
        model=info.id, provider=prov.id, input_tokens=inputs, output_tokens=outputs,
        cached_input_tokens=cached, input_usd=float(calc.input_price),
        output_usd=float(calc.output_price), total_usd=float(calc.total_price), source=_source())
