"""Exporter failure never reaches the application: every exporter sits behind this processor.

``span_processor(exporter)`` wraps the SDK's BatchSpanProcessor (which owns batching and its
worker thread) and adds what it lacks:

- a hard memory bound that is *counted*: a span is admitted only while fewer than
  ``max_queue_size`` spans wait for the exporter; beyond that the new span is dropped and
  counted (the SDK would silently evict the oldest instead);
- failed exports (FAILURE or an exception) are counted span by span;
- dollars are never dropped, only detail: the cost of every span it sheds (queue full, export
  failed) goes into this processor's own *shed ledger* (``mlcost_sdk.runtime.ledger``), whose
  aggregate records (count, cost, dropped-span count per group and window) are handed back to
  this processor only, so another exporter that did deliver the span never counts it twice.
  Records that carry cost (ledger records, training run spans and checkpoints) are never shed
  for queue_full: they have ``LEDGER_HEADROOM`` places past the bound; a shed ledger that
  finds no room keeps its buckets and merges the next window into them;
- ``force_flush`` and ``shutdown`` return within their timeout even when the collector hangs:
  the blocking work runs on a helper thread (at most one at a time), and the caller stops
  waiting; at exit the timeout is what is left of the one shared deadline
  (``mlcost_sdk._deadline``), and whatever is still queued or stuck in the hung export then is
  counted (``deadline``);
- a forked child (gunicorn ``--preload``, DataLoader workers) starts with fresh locks, an empty
  queue and, when the exporter can be rebuilt (OTLP: a connection pool shared with the parent
  would interleave two processes' requests on one socket), its own exporter.

The counts are process-wide and kept upstream, in ``mlcost_sdk.guard`` (``dropped_spans()``), so
the runtime's console summary reads them without importing an exporter. Each reason is logged
once, with the exporter's last error as its cause; the OTLP exporters' own per-batch retry lines
are held back (``quiet_exporter_logs``) unless mlcost's logger is at DEBUG.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence

import orjson
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, StatusCode, TraceFlags

from mlcost_sdk import _deadline
from mlcost_sdk import _validate as v
from mlcost_sdk import conventions as c
from mlcost_sdk._version import __version__
from mlcost_sdk.guard import count_dropped_spans
from mlcost_sdk.guard import dropped_spans as dropped_spans  # re-exported: tests, bench read here
from mlcost_sdk.guard import dropped_spans_by_reason as dropped_spans_by_reason
from mlcost_sdk.runtime.ledger import RECORD_NAME, Ledger, LedgerRecord, absorb, carries_cost
from mlcost_sdk.runtime.spans import stamped

logger = logging.getLogger("mlcost_sdk")

DEFAULT_MAX_QUEUE_SIZE = 2048
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
LEDGER_HEADROOM = 1024  # queue places past max_queue_size only cost-carrying records may take

# Reasons a span can be lost on the way out.
QUEUE_FULL = "queue_full"
EXPORT_FAILED = "export_failed"
AFTER_SHUTDOWN = "shutdown"  # ended after its processor shut down
DEADLINE = "deadline"  # still queued, or stuck in a hung export, when shutdown's time ran out

_lock = threading.Lock()
_last_exporter_error: dict[str, str] = {}  # logger name -> its last message (the cause)


def _count_drop(reason: str, n: int, exporter: SpanExporter) -> None:
    first = count_dropped_spans(reason, n)
    if first:  # later drops are counted, not logged: a dead collector must not flood the log
        with _lock:
            cause = "; ".join(_last_exporter_error.values())
        logger.warning("mlcost: dropped %d span(s) (%s, %s%s); further drops are counted and "
                       "shown in the summary", n, reason, type(exporter).__name__,
                       f": {cause}" if cause and reason == EXPORT_FAILED else "")


class _HoldBack(logging.Filter):
    """Keeps an exporter's own log lines (a retry warning and an error per batch while the
    collector is down) out of the application's log: the last one becomes the cause in mlcost's
    single line per reason. They pass when mlcost's logger is at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            _last_exporter_error[record.name] = record.getMessage()[:300]
        return logger.isEnabledFor(logging.DEBUG)


_hold_back = _HoldBack()


def quiet_exporter_logs(*logger_names: str) -> None:
    """Route these exporter loggers' lines through ``_HoldBack`` (idempotent)."""
    for name in logger_names:
        target = logging.getLogger(name)
        if _hold_back not in target.filters:
            target.addFilter(_hold_back)


