"""The cost ledger: aggregate mode, checkpoints, and the report's count-once rule."""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.exporters.jsonl import span_to_record
from mlcost_sdk.reports import Stats, usages
from mlcost_sdk.reports.records import parse_record
from mlcost_sdk.runtime import ledger
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.testing import capture, shutdown_meter
from tests.conftest import FULL_TAGS
from tests.forking import child_exit_code


def report_total(spans: Sequence[ReadableSpan]) -> Stats:
    """What `mlcost report` makes of these spans (the exported record format)."""
    return Stats.of(usages(parse_record(span_to_record(s)) for s in spans))


def _serve(calls: int, threads: int, *, aggregate: bool | None = None) -> None:
    @mlcost.track_inference(name="predict", model="bert", aggregate=aggregate)
    def handler(i: int) -> int:
        if i % 97 == 0:
            raise ValueError("bad input")
        return i

    def worker(offset: int) -> None:
        for i in range(offset, calls, threads):
            with contextlib.suppress(ValueError):
                handler(i)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
        assert not t.is_alive()


@pytest.mark.parametrize("aggregate", [False, True])
def test_report_total_equals_in_process_total_in_both_modes(aggregate: bool) -> None:
    with capture(tags=FULL_TAGS, price=3.6, aggregate=aggregate) as cap:
        _serve(2_000, 4)
        final = shutdown_meter()
    assert final is not None and final.requests == 2_000
    stats = report_total(cap.exporter.get_finished_spans())
    assert stats.requests == 2_000
    assert math.isclose(stats.cost_usd, final.total_cost_usd, rel_tol=1e-9)
    assert math.isclose(stats.inference_usd, final.request_cost_usd, rel_tol=1e-9)
    records = cap.records()
    if aggregate:
        assert cap.spans(c.KIND_INFERENCE) == []  # no trace sampled them: no per-call span
        assert sum(r.attributes[c.AGGREGATE_COUNT] for r in records) == 2_000
        assert sum(r.attributes.get(c.ERRORS, 0) for r in records) == len(range(0, 2_000, 97))
        assert all(r.attributes[c.RECORD_ID] for r in records)
        assert len({r.attributes[c.RECORD_ID] for r in records}) == len(records)
    else:
        assert records == [] and len(cap.spans(c.KIND_INFERENCE)) == 2_000


def test_aggregate_mode_keeps_a_span_for_calls_in_a_sampled_trace() -> None:
    with capture(tags=FULL_TAGS, price=3.6, aggregate=True) as cap:
        tracer = cap.tracer_provider.get_tracer("app")
        with tracer.start_as_current_span("GET /predict"):
            with mlcost.inference("predict", model="bert"):
                pass
        with mlcost.inference("predict", model="bert"):  # not in a trace: ledger only
            pass
        final = shutdown_meter()
    (span,) = cap.spans(c.KIND_INFERENCE)
    assert span.attributes[c.COST_IN_LEDGER] is True and span.attributes[c.COST_USD] > 0
    records = cap.records()  # one, or two if the ledger thread closed a window in between
    assert sum(r.attributes[c.REQUESTS] for r in records) == 2
    assert sum(r.attributes[c.COST_USD] for r in records) >= span.attributes[c.COST_USD]
    for record in records:
        assert record.attributes[c.MODEL] == "bert"
        assert record.attributes[c.KIND] == c.KIND_INFERENCE
        assert record.attributes[c.LATENCY_P50_S] >= 0
    stats = report_total(cap.exporter.get_finished_spans())
    assert final is not None and stats.requests == 2
    assert math.isclose(stats.cost_usd, final.total_cost_usd, rel_tol=1e-9)


def test_aggregate_record_spans_its_window_and_carries_window_hardware() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, aggregate=True, clock=clock,
                 ledger_window_s=3600) as cap:
        ledger.close_all()  # whatever window the ledger thread had open
        call = mlcost.inference("a").start()
        clock.advance(2.0)
        call.end()
        assert mlcost.flush(timeout_s=60)  # drive the window explicitly
        (record,) = cap.records()
        assert record.attributes[c.COST_USD] == pytest.approx(2.0)
        assert record.attributes[c.LATENCY_P50_S] == pytest.approx(2.0, rel=0.02)
        assert record.attributes[c.UTILIZATION_SOURCE]
        assert record.start_time is not None and record.end_time is not None
        assert record.start_time <= record.end_time
        assert mlcost.flush(timeout_s=60)  # an empty window emits nothing
        assert len(cap.records()) == 1


def test_latency_sketch_quantiles_within_two_percent() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-6, 2) for _ in range(20_000)]
    sketch = ledger.LatencySketch()
    for x in values:
        sketch.add(x)
    values.sort()
    for q in (0.5, 0.95, 0.99):
        exact = values[int(q * (len(values) - 1))]
        got = sketch.quantile(q)
        assert got is not None and got == pytest.approx(exact, rel=0.02)
    assert len(sketch.bins) <= 2048


