"""Figures over time, in buckets that fit the range: seconds for a one-minute run, days or
calendar months for a year of records.

Fed one interval at a time by a streaming report, a :class:`Timeline` keeps its sums in the
finest bucket width of ``_CHAIN`` that holds the range seen so far in at most ``_MAX_STORED``
buckets, and folds them into the next width when the range grows: every width divides the
next, so folding is exact, and memory stays bounded whatever the number of records. An
interval's values are spread over the buckets it touches in proportion to the time inside
each, as a price per hour accrues. ``display()`` then picks the width a chart can show
(at most ``MAX_COLUMNS`` columns), adding weeks and calendar months for long ranges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

_S = 10**9
# Each width divides the next (exact folding); all align with midnight UTC.
_CHAIN = (1 * _S, 5 * _S, 15 * _S, 60 * _S, 300 * _S, 900 * _S, 3600 * _S, 6 * 3600 * _S,
          86_400 * _S)
_DAY = 86_400 * _S
_MAX_STORED = 4096
MAX_COLUMNS = 48
_MONDAY = 4 * _DAY  # 1970-01-05 was a Monday: weeks start there


class Timeline:
    """Sums of named values per time bucket (see the module doc)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.width = _CHAIN[0]
        self.buckets: dict[int, list[float]] = {}
        self.start_ns: int | None = None
        self.end_ns: int | None = None

    def add(self, start_ns: int, end_ns: int, values: Mapping[str, float]) -> None:
        """Spread ``values`` over [start_ns, end_ns); an interval without values leaves the
        range alone (a window that reported no MFU does not stretch the MFU chart)."""
        index = [(self.names.index(k), v) for k, v in values.items() if v]
        if not index:
            return
        start_ns, end_ns = min(start_ns, end_ns), max(start_ns, end_ns)
        self.start_ns = start_ns if self.start_ns is None else min(self.start_ns, start_ns)
        self.end_ns = end_ns if self.end_ns is None else max(self.end_ns, end_ns)
        while self.width < _DAY and (self.end_ns - self.start_ns) // self.width > _MAX_STORED:
            self._fold(_CHAIN[_CHAIN.index(self.width) + 1])
        width = self.width
        span = end_ns - start_ns
        first = start_ns - start_ns % width
        for b in range(first, max(end_ns, start_ns + 1), width):
            fraction = 1.0 if span == 0 else (min(end_ns, b + width) - max(start_ns, b)) / span
            if fraction <= 0:
                continue
            sums = self.buckets.get(b)
            if sums is None:
                sums = self.buckets[b] = [0.0] * len(self.names)
            for i, v in index:
                sums[i] += v * fraction

    def _fold(self, width: int) -> None:
        folded: dict[int, list[float]] = {}
        for b, sums in self.buckets.items():
            into = folded.setdefault(b - b % width, [0.0] * len(self.names))
            for i, v in enumerate(sums):
                into[i] += v
        self.buckets, self.width = folded, width

    def display(self) -> tuple[list[str], dict[str, list[float]], str]:
        """(column labels, each name's sums per column, what a column is) at the finest width
        that shows the whole range in at most MAX_COLUMNS columns."""
        if self.start_ns is None or self.end_ns is None:
            return [], {n: [] for n in self.names}, ""
        start, end = self.start_ns, max(self.end_ns, self.start_ns + 1)
        for width in (w for w in _CHAIN if w >= self.width):
            first = start - start % width
            n = (end - 1 - first) // width + 1
            if n <= MAX_COLUMNS:
                return self._columns([first + i * width for i in range(n)], _label(width),
                                     _unit(width))
        if end - start <= MAX_COLUMNS * 7 * _DAY:
            first = start - (start - _MONDAY) % (7 * _DAY)
            n = (end - 1 - first) // (7 * _DAY) + 1
            return self._columns([first + i * 7 * _DAY for i in range(n)], "%Y-%m-%d",
                                 "UTC week from Monday")
        return self._columns(_months(start, end), "%Y-%m", "UTC calendar month")

    def _columns(self, edges: list[int], fmt: str,
                 unit: str) -> tuple[list[str], dict[str, list[float]], str]:
        """Stored buckets summed into the columns that start at ``edges``."""
        sums = [[0.0] * len(edges) for _ in self.names]
        for b, values in self.buckets.items():
            col = _column(edges, b)
            for i, v in enumerate(values):
                sums[i][col] += v
        labels = [datetime.fromtimestamp(e / _S, UTC).strftime(fmt) for e in edges]
        return labels, dict(zip(self.names, sums, strict=True)), unit


def _column(edges: list[int], b: int) -> int:
    lo, hi = 0, len(edges) - 1
    while lo < hi:  # the last edge at or before b
        mid = (lo + hi + 1) // 2
        if edges[mid] <= b:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _label(width: int) -> str:
    if width < 60 * _S:
        return "%H:%M:%S"
    if width < 3600 * _S:
        return "%H:%M"
    return "%m-%d %H:00" if width < _DAY else "%m-%d"


def _unit(width: int) -> str:
    seconds = width // _S
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h (UTC)" if seconds < 86_400 else "UTC day"


def _months(start: int, end: int) -> list[int]:
    day = datetime.fromtimestamp(start / _S, UTC).replace(day=1, hour=0, minute=0, second=0,
                                                         microsecond=0)
    edges = []
    while int(day.timestamp()) * _S < end:
        edges.append(int(day.timestamp()) * _S)
        day = (day + timedelta(days=32)).replace(day=1)
    return edges


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> list[float | None]:
    """numerator / denominator per column; None where the denominator is zero (no data)."""
    return [n / d if d > 0 else None for n, d in zip(numerator, denominator, strict=True)]
