"""From span records to usages: the costed things every report counts, each exactly once.

A usage is a training run (all torchrun ranks merged by run id), an inference request, an idle
period of a serving process, or an LLM call. ``training_window`` spans are a breakdown of
their run and are never counted; spans without ``mlcost.kind`` (HTTP, framework spans) carry
no cost of ours.

Ledger records (``mlcost_sdk.runtime.ledger``) are read too, and each dollar is counted once
(:func:`counted_as` is the whole rule): an aggregate record is a usage of its count of
requests; a span marked ``mlcost.cost.in_ledger`` is detail whose cost an aggregate record
already carries; a run rank counts its final span, else (killed) its latest checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .. import conventions as c
from ..runtime.tags import environment_group
from .records import SpanRecord, finite_number, tags_of

COUNTED_KINDS = (c.KIND_TRAINING_RUN, c.KIND_INFERENCE, c.KIND_IDLE, c.KIND_LLM_CALL)
NS_PER_HOUR = 3_600 * 10**9

_TAG_ATTRIBUTE: dict[str, str] = {}


def _tag_attribute(key: str) -> str:
    if len(_TAG_ATTRIBUTE) < 1024:  # keys come from --by and code: few
        _TAG_ATTRIBUTE[key] = c.TAG_PREFIX + key
    return c.TAG_PREFIX + key


# Where a grouping key is not a tag, the span attribute that answers it.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "model": (c.MODEL, c.GEN_AI_RESPONSE_MODEL, c.GEN_AI_REQUEST_MODEL),
    "environment": (c.DEPLOYMENT_ENVIRONMENT,),
}


@dataclass(slots=True)  # not frozen: a frozen init costs a call per field, per record
class Usage:
    """One counted thing (treat as read-only)."""

    kind: str
    start_ns: int
    end_ns: int
    cost_usd: float
    attributes: Mapping[str, Any]  # of the span that speaks for it (rank 0 for a torchrun job)
    resource: Mapping[str, Any]
    tokens: float
    process_hours: float  # the time its price is charged for (summed over ranks)
    gpu_hours: float
    cpu_hours: float  # CPU core-hours
    mfu: float | None
    utilization: float | None
    ranks: int = 1
    requests: int = 0  # inference requests or LLM calls it stands for

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def tags(self) -> dict[str, str]:
        return tags_of(self.attributes)

    def tag(self, key: str) -> str | None:
        value = self.attributes.get(_TAG_ATTRIBUTE.get(key) or _tag_attribute(key))
        return None if value is None else str(value)

    def dimension(self, key: str) -> str | None:
        """The value of a grouping key: its tag, else the attribute that means the same."""
        value = self.tag(key)
        for name in FALLBACKS.get(key, ()) if value is None else ():
            found = self.attributes.get(name, self.resource.get(name))
            if isinstance(found, str) and found:
                value = found
                break
        # production and prod are one group; the span keeps what the user wrote
        return environment_group(value) if value is not None and key == "environment" else value

    @property
    def service(self) -> str:
        return str(self.resource.get("service.name", "unknown_service"))

    @property
    def resource_id(self) -> str:
        """What the cost was paid for: the run, the serving process, or the LLM model."""
        if self.kind == c.KIND_TRAINING_RUN:
            return "mlcost/run/" + str(self.attributes.get(c.RUN_ID) or self.attributes.get(
                c.RUN_NAME, "unnamed"))
        if self.kind == c.KIND_LLM_CALL:
            provider = self.attributes.get(c.GEN_AI_PROVIDER_NAME, "unknown")
            return f"mlcost/llm/{provider}/{self.llm_model or 'unknown'}"
        instance = self.resource.get("service.instance.id")
        return f"mlcost/service/{self.service}" + (f"/{instance}" if instance else "")

    @property
    def llm_model(self) -> str | None:
        """The LLM model billed (response model, else request model), never the user's
        ``model`` tag: two LLM models under one tag are two resources."""
        for name in (c.GEN_AI_RESPONSE_MODEL, c.GEN_AI_REQUEST_MODEL):
            value = self.attributes.get(name)
            if isinstance(value, str) and value:
                return value
        return self.dimension("model")

    def overlap(self, start_ns: int, end_ns: int) -> float:
        """Fraction of this usage inside [start_ns, end_ns): its cost, device time and work
        are taken to accrue evenly over its span, as a price per hour does."""
        if self.end_ns == self.start_ns:
            return 1.0 if start_ns <= self.start_ns < end_ns else 0.0
        inside = min(self.end_ns, end_ns) - max(self.start_ns, start_ns)
        return max(0, inside) / (self.end_ns - self.start_ns)

    def buckets(self, width_ns: int, origin_ns: int = 0) -> Iterator[tuple[int, float]]:
        """(bucket start, fraction inside) for each bucket [origin + k*width, +width) it
        touches."""
        first = (self.start_ns - origin_ns) // width_ns
        last = (max(self.end_ns - 1, self.start_ns) - origin_ns) // width_ns
        for k in range(first, last + 1):
            start = origin_ns + k * width_ns
            fraction = self.overlap(start, start + width_ns)
            if fraction > 0:
                yield start, fraction


class Mean:
    """A mean of (value, cost, seconds) points weighted by cost, or by time when none costs
    anything (no price configured); points without a value are left out. Accumulated one point
    at a time, so a group's mean takes constant memory however many usages it has."""

    __slots__ = ("n", "plain", "cost", "by_cost", "seconds", "by_seconds")

    def __init__(self) -> None:
        self.n = 0
        self.plain = self.cost = self.by_cost = self.seconds = self.by_seconds = 0.0

    def add(self, value: float | None, cost: float, seconds: float) -> None:
        if value is not None:
            self.n += 1
            self.plain += value
            self.cost += cost
            self.by_cost += value * cost
            self.seconds += seconds
            self.by_seconds += value * seconds

    def merge(self, other: Mean) -> None:
        self.n += other.n
        self.plain += other.plain
        self.cost += other.cost
        self.by_cost += other.by_cost
        self.seconds += other.seconds
        self.by_seconds += other.by_seconds

    @property
    def value(self) -> float | None:
        if not self.n:
            return None
        if self.cost > 0:
            return self.by_cost / self.cost
        return self.by_seconds / self.seconds if self.seconds > 0 else self.plain / self.n


