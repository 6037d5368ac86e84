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
from dataclasses import dataclass

from .. import conventions as c
from ..errors import InvalidParameterError
from .usage import Usage

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


def _endpoint(u: Usage) -> str | None:
    route = u.attributes.get(c.HTTP_ROUTE) if u.kind == c.KIND_INFERENCE else None
    return f"{u.service} {route}" if route else None


def _names(u: Usage, endpoints_of: dict[str, set[str]]) -> list[tuple[str, str]]:
    names = []
    if model := u.dimension("model"):
        names.append(("model", model))
    if endpoint := _endpoint(u):
        names.append(("endpoint", endpoint))
    elif u.kind == c.KIND_IDLE:  # an idle process keeps every endpoint it served alive
        names.extend(("endpoint", e) for e in sorted(endpoints_of.get(u.resource_id, ())))
    if run := u.tags.get("experiment_id") or u.attributes.get(c.RUN_NAME):
        names.append(("run", str(run)))
    return names


def find_idle(items: Iterable[Usage], *, now_ns: int, days: float) -> list[IdleResource]:
    """Resources with no activity in the ``days`` before ``now_ns``, costliest first."""
    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
        raise InvalidParameterError("--days", days, "a number of days > 0")
    window_start = now_ns - int(days * NS_PER_DAY)
    seen = [u for u in items if u.start_ns < now_ns]
    endpoints_of: dict[str, set[str]] = {}
    for u in seen:
        if endpoint := _endpoint(u):
            endpoints_of.setdefault(u.resource_id, set()).add(endpoint)
    tracks: dict[tuple[str, str], _Track] = {}
    for u in seen:
        for key in _names(u, endpoints_of):
            t = tracks.setdefault(key, _Track(u.start_ns))
            t.first_seen_ns = min(t.first_seen_ns, u.start_ns)
            if u.kind in _ACTIVE:
                end = min(u.end_ns, now_ns)
                t.last_active_ns = end if t.last_active_ns is None else max(t.last_active_ns, end)
            else:
                t.idle_cost_usd += u.cost_usd * u.overlap(window_start, now_ns)
            if u.start_ns > t.owner_at_ns:  # the latest record speaks for owner and policy
                t.owner_at_ns = u.start_ns
                t.owner = u.tags.get("owner", t.owner)
                t.auto_shutdown = u.tags.get("auto_shutdown", "").strip().lower() == "true"
    found = []
    for (kind, name), t in tracks.items():
        since = t.last_active_ns if t.last_active_ns is not None else t.first_seen_ns
        idle_days = (now_ns - since) / NS_PER_DAY
        if idle_days >= days:
            found.append(IdleResource(kind, name, t.owner, t.last_active_ns, idle_days,
                                      t.idle_cost_usd, t.auto_shutdown))
    found.sort(key=lambda r: (not r.auto_shutdown, -r.idle_cost_usd, -r.idle_days, r.kind,
                              r.name))
    return found
