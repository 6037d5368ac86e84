"""Inference calls: each request pays its share of the process's price while it is in flight.

The allocator integrates ``price / n_in_flight`` over time into one running number; a request
pays the difference between its end and start readings. Time with nothing in flight is idle
cost, emitted as ``mlcost.kind=idle`` spans. So, exactly: sum(request costs) + idle = price x
elapsed, and the realized cost per prediction includes idle capacity.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry import trace
from opentelemetry.context import Context

from .. import _validate as v
from .. import conventions as c
from ..errors import MlcostError
from . import _instruments, _process
from ._current import CurrentSpanCall
from ._safety import capture_internal_exceptions, record_exception, record_internal_error
from ._sanity import count_or_zero
from .clock import Clock
from .config import (
    Settings,
    exports_own_spans,
    on_configure,
    scoped_tracer,
    settings,
    tracer,
)
from .hardware import Hardware, resolve
from .ledger import RECORD_NAME, Ledger, LedgerRecord, record_context
from .tags import enforce_required, tag_attributes, validate_tags

P = ParamSpec("P")
R = TypeVar("R")
_MAX = sys.float_info.max


class CostAllocator:
    """Splits a price per second among the requests in flight at each moment."""

    def __init__(self, usd_per_s: float, clock: Clock) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._p = usd_per_s
        self._t = self.t0 = clock.monotonic()
        self._n = 0
        self._acc = 0.0  # integral of p / n over time with n > 0: what one request has paid
        self.idle_usd = 0.0
        self.request_usd = 0.0
        self.requests = 0

    def _advance(self, now: float) -> None:
        dt = now - self._t
        if dt > 0:
            if self._n:
                self._acc += self._p * dt / self._n
            else:
                self.idle_usd += self._p * dt
            self._t = now

    def start(self) -> float:
        with self._lock:
            self._advance(self._clock.monotonic())
            self._n += 1
            return self._acc

    def end(self, started_at: float) -> float:
        with self._lock:
            self._advance(self._clock.monotonic())
            self._n = max(0, self._n - 1)  # a call begun before a fork ends in the child too
            cost = self._acc - started_at
            self.request_usd += cost
            self.requests += 1
            return cost

    def sync(self) -> float:
        """Bring the totals up to now; returns the elapsed seconds since creation."""
        with self._lock:
            now = self._clock.monotonic()
            self._advance(now)
            return now - self.t0

    def restart_in_child(self) -> None:
        """After a fork: the parent's requests are not in flight here, and its idle time and
        totals are the parent's to report; the child's start now."""
        self._lock = threading.Lock()
        self._t = self.t0 = self._clock.monotonic()
        self._n = 0
        self.idle_usd = self.request_usd = 0.0
        self.requests = 0

    def set_price(self, usd_per_s: float) -> None:
        with self._lock:
            self._advance(self._clock.monotonic())
            self._p = usd_per_s


@dataclass(frozen=True)
class InferenceSummary:
    requests: int
    request_cost_usd: float
    idle_cost_usd: float
    elapsed_s: float
    usd_per_hour: float | None

    @property
    def total_cost_usd(self) -> float:
        return self.request_cost_usd + self.idle_cost_usd

    @property
    def realized_cost_per_request_usd(self) -> float | None:
        return self.total_cost_usd / self.requests if self.requests else None

    @property
    def idle_share(self) -> float | None:
        total = self.total_cost_usd
        return self.idle_cost_usd / total if total > 0 else None


class ServingState:
    """Process-wide inference state: hardware, allocator, idle emission."""

    def __init__(self, s: Settings) -> None:
        from ..sampling import get_sampler

        self.settings = s
        self.clock = s.clock
        self.sampler = get_sampler()
        self.sampler.set_interval(s.sample_interval_s)
        self.hw: Hardware = resolve(s, self.sampler,  # before acquire(): it may raise
                                    what="serving (inference)")
        self.sampler.acquire()
        self.allocator = CostAllocator(self.hw.usd_per_second, self.clock)
        self.set_hardware(self.hw)
        self.models: set[str] = set()
        # Aggregate mode's records: one per call group and window, with the window's hardware.
        self.ledger = Ledger(self._emit_records, window_attributes=self._window_stats)
        self._window_snap = self.sampler.snapshot()
        self._idle_reported = 0.0
        self._idle_from_ns = self.clock.time_ns()
        self._idle_lock = threading.Lock()
        self._flushed_elapsed: float | None = None
        self._stop = threading.Event()
        self._idle_metered = 0.0  # idle cost already in the metric totals
        inst = _instruments.get()
        if inst is not None:
            inst.register_hw(self.sampler)
        _instruments.add_live(self, self._fold_idle)
        self._start_idle_thread()

    def _start_idle_thread(self) -> None:
        self._thread = threading.Thread(target=self._idle_loop, name="mlcost-idle", daemon=True)
        self._thread.start()

    def set_hardware(self, hw: Hardware) -> None:
        self.hw = hw
        self.hw_attrs = hw.attributes(flops=False)
        _process.set_attributes({**tag_attributes(self.settings.tags), **self.hw_attrs},
                                self.sampler.source)

    def restart_in_child(self) -> None:
        """A forked child's idle starts at the fork: re-counting the parent's would bill each
        pre-fork worker for the master's idle time."""
        self.allocator.restart_in_child()
        self._idle_lock = threading.Lock()
        self._idle_reported = self._idle_metered = 0.0
        self._idle_from_ns = self.clock.time_ns()
        self._flushed_elapsed = None
        _instruments.add_live(self, self._fold_idle)  # after _instruments' own fork hook
        if not self._stop.is_set():
            self._stop = threading.Event()
            self._start_idle_thread()

    def _idle_loop(self) -> None:
        """Emit the idle cost as an ``idle`` span every idle_flush_s."""
        while not self._stop.wait(self.settings.idle_flush_s):
            with capture_internal_exceptions("inference.idle_flush"):
                self.flush_idle()

    def _idle_tags(self) -> dict[str, str]:
        tags = dict(self.settings.tags)
        if len(self.models) == 1 and "model" not in tags:
            tags["model"] = next(iter(self.models))
        return tags

    def _fold_idle(self, sync: bool = True) -> None:
        """Bring the idle cost in the metric totals up to now (at each metric collection)."""
        if self.hw.usd_per_hour is None:
            return
        if sync:
            self.allocator.sync()
        delta = self.allocator.idle_usd - self._idle_metered
        if delta > 0:
            self._idle_metered += delta
            _instruments.add(_instruments.series(c.KIND_IDLE, self._idle_tags(),
                                                 self.settings.metric_tag_keys), delta)

    def flush_idle(self) -> None:
        """Emit the idle cost accrued since the last flush as one ``idle`` span."""
        if self.hw.usd_per_hour is None:
            return
        with self._idle_lock:
            self._flushed_elapsed = self.allocator.sync()
            delta = self.allocator.idle_usd - self._idle_reported
            start_ns, end_ns = self._idle_from_ns, self.clock.time_ns()
            if end_ns <= start_ns:
                return
            self._idle_reported += delta
            self._idle_from_ns = end_ns
        tags = self._idle_tags()
        attrs: dict[str, Any] = {c.KIND: c.KIND_IDLE, c.COST_USD: delta,
                                 c.DURATION_S: (end_ns - start_ns) / 1e9,
                                 **self.hw_attrs, **tag_attributes(tags)}
        if len(self.models) == 1:
            attrs[c.MODEL] = next(iter(self.models))
        span = tracer().start_span("mlcost.idle", attributes=attrs, start_time=start_ns)
        span.end(end_time=end_ns)

    def _window_stats(self, start_ns: int, end_ns: int) -> dict[str, Any]:
        snap = self.sampler.snapshot()
        stats = self.sampler.between(self._window_snap, snap)
        self._window_snap = snap
        return {**self.hw_attrs, c.DURATION_S: (end_ns - start_ns) / 1e9,
                **stats.attributes(hardware=False)}

    def _emit_records(self, records: list[LedgerRecord]) -> bool:
        t = tracer()
        for r in records:
            t.start_span(RECORD_NAME, context=record_context(), attributes=r.attributes,
                         start_time=r.start_ns).end(end_time=r.end_ns)
        return True

    def summary(self, elapsed_s: float | None = None) -> InferenceSummary:
        if elapsed_s is None:
            elapsed_s = self.allocator.sync()
        a = self.allocator
        return InferenceSummary(a.requests, a.request_usd, a.idle_usd, elapsed_s,
                                self.hw.usd_per_hour)

    def close(self) -> InferenceSummary:
        """Stop, emit the last idle span; the summary is taken at that same instant, so
        request costs + idle spans = price x elapsed exactly."""
        self._stop.set()
        self._flushed_elapsed = None
        with capture_internal_exceptions("inference.close_ledger"):
            self.ledger.close()
        self.flush_idle()
        with _instruments.lock:  # the totals get the idle cost up to the last idle span's end
            _instruments.remove_live(self)
            self._fold_idle(sync=False)
        self.sampler.release()
        return self.summary(self._flushed_elapsed)


