"""The cost ledger: records that carry the exact cost of many calls, or of a run so far.

Every dollar the CostAllocator hands out (or a training run accrues) lands in exactly one
counted place. Usually that place is the call's own span. The ledger is the other place, for
when a span per call is too dear or was lost:

- **aggregate records** (``mlcost.record=aggregate``): one per group, per window (default
  10 s, ``configure(ledger_window_s=...)``). A group is (kind, name/route, method, model, tags,
  hardware); its bucket holds the count, the exact cost (the sum of the allocator's shares),
  errors, tokens, samples, latency p50/p95/p99 (a bounded log sketch) and how many shed spans it
  stands for; the window's hardware statistics are added at close. Two ledgers write them:
  the process's *aggregate mode* ledger (``configure(aggregate=True)``: a call costs the
  allocator and a bucket update; a span only when the call runs inside a trace the application
  samples, marked ``mlcost.cost.in_ledger=true``) and, in every exporting span processor, a
  *shed* ledger that takes the cost of each span the processor had to drop (queue full, export
  failed, shut down) and hands its records straight back to that processor only, so a span
  another exporter did deliver is never counted twice.
- **checkpoints** (``mlcost.record=checkpoint``): each active training run, at every window,
  emits its cost *so far* as a child of its run span and flushes, so SIGKILL loses at most one
  window of cost. Cumulative rather than per stretch, so a lost checkpoint loses nothing once a
  later one lands.

The report's rule (``reports.usage``): a span marked in_ledger counts no cost; an aggregate
record counts its count and cost; a run counts its final span, else its latest checkpoint.

Bounds: buckets per ledger are capped (past the cap, calls fold into one overflow bucket per
kind: detail is shed, dollars are not); a ledger whose records cannot be handed on keeps its
buckets and merges the next window into them. Every record has a unique ``mlcost.record.id``.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .. import conventions as c
from ..guard import capture_internal_exceptions

RECORD_NAME = "mlcost.aggregate"
CHECKPOINT_NAME = "mlcost.checkpoint"
MAX_BUCKETS = 4096
OVERFLOW = "(overflow)"

_GAMMA = 1.02  # sketch bins are 2% wide: quantiles within ~1% relative
_LOG_GAMMA = math.log(_GAMMA)
_MAX_BINS = 2048  # 1 us .. 1e4 s needs ~1,200 bins; past the cap the lowest bins merge


class LatencySketch:
    """Log-bucketed latencies (DDSketch-like): bounded memory, relative-error quantiles."""

    __slots__ = ("bins", "n", "zeros")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.n = 0
        self.zeros = 0

    def add(self, seconds: float) -> None:
        self.n += 1
        if not seconds > 1e-9:  # also NaN
            self.zeros += 1
            return
        i = math.ceil(math.log(seconds) / _LOG_GAMMA)
        self.bins[i] = self.bins.get(i, 0) + 1
        if len(self.bins) > _MAX_BINS:
            low = sorted(self.bins)[:2]
            self.bins[low[1]] += self.bins.pop(low[0])

    def quantile(self, q: float) -> float | None:
        if not self.n:
            return None
        rank = q * (self.n - 1)
        seen = self.zeros
        if rank < seen:
            return 0.0
        for i in sorted(self.bins):
            seen += self.bins[i]
            if rank < seen:
                return 2 * _GAMMA**i / (_GAMMA + 1)  # the bin's midpoint (relative)
        return 2 * _GAMMA ** max(self.bins) / (_GAMMA + 1)


class Bucket:
    """One group's figures in the current window."""

    __slots__ = ("identity", "resource", "count", "requests", "cost", "errors", "dropped",
                 "tokens", "samples", "latency", "start_ns", "end_ns")

    def __init__(self, identity: Mapping[str, Any], resource: Any) -> None:
        self.identity = identity
        self.resource = resource
        self.count = self.requests = self.errors = self.dropped = self.tokens = self.samples = 0
        self.cost = 0.0
        self.latency = LatencySketch()
        self.start_ns: int | None = None  # of the spans it carries, when it carries spans
        self.end_ns: int | None = None

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {**self.identity, c.RECORD: c.RECORD_AGGREGATE,
                                 c.RECORD_ID: uuid.uuid4().hex, c.AGGREGATE_COUNT: self.count,
                                 c.COST_USD: self.cost}
        for name, value in ((c.REQUESTS, self.requests), (c.ERRORS, self.errors),
                            (c.SPANS_DROPPED, self.dropped), (c.TOKENS, self.tokens),
                            (c.SAMPLES, self.samples)):
            if value:
                attrs[name] = value
        for name, q in ((c.LATENCY_P50_S, 0.5), (c.LATENCY_P95_S, 0.95), (c.LATENCY_P99_S, 0.99)):
            seconds = self.latency.quantile(q)
            if seconds is not None:
                attrs[name] = seconds
        return attrs


