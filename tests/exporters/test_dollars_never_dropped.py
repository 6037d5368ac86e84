"""Dollars are never dropped, only detail: whatever the span processor sheds (a full queue, a
failed export), `mlcost report` on the file equals the in-process total, and so does the
`mlcost.cost` counter. Real threads, the real JSONL exporter and the real report reader."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.exporters._health import span_processor
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.guard import dropped_spans_by_reason
from mlcost_sdk.reports import Stats, load, usages
from mlcost_sdk.runtime import config, ledger
from mlcost_sdk.runtime.inference import InferenceSummary
from mlcost_sdk.testing import isolated, shutdown_meter
from tests.conftest import FULL_TAGS


@contextmanager
def configured(tp: TracerProvider, **kwargs: Any) -> Iterator[InMemoryMetricReader]:
    """mlcost on a given tracer provider (and an in-memory meter); restored afterwards."""
    reader = InMemoryMetricReader()
    with isolated():
        config.configure(tracer_provider=tp, meter_provider=MeterProvider(metric_readers=[reader]),
                         tags=FULL_TAGS, price=3.6, **kwargs)
        yield reader


def burst(threads: int, calls: int) -> None:
    @mlcost.track_inference(name="noop", model="bert")
    def handler() -> None:
        return None

    def worker() -> None:
        for _ in range(calls):
            handler()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(600)
        assert not t.is_alive()


def counter_total(reader: InMemoryMetricReader) -> float:
    """The serving cost on the mlcost.cost counter (requests and idle)."""
    data = reader.get_metrics_data()
    return math.fsum(p.value for rm in (data.resource_metrics if data else [])
                     for sm in rm.scope_metrics for m in sm.metrics if m.name == c.METRIC_COST
                     for p in m.data.data_points
                     if p.attributes.get(c.KIND) in (c.KIND_INFERENCE, c.KIND_IDLE))


def report(path: Path) -> Stats:
    loaded = load([str(path)])
    assert loaded.problems == []
    return Stats.of(usages(loaded.records))


def assert_exact(stats: Stats, final: InferenceSummary | None, requests: int) -> None:
    assert final is not None and final.requests == requests
    assert stats.requests == requests
    assert math.isclose(stats.cost_usd, final.total_cost_usd, rel_tol=1e-9), \
        (stats.cost_usd, final.total_cost_usd)


def run_burst(tmp_path: Path, threads: int, calls: int, queue: int) -> None:
    path = tmp_path / "spans.jsonl"
    tp = TracerProvider()
    tp.add_span_processor(span_processor(JsonlSpanExporter(path), max_queue_size=queue,
                                         max_export_batch_size=queue, shutdown_timeout_s=300))
    shed_before = dropped_spans_by_reason().get("queue_full", 0)
    with configured(tp) as reader:
        burst(threads, calls)
        final = shutdown_meter()
        counted = counter_total(reader)
    tp.shutdown()  # the shed ledger's last window goes out with the final flush
    assert dropped_spans_by_reason().get("queue_full", 0) > shed_before  # detail was shed
    stats = report(path)
    assert_exact(stats, final, threads * calls)
    assert final is not None and math.isclose(counted, final.total_cost_usd, rel_tol=1e-9)
    records = [r for r in load([str(path)]).records if r.attributes.get(c.RECORD)]
    assert sum(int(r.attributes.get(c.SPANS_DROPPED, 0)) for r in records) \
        >= dropped_spans_by_reason()["queue_full"] - shed_before - 1  # idle spans may shed


def test_a_small_burst_through_a_tiny_queue_keeps_every_dollar(tmp_path: Path) -> None:
    run_burst(tmp_path, threads=4, calls=500, queue=8)


@pytest.mark.slow
def test_sixteen_threads_ten_thousand_calls_exact_totals(tmp_path: Path) -> None:
    run_burst(tmp_path, threads=16, calls=10_000, queue=256)


class Flaky(SpanExporter):
    """The JSONL exporter behind a switch: FAILURE while ``down`` (a dead collector)."""

    def __init__(self, path: Path) -> None:
        self.inner = JsonlSpanExporter(path)
        self.down = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE if self.down else self.inner.export(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()


def test_failed_exports_are_carried_until_the_exporter_is_back(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    flaky = Flaky(path)
    tp = TracerProvider()
    tp.add_span_processor(span_processor(flaky, max_queue_size=64))
    with configured(tp):
        burst(2, 100)
        assert tp.force_flush(30_000)  # every span fails: its cost goes to the shed ledger
        ledger.close_all()  # a window passes while it is still down: the record fails too
        assert tp.force_flush(30_000)
        flaky.down = False
        burst(1, 10)
        final = shutdown_meter()
    tp.shutdown()
    assert_exact(report(path), final, 210)


def test_lines_that_failed_to_write_are_carried_until_the_file_is_writable(
        tmp_path: Path) -> None:
    """The JSONL exporter's spans wait in the queue as the lines they were encoded to when
    they ended; a failed write sheds those lines' cost (read back from the lines) the same."""
    path = tmp_path / "spans.jsonl"
    path.mkdir()  # the real exporter cannot open a directory: every write fails
    tp = TracerProvider()
    tp.add_span_processor(span_processor(JsonlSpanExporter(path), max_queue_size=64))
    failed_before = dropped_spans_by_reason().get("export_failed", 0)
    with configured(tp):
        burst(2, 100)
        assert tp.force_flush(30_000)
        assert dropped_spans_by_reason().get("export_failed", 0) > failed_before
        ledger.close_all()  # a window passes while it still fails: the record fails too
        assert tp.force_flush(30_000)
        path.rmdir()
        burst(1, 10)
        final = shutdown_meter()
    tp.shutdown()
    assert_exact(report(path), final, 210)


def test_a_second_exporter_that_delivered_everything_counts_nothing_twice(
        tmp_path: Path) -> None:
    tiny, roomy = tmp_path / "tiny.jsonl", tmp_path / "roomy.jsonl"
    tp = TracerProvider()
    tp.add_span_processor(span_processor(JsonlSpanExporter(tiny), max_queue_size=4,
                                         max_export_batch_size=4, shutdown_timeout_s=60))
    tp.add_span_processor(span_processor(JsonlSpanExporter(roomy), max_queue_size=100_000,
                                         shutdown_timeout_s=60))
    with configured(tp):
        burst(4, 300)
        final = shutdown_meter()
    tp.shutdown()
    roomy_records = load([str(roomy)]).records
    assert not any(r.attributes.get(c.RECORD) for r in roomy_records)
    assert_exact(report(roomy), final, 1_200)
    assert_exact(report(tiny), final, 1_200)
