"""The JSONL exporter: record format, appending, rotation, torn tails, several writer processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.exporters.jsonl import (
    DEFAULT_PATH,
    PATH_ENV,
    JsonlSpanExporter,
    span_to_record,
)


def lines_of(path: Path) -> list[dict[str, Any]]:
    """Every line must be one complete JSON object (strict: fails on a torn line). Blank lines
    are allowed: a writer opening the file while another process is mid-write may see a
    partial tail and terminate it with a newline that lands after the (complete) write."""
    text = path.read_bytes()
    assert text.endswith(b"\n"), f"{path} does not end with a newline"
    return [json.loads(line) for line in text.splitlines() if line]


def provider_writing_to(exporter: JsonlSpanExporter) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": "svc",
                                                  c.DEPLOYMENT_ENVIRONMENT: "dev"}))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


def test_record_has_the_shared_format(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    tp = provider_writing_to(JsonlSpanExporter(path))
    tracer = tp.get_tracer(c.INSTRUMENTATION_SCOPE, "1.2.3")
    attributes: dict[str, Any] = {
        c.KIND: c.KIND_TRAINING_RUN, c.COST_USD: 0.25, c.STEPS: 7, c.MFU_SUSPECT: False,
        c.tag_attribute("team"): "search", "list.attr": ["a", "b"],
        c.MFU: float("nan"), c.FLOPS_PEAK_PER_S: float("inf")}
    with (tracer.start_as_current_span("run", attributes=attributes) as run,
          pytest.raises(RuntimeError),
          tracer.start_as_current_span("window") as window):
        window.add_event("checkpoint", {"step": 3})
        raise RuntimeError("boom")
    tp.shutdown()

    window_rec, run_rec = lines_of(path)
    assert window_rec["name"] == "window" and run_rec["name"] == "run"
    assert run_rec["trace_id"] == f"{run.get_span_context().trace_id:032x}"
    assert run_rec["span_id"] == f"{run.get_span_context().span_id:016x}"
    assert len(run_rec["trace_id"]) == 32 and len(run_rec["span_id"]) == 16
    assert run_rec["parent_span_id"] is None
    assert window_rec["parent_span_id"] == run_rec["span_id"]
    assert window_rec["trace_id"] == run_rec["trace_id"]
    assert run_rec["end_time_unix_nano"] >= run_rec["start_time_unix_nano"] > 0
    assert run_rec["status"] == {"code": "UNSET", "description": None}
    assert window_rec["status"]["code"] == StatusCode.ERROR.name
    assert "boom" in window_rec["status"]["description"]
    assert run_rec["attributes"] == {
        c.KIND: c.KIND_TRAINING_RUN, c.COST_USD: 0.25, c.STEPS: 7, c.MFU_SUSPECT: False,
        c.tag_attribute("team"): "search", "list.attr": ["a", "b"],
        c.MFU: "NaN", c.FLOPS_PEAK_PER_S: "Infinity"}  # OTLP/JSON's spelling: bare NaN is no JSON
    assert run_rec["resource"]["service.name"] == "svc"
    assert run_rec["resource"][c.DEPLOYMENT_ENVIRONMENT] == "dev"
    assert run_rec["scope"] == {"name": c.INSTRUMENTATION_SCOPE, "version": "1.2.3"}
    names = [e["name"] for e in window_rec["events"]]
    assert names == ["checkpoint", "exception"]
    assert window_rec["events"][0]["attributes"] == {"step": 3}
    assert window_rec["events"][0]["time_unix_nano"] >= window_rec["start_time_unix_nano"]


def test_span_to_record_is_the_one_converter(tmp_path: Path) -> None:
    """What the file holds is exactly span_to_record of the span, through JSON."""
    memory = InMemorySpanExporter()
    path = tmp_path / "s.jsonl"
    tp = provider_writing_to(JsonlSpanExporter(path))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    with tp.get_tracer("t").start_as_current_span("x", attributes={c.TOKENS: 5}):
        pass
    tp.shutdown()
    (span,) = memory.get_finished_spans()
    assert lines_of(path) == [json.loads(json.dumps(span_to_record(span)))]


@pytest.mark.parametrize("attributes", [
    {c.TOKENS: 5, c.COST_USD: 0.5, "x.flag": True, "x.list": (1.5, 2.5)},  # orjson as is
    {c.MFU: float("nan"), "x.list": (1.0, float("-inf"))},  # non-finite: converted
    {"x.big": 2**70, "x.route": "/nullable"},  # beyond 64 bits; a "null" inside a string
    {"x.text": "caf\u00e9 \ud800 \u2603"},  # non-ASCII and a lone surrogate
])
@pytest.mark.parametrize(("event", "written"), [
    (None, None), ({"v": 1.5}, {"v": 1.5}), ({"v": float("inf")}, {"v": "Infinity"})])
def test_every_encoding_path_writes_span_to_record(
        tmp_path: Path, attributes: dict[str, Any], event: dict[str, float] | None,
        written: dict[str, Any] | None) -> None:
    """The fast (orjson) path and the converting path give the same record; what JSON cannot
    hold is spelled as the format says, never lost."""
    memory = InMemorySpanExporter()
    path = tmp_path / "s.jsonl"
    tp = provider_writing_to(JsonlSpanExporter(path))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    with tp.get_tracer("t").start_as_current_span("x", attributes=attributes) as span:
        if event is not None:
            span.add_event("e", event)
    tp.shutdown()
    (finished,) = memory.get_finished_spans()
    expected = json.loads(json.dumps(span_to_record(finished)))
    assert lines_of(path) == [expected]
    assert [e["attributes"] for e in expected["events"]] == ([written] if written else [])


def test_appends_across_exporters_and_processes(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    for name in ("first", "second"):
        tp = provider_writing_to(JsonlSpanExporter(path))
        with tp.get_tracer("t").start_as_current_span(name):
            pass
        tp.shutdown()
    assert [r["name"] for r in lines_of(path)] == ["first", "second"]


def test_default_path_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(PATH_ENV, raising=False)
    assert JsonlSpanExporter().path == tmp_path / DEFAULT_PATH
    monkeypatch.setenv(PATH_ENV, str(tmp_path / "sub" / "mine.jsonl"))
    exporter = JsonlSpanExporter()
    tp = provider_writing_to(exporter)
    with tp.get_tracer("t").start_as_current_span("x"):
        pass
    tp.shutdown()
    assert exporter.path == tmp_path / "sub" / "mine.jsonl"
    assert len(lines_of(exporter.path)) == 1  # the missing folder was created


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_bytes": 0}, "max_bytes"), ({"max_bytes": 1.5}, "max_bytes"),
    ({"backup_count": -1}, "backup_count"), ({"backup_count": True}, "backup_count")])
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        JsonlSpanExporter("x.jsonl", **kwargs)
    assert err.value.parameter == field


def test_rotation_keeps_backup_count_files_under_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    exporter = JsonlSpanExporter(path, max_bytes=4000, backup_count=2)
    tp = provider_writing_to(exporter)
    tracer = tp.get_tracer("t")
    for i in range(200):
        with tracer.start_as_current_span(f"s{i}", attributes={"i": i}):
            pass
    tp.shutdown()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["spans.jsonl", "spans.jsonl.1", "spans.jsonl.2"]
    for f in files:
        assert 0 < f.stat().st_size <= 4000
    # Oldest first: .2, .1, then the live file; together a contiguous run ending at the last span.
    numbers = [r["attributes"]["i"] for f in (files[2], files[1], files[0]) for r in lines_of(f)]
    assert numbers == list(range(numbers[0], 200))
    assert numbers[0] > 0  # the oldest rotation was deleted


def test_backup_count_zero_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    tp = provider_writing_to(JsonlSpanExporter(path, max_bytes=2000, backup_count=0))
    for i in range(50):
        with tp.get_tracer("t").start_as_current_span(f"s{i}", attributes={"i": i}):
            pass
    tp.shutdown()
    assert [f.name for f in tmp_path.iterdir()] == ["spans.jsonl"]
    assert lines_of(path)[-1]["attributes"]["i"] == 49


def test_torn_tail_is_terminated_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b'{"name":"whole"}\n{"name":"torn", "attri')  # a write cut short
    tp = provider_writing_to(JsonlSpanExporter(path))
    with tp.get_tracer("t").start_as_current_span("after"):
        pass
    tp.shutdown()
    raw = path.read_bytes().splitlines()
    assert raw[1] == b'{"name":"torn", "attri'  # isolated on its own line...
    assert json.loads(raw[2])["name"] == "after"  # ...so the next record is intact


def test_write_failure_returns_failure_never_raises(tmp_path: Path) -> None:
    memory = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(memory))
    with tp.get_tracer("t").start_as_current_span("x"):
        pass
    spans = memory.get_finished_spans()
    exporter = JsonlSpanExporter(tmp_path)  # a folder: open() fails with a real OSError
    assert exporter.export(spans) is SpanExportResult.FAILURE
    ok = JsonlSpanExporter(tmp_path / "ok.jsonl")
    assert ok.export(spans) is SpanExportResult.SUCCESS
    ok.shutdown()
    assert ok.export(spans) is SpanExportResult.FAILURE  # after shutdown


_WRITER = textwrap.dedent("""
    import sys
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from mlcost_sdk.exporters.jsonl import JsonlSpanExporter

    path, who, count, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(
        JsonlSpanExporter(path, max_bytes=max_bytes, backup_count=1000),
        max_export_batch_size=16, schedule_delay_millis=1))
    tracer = tp.get_tracer("t")
    print("ready", flush=True)
    for i in range(count):
        with tracer.start_as_current_span(who, attributes={"i": i, "pad": "x" * 300}):
            pass
    tp.shutdown()
