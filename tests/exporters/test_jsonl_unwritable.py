"""An unwritable JSONL path never hurts the application; each failure kind is logged once,
not once per batch, and every span is counted."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from mlcost_sdk.exporters._health import span_processor
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.guard import dropped_spans


def _paths(tmp_path: Path) -> dict[str, Path]:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    folder = tmp_path / "a-directory"
    folder.mkdir()
    return {"read-only dir": ro / "s.jsonl", "/dev/full": Path("/dev/full"),
            "a directory": folder}


@pytest.mark.parametrize("kind", ["read-only dir", "/dev/full", "a directory"])
def test_each_failure_kind_warns_once(tmp_path: Path, kind: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    path = _paths(tmp_path)[kind]
    if kind == "read-only dir" and os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    exporter = JsonlSpanExporter(path)
    tp = TracerProvider()
    tp.add_span_processor(span_processor(exporter, max_export_batch_size=10))
    before = dropped_spans()
    tracer = tp.get_tracer("t")
    with caplog.at_level(logging.WARNING, logger="mlcost_sdk"):
        for _ in range(5):  # five batches, five failures
            for i in range(10):
                with tracer.start_as_current_span("s", attributes={"i": i}):
                    pass
            assert tp.force_flush(timeout_millis=30_000)
    tp.shutdown()
    writes = [r for r in caplog.records if "cannot write spans" in r.getMessage()]
    assert len(writes) == 1, [r.getMessage() for r in writes]
    assert dropped_spans() - before == 50