_meter_lock = threading.Lock()
_meter: ServingState | None = None


def _get_meter() -> ServingState:
    global _meter
    m = _meter
    if m is None:
        with _meter_lock:
            if _meter is None:
                _meter = ServingState(settings())
            m = _meter
    return m


def _on_configure(s: Settings) -> None:
    m = _meter
    if m is None:
        return
    m.settings = s  # idle spans carry the new tags (the clock stays the meter's own)
    with capture_internal_exceptions("inference.reprice"):
        if s.price is not None:
            m.set_hardware(resolve(s, m.sampler))
            m.allocator.set_price(m.hw.usd_per_second)
        else:
            m.set_hardware(m.hw)  # the process constants with the new tags


on_configure(_on_configure)


def _after_fork_in_child() -> None:
    global _meter_lock
    _meter_lock = threading.Lock()
    m = _meter
    if m is not None:
        with capture_internal_exceptions("inference.fork"):
            m.restart_in_child()


def current_meter() -> ServingState | None:
    """The live process-wide serving state, or None before the first call (or after
    shutdown_meter())."""
    return _meter


def inference_summary() -> InferenceSummary | None:
    """Process-wide figures: requests, their cost, idle cost, realized cost per request."""
    m = _meter
    return m.summary() if m is not None else None


def flush_idle() -> None:
    """Hand out everything accrued so far: aggregate records, idle cost."""
    m = _meter
    if m is not None:
        with capture_internal_exceptions("inference.flush_idle"):
            m.ledger.close()
            m.flush_idle()


