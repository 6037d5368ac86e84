"""Models, endpoints and runs with no activity for N days, and what they still cost.

Activity is an inference request, a training run or an LLM call; idle spans are not activity,
they are what an unused deployment keeps costing. The idle policy (the "30-day rule"): alert
the owner after 30 days unused, warn 7 days before stopping, stop after 60 days. A resource
tagged ``auto_shutdown=true`` has opted into stopping as soon as it is idle past the threshold:
it is listed first, as "policy says shut down".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from .. import conventions as c
from ..errors import InvalidParameterError
from .usage import Usage, feed

NS_PER_DAY = 86_400 * 10**9
ALERT_DAYS = 30
STOP_DAYS = 60
WARNING_DAYS = 7
SHUT_DOWN = "policy says shut down (auto_shutdown=true)"
_ACTIVE = (c.KIND_TRAINING_RUN, c.KIND_INFERENCE, c.KIND_LLM_CALL)


def policy(idle_days: float) -> str:
    """What the 30/60-day rule says to do about a resource unused for ``idle_days``."""
    if idle_days >= STOP_DAYS:
        return f"stop: unused {STOP_DAYS}+ days, {WARNING_DAYS}-day warning given"
    if idle_days >= STOP_DAYS - WARNING_DAYS:
        left = math.ceil(STOP_DAYS - idle_days)
        return f"warn owner: stops in {left} day{'s' if left > 1 else ''}"
    if idle_days >= ALERT_DAYS:
        return "alert owner"
    return f"none yet (alert at {ALERT_DAYS} days)"


@dataclass(frozen=True, slots=True)
class IdleResource:
    kind: str  # model, endpoint or run
    name: str
    owner: str | None
    last_active_ns: int | None  # None: no activity anywhere in the records
    idle_days: float  # since the last activity, or since first seen
    idle_cost_usd: float  # idle spans' cost in the last N days
    auto_shutdown: bool = False  # its latest auto_shutdown tag is "true"

    @property
    def action(self) -> str:
        return SHUT_DOWN if self.auto_shutdown else policy(self.idle_days)


@dataclass
class _Track:
    first_seen_ns: int
    last_active_ns: int | None = None
    idle_cost_usd: float = 0.0
    owner: str | None = None
    owner_at_ns: int = -1
    auto_shutdown: bool = False

    def add(self, u: Usage, window: tuple[int, int]) -> None:
        self.first_seen_ns = min(self.first_seen_ns, u.start_ns)
        if u.kind in _ACTIVE:
            end = min(u.end_ns, window[1])
            self.last_active_ns = end if self.last_active_ns is None \
                else max(self.last_active_ns, end)
        else:
            self.idle_cost_usd += u.cost_usd * u.overlap(*window)
        if u.start_ns > self.owner_at_ns:  # the latest record speaks for owner and policy
            self.owner_at_ns = u.start_ns
            self.owner = u.tag("owner") or self.owner
            self.auto_shutdown = (u.tag("auto_shutdown") or "").strip().lower() == "true"

    def merge(self, other: _Track) -> None:
        self.first_seen_ns = min(self.first_seen_ns, other.first_seen_ns)
        if other.last_active_ns is not None:
            self.last_active_ns = max(self.last_active_ns or other.last_active_ns,
                                      other.last_active_ns)
        self.idle_cost_usd += other.idle_cost_usd
        if other.owner_at_ns > self.owner_at_ns:
            self.owner_at_ns, self.auto_shutdown = other.owner_at_ns, other.auto_shutdown
            self.owner = other.owner if other.owner is not None else self.owner


def _endpoint(u: Usage) -> str | None:
    route = u.attributes.get(c.HTTP_ROUTE) if u.kind == c.KIND_INFERENCE else None
    return f"{u.service} {route}" if route else None


def _names(u: Usage) -> list[tuple[str, str]]:
    names = []
    if model := u.dimension("model"):
        names.append(("model", model))
    if endpoint := _endpoint(u):
        names.append(("endpoint", endpoint))
    if run := u.tag("experiment_id") or u.attributes.get(c.RUN_NAME):
        names.append(("run", str(run)))
    return names


class IdleFinder:
    """Resources with no activity in the ``days`` before ``now_ns``, fed one usage at a time.

    An idle process keeps every endpoint it served alive, but which endpoints those are is
    known only once every request is read: an idle span's figures are kept per process and
    credited to its endpoints in ``found()``."""

    def __init__(self, *, now_ns: int, days: float) -> None:
        if isinstance(days, bool) or not isinstance(days, int | float) \
                or not math.isfinite(days) or not days > 0:
            raise InvalidParameterError("--days", days, "a number of days > 0")
        self.now_ns = now_ns
        reach = days * NS_PER_DAY  # a float, perhaps a huge one: records start at 0 or later
        self.window = (now_ns - int(reach) if reach <= now_ns else -1, now_ns)
        self.days = days
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._idle_of: dict[str, _Track] = {}  # by resource id: idle spans to credit endpoints
        self._endpoints_of: dict[str, set[str]] = {}

    def _track(self, tracks: dict[Any, _Track], key: Any, u: Usage) -> None:
        track = tracks.get(key)
        if track is None:
            track = tracks[key] = _Track(u.start_ns)
        track.add(u, self.window)

    def add(self, u: Usage) -> None:
        if u.start_ns >= self.now_ns:
            return
        for key in _names(u):
            self._track(self._tracks, key, u)
        if u.kind == c.KIND_IDLE:
            self._track(self._idle_of, u.resource_id, u)
        elif endpoint := _endpoint(u):
            self._endpoints_of.setdefault(u.resource_id, set()).add(endpoint)

    def found(self) -> list[IdleResource]:
        """The idle resources: auto_shutdown ones first, then costliest first."""
        tracks = dict(self._tracks)
        for resource_id, idle in self._idle_of.items():
            for endpoint in self._endpoints_of.get(resource_id, ()):
                key = ("endpoint", endpoint)
                if key in tracks:
                    tracks[key] = replace(tracks[key])
                    tracks[key].merge(idle)
                else:
                    tracks[key] = replace(idle)
        found = []
        for (kind, name), t in tracks.items():
            since = t.last_active_ns if t.last_active_ns is not None else t.first_seen_ns
            idle_days = (self.now_ns - since) / NS_PER_DAY
            if idle_days >= self.days:
                found.append(IdleResource(kind, name, t.owner, t.last_active_ns, idle_days,
                                          t.idle_cost_usd, t.auto_shutdown))
        found.sort(key=lambda r: (not r.auto_shutdown, -r.idle_cost_usd, -r.idle_days, r.kind,
                                  r.name))
        return found


def find_idle(items: Iterable[Usage], *, now_ns: int, days: float) -> list[IdleResource]:
    """Resources with no activity in the ``days`` before ``now_ns``, costliest first."""
    finder = IdleFinder(now_ns=now_ns, days=days)
    feed(items, finder)
    return finder.found()
