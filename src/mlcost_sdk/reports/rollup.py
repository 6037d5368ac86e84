"""Cost roll-ups along tag hierarchies (cost_center > team > product > model > environment >
experiment_id, the attribution hierarchy of ../shared/cost-model.md).

Idle spans carry the serving process's tags, so a group's idle cost is the idle capacity of
the processes tagged with it, and its realized cost per prediction includes that idle time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import conventions as c
from ..errors import InvalidParameterError
from .usage import COUNTED_KINDS, Usage, weighted_mean

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
    def of(cls, items: Sequence[Usage]) -> Stats:
        cost = dict.fromkeys(COUNTED_KINDS, 0.0)
        requests, tokens, gpu_hours, cpu_hours = 0, 0.0, 0.0, 0.0
        for u in items:  # one pass: a roll-up visits every usage once per level
            cost[u.kind] += u.cost_usd
            requests += u.requests
            tokens += u.tokens
            gpu_hours += u.gpu_hours
            cpu_hours += u.cpu_hours
        runs = [u for u in items if u.kind == c.KIND_TRAINING_RUN]
        return cls(
            cost_usd=math.fsum(cost.values()), training_usd=cost[c.KIND_TRAINING_RUN],
            inference_usd=cost[c.KIND_INFERENCE], idle_usd=cost[c.KIND_IDLE],
            llm_usd=cost[c.KIND_LLM_CALL], runs=len(runs), requests=requests, tokens=tokens,
            gpu_hours=gpu_hours, cpu_hours=cpu_hours,
            mfu=weighted_mean((u.mfu, u.cost_usd, u.seconds) for u in runs),
            utilization=weighted_mean((u.utilization, u.cost_usd, u.seconds) for u in items))

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


def rollup(items: Iterable[Usage], by: Sequence[str] = DEFAULT_BY) -> list[Row]:
    """The grand total, then each group followed by its subgroups, biggest cost first."""
    keyed = [(tuple(u.dimension(k) or UNTAGGED for k in by), u) for u in items]
    rows: list[Row] = []

    def walk(prefix: tuple[str, ...], members: list[tuple[tuple[str, ...], Usage]]) -> None:
        rows.append(Row(prefix, Stats.of([u for _, u in members])))
        if len(prefix) == len(by):
            return
        children: dict[str, list[tuple[tuple[str, ...], Usage]]] = {}
        for key, u in members:
            children.setdefault(key[len(prefix)], []).append((key, u))
        for value, group in sorted(children.items(),
                                   key=lambda kv: (-sum(u.cost_usd for _, u in kv[1]), kv[0])):
            walk((*prefix, value), group)

    walk((), keyed)
    return rows
