"""LLM token prices from genai-prices' bundled snapshot: offline, no network at any time.

genai-prices matches model names the way providers spell them ("gpt-4o-2024-08-06",
"claude-3-5-sonnet-latest") and finds the provider when none is given. Some models price a
whole request higher above a prompt-size threshold (tiers): a :class:`TokenPrice` carries them
and :meth:`TokenPrice.for_prompt` picks the tier.

Lookups are cached per (provider, model, price-data version) and each genai-prices price set is
turned into a TokenPrice once, so pricing a call is a dict hit plus a few multiplications —
genai-prices' own calculator resolves its unit registry on every call (~50 us here). The
formula itself lives in :func:`mlcost_sdk.costmodel.llm.token_cost`.

Provider names follow the OpenTelemetry GenAI conventions (``gen_ai.provider.name``: ``x_ai``,
``gcp.gemini``, ``aws.bedrock``...); :func:`provider_name` maps older spellings to them and
the lookup maps them to genai-prices' provider ids.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..costmodel.llm import TokenUsage

_PER_MTOK = 1e6

# gen_ai.provider.name (current GenAI conventions) -> genai-prices' provider id, where they differ
_PRICES_PROVIDER = {
    "x_ai": "x-ai", "mistral_ai": "mistral", "gcp.gemini": "google", "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google", "aws.bedrock": "aws", "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
}
# earlier conventions' names (gen_ai.system) and genai-prices ids -> the current name
_ALIASES = {
    "xai": "x_ai", "x-ai": "x_ai", "mistral": "mistral_ai", "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai", "az.ai.openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
}


def provider_name(provider: str) -> str:
    """The GenAI-conventions name of ``provider`` (``xai`` -> ``x_ai``); others unchanged."""
    return _ALIASES.get(provider.strip().lower(), provider)


def _prices_provider(provider: str | None) -> str | None:
    if provider is None:
        return None
    name = provider_name(provider)
    return _PRICES_PROVIDER.get(name, name)


@dataclass(frozen=True)
class TokenPrice:
    model: str  # genai-prices' model id (or the caller's, for explicit prices)
    provider: str  # genai-prices' provider id
    input_usd_per_token: float
    output_usd_per_token: float
    cached_input_usd_per_token: float | None  # None: cached input is billed as input
    tiered: bool  # a larger prompt moves the whole request to a higher price
    source: str  # "genai-prices <version>" or "user"
    cache_write_usd_per_token: float | None = None  # None: the cost model's multiple of input
    reasoning_usd_per_token: float | None = None  # None: reasoning is billed as output
    usd_per_request: float = 0.0  # a fixed fee per call (a few models)
    # (s, rates that apply once the prompt has more than s input tokens), s ascending
    tiers: tuple[tuple[int, TokenPrice], ...] = ()

    def for_prompt(self, input_tokens: float) -> TokenPrice:
        """The rates for a prompt of ``input_tokens`` (cached ones included): its tier's."""
        for start, rates in reversed(self.tiers):
            if input_tokens > start:
                return rates
        return self


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


@cache
def _get_snapshot() -> Any:
    from genai_prices.data_snapshot import get_snapshot

    return get_snapshot


def _snapshot() -> Any:
    """genai-prices' current price data (the bundled one unless an update replaced it)."""
    return _get_snapshot()()


@lru_cache(maxsize=1024)  # model names are the caller's: bounded
def _lookup(model: str, provider: str | None, version: tuple[str, int]) -> tuple[Any, Any] | None:
    """genai-prices' (provider, model info); ``version`` keys the cache to the price data."""
    try:
        prov, info = _snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return None
    return prov, info


def _per_token(price: Any, input_tokens: float) -> float | None:
    """A genai-prices per-MTok price (plain or tiered) at a prompt of ``input_tokens``."""
    if price is None:
        return None
    tiers = getattr(price, "tiers", None)
    if tiers is None:
        return float(Decimal(price)) / _PER_MTOK
    chosen = price.base
    for tier in reversed(tiers):  # genai-prices: the highest tier whose start the prompt passes
        if input_tokens > tier.start:
            chosen = tier.price
            break
    return float(Decimal(chosen)) / _PER_MTOK