def weighted_mean(points: Iterable[tuple[float | None, float, float]]) -> float | None:
    """The :class:`Mean` of these points."""
    mean = Mean()
    for value, cost, seconds in points:
        mean.add(value, cost, seconds)
    return mean.value


def _single(r: SpanRecord) -> Usage:
    """The usage of one record (the reader's hot path: each attribute is read once)."""
    a = r.attributes
    kind = a.get(c.KIND)
    cost = finite_number(a.get(c.COST_USD))
    price = finite_number(a.get(c.PRICE_USD_PER_HOUR))
    # The span's share of its process's time: cost / price when priced (for a request, its
    # share while others were in flight too), else its wall time (an upper bound when
    # requests overlapped).
    hours = cost / price if price and cost is not None \
        else (r.end_ns - r.start_ns) / NS_PER_HOUR
    device_hours = (finite_number(a.get(c.HW_COUNT)) or 0.0) * hours
    hw_kind = a.get(c.HW_KIND)
    tokens = finite_number(a.get(c.TOKENS))
    requests = 0
    if kind == c.KIND_LLM_CALL or kind == c.KIND_INFERENCE:
        requests = 1
        if a.get(c.RECORD) == c.RECORD_AGGREGATE:
            n = finite_number(a.get(c.REQUESTS))
            requests = int(n) if n is not None and n > 0 else 0
        if tokens is None and kind == c.KIND_LLM_CALL:
            tokens = (finite_number(a.get(c.GEN_AI_INPUT_TOKENS)) or 0.0) \
                + (finite_number(a.get(c.GEN_AI_OUTPUT_TOKENS)) or 0.0)
    return Usage(kind if isinstance(kind, str) else "", r.start_ns, r.end_ns, cost or 0.0,
                 a, r.resource, tokens or 0.0, hours,
                 device_hours if hw_kind == "gpu" else 0.0,
                 device_hours if hw_kind == "cpu" else 0.0,
                 finite_number(a.get(c.MFU)), finite_number(a.get(c.UTILIZATION_MEAN)),
                 1, requests)


