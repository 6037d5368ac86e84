"""Layer 2, LLM APIs: per-request, daily and monthly cost from token counts and prices.

    request cost = input tokens x input price + output tokens x output price

Prices are explicit (USD per 1K tokens, as provider price pages used to show them) or looked up
by model name in genai-prices. An LLM month is counted in days (30 by default, as the worked
example), and the result says how many.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .. import _validate as v
from ..catalog.tokens import llm_cost
from ..errors import InvalidParameterError

LLM_MONTH_DAYS = 30.0
_PER_1K = 1000.0


@dataclass(frozen=True)
class LlmEstimate:
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    inputs = v.non_negative("input_tokens", input_tokens)
    outputs = v.non_negative("output_tokens", output_tokens)
    cached = v.non_negative("cached_input_tokens", cached_input_tokens)
    days = v.positive("month_days", month_days)
    if cached > inputs:
        raise InvalidParameterError("cached_input_tokens", cached_input_tokens,
                                    f"<= input_tokens ({input_tokens})")
    explicit = (input_usd_per_1k, output_usd_per_1k)
    if model is not None:
        if any(p is not None for p in (*explicit, cached_input_usd_per_1k)):
            raise InvalidParameterError("model", model, "given without explicit per-1K prices")
        input_usd, output_usd, source = _looked_up(model, provider, inputs, outputs, cached)
    elif input_usd_per_1k is None or output_usd_per_1k is None:
        raise InvalidParameterError("input_usd_per_1k", input_usd_per_1k,
                                    "given with output_usd_per_1k, or a model name instead")
    else:
        input_price = v.non_negative("input_usd_per_1k", input_usd_per_1k)
        cached_price = input_price if cached_input_usd_per_1k is None else v.non_negative(
            "cached_input_usd_per_1k", cached_input_usd_per_1k)
        input_usd = ((inputs - cached) * input_price + cached * cached_price) / _PER_1K
        output_usd = outputs * v.non_negative("output_usd_per_1k", output_usd_per_1k) / _PER_1K
        source = "user"
    per_request = input_usd + output_usd
    return LlmEstimate(
        requests_per_day=per_day, input_tokens=inputs, output_tokens=outputs,
        cached_input_tokens=cached, input_cost_per_request_usd=input_usd,
        output_cost_per_request_usd=output_usd, cost_per_request_usd=per_request,
        daily_cost_usd=per_request * per_day, month_days=days,
        monthly_cost_usd=per_request * per_day * days, model=model, provider=provider,
        price_source=source)


def _looked_up(model: str, provider: str | None, inputs: float, outputs: float,
               cached: float) -> tuple[float, float, str]:
    cost = llm_cost(model, provider, inputs, outputs, cached)
    if cost is None:
        where = f" from provider {provider!r}" if provider else ""
        raise InvalidParameterError("model", model, f"a model genai-prices knows{where}")
    return cost.input_usd, cost.output_usd, f"{cost.source} ({cost.provider}/{cost.model})"