def _rates(provider: str, model: str, mp: Any, input_tokens: float) -> TokenPrice:
    requests = getattr(mp, "requests_kcount", None)
    return TokenPrice(
        model=model, provider=provider,
        input_usd_per_token=_per_token(mp.input_mtok, input_tokens) or 0.0,
        output_usd_per_token=_per_token(mp.output_mtok, input_tokens) or 0.0,
        cached_input_usd_per_token=_per_token(mp.cache_read_mtok, input_tokens),
        tiered=False, source=_source(),
        cache_write_usd_per_token=_per_token(mp.cache_write_mtok, input_tokens),
        reasoning_usd_per_token=_per_token(getattr(mp, "output_reasoning_mtok", None),
                                           input_tokens),
        usd_per_request=float(Decimal(requests)) / 1000.0 if requests is not None else 0.0)


def _from_model_price(provider: str, model: str, mp: Any) -> TokenPrice:
    keys = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
            "output_reasoning_mtok")
    starts = sorted({t.start for k in keys for t in getattr(getattr(mp, k, None), "tiers", ())})
    base = _rates(provider, model, mp, 0)
    if not starts:
        return base
    tiers = tuple((s, _rates(provider, model, mp, s + 1)) for s in starts)
    return replace(base, tiered=True, tiers=tiers)


_converted: dict[tuple[int, str, str], tuple[Any, TokenPrice]] = {}
_converted_lock = threading.Lock()


def _token_price(prov: Any, info: Any, at: datetime | None) -> TokenPrice:
    prices = info.prices
    if at is not None or isinstance(prices, list):  # prices that change over time
        prices = info.get_prices(at or datetime.now().astimezone())
    key = (id(prices), prov.id, info.id)
    hit = _converted.get(key)
    if hit is not None and hit[0] is prices:
        return hit[1]
    price = _from_model_price(prov.id, info.id, prices)
    with _converted_lock:
        if len(_converted) > 4096:
            _converted.clear()
        _converted[key] = (prices, price)  # holding `prices` keeps its id from being reused
    return price


# (model, provider as given) -> (price data it came from, price): a call's one dict hit, for
# prices that do not change over time
_fixed: dict[tuple[str, str | None], tuple[Any, TokenPrice | None]] = {}


def token_price(model: str, provider: str | None = None, *,
                at: datetime | None = None) -> TokenPrice | None:
    """USD per token for ``model`` (at ``at``, default now); None when genai-prices lacks it."""
    snap = _snapshot()
    if at is None:
        hit = _fixed.get((model, provider))
        if hit is not None and hit[0] is snap:
            return hit[1]
    found = _lookup(model, _prices_provider(provider), (_source(), id(snap)))
    if found is None:
        price = None
    else:
        price = _token_price(found[0], found[1], at)
        if at is not None or isinstance(found[1].prices, list):
            return price
    if len(_fixed) >= 1024:  # model names are the caller's: bounded
        _fixed.clear()
    _fixed[(model, provider)] = (snap, price)
    return price


def llm_cost(model: str, provider: str | None, input_tokens: float, output_tokens: float,
             cached_input_tokens: float = 0, *, at: datetime | None = None,
             usage: TokenUsage | None = None) -> LlmCost | None:
    """What one call cost; None when genai-prices has no price for ``model``.

    ``input_tokens`` includes ``cached_input_tokens`` (as OpenAI and the OpenTelemetry GenAI
    conventions count them); the cached part is billed at the cache-read price. ``usage``
    (cache writes, reasoning) replaces the three counts when given.
    """
    from ..costmodel.llm import TokenUsage, token_cost  # the one formula (costmodel -> catalog)

    if usage is None:
        usage = TokenUsage.of(input_tokens=input_tokens, output_tokens=output_tokens,
                              cached_input_tokens=cached_input_tokens)
    price = token_price(model, provider, at=at)
    if price is None:
        return None
    cost = token_cost(price, usage)
    return LlmCost(
        model=price.model, provider=price.provider, input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens, cached_input_tokens=usage.cached_input_tokens,
        input_usd=cost.input_usd, output_usd=cost.output_usd, total_usd=cost.total_usd,
        source=price.source)