@dataclass(frozen=True)
class LedgerRecord:
    """An aggregate record ready to be emitted (as a span, by whoever owns the ledger)."""

    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: Any = None


Emit = Callable[[list[LedgerRecord]], bool]  # False: no room now, keep the buckets


class Ledger:
    """Open buckets of one destination; ``close()`` turns them into records."""

    def __init__(self, emit: Emit, *, max_buckets: int = MAX_BUCKETS,
                 window_attributes: Callable[[int, int], Mapping[str, Any]] | None = None,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._emit = emit
        self._window_attributes = window_attributes
        self._clock_ns = clock_ns
        self.max_buckets = max_buckets
        self._lock = threading.Lock()
        self._buckets: dict[Hashable, Bucket] = {}
        self._window_start_ns = clock_ns()
        _ledgers.add(self)

    def add(self, key: Hashable, identity: Callable[[], Mapping[str, Any]], *, cost: float,
            count: int = 1, requests: int = 0, latency_s: float | None = None,
            error: bool = False, errors: int = 0, dropped: int = 0, tokens: int = 0,
            samples: int = 0, span_ns: tuple[int, int] | None = None,
            resource: Any = None) -> None:
        """Fold calls into their group's bucket. ``identity()`` (the record's attributes) is
        called only when the group opens a bucket."""
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._open(key, identity, resource)
            b.count += count
            b.requests += requests
            b.cost += cost
            b.errors += errors + (1 if error else 0)
            b.dropped += dropped
            b.tokens += tokens
            b.samples += samples
            if latency_s is not None:
                b.latency.add(latency_s)
            if span_ns is not None:
                start, end = span_ns
                b.start_ns = start if b.start_ns is None else min(b.start_ns, start)
                b.end_ns = end if b.end_ns is None else max(b.end_ns, end)

    def _open(self, key: Hashable, identity: Callable[[], Mapping[str, Any]],
              resource: Any) -> Bucket:
        ident = dict(identity())
        if len(self._buckets) >= self.max_buckets:  # detail shed, dollars kept
            key = (OVERFLOW, ident.get(c.KIND))
            ident = {c.KIND: ident.get(c.KIND), c.AGGREGATE_NAME: OVERFLOW}
            found = self._buckets.get(key)
            if found is not None:
                return found
        b = self._buckets[key] = Bucket(ident, resource)
        ensure_thread()
        return b

    @property
    def open_buckets(self) -> int:
        return len(self._buckets)

    def close(self) -> int:
        """End the window: emit one record per bucket; returns how many. When the emitter has
        no room, the buckets stay and the next window merges into them."""
        with self._lock:
            if not self._buckets:
                self._window_start_ns = self._clock_ns()
                return 0
            buckets, self._buckets = self._buckets, {}
            start, end = self._window_start_ns, max(self._clock_ns(), self._window_start_ns)
            self._window_start_ns = end
        extra = self._window_attributes(start, end) if self._window_attributes else {}
        records = []
        for b in buckets.values():
            b_start = start if b.start_ns is None else min(start, b.start_ns)
            b_end = end if b.end_ns is None else max(end, b.end_ns)
            records.append(LedgerRecord(b_start, b_end, {**extra, **b.attributes()}, b.resource))
        if self._emit(records):
            return len(records)
        with self._lock:  # put them back, merged with what arrived meanwhile
            for key, b in buckets.items():
                mine = self._buckets.setdefault(key, b)
                if mine is not b:
                    _merge(mine, b)
            self._window_start_ns = start
        return 0

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._buckets = {}  # the parent's calls are the parent's to report
        self._window_start_ns = self._clock_ns()


def _merge(into: Bucket, b: Bucket) -> None:
    into.count += b.count
    into.requests += b.requests
    into.cost += b.cost
    into.errors += b.errors
    into.dropped += b.dropped
    into.tokens += b.tokens
    into.samples += b.samples
    for i, n in b.latency.bins.items():
        into.latency.bins[i] = into.latency.bins.get(i, 0) + n
    into.latency.n += b.latency.n
    into.latency.zeros += b.latency.zeros
    for bound in (b.start_ns, b.end_ns):
        if bound is not None:
            into.start_ns = bound if into.start_ns is None else min(into.start_ns, bound)
            into.end_ns = bound if into.end_ns is None else max(into.end_ns, bound)


def record_context() -> Context:
    """The parent a ledger record is emitted under: a sampled remote span context whose trace
    id has a zero low half. A record carries many calls' cost, so the application's sampler
    must not drop it like one call's span: samplers that follow the parent (ParentBased, the
    default) keep it, and so does a trace-id ratio sampler (the zero low half is under any
    bound above 0). The parent id names no span; readers count records without it."""
    context = SpanContext(trace_id=random.getrandbits(63) + 1 << 64,
                          span_id=random.getrandbits(63) + 1, is_remote=True,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(context))


# ---- carrying the cost of spans that could not be delivered --------------------------------
_CARRIED_KINDS = frozenset((c.KIND_INFERENCE, c.KIND_LLM_CALL, c.KIND_IDLE))
_REQUEST_KINDS = frozenset((c.KIND_INFERENCE, c.KIND_LLM_CALL))
# What a record says about the spans it carries: their group.
_IDENTITY = (c.KIND, c.MODEL, c.HTTP_ROUTE, c.HTTP_METHOD, c.PRICE_USD_PER_HOUR, c.PRICE_SOURCE,
             c.HW_KIND, c.HW_COUNT, c.HW_MODEL, c.GEN_AI_PROVIDER_NAME, c.GEN_AI_REQUEST_MODEL,
             c.GEN_AI_RESPONSE_MODEL, c.DEPLOYMENT_ENVIRONMENT, c.AGGREGATE_NAME)


def carries_cost(attributes: Mapping[str, Any]) -> bool:
    """Records a span processor must not shed for a full queue: ledger records and run
    spans (one per run; their cost is in no other record)."""
    return attributes.get(c.RECORD) is not None or attributes.get(c.KIND) == c.KIND_TRAINING_RUN


def _int(attributes: Mapping[str, Any], name: str) -> int:
    value = attributes.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def absorb(book: Ledger, name: str, attributes: Mapping[str, Any], start_ns: int, end_ns: int,
           failed: bool, resource: Any) -> None:
    """Carry the cost of a span that will not be delivered (or of an aggregate record, merged
    back) in ``book``. Spans whose cost is elsewhere are left: windows, run spans and
    checkpoints (never shed for a full queue), spans marked in_ledger, spans not ours."""
    kind = attributes.get(c.KIND)
    if kind not in _CARRIED_KINDS or attributes.get(c.COST_IN_LEDGER) is True:
        return
    cost = attributes.get(c.COST_USD)
    cost = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0
    ident = {k: attributes[k] for k in _IDENTITY if k in attributes}
    ident.update((k, v) for k, v in attributes.items() if k.startswith(c.TAG_PREFIX))
    ident.setdefault(c.AGGREGATE_NAME, name)
    try:
        key: Hashable = (id(resource), tuple(sorted(ident.items())))
        hash(key)
    except TypeError:  # a list-valued attribute: group by kind alone
        key, ident = (id(resource), kind), {c.KIND: kind, c.AGGREGATE_NAME: name}
    span_ns = (start_ns, max(start_ns, end_ns))
    if attributes.get(c.RECORD) == c.RECORD_AGGREGATE:
        book.add(key, lambda: ident, cost=cost, count=_int(attributes, c.AGGREGATE_COUNT),
                 requests=_int(attributes, c.REQUESTS), errors=_int(attributes, c.ERRORS),
                 dropped=_int(attributes, c.SPANS_DROPPED), tokens=_int(attributes, c.TOKENS),
                 samples=_int(attributes, c.SAMPLES), span_ns=span_ns, resource=resource)
        return
    request = kind in _REQUEST_KINDS
    tokens = _int(attributes, c.TOKENS) or (
        _int(attributes, c.GEN_AI_INPUT_TOKENS) + _int(attributes, c.GEN_AI_OUTPUT_TOKENS))
    book.add(key, lambda: ident, cost=cost, requests=1 if request else 0,
             latency_s=(end_ns - start_ns) / 1e9 if request else None, error=failed,
             dropped=1, tokens=tokens, samples=_int(attributes, c.SAMPLES), span_ns=span_ns,
             resource=resource)


class Stretch(Protocol):
    """Something that accrues cost over time (a training run): checkpointed every window."""

    def checkpoint(self) -> None: ...


# ---- the one ledger thread --------------------------------------------------------------------
_ledgers: weakref.WeakSet[Ledger] = weakref.WeakSet()
_stretches: weakref.WeakSet[Any] = weakref.WeakSet()
_state_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()


def window_s() -> float:
    from .config import settings

    return settings().ledger_window_s


def close_all() -> int:
    """Close every ledger's window and checkpoint every stretch now (tests, flush, exit)."""

    n = 0
    for stretch in list(_stretches):
        with capture_internal_exceptions("ledger.checkpoint"):
            stretch.checkpoint()
    for ledger in list(_ledgers):
        with capture_internal_exceptions("ledger.close"):
            n += ledger.close()
    return n


def track_stretch(stretch: Stretch) -> None:
    """Checkpoint ``stretch`` every window until :func:`untrack_stretch`."""
    _stretches.add(stretch)
    ensure_thread()


def untrack_stretch(stretch: Stretch) -> None:
    _stretches.discard(stretch)


def ensure_thread() -> None:
    """Start the ledger thread (once per process; again in a forked child)."""
    global _thread
    if _thread is not None:
        return
    with _state_lock:
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="mlcost-ledger", daemon=True)
            _thread.start()


def _loop() -> None:

    while True:
        with capture_internal_exceptions("ledger.window"):
            _wake.wait(window_s())
            _wake.clear()
            checkpointing = bool(_stretches)
            close_all()
            if checkpointing:  # a checkpoint only limits a SIGKILL's loss once it is written
                _flush_spans()


def _flush_spans() -> None:
    from .providers import force_flush

    force_flush(2.0)


def _after_fork_in_child() -> None:
    global _thread, _state_lock, _wake
    _thread = None
    _state_lock = threading.Lock()
    _wake = threading.Event()
    for ledger in list(_ledgers):
        ledger._after_fork()
    _stretches.clear()  # a run belongs to the process that started it
    # no thread until the child's first bucket: most forked workers never open one


def _on_configure(_: Any) -> None:
    _wake.set()  # a new window length applies now, not after the current wait


def _register() -> None:
    from .config import on_configure

    on_configure(_on_configure)


_register()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