class _CountingExporter(SpanExporter):
    """Tells the processor when a batch leaves the queue and when its export returns, and
    counts what fails to export."""

    def __init__(self, inner: SpanExporter, processor: CountingBatchSpanProcessor,
                 remake: Callable[[], SpanExporter] | None) -> None:
        self.inner = inner
        self._processor = processor
        self._remake = remake
        self._pid = os.getpid()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._pid != os.getpid() and self._remake is not None:
            # A forked child: the parent's exporter (its pooled connections) is not ours.
            self._pid = os.getpid()
            self.inner = self._remake()
        epoch = self._processor._handed(len(spans))
        try:
            result = self.inner.export(spans)
        except Exception:  # noqa: BLE001 - an exporter bug must not kill the worker thread
            logger.debug("mlcost: exporter %r raised", self.inner, exc_info=True)
            result = SpanExportResult.FAILURE
        if self._processor._returned(len(spans), epoch) and result is not SpanExportResult.SUCCESS:
            _count_drop(EXPORT_FAILED, len(spans), self.inner)
            self._processor._shed_all(spans)
        return result

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()


class CountingBatchSpanProcessor(SpanProcessor):
    """A BatchSpanProcessor with a counted memory bound and calls that never hang the caller."""

    def __init__(self, exporter: SpanExporter, *,
                 max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
                 schedule_delay_millis: float | None = None,
                 max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE,
                 shutdown_timeout_s: float | None = None,
                 remake: Callable[[], SpanExporter] | None = None) -> None:
        max_queue_size = v.count("max_queue_size", max_queue_size)
        max_export_batch_size = v.count("max_export_batch_size", max_export_batch_size)
        if shutdown_timeout_s is not None:
            v.non_negative("shutdown_timeout_s", shutdown_timeout_s)
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self._shutdown_timeout_s = shutdown_timeout_s  # None: the shared bound
        self._is_shut_down = False
        self._batch_done = False  # its queue is gone: nothing handed to it is exported
        self._after_fork()
        self._shed = Ledger(self._inject)
        self._encode: Callable[[ReadableSpan], bytes] | None = getattr(
            exporter, "encode_line", None)  # see EncodedSpan
        self._resource: Resource | None = None  # of the encoded lines (one provider's)
        self._batch = BatchSpanProcessor(
            _CountingExporter(exporter, self, remake),
            max_queue_size=max_queue_size + LEDGER_HEADROOM,
            schedule_delay_millis=schedule_delay_millis,
            max_export_batch_size=min(max_export_batch_size, max_queue_size))
        _processors.add(self)

    def _after_fork(self) -> None:
        """Fresh state (also in a forked child, where a lock may have been held by a thread
        that does not exist there; the batch processor re-makes its own queue and thread)."""
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._pending = 0  # admitted spans not yet handed to the exporter (queue + popping)
        self._in_flight = 0  # handed to the exporter, export not returned yet
        self._epoch = 0  # bumped when shutdown gives up on in-flight exports (counted then)
        self._helper: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Spans admitted and not yet handed to the exporter: never above max_queue_size."""
        with self._lock:
            return self._pending

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._batch.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return  # the batch processor ignores these too
        with self._lock:
            reason = AFTER_SHUTDOWN if self._is_shut_down else (
                QUEUE_FULL if self._pending >= self.max_queue_size else None)
            if reason is QUEUE_FULL and self._pending < self.max_queue_size + LEDGER_HEADROOM \
                    and carries_cost(span.attributes or {}):
                reason = None
            if reason is None:
                self._pending += 1
        if reason is not None:
            _count_drop(reason, 1, self.exporter)
            if reason is QUEUE_FULL:
                self._shed_one(span)
            return
        if self._encode is not None:
            try:
                line = EncodedSpan(self._encode(span))
            except Exception:  # noqa: BLE001 - the exporter encodes it at export instead
                logger.debug("mlcost: could not encode a span as it ended", exc_info=True)
            else:
                self._resource = span.resource
                self._batch.on_end(line)  # type: ignore[arg-type]
                return
        self._batch.on_end(span)

    def _shed_one(self, span: ReadableSpan) -> None:
        """Put a span's cost into the shed ledger (never raises: this runs in the app)."""
        try:
            if isinstance(span, bytes):
                record = orjson.loads(bytes(span))  # orjson takes no subclass
                absorb(self._shed, record["name"], record["attributes"],
                       record["start_time_unix_nano"] or 0, record["end_time_unix_nano"] or 0,
                       record["status"]["code"] == "ERROR", self._resource)
                return
            scope = span.instrumentation_scope
            absorb(self._shed, span.name, stamped(
                       span.attributes or {}, scope.attributes if scope is not None else None),
                   span.start_time or 0,
                   span.end_time or 0, span.status.status_code is StatusCode.ERROR,
                   span.resource)
        except Exception:  # noqa: BLE001
            logger.debug("mlcost: could not carry a shed span's cost", exc_info=True)

    def _shed_all(self, spans: Sequence[ReadableSpan]) -> None:
        for span in spans:
            self._shed_one(span)

    def _inject(self, records: list[LedgerRecord]) -> bool:
        """Hand the shed ledger's records to this processor's queue, past the bound."""
        with self._lock:
            if self._batch_done:
                _count_drop(AFTER_SHUTDOWN, len(records), self.exporter)
                return True
            if self._pending + len(records) > self.max_queue_size + LEDGER_HEADROOM:
                return False  # the ledger keeps them and merges the next window in
            self._pending += len(records)
        for record in records:
            self._batch.on_end(_record_span(record))
        return True

    def _handed(self, n: int) -> int:
        with self._lock:
            if self._batch_done:  # already counted as lost by abandon(): never twice
                return -1
            self._pending = max(0, self._pending - n)
            self._in_flight += n
            return self._epoch

    def _returned(self, n: int, epoch: int) -> bool:
        """An export returned; False when shutdown already counted its spans."""
        with self._lock:
            if epoch != self._epoch:
                return False
            self._in_flight = max(0, self._in_flight - n)
            return True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._run_bounded(lambda: self._batch.force_flush(timeout_millis),
                                 _deadline.remaining(timeout_millis / 1000))

    def shutdown(self) -> None:
        with self._lock:
            if self._is_shut_down:
                return
            self._is_shut_down = True
        self._shed.close()  # the last window of shed cost goes out with the final flush
        self._run_bounded(self._batch.shutdown, _deadline.remaining(self._shutdown_timeout_s))
        self.abandon()

    def abandon(self) -> None:
        """Count what never reached the collector in time (queued, or in a hung export) as
        lost, once; later results of those exports are not counted again."""
        with self._lock:
            left = self._pending + self._in_flight
            self._pending = self._in_flight = 0
            self._epoch += 1
            self._batch_done = True
        if left:
            _count_drop(DEADLINE, left, self.exporter)

    def _run_bounded(self, work: Callable[[], object], timeout_s: float) -> bool:
        """Run ``work`` on a helper thread and wait at most ``timeout_s``; True if it finished.
        While an earlier call is still stuck (a hung collector) wait on that one instead of
        piling up threads."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            with self._lock:
                helper = self._helper
                mine = helper is None or not helper.is_alive()
                if mine:
                    helper = self._helper = threading.Thread(
                        target=work, name="mlcost-export-flush", daemon=True)
            assert helper is not None
            if mine:
                try:
                    helper.start()
                except RuntimeError:  # Python 3.12 at interpreter exit: no new threads
                    work()
                    return True
            helper.join(max(0.0, deadline - time.monotonic()))
            if helper.is_alive():
                return False
            if mine:
                return True


class EncodedSpan(bytes):
    """A finished span as its exporter's line, encoded as it ended: what waits in the queue
    when the exporter can encode one span at a time (JSONL). A span object held there for
    seconds is a few dozen objects the cyclic GC tracks and promotes through its generations,
    and in a process with a large heap (torch: ~200,000 objects, 0.2 s a full collection)
    those promotions trigger full collections every few thousand requests; a line is one
    tracked object (this subclass; its bytes are not scanned). To the batch processor it reads
    as a sampled span."""

    __slots__ = ()
    context = SpanContext(0, 0, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


_ids = RandomIdGenerator()
_SCOPE = InstrumentationScope(c.INSTRUMENTATION_SCOPE, __version__)


def _record_span(record: LedgerRecord) -> ReadableSpan:
    """A shed-ledger record as a finished span of its own trace."""
    context = SpanContext(_ids.generate_trace_id(), _ids.generate_span_id(), is_remote=False,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
    resource = record.resource if isinstance(record.resource, Resource) \
        else Resource.get_empty()
    return ReadableSpan(RECORD_NAME, context=context, resource=resource,
                        attributes=record.attributes, start_time=record.start_ns,
                        end_time=record.end_ns, instrumentation_scope=_SCOPE)


_processors: weakref.WeakSet[CountingBatchSpanProcessor] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    for processor in list(_processors):
        processor._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def abandon_all() -> None:
    """At the end of the exit window: count every processor's undelivered spans now, while the
    process still can (a shutdown stuck on a hung collector would count them too late)."""
    for processor in list(_processors):
        if processor._is_shut_down or processor._pid == os.getpid():
            processor.abandon()


def span_processor(exporter: SpanExporter, *, max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
                   schedule_delay_millis: float | None = None,
                   max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE,
                   shutdown_timeout_s: float | None = None,
                   remake: Callable[[], SpanExporter] | None = None) -> SpanProcessor:
    """The span processor every mlcost exporter is attached with (see the module doc).

    ``schedule_delay_millis`` defaults to the SDK's (``OTEL_BSP_SCHEDULE_DELAY``, 5 s). The
    queue bound and batch size are explicit because they are what keeps memory bounded when
    the collector is down: at most ``max_queue_size`` spans wait, plus one batch in flight.
    ``shutdown_timeout_s`` defaults to the shared bound (``configure(shutdown_timeout_s=)``);
    ``remake`` builds a fresh exporter in a forked child.
    """
    return CountingBatchSpanProcessor(
        exporter, max_queue_size=max_queue_size, schedule_delay_millis=schedule_delay_millis,
        max_export_batch_size=max_export_batch_size, shutdown_timeout_s=shutdown_timeout_s,
        remake=remake)
