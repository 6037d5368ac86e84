"""Cost roll-ups along tag hierarchies (cost_center > team > product > model > environment >
experiment_id, the attribution hierarchy of docs/cost-model.md).

Idle spans carry the serving process's tags, so a group's idle cost is the idle capacity of
the processes tagged with it, and its realized cost per prediction includes that idle time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import conventions as c
from ..errors import InvalidParameterError
from .usage import COUNTED_KINDS, FALLBACKS, Mean, Usage, feed

DEFAULT_BY = ("cost_center", "team", "product", "model", "environment", "experiment_id")
UNTAGGED = "(none)"
_TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_by(text: str, parameter: str = "--by") -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(","))
    if not keys or not all(_TAG_KEY.match(k) for k in keys) or len(set(keys)) != len(keys):
        raise InvalidParameterError(parameter, text,
                                    "distinct tag keys separated by commas, e.g. team,model")
    return keys


@dataclass(frozen=True, slots=True)
class Stats:
    """What a group of usages cost and did."""

    cost_usd: float
    training_usd: float
    inference_usd: float
    idle_usd: float
    llm_usd: float
    runs: int
    requests: int
    tokens: float
    gpu_hours: float
    cpu_hours: float
    mfu: float | None  # cost-weighted over the runs that report one
    utilization: float | None  # cost-weighted over the usages that report one

    @property
    def cost_per_prediction(self) -> float | None:
        """Realized serving cost per request: requests, LLM calls and idle capacity."""
        if not self.requests:
            return None
        return (self.inference_usd + self.idle_usd + self.llm_usd) / self.requests

    @property
    def idle_share(self) -> float | None:
        """Share of the serving processes' cost paid while no request was in flight."""
        serving = self.inference_usd + self.idle_usd
        return self.idle_usd / serving if serving > 0 else None

    @classmethod
    def of(cls, items: Iterable[Usage]) -> Stats:
        """The stats of these usages, read once."""
        totals = Totals()
        feed(items, totals)
        return totals.stats()

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "cost_usd": self.cost_usd, "training_usd": self.training_usd,
            "inference_usd": self.inference_usd, "idle_usd": self.idle_usd,
            "llm_usd": self.llm_usd, "runs": self.runs, "requests": self.requests,
            "cost_per_prediction_usd": self.cost_per_prediction, "idle_share": self.idle_share,
            "mfu": self.mfu, "utilization": self.utilization, "gpu_hours": self.gpu_hours,
            "cpu_core_hours": self.cpu_hours, "tokens": self.tokens,
        }


@dataclass(frozen=True, slots=True)
class Row:
    """One node of the roll-up: ``path`` holds the values of the first ``len(path)`` keys
    (empty for the grand total)."""

    path: tuple[str, ...]
    stats: Stats

    @property
    def level(self) -> int:
        return len(self.path)


class Totals:
    """A group's running totals, one usage at a time; ``stats()`` gives its :class:`Stats`."""

    __slots__ = ("cost", "runs", "requests", "tokens", "gpu_hours", "cpu_hours", "mfu",
                 "utilization")

    def __init__(self) -> None:
        self.cost = dict.fromkeys(COUNTED_KINDS, 0.0)
        self.runs = self.requests = 0
        self.tokens = self.gpu_hours = self.cpu_hours = 0.0
        self.mfu, self.utilization = Mean(), Mean()  # MFU over runs only

    def add(self, u: Usage) -> None:
        self.cost[u.kind] += u.cost_usd
        self.requests += u.requests
        self.tokens += u.tokens
        self.gpu_hours += u.gpu_hours
        self.cpu_hours += u.cpu_hours
        seconds = u.seconds
        if u.kind == c.KIND_TRAINING_RUN:
            self.runs += 1
            self.mfu.add(u.mfu, u.cost_usd, seconds)
        self.utilization.add(u.utilization, u.cost_usd, seconds)

    def merge(self, other: Totals) -> None:
        for kind, cost in other.cost.items():
            self.cost[kind] += cost
        self.runs += other.runs
        self.requests += other.requests
        self.tokens += other.tokens
        self.gpu_hours += other.gpu_hours
        self.cpu_hours += other.cpu_hours
        self.mfu.merge(other.mfu)
        self.utilization.merge(other.utilization)

    def stats(self) -> Stats:
        cost = self.cost
        return Stats(
            cost_usd=math.fsum(cost.values()), training_usd=cost[c.KIND_TRAINING_RUN],
            inference_usd=cost[c.KIND_INFERENCE], idle_usd=cost[c.KIND_IDLE],
            llm_usd=cost[c.KIND_LLM_CALL], runs=self.runs, requests=self.requests,
            tokens=self.tokens, gpu_hours=self.gpu_hours, cpu_hours=self.cpu_hours,
            mfu=self.mfu.value, utilization=self.utilization.value)