def _merge_run(ranks: Sequence[SpanRecord]) -> Usage:
    """One torchrun job from its ranks' spans: costs and work summed (each rank priced and
    counted its own devices), throughput and MFU from rank 0's whole-job span."""
    if len(ranks) == 1:
        return _single(ranks[0])
    job = next((r for r in ranks if r.attributes.get(c.JOB_SCOPE) is True), None)
    lead = job or min(ranks, key=lambda r: r.number(c.DIST_RANK) or 0.0)
    parts = [_single(r) for r in ranks]
    job_mfu = job.number(c.DIST_JOB_MFU) if job is not None else None
    mfu = job_mfu if job_mfu is not None else weighted_mean(
        (p.mfu, p.cost_usd, p.seconds) for p in parts)
    return Usage(
        kind=c.KIND_TRAINING_RUN, start_ns=min(p.start_ns for p in parts),
        end_ns=max(p.end_ns for p in parts), cost_usd=sum(p.cost_usd for p in parts),
        attributes=lead.attributes, resource=lead.resource,
        tokens=sum(p.tokens for p in parts), process_hours=sum(p.process_hours for p in parts),
        gpu_hours=sum(p.gpu_hours for p in parts),
        cpu_hours=sum(p.cpu_hours for p in parts), mfu=mfu,
        utilization=weighted_mean((p.utilization, p.cost_usd, p.seconds) for p in parts),
        ranks=len(parts))


SINGLE, RUN, CHECKPOINT = "single", "run", "checkpoint"


def counted_as(r: SpanRecord) -> str | None:
    """How a record counts: SINGLE (a usage of its own: a call, an idle period, an aggregate
    record), RUN (one rank's final run span), CHECKPOINT (counts only when its run span, the
    parent, is missing), or None (detail: a window, a span whose cost a ledger record holds,
    a span that is not ours)."""
    if r.kind not in COUNTED_KINDS or r.attributes.get(c.COST_IN_LEDGER) is True:
        return None
    if r.kind == c.KIND_TRAINING_RUN:
        return CHECKPOINT if r.attributes.get(c.RECORD) == c.RECORD_CHECKPOINT else RUN
    return SINGLE


def stream_usages(records: Iterable[SpanRecord]) -> Iterator[Usage]:
    """Every counted usage, once, in one pass: requests, idle periods, LLM calls and aggregate
    records as they are read; training runs at the end, each once all its ranks (or, for a
    killed rank, its latest checkpoint) are in. Memory: a few entries per run, none per call."""
    runs: dict[str, list[SpanRecord]] = {}
    finals: set[tuple[str, str]] = set()
    latest: dict[tuple[str, str | None], SpanRecord] = {}  # per run span: its last checkpoint
    for r in records:
        how = counted_as(r)
        if how == SINGLE:
            yield _single(r)
        elif how == RUN:
            finals.add((r.trace_id, r.span_id))
            _add_rank(runs, r)
        elif how == CHECKPOINT:
            key = (r.trace_id, r.parent_span_id)
            seen = latest.get(key)
            if seen is None or (r.end_ns, r.cost_usd) > (seen.end_ns, seen.cost_usd):
                latest[key] = r
    for (trace_id, parent), r in latest.items():
        if parent is None or (trace_id, parent) not in finals:
            _add_rank(runs, r)
    for ranks in runs.values():
        yield _merge_run(ranks)


def _add_rank(runs: dict[str, list[SpanRecord]], r: SpanRecord) -> None:
    run_id = r.attributes.get(c.RUN_ID)
    runs.setdefault(str(run_id) if run_id else "span:" + r.span_id, []).append(r)


class Sink(Protocol):
    """What a report is made by: fed every usage once (see feed())."""

    def add(self, u: Usage) -> None: ...


def feed(items: Iterable[Usage], *sinks: Sink) -> None:
    """One pass over ``items``, each usage handed to every sink: several reports from one read."""
    if len(sinks) == 1:
        add = sinks[0].add
        for u in items:
            add(u)
        return
    adders = [s.add for s in sinks]
    for u in items:
        for add in adders:
            add(u)


def usages(records: Iterable[SpanRecord]) -> list[Usage]:
    """Every counted usage, by start time (a list: for small inputs; reports stream)."""
    return sorted(stream_usages(records), key=lambda u: (u.start_ns, u.end_ns))
