"""`mlcost report` (table, JSON, CSV, FOCUS, HTML) reads plain spans and ledger records
together and counts every dollar once."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.cli import main
from mlcost_sdk.reports.text import money

T0 = 1_767_225_600 * 10**9  # 2026-01-01
TAGS = {c.tag_attribute("team"): "search", c.tag_attribute("model"): "bert"}
_ids = iter(range(1, 10_000))


def record(kind: str, cost: float, *, start_s: float = 0, end_s: float = 1,
           parent: str | None = None, span_id: str | None = None,
           trace_id: str = "a" * 32, **attrs: Any) -> dict[str, Any]:
    return {"name": kind, "trace_id": trace_id, "span_id": span_id or f"{next(_ids):016x}",
            "parent_span_id": parent, "start_time_unix_nano": T0 + int(start_s * 1e9),
            "end_time_unix_nano": T0 + int(end_s * 1e9), "resource": {"service.name": "svc"},
            "attributes": {c.KIND: kind, c.COST_USD: cost, **TAGS, **attrs}}


def write(path: Path) -> tuple[float, int]:
    """A file with every shape; returns the true total and request count."""
    rows = [
        record(c.KIND_INFERENCE, 1.0),  # a plain per-request span
        record(c.KIND_INFERENCE, 2.0, **{c.COST_IN_LEDGER: True}),  # detail of the aggregate
        record(c.KIND_INFERENCE, 10.0, **{c.RECORD: c.RECORD_AGGREGATE, c.REQUESTS: 5,
                                          c.AGGREGATE_COUNT: 5, c.RECORD_ID: "r1"}),
        record(c.KIND_IDLE, 0.5),
        # a run that ended: its final span counts, its checkpoints do not
        record(c.KIND_TRAINING_RUN, 7.0, span_id="f" * 16, end_s=7, **{c.RUN_ID: "done"}),
        *(record(c.KIND_TRAINING_RUN, cost, parent="f" * 16, end_s=cost,
                 **{c.RUN_ID: "done", c.RECORD: c.RECORD_CHECKPOINT}) for cost in (3.0, 5.0)),
        # a run that was killed: its latest checkpoint counts
        *(record(c.KIND_TRAINING_RUN, cost, parent="e" * 16, end_s=cost,
                 **{c.RUN_ID: "killed", c.RECORD: c.RECORD_CHECKPOINT}) for cost in (6.0, 4.0)),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 1.0 + 10.0 + 0.5 + 7.0 + 6.0, 6


def test_every_format_counts_each_dollar_once(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spans.jsonl"
    total, requests = write(path)
    assert main(["report", str(path), "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["rows"][0]
    assert top["cost_usd"] == pytest.approx(total) and top["requests"] == requests
    assert top["runs"] == 2 and top["training_usd"] == pytest.approx(13.0)
    assert top["inference_usd"] == pytest.approx(11.0)
    assert main(["report", str(path)]) == 0
    assert money(total) in next(line for line in capsys.readouterr().out.splitlines()
                                if line.startswith("TOTAL"))
    assert main(["report", str(path), "--csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert float(rows[0]["cost_usd"]) == pytest.approx(total)
    focus, page = tmp_path / "focus.csv", tmp_path / "page.html"
    assert main(["report", str(path), "--format", "focus", "-o", str(focus),
                 "--html", str(page)]) == 0
    capsys.readouterr()
    billed = math.fsum(float(r["BilledCost"]) for r in csv.DictReader(focus.open()))
    assert billed == pytest.approx(total)
    assert money(total) in page.read_text()