def shutdown_meter() -> InferenceSummary | None:
    """Close the process meter (at exit, or in tests): emit the final idle span; returns the
    final summary."""
    global _meter
    with _meter_lock:
        m, _meter = _meter, None
    if m is None:
        return None
    summary = None
    with capture_internal_exceptions("inference.shutdown"):
        summary = m.close()
        if m.settings.console_summary and summary.requests:
            from .console_summary import render_summary

            attrs = {c.KIND: c.KIND_INFERENCE, c.REQUESTS: summary.requests,
                     **m.hw_attrs, **tag_attributes(m.settings.tags)}
            if m.hw.usd_per_hour is not None:  # else the summary says the cost is unknown
                attrs.update({c.COST_USD: summary.total_cost_usd,
                              c.IDLE_COST_USD: summary.idle_cost_usd})
            from ..guard import dropped_spans

            print(render_summary(attrs, title="mlcost: inference",
                                 dropped_spans=dropped_spans()), file=sys.stderr)
    return summary


_shutdown_meter = shutdown_meter  # temporary alias: tests move to mlcost_sdk.testing helpers


class InferenceCall(CurrentSpanCall):
    """One inference request. ``with``/``async with``; ``call.add(tokens=..)`` records work."""

    __slots__ = ("_site", "_meter", "_acc0", "_t0", "_snap", "_span", "tokens", "samples",
                 "flops", "_extra", "_active", "adopted")

    def __init__(self, site: CallSite) -> None:
        self._site = site
        self.tokens = 0
        self.samples = 0
        self.flops = 0.0
        self._extra: dict[str, Any] | None = None
        self._active = False
        self.adopted = False
        self._span: trace.Span = trace.INVALID_SPAN
        self._token: Token[Context] | None = None

    def adopt(self, span: trace.Span) -> InferenceCall:
        """Before start(): put this call's attributes on ``span``, a span someone else opened
        and will end (an HTTP server instrumentation's), instead of a span of its own."""
        if not self._active and span.is_recording():
            self._span, self.adopted = span, True
        return self

    def add(self, tokens: int = 0, samples: int = 0, flops: float = 0.0) -> None:
        """Record work: tokens, samples, and FLOPs (else 2 x params x tokens when the call
        site was given ``params``). A negative or non-finite count is dropped (counted, warned
        once)."""
        try:
            sane = (tokens | samples) >= 0 and 0 <= flops <= _MAX
        except TypeError:
            sane = False
        if not sane:
            tokens = int(count_or_zero("call.add", "tokens", tokens))
            samples = int(count_or_zero("call.add", "samples", samples))
            flops = count_or_zero("call.add", "flops", flops)
        self.tokens += tokens
        self.samples += samples
        self.flops += flops

    def set_attribute(self, key: str, value: Any) -> None:
        if self._extra is None:
            self._extra = {}
        self._extra[key] = value

    def _flops_attributes(self, seconds: float, hw: Hardware) -> dict[str, Any]:
        """FLOPs, achieved FLOP/s and MFU of this request, only when its work is known."""
        if self.flops:
            flops, source = self.flops, "user"
        elif self._site.params and self.tokens:
            flops, source = 2.0 * self._site.params * self.tokens, "formula_2nd"
        else:
            return {}
        attrs: dict[str, Any] = {c.FLOPS_TOTAL: flops, c.FLOPS_SOURCE: source}
        if seconds > 0:
            achieved = flops / seconds
            attrs[c.FLOPS_ACHIEVED_PER_S] = achieved
            if hw.peak_flops_per_s and hw.peak_source:
                attrs.update({c.FLOPS_PEAK_PER_S: hw.peak_flops_per_s,
                              c.FLOPS_PEAK_SOURCE: hw.peak_source, c.DTYPE: hw.dtype,
                              c.MFU: achieved / hw.peak_flops_per_s,
                              c.MFU_SUSPECT: achieved > hw.peak_flops_per_s})
        return attrs

    @property
    def span(self) -> trace.Span:
        """The call's span (a non-recording one before start() or when it failed)."""
        return self._span

    def start(self) -> InferenceCall:
        """Start paying for the request without making its span current: for requests that end
        somewhere else than they began (an ASGI response's last byte, a WSGI body's close())."""
        if self._active:
            return self  # a second start would leave a phantom request in flight for good
        try:  # not capture_internal_exceptions(): a generator context manager costs ~1 us here
            m = _get_meter()
            self._meter = m
            site = self._site
            # Aggregate mode: a span only inside a trace the application samples (its
            # sampler decided at the root); the ledger carries the cost either way.
            if self.adopted:
                self._snap = m.sampler.snapshot()
            elif not site.aggregate or trace.get_current_span().get_span_context() \
                    .trace_flags.sampled:
                attrs = site.start_attributes(m)  # binds site.tracer too
                self._span = site.tracer.start_span(site.name, attributes=attrs)
                self._snap = m.sampler.snapshot()
            self._t0 = m.clock.monotonic()
            self._acc0 = m.allocator.start()
            self._active = True
        except Exception as exc:  # noqa: BLE001 - instrumentation never breaks the request
            record_internal_error("inference.start", exc)
        return self

    def end(self, exc: BaseException | None = None) -> None:
        """Stop paying and end the span; only the first call counts."""
        if not self._active:
            return
        self._active = False
        m, span = self._meter, self._span
        try:
            cost = m.allocator.end(self._acc0)  # first: the allocator must never keep a ghost
            priced = m.hw.usd_per_hour is not None
            _instruments.add(self._site.series, cost if priced else 0.0, 1)
            if self._site.aggregate or not (self.adopted or span.is_recording()):
                # (a span the application's sampler dropped: its cost goes to the ledger)
                self._count_in_ledger(m, cost if priced else 0.0, exc)
                if not span.is_recording():
                    return
            attrs = m.sampler.span_attributes(self._snap, m.sampler.snapshot(),
                                              implied=self.adopted or not self._site.stamped)
            if priced:
                attrs[c.COST_USD] = cost
            if self.tokens:
                attrs[c.TOKENS] = self.tokens
            if self.samples:
                attrs[c.SAMPLES] = self.samples
            if self.flops or self._site.params:
                attrs.update(self._flops_attributes(m.clock.monotonic() - self._t0, m.hw))
            if self._extra:
                attrs.update(self._extra)
            if self._site.aggregate:
                attrs[c.COST_IN_LEDGER] = True
            if self.adopted:  # the owner's span: everything at once, its status is the owner's
                span.set_attributes({**self._site.full_attributes(m), **attrs})
                return
            span.set_attributes(attrs)
            if exc is not None and not isinstance(exc, GeneratorExit):
                record_exception(span, exc)
        except Exception as error:  # noqa: BLE001
            record_internal_error("inference.end", error)
        finally:
            try:
                if not self.adopted:
                    span.end()  # whatever failed above, the span is never left open
            except Exception as error:  # noqa: BLE001
                record_internal_error("inference.end_span", error)


    def _count_in_ledger(self, m: ServingState, cost: float, exc: BaseException | None) -> None:
        extra = self._extra or {}
        route, method = extra.get(c.HTTP_ROUTE), extra.get(c.HTTP_METHOD)
        status = extra.get(c.HTTP_STATUS_CODE)
        failed = (exc is not None and not isinstance(exc, GeneratorExit)) or (
            isinstance(status, int) and status >= 500)
        site = self._site
        m.ledger.add((site, site.generation, route, method),
                     functools.partial(site.ledger_identity, m, route, method),
                     cost=cost, requests=1, latency_s=m.clock.monotonic() - self._t0,
                     error=failed, tokens=self.tokens, samples=self.samples)