def test_bucket_cap_folds_groups_into_overflow_and_keeps_every_dollar() -> None:
    out: list[ledger.LedgerRecord] = []
    book = ledger.Ledger(lambda records: out.extend(records) is None, max_buckets=3)
    for i in range(10):
        book.add(("g", i), lambda i=i: {c.KIND: c.KIND_INFERENCE, c.AGGREGATE_NAME: f"g{i}"},
                 cost=1.0, requests=1)
    assert book.open_buckets == 4  # three groups and the overflow bucket
    assert book.close() == 4
    assert sum(r.attributes[c.COST_USD] for r in out) == 10.0
    assert sum(r.attributes[c.REQUESTS] for r in out) == 10
    assert any(r.attributes[c.AGGREGATE_NAME] == ledger.OVERFLOW for r in out)


def test_records_the_emitter_cannot_take_merge_into_the_next_window() -> None:
    accept = False
    out: list[ledger.LedgerRecord] = []

    def emit(records: list[ledger.LedgerRecord]) -> bool:
        if accept:
            out.extend(records)
        return accept

    book = ledger.Ledger(emit)
    ident = lambda: {c.KIND: c.KIND_INFERENCE}  # noqa: E731
    book.add("k", ident, cost=1.5, requests=1, latency_s=0.1)
    assert book.close() == 0 and book.open_buckets == 1
    book.add("k", ident, cost=2.5, requests=2, latency_s=0.3)
    accept = True
    assert book.close() == 1
    (record,) = out
    assert record.attributes[c.COST_USD] == 4.0 and record.attributes[c.REQUESTS] == 3
    assert record.attributes[c.AGGREGATE_COUNT] == 2


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_checkpoints_carry_the_run_so_far_and_never_double_count() -> None:
    clock = ManualClock()
    with capture(tags={**FULL_TAGS, "experiment_id": "e1"}, price=3600.0, clock=clock) as cap:
        with mlcost.training_run("ft") as run:
            clock.advance(10.0)
            run.step(tokens=5)
            ledger.close_all()  # drive the window: one checkpoint
            clock.advance(5.0)
            ledger.close_all()
            checkpoints = cap.records(c.RECORD_CHECKPOINT)
            # (the ledger thread may add its own, at one of these instants)
            assert {10.0, 15.0} <= {_attrs(s)[c.COST_USD] for s in checkpoints} \
                <= {0.0, 10.0, 15.0}
            # killed here: the report takes the latest checkpoint
            killed = report_total(checkpoints)
            assert killed.training_usd == pytest.approx(15.0) and killed.runs == 1
            clock.advance(1.0)
        emitted = len(cap.records(c.RECORD_CHECKPOINT))
        ledger.close_all()  # an ended run emits no more checkpoints
        assert len(cap.records(c.RECORD_CHECKPOINT)) == emitted
    run_span = cap.span(c.KIND_TRAINING_RUN).context
    assert run_span is not None
    for s in checkpoints:
        assert s.parent is not None and s.parent.span_id == run_span.span_id
        assert s.start_time == cap.span(c.KIND_TRAINING_RUN).start_time
    finished = report_total(cap.exporter.get_finished_spans())
    assert finished.training_usd == pytest.approx(16.0) and finished.runs == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_fresh_ledger_even_if_the_lock_was_held() -> None:
    out: list[ledger.LedgerRecord] = []
    book = ledger.Ledger(lambda records: out.extend(records) is None)
    book.add("parent", lambda: {c.KIND: c.KIND_INFERENCE}, cost=5.0, requests=1)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with book._lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(60)
    pid = os.fork()
    if pid == 0:  # the child: the parent's bucket is not ours, and nothing hangs
        code = 1
        try:
            book.add("child", lambda: {c.KIND: c.KIND_INFERENCE}, cost=1.0, requests=1)
            code = 0 if book.close() == 1 and [r.attributes[c.COST_USD] for r in out] == [1.0] \
                else 2
        finally:
            os._exit(code)
    release.set()
    holder.join(60)
    assert child_exit_code(pid, "the ledger") == 0
    assert book.close() == 1 and out[0].attributes[c.COST_USD] == 5.0


@pytest.mark.parametrize("aggregate", [False, True])
def test_calls_the_applications_sampler_drops_still_count_once(aggregate: bool) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.05)))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    with capture(tags=FULL_TAGS, price=3.6, aggregate=aggregate):
        mlcost.configure(tracer_provider=tp)
        _serve(600, 3)
        final = shutdown_meter()
    spans = exporter.get_finished_spans()
    kept = [s for s in spans if (s.attributes or {}).get(c.KIND) == c.KIND_INFERENCE
            and (s.attributes or {}).get(c.RECORD) is None]
    assert len(kept) < 600 - 100  # the sampler did drop most per-call spans
    stats = report_total(spans)
    assert final is not None and stats.requests == 600
    assert math.isclose(stats.inference_usd, final.request_cost_usd, rel_tol=1e-9)
    tp.shutdown()
