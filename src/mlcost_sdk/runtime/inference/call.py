"""One inference request (``InferenceCall``), its no-op stand-in, and its call site.

A ``CallSite`` (a decorated handler, a middleware, an ``inference()`` key) binds what derives
from the settings once; each request then only allocates an ``InferenceCall``. The hot path is
``CallSite.call`` and ``InferenceCall.start``/``end``.
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Mapping
from contextvars import Token
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context

from ... import _validate as v
from ... import conventions as c
from ...guard import record_internal_error
from .. import _instruments, _process
from .._current import CurrentSpanCall
from .._sanity import count_or_zero
from ..config import Settings, settings, tracer
from ..hardware import Hardware
from ..providers import exports_own_spans, scoped_tracer
from ..spans import record_exception
from ..tags import enforce_required, tag_attributes, validate_tags
from .process import ServingState, _get_meter

_MAX = sys.float_info.max


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
            from ...errors import InvalidParameterError

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