class NoopCall:
    """What every wrapper returns under OTEL_SDK_DISABLED=true."""

    tokens = samples = 0
    adopted = False
    span: trace.Span = trace.INVALID_SPAN

    def start(self) -> NoopCall:
        return self

    def end(self, exc: BaseException | None = None) -> None:
        pass

    def add(self, tokens: int = 0, samples: int = 0, flops: float = 0.0) -> None:
        pass

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def __enter__(self) -> NoopCall:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    async def __aenter__(self) -> NoopCall:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        pass


NOOP_CALL = NoopCall()


class CallSite:
    """Where requests come from (a decorated handler, a middleware): the user's tags are
    validated once, at definition; everything derived from the settings is rebuilt only when
    configure() changes them. Each call then only allocates an InferenceCall."""

    def __init__(self, name: str, model: str | None, tags: Mapping[str, str] | None,
                 attributes: dict[str, Any] | None = None, params: float | None = None,
                 aggregate: bool | None = None) -> None:
        if params is not None:
            v.positive("params", params)
        if aggregate is not None and not isinstance(aggregate, bool):
            from ..errors import InvalidParameterError

            raise InvalidParameterError("aggregate", aggregate, "True, False or None")
        self._aggregate = aggregate
        self.name = name
        self.model = model
        self.params = params
        self._user_tags = validate_tags(tags, f"inference({name!r}) tags")
        self._attributes = attributes
        self._settings: Settings | None = None
        self._meter: ServingState | None = None
        self._start_attrs: dict[str, Any] | None = {}
        self.stamped = False
        self.tracer: trace.Tracer = trace.NoOpTracer()

    def _bind(self, s: Settings) -> None:
        self.disabled = s.disabled
        self.aggregate = s.aggregate if self._aggregate is None else self._aggregate
        self.generation = next(_generations)  # a new ledger group after configure()
        merged = {**s.tags, **self._user_tags}
        if self.model is not None and "model" not in merged:
            merged["model"] = self.model
        if not s.disabled:
            enforce_required(merged, s.required_tags, s.on_missing_tags,
                             f"inference {self.name!r}")
        self.tags = merged
        static: dict[str, Any] = {c.KIND: c.KIND_INFERENCE, **tag_attributes(merged)}
        if self.model is not None:
            static[c.MODEL] = self.model
        if self._attributes:
            static.update(self._attributes)
        self.static = static
        self.series = _instruments.series(c.KIND_INFERENCE, merged, s.metric_tag_keys)
        self._meter = None
        self._settings = s

    def ledger_identity(self, m: ServingState, route: str | None, method: str | None
                        ) -> dict[str, Any]:
        """What an aggregate record of this site's calls says about them."""
        ident = {**self.static, **m.hw_attrs, c.AGGREGATE_NAME: route or self.name}
        if route:
            ident[c.HTTP_ROUTE] = route
        if method:
            ident[c.HTTP_METHOD] = method
        return ident

    def start_attributes(self, m: ServingState) -> dict[str, Any] | None:
        if m is not self._meter:
            if self.model is not None:
                m.models.add(self.model)
            full = {**self.static, **m.hw_attrs}
            # On mlcost's own provider the process constants are added at export, and the
            # site's own constants ride on its tracer's scope (see _process)
            self.stamped = exports_own_spans()
            if self.stamped:
                self.tracer, self._start_attrs = scoped_tracer(_process.own(full)), None
            else:
                self.tracer, self._start_attrs = tracer(), full
            self._meter = m
        return self._start_attrs

    def full_attributes(self, m: ServingState) -> dict[str, Any]:
        """Every static attribute, for a span no mlcost exporter will complete."""
        self.start_attributes(m)
        return {**self.static, **m.hw_attrs}

    def call(self) -> InferenceCall | NoopCall:
        s = settings()
        if s is not self._settings:
            self._bind(s)
        if self.disabled:
            return NOOP_CALL
        return InferenceCall(self)