class Grouper:
    """The group key of a usage along ``by`` (each value its dimension, or UNTAGGED).

    Reports ask this once per usage and key, the reader's hottest question: the key is cached
    by the raw attribute values it depends on (the tags, and the attributes a missing tag falls
    back to), in a bounded cache; a usage whose key would also depend on its resource is worked
    out in full."""

    _MAX_CACHED = 1 << 16

    def __init__(self, by: Sequence[str]) -> None:
        self.by = tuple(by)
        self._tags = [c.tag_attribute(k) for k in self.by]
        self._fallbacks = [(i, FALLBACKS[k]) for i, k in enumerate(self.by) if k in FALLBACKS]
        self._names = self._tags + [n for _, names in self._fallbacks for n in names]
        self._cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def key(self, u: Usage) -> tuple[str, ...]:
        raw = tuple(map(u.attributes.get, self._names))
        try:
            key = self._cache.get(raw)
        except TypeError:  # a list-valued attribute: not hashable
            return self._work_out(u)
        if key is None:
            key = self._work_out(u)
            if len(self._cache) < self._MAX_CACHED and self._without_resource(raw):
                self._cache[raw] = key
        return key

    def _work_out(self, u: Usage) -> tuple[str, ...]:
        return tuple([u.dimension(k) or UNTAGGED for k in self.by])

    def _without_resource(self, raw: tuple[Any, ...]) -> bool:
        """True when no dimension looked at the resource: each key with fallbacks has its
        tag, or a fallback attribute that answered before any absent one."""
        position = len(self._tags)
        for i, names in self._fallbacks:
            if raw[i] is None:
                for value in raw[position:position + len(names)]:
                    if value is None:
                        return False  # absent from the attributes: the resource was asked
                    if isinstance(value, str) and value:
                        break
            position += len(names)
        return True


class Rollup:
    """A roll-up fed one usage at a time: running totals per group of the last level only
    (memory: the number of groups); the levels above are merged from them in ``rows()``."""

    def __init__(self, by: Sequence[str] = DEFAULT_BY) -> None:
        self.by = tuple(by)
        self._key = Grouper(by).key
        self._leaves: dict[tuple[str, ...], Totals] = {}

    def add(self, u: Usage) -> None:
        key = self._key(u)
        totals = self._leaves.get(key)
        if totals is None:
            totals = self._leaves[key] = Totals()
        totals.add(u)

    def rows(self) -> list[Row]:
        """The grand total, then each group followed by its subgroups, biggest cost first."""
        levels: list[dict[tuple[str, ...], Totals]] = [{} for _ in range(len(self.by))]
        levels.append(self._leaves)
        for depth in range(len(self.by), 0, -1):
            for key, totals in levels[depth].items():
                parent = levels[depth - 1].get(key[:-1])
                if parent is None:
                    parent = levels[depth - 1][key[:-1]] = Totals()
                parent.merge(totals)
        if not levels[0]:
            levels[0][()] = Totals()
        children: dict[tuple[str, ...], list[tuple[tuple[str, ...], Stats]]] = {}
        for depth in range(1, len(self.by) + 1):
            for key, totals in levels[depth].items():
                children.setdefault(key[:-1], []).append((key, totals.stats()))
        rows: list[Row] = []

        def walk(path: tuple[str, ...], stats: Stats) -> None:
            rows.append(Row(path, stats))
            for key, child in sorted(children.get(path, ()),
                                     key=lambda kv: (-kv[1].cost_usd, kv[0][-1])):
                walk(key, child)

        walk((), levels[0][()].stats())
        return rows


def rollup(items: Iterable[Usage], by: Sequence[str] = DEFAULT_BY) -> list[Row]:
    """The grand total, then each group followed by its subgroups, biggest cost first."""
    acc = Rollup(by)
    feed(items, acc)
    return acc.rows()