""")


def _writer(path: Path, who: str, count: int, max_bytes: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), who, str(count),
                             str(max_bytes)], stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_processes_sharing_a_file_never_tear_or_lose_lines(tmp_path: Path) -> None:
    """Two writers append to and rotate the same file (torchrun ranks in one folder)."""
    path = tmp_path / "spans.jsonl"
    writers = [_writer(path, who, 1500, 50_000) for who in ("rank0", "rank1")]
    for w in writers:
        assert w.wait(timeout=120) == 0
    files = sorted(tmp_path.iterdir())
    assert len(files) > 5  # rotated many times, concurrently
    records = [r for f in files for r in lines_of(f)]
    for who in ("rank0", "rank1"):
        assert sorted(r["attributes"]["i"] for r in records if r["name"] == who) \
            == list(range(1500))


@pytest.mark.slow
def test_killed_writer_leaves_only_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    writer = _writer(path, "victim", 10**7, 10**9)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 120  # killed mid-stream, however slowly it was scheduled
    while not path.exists() or path.read_bytes().count(b"\n") <= 100:  # made at 1st export
        assert time.monotonic() < deadline and writer.poll() is None, "the writer wrote nothing"
        time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    # Every line is whole but the last: SIGKILL can cut a write short between two pages (the
    # kernel checks for a fatal signal once per page), so the tail may be torn...
    killed = path.read_bytes()
    whole, _, tail = killed.rpartition(b"\n")
    numbers = [json.loads(line)["attributes"]["i"] for line in whole.splitlines() if line]
    assert len(numbers) > 100 and numbers == sorted(set(numbers))  # (the queue may drop some)
    # ...and the next writer terminates it first, so its own record is intact.
    tp = provider_writing_to(JsonlSpanExporter(path))
    with tp.get_tracer("t").start_as_current_span("next"):
        pass
    tp.shutdown()
    after = path.read_bytes()
    assert after.startswith(killed)
    assert after[len(killed):].startswith(b"\n" if tail else b"{")
    assert json.loads(after.splitlines()[-1])["name"] == "next"


@pytest.mark.parametrize("stamped", [{c.TOKENS: 5}, {c.MFU: float("nan")}, {"x.big": 2**70}])
def test_an_encoded_line_carries_the_attributes_it_was_given(stamped: dict[str, Any]) -> None:
    """``encode_line(span, attributes)``, the stamping pipeline's call: those attributes
    replace the span's own, on the fast path and on the converting one alike."""
    memory = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(memory))
    with tp.get_tracer("t").start_as_current_span("x", attributes={"own": 1}):
        pass
    (span,) = memory.get_finished_spans()
    record = json.loads(JsonlSpanExporter("unused.jsonl").encode_line(span, stamped))
    expected = json.loads(json.dumps(span_to_record(span)))
    written = {k: "NaN" if v != v else v for k, v in stamped.items()}  # NaN: as the format says
    assert record == {**expected, "attributes": written}
