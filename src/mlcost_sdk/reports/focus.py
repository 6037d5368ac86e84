"""FOCUS 1.2 cost rows (FinOps Open Cost & Usage Specification), one per resource, kind, tag set
and UTC hour. How each column is derived, and which ones an in-process SDK cannot
know, is written down in docs/focus.md.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

from .. import conventions as c
from .usage import NS_PER_HOUR, Mean, Usage, feed

FOCUS_VERSION = "1.2"
COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "InvoiceIssuerName", "InvoiceId", "ProviderName", "PublisherName",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeFrequency",
    "ChargeDescription", "ServiceName", "ServiceCategory", "ServiceSubcategory", "ResourceId",
    "ResourceName", "ResourceType", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity",
    "PricingUnit", "Tags",
    "x_CostKind", "x_ModelFlopsUtilization", "x_DeviceUtilization", "x_Tokens", "x_Requests",
    "x_PriceSource", "x_FocusVersion",
)
_UNATTRIBUTED = "unattributed"

_SERVICE = {c.KIND_TRAINING_RUN: "ML Training", c.KIND_INFERENCE: "ML Inference",
            c.KIND_IDLE: "ML Inference", c.KIND_LLM_CALL: "LLM API"}
_SUBCATEGORY = {c.KIND_TRAINING_RUN: "Machine Learning", c.KIND_INFERENCE: "Machine Learning",
                c.KIND_IDLE: "Machine Learning", c.KIND_LLM_CALL: "Generative AI"}
_RESOURCE_TYPE = {c.KIND_TRAINING_RUN: "Training Run", c.KIND_INFERENCE: "Serving Process",
                  c.KIND_IDLE: "Serving Process", c.KIND_LLM_CALL: "LLM Model"}
_TOKENS_PER_PRICING_UNIT = 1_000_000


@dataclass
class _Charge:
    first: Usage  # describes the row (same resource, kind and tags as the rest)
    cost: float = 0.0
    device_hours: float = 0.0
    pricing_hours: float = 0.0
    tokens: float = 0.0
    requests: int = 0
    mfu: Mean = field(default_factory=Mean)
    utilization: Mean = field(default_factory=Mean)


def _decimal(x: float) -> str:
    """Plain decimal notation (no exponent), as FOCUS NumericFormat asks, to 12 significant
    digits (float sums carry noise beyond that)."""
    text = format(Decimal(f"{x:.12g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(u: Usage) -> str:
    if u.kind == c.KIND_TRAINING_RUN:
        return str(u.attributes.get(c.RUN_NAME) or u.resource_id.rsplit("/", 1)[-1])
    if u.kind == c.KIND_LLM_CALL:
        return u.llm_model or "unknown"
    return u.service


def _month(ns: int) -> tuple[str, str]:
    """The showback billing period: the UTC calendar month holding the charge."""
    day = datetime.fromtimestamp(ns // 10**9, UTC)
    start = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def _provider(u: Usage) -> str:
    """Who provides what was paid for: the LLM provider, the cloud of a catalog instance
    price, else the SDK itself (a price the user configured: showback, not an invoice)."""
    if u.kind == c.KIND_LLM_CALL:
        return str(u.attributes.get(c.GEN_AI_PROVIDER_NAME) or "unknown")
    source = str(u.attributes.get(c.PRICE_SOURCE, ""))
    if source.startswith("catalog:"):
        from ..catalog import lookup_instance

        instance = lookup_instance(source.removeprefix("catalog:"))
        if instance is not None:
            return instance.provider
    return "mlcost-sdk"


def _description(u: Usage) -> str:
    device = u.attributes.get(c.HW_MODEL) or u.attributes.get(c.HW_KIND, "device")
    count = u.attributes.get(c.HW_COUNT)
    hw = f"{count:g} x {device}" if isinstance(count, int | float) else str(device)
    if u.kind == c.KIND_TRAINING_RUN:
        ranks = f", {u.ranks} ranks" if u.ranks > 1 else ""
        return f"Training run {_name(u)} on {hw}{ranks}"
    if u.kind == c.KIND_INFERENCE:
        return f"Inference requests served by {u.service} on {hw}"
    if u.kind == c.KIND_IDLE:
        return f"Idle capacity of {u.service} on {hw} (no request in flight)"
    provider = u.attributes.get(c.GEN_AI_PROVIDER_NAME, "an LLM provider")
    return f"LLM calls to {_name(u)} ({provider}), priced per token"


class Focus:
    """FOCUS rows fed one usage at a time: one charge per (UTC hour, resource, kind, tags)."""

    def __init__(self) -> None:
        self._charges: dict[tuple[int, str, str, str], _Charge] = {}

    def add(self, u: Usage) -> None:
        """A usage crossing an hour is split by time, as its price accrues; requests count in
        the hour they start."""
        tags = json.dumps(dict(u.tags), sort_keys=True, separators=(",", ":"))
        device_hours, resource_id = u.gpu_hours + u.cpu_hours, u.resource_id
        for hour, fraction in u.buckets(NS_PER_HOUR):
            ch = self._charges.get((hour, resource_id, u.kind, tags))
            if ch is None:
                ch = self._charges[hour, resource_id, u.kind, tags] = _Charge(u)
            ch.cost += u.cost_usd * fraction
            ch.device_hours += device_hours * fraction
            ch.pricing_hours += u.process_hours * fraction
            ch.tokens += u.tokens * fraction
            ch.requests += u.requests if hour <= u.start_ns < hour + NS_PER_HOUR else 0
            ch.mfu.add(u.mfu, u.cost_usd * fraction, u.seconds * fraction)
            ch.utilization.add(u.utilization, u.cost_usd * fraction, u.seconds * fraction)

    def rows(self) -> list[dict[str, str]]:
        """The rows, in time order."""
        return [_row(hour, tags, ch) for (hour, _, _, tags), ch in sorted(self._charges.items())]


def focus_rows(items: Iterable[Usage]) -> list[dict[str, str]]:
    """FOCUS rows, one per (UTC hour, resource, kind, tags), in time order."""
    acc = Focus()
    feed(items, acc)
    return acc.rows()


def _row(hour: int, tags: str, ch: _Charge) -> dict[str, str]:
    u = ch.first
    cost = _decimal(ch.cost)
    row = dict.fromkeys(COLUMNS, "")
    account = u.tags.get("cost_center") or _UNATTRIBUTED
    period_start, period_end = _month(hour)
    provider = _provider(u)
    row.update(
        BilledCost=cost, EffectiveCost=cost, ListCost=cost, ContractedCost=cost,
        BillingCurrency="USD", BillingAccountId=f"mlcost/cost_center/{account}",
        BillingAccountName=account, BillingPeriodStart=period_start,
        BillingPeriodEnd=period_end, InvoiceIssuerName=provider, ProviderName=provider,
        PublisherName=provider, x_FocusVersion=FOCUS_VERSION,
        ChargePeriodStart=_iso(hour), ChargePeriodEnd=_iso(hour + NS_PER_HOUR),
        ChargeCategory="Usage", ChargeFrequency="Usage-Based", ChargeDescription=_description(u),
        ServiceName=_SERVICE[u.kind], ServiceCategory="AI and Machine Learning",
        ServiceSubcategory=_SUBCATEGORY[u.kind],
        ResourceId=u.resource_id, ResourceName=_name(u), ResourceType=_RESOURCE_TYPE[u.kind],
        Tags=tags, x_CostKind=u.kind, x_Tokens=_decimal(ch.tokens),
        x_PriceSource=str(u.attributes.get(c.PRICE_SOURCE, "")))
    if u.kind == c.KIND_LLM_CALL:
        row.update(ConsumedQuantity=_decimal(ch.tokens), ConsumedUnit="Tokens",
                   PricingQuantity=_decimal(ch.tokens / _TOKENS_PER_PRICING_UNIT),
                   PricingUnit=f"{_TOKENS_PER_PRICING_UNIT} Tokens")
    else:
        hw_kind = u.attributes.get(c.HW_KIND)
        if hw_kind in ("gpu", "cpu"):
            row.update(ConsumedQuantity=_decimal(ch.device_hours),
                       ConsumedUnit="GPU-Hours" if hw_kind == "gpu" else "Core-Hours")
        row.update(PricingQuantity=_decimal(ch.pricing_hours), PricingUnit="Hours")
    if u.kind in (c.KIND_INFERENCE, c.KIND_LLM_CALL):
        row["x_Requests"] = str(ch.requests)
    for column, mean in (("x_ModelFlopsUtilization", ch.mfu),
                         ("x_DeviceUtilization", ch.utilization)):
        value = mean.value
        if value is not None:
            row[column] = _decimal(value)
    return row


def write_csv(rows: Iterable[dict[str, str]], out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
