"""Tag groups whose weekly cost rose more than a threshold (50%) week over week.

Weeks are the 7-day windows ending at ``now`` (so the latest week is never a partial one),
and a usage spanning two weeks is split between them by time, as its price accrued.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import InvalidParameterError
from .rollup import Grouper
from .usage import Usage, feed

NS_PER_WEEK = 7 * 86_400 * 10**9


@dataclass(frozen=True, slots=True)
class Anomaly:
    group: tuple[str, ...]  # values of the --by keys
    week_start_ns: int
    previous_usd: float
    current_usd: float

    @property
    def rise(self) -> float | None:
        """Relative rise over the previous week; None when that week cost nothing."""
        return self.current_usd / self.previous_usd - 1 if self.previous_usd > 0 else None


def check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
            or not math.isfinite(threshold) or threshold <= 0:
        raise InvalidParameterError("--threshold", threshold, "a number > 0 (0.5 = 50%)")
    return threshold


class WeeklyCosts:
    """Cost per group per week start (weeks end at ``now_ns``; later cost is left out), fed one
    usage at a time."""

    def __init__(self, by: Sequence[str], *, now_ns: int) -> None:
        self.by, self.now_ns = tuple(by), now_ns
        self._key = Grouper(by).key
        self.weeks: dict[tuple[str, ...], dict[int, float]] = {}
        self.earliest_ns: int | None = None  # of every usage, whenever it was

    def add(self, u: Usage) -> None:
        if self.earliest_ns is None or u.start_ns < self.earliest_ns:
            self.earliest_ns = u.start_ns
        group = self._key(u)
        per_week = self.weeks.get(group)
        if per_week is None:
            per_week = self.weeks[group] = {}
        for start, fraction in u.buckets(NS_PER_WEEK, origin_ns=self.now_ns):
            if start < self.now_ns:
                per_week[start] = per_week.get(start, 0.0) + u.cost_usd * fraction

    def anomalies(self, threshold: float = 0.5) -> list[Anomaly]:
        """Every (group, week) whose cost exceeds (1 + threshold) x the week before, the
        latest week first. Only weeks after the first one in the records are judged: a group
        that cost nothing the week before but something now is reported as new spend (rise
        None)."""
        check_threshold(threshold)
        first = min((s for per_week in self.weeks.values() for s in per_week), default=None)
        if first is None:
            return []
        found = []
        for group, per_week in self.weeks.items():
            for week, current in per_week.items():  # weeks with no cost cannot rise
                previous = per_week.get(week - NS_PER_WEEK, 0.0)
                if week > first and current > 0 and current > previous * (1 + threshold):
                    found.append(Anomaly(group, week, previous, current))
        found.sort(key=lambda a: (-a.week_start_ns, -(a.current_usd - a.previous_usd)))
        return found


def find_anomalies(items: Iterable[Usage], *, by: Sequence[str], now_ns: int,
                   threshold: float = 0.5) -> list[Anomaly]:
    """The anomalies of :class:`WeeklyCosts` over ``items``."""
    weeks = WeeklyCosts(by, now_ns=now_ns)
    feed(items, weeks)
    return weeks.anomalies(threshold)