_generations = itertools.count()
_sites: dict[tuple[Any, ...], CallSite] = {}
_MAX_CACHED_SITES = 512


def inference(name: str = "inference", *, model: str | None = None,
              tags: dict[str, str] | None = None, params: float | None = None,
              attributes: dict[str, Any] | None = None,
              aggregate: bool | None = None) -> InferenceCall | NoopCall:
    """``with mlcost.inference("predict", model="bert") as call: ...`` (or ``async with``).
    ``aggregate`` overrides configure()'s setting for this call site."""
    try:
        key = (name, model, tuple(tags.items()) if tags else None,
               tuple(attributes.items()) if attributes else None, params, aggregate)
        try:
            site, cacheable = _sites.get(key), True
        except TypeError:  # an unhashable value, e.g. a list attribute: valid, just not cached
            site, cacheable = None, False
        if site is None:
            site = CallSite(name, model, tags, attributes, params, aggregate)
            if cacheable and len(_sites) < _MAX_CACHED_SITES:
                _sites[key] = site
        return site.call()
    except MlcostError:
        raise  # bad tags, or a required tag missing in 'error' mode: the user asked for it
    except Exception as exc:  # noqa: BLE001
        record_internal_error("inference.callsite", exc)
        return NOOP_CALL


@contextmanager
def _paying(call: InferenceCall | NoopCall) -> Iterator[None]:
    """A generator's request, without making its span current: a context attached inside a
    generator would stay attached in the caller's code between items, and its detach would
    undo whatever the caller attached meanwhile."""
    call.start()
    try:
        yield
    except BaseException as exc:
        call.end(exc)
        raise
    call.end()


