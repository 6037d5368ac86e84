"""Plain-text formatting shared by the report commands: money, shares, aligned tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime


def money(x: float | None) -> str:
    """Dollars, with three significant digits below $1 (a cost per prediction is tiny)."""
    if x is None:
        return "-"
    if x == 0 or abs(x) >= 1:
        return f"${x:,.2f}"
    decimals = min(12, 2 - math.floor(math.log10(abs(x))))
    return f"${x:.{decimals}f}"


def percent(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def quantity(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.2f}"


def utc(ns: int | None) -> str:
    if ns is None:
        return "never"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """A fixed-width table; ``align`` has one 'l' or 'r' per column."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if a == "r" else cell.ljust(w)
                         for cell, w, a in zip(cells, widths, align, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
