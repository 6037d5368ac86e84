"""The process-wide serving state: hardware, the allocator, idle spans and metric totals.

One ``ServingState`` per process, made at the first inference call (``_get_meter``), updated by
configure(), restarted in a forked child, closed by ``shutdown_meter()`` at exit.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from ... import conventions as c
from ...guard import Lazy, capture_internal_exceptions
from .. import _instruments, _process
from ..config import Settings, on_configure, settings, tracer
from ..hardware import Hardware, resolve
from ..ledger import RECORD_NAME, Ledger, LedgerRecord, record_context
from ..tags import tag_attributes
from .allocator import CostAllocator, InferenceSummary


class ServingState:
    """Process-wide inference state: hardware, allocator, idle emission."""

    def __init__(self, s: Settings) -> None:
        from ...sampling import get_sampler

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


_meter: Lazy[ServingState] = Lazy(lambda: ServingState(settings()))


def _get_meter() -> ServingState:
    return _meter.get()


def _on_configure(s: Settings) -> None:
    m = _meter.peek()
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
    m = _meter.peek()
    if m is not None:
        with capture_internal_exceptions("inference.fork"):
            m.restart_in_child()


def current_meter() -> ServingState | None:
    """The live process-wide serving state, or None before the first call (or after
    shutdown_meter())."""
    return _meter.peek()


def inference_summary() -> InferenceSummary | None:
    """Process-wide figures: requests, their cost, idle cost, realized cost per request."""
    m = _meter.peek()
    return m.summary() if m is not None else None


def flush_idle() -> None:
    """Hand out everything accrued so far: aggregate records, idle cost."""
    m = _meter.peek()
    if m is not None:
        with capture_internal_exceptions("inference.flush_idle"):
            m.ledger.close()
            m.flush_idle()


def shutdown_meter() -> InferenceSummary | None:
    """Close the process meter (at exit, or in tests): emit the final idle span; returns the
    final summary."""
    m = _meter.take()
    if m is None:
        return None
    summary = None
    with capture_internal_exceptions("inference.shutdown"):
        summary = m.close()
        if m.settings.console_summary and summary.requests:
            _print_summary(m, summary)
    return summary


def _print_summary(m: ServingState, summary: InferenceSummary) -> None:
    """The console summary at exit (``console_summary``), to stderr."""
    from ...guard import dropped_spans
    from ..console_summary import render_summary

    attrs = {c.KIND: c.KIND_INFERENCE, c.REQUESTS: summary.requests,
             **m.hw_attrs, **tag_attributes(m.settings.tags)}
    if m.hw.usd_per_hour is not None:  # else the summary says the cost is unknown
        attrs.update({c.COST_USD: summary.total_cost_usd,
                      c.IDLE_COST_USD: summary.idle_cost_usd})
    print(render_summary(attrs, title="mlcost: inference", dropped_spans=dropped_spans()),
          file=sys.stderr)


os.register_at_fork(after_in_child=_after_fork_in_child)