@overload
def track_inference(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def track_inference(
    func: None = None, /, *, name: str | None = None, model: str | None = None,
    tags: dict[str, str] | None = None, params: float | None = None,
    aggregate: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def track_inference(func: Any = None, /, *, name: str | None = None, model: str | None = None,
                    tags: dict[str, str] | None = None, params: float | None = None,
                    aggregate: bool | None = None) -> Any:
    """Decorator for sync, async, generator and async-generator handlers. A generator's
    request lasts until its last item (streaming responses are costed to the last byte); its
    span is not made current, as the generator's code runs interleaved with its caller's."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        site = CallSite(name or fn.__qualname__, model, tags, params=params,
                         aggregate=aggregate)

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kw: Any) -> AsyncIterator[Any]:
                with _paying(site.call()):
                    async for item in fn(*args, **kw):
                        yield item
            return agen_wrapper
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kw: Any) -> Any:
                async with site.call():
                    return await fn(*args, **kw)
            return async_wrapper
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kw: Any) -> Generator[Any, Any, Any]:
                with _paying(site.call()):
                    result = yield from fn(*args, **kw)
                return result
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            with site.call():
                return fn(*args, **kw)
        return wrapper

    return decorate(func) if func is not None else decorate


os.register_at_fork(after_in_child=_after_fork_in_child)
