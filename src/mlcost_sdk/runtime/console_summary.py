"""The cost summary printed at the end of a training run and, for inference, at exit.

``render_summary`` reads a span-attribute mapping (names from ``mlcost_sdk.conventions``), so
it works on a live run's attributes and on an exported record's alike. A figure that is absent
is left out, never shown as zero: an unknown device has no MFU row. For an inference process
summary, ``mlcost.cost.usd`` is the whole cost, ``mlcost.idle.cost.usd`` the part of it spent
with no request in flight, and the realized cost per prediction is the whole cost over
``mlcost.requests``, idle capacity included.

Rendered with rich (the ``console`` extra) when installed, as plain aligned text otherwise.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

from .. import conventions as c
from .price import NO_PRICE

# Attribution tags first, in roll-up order; any other tag after them, alphabetically.
_TAG_ORDER = ("cost_center", "team", "model", "environment", "owner", "experiment_id")
_MAX_TAGS = 8


def usd(value: float) -> str:
    """Three significant digits below $100 (a request costs $0.0000279), cents above."""
    if value == 0 or abs(value) >= 100:
        return f"${value:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    return f"${value:,.{decimals}f}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _flops(value: float) -> str:
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}FLOP/s"
    return f"{value:.3g} FLOP/s"


def _number(attrs: Mapping[str, Any], name: str) -> float | None:
    value = attrs.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def summary_rows(attributes: Mapping[str, Any], *, dropped_spans: int = 0) -> list[tuple[str, str]]:
    """The (label, value) rows of the summary, in display order."""
    a = attributes

    def num(name: str) -> float | None:
        return _number(attributes, name)

    rows: list[tuple[str, str]] = []

    cost, idle, requests = num(c.COST_USD), num(c.IDLE_COST_USD), num(c.REQUESTS)
    price = num(c.PRICE_USD_PER_HOUR)
    if cost is not None:
        rows.append(("cost", usd(cost) + (f" at {usd(price)}/h" if price is not None else "")))
    elif a.get(c.PRICE_SOURCE) == "none":
        rows.append(("cost", NO_PRICE))
    if idle is not None:
        share = f" ({_pct(idle / cost)} of the cost)" if cost else ""
        rows.append(("idle cost", usd(idle) + share))
    if requests is not None:
        rows.append(("requests", f"{requests:,.0f}"))
        if requests > 0 and cost is not None:
            rows.append(("cost per prediction", usd(cost / requests)
                         + (" (idle included)" if idle is not None else "")))
    duration = num(c.DURATION_S)
    if duration is not None:
        rows.append(("duration", f"{duration:,.1f} s"))

    mfu = num(c.MFU)
    if mfu is not None:
        peak = num(c.FLOPS_PEAK_PER_S)
        detail = f" of {_flops(peak)}" if peak is not None else ""
        if a.get(c.FLOPS_PEAK_SOURCE):
            detail += f" ({a[c.FLOPS_PEAK_SOURCE]})"
        suspect = "  SUSPECT: above 1, check the FLOP count" if a.get(c.MFU_SUSPECT) else ""
        rows.append(("MFU", _pct(mfu) + detail + suspect))
    achieved = num(c.FLOPS_ACHIEVED_PER_S)
    if achieved is not None:
        rows.append(("achieved", _flops(achieved)))

    for name, label in ((c.TOKENS_PER_S, "tokens/s"), (c.SAMPLES_PER_S, "samples/s"),
                        (c.STEPS_PER_S, "steps/s")):
        rate = num(name)
        if rate is not None:
            rows.append((label, _num(rate)))

    util = num(c.UTILIZATION_MEAN)
    if util is not None:
        parts = [f"mean {_pct(util)}"]
        for name, label in ((c.UTILIZATION_P95, "p95"), (c.UTILIZATION_MAX, "max")):
            value = num(name)
            if value is not None:
                parts.append(f"{label} {_pct(value)}")
        source = a.get(c.UTILIZATION_SOURCE)
        rows.append(("utilization", ", ".join(parts) + (f" ({source})" if source else "")))
    energy = num(c.ENERGY_JOULES)
    if energy is not None:
        rows.append(("energy", f"{energy / 3.6e6:.3g} kWh"))

    hw_model, hw_count = a.get(c.HW_MODEL), num(c.HW_COUNT)
    if hw_model or hw_count is not None:
        count = f"{_num(hw_count)} x " if hw_count is not None else ""
        rows.append(("hardware", f"{count}{hw_model or a.get(c.HW_KIND, '')}".strip()))

    tags = {k[len(c.TAG_PREFIX):]: v for k, v in a.items() if k.startswith(c.TAG_PREFIX)}
    ordered = [k for k in _TAG_ORDER if k in tags] + sorted(set(tags) - set(_TAG_ORDER))
    if ordered:
        shown = ", ".join(f"{k}={tags[k]}" for k in ordered[:_MAX_TAGS])
        more = len(ordered) - _MAX_TAGS
        rows.append(("tags", shown + (f" (+{more} more)" if more > 0 else "")))

    if dropped_spans:
        rows.append(("dropped spans", f"{dropped_spans:,} (exporter down or queue full)"))
    return rows


def render_summary(attributes: Mapping[str, Any], *, title: str, dropped_spans: int = 0) -> str:
    """The summary as text: a rich table when rich is installed, aligned plain text otherwise."""
    rows = summary_rows(attributes, dropped_spans=dropped_spans)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        width = max((len(label) for label, _ in rows), default=0)
        return "\n".join([title, *(f"  {label:<{width}}  {value}" for label, value in rows)])
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    out = io.StringIO()
    # 100 columns, or as wide as the no-price row needs to stay on one line
    label_w = max((len(label) for label, _ in rows), default=0)
    width = max(100, label_w + len(NO_PRICE) + 7) if ("cost", NO_PRICE) in rows else 100
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue().rstrip("\n")
