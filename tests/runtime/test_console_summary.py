"""The console summary: figures present are shown and correctly derived, absent ones left out."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.runtime.console_summary import render_summary, summary_rows

TRAINING: dict[str, Any] = {
    c.KIND: c.KIND_TRAINING_RUN, c.COST_USD: 0.0123, c.PRICE_USD_PER_HOUR: 3.06,
    c.DURATION_S: 14.47, c.MFU: 0.3125, c.FLOPS_PEAK_PER_S: 1.2e12,
    c.FLOPS_PEAK_SOURCE: "cpu_isa:avx2", c.TOKENS_PER_S: 12345.6, c.SAMPLES_PER_S: 48.2,
    c.UTILIZATION_MEAN: 0.5, c.UTILIZATION_P95: 0.9, c.UTILIZATION_SOURCE: "psutil",
    c.tag_attribute("experiment_id"): "exp-1", c.tag_attribute("zeta"): "z",
    c.tag_attribute("team"): "search", c.tag_attribute("cost_center"): "cc-7",
}


def rows(attrs: dict[str, Any], **kw: Any) -> dict[str, str]:
    return dict(summary_rows(attrs, **kw))


def test_training_summary() -> None:
    r = rows(TRAINING)
    assert r["cost"] == "$0.0123 at $3.06/h"
    assert r["MFU"] == "31.2% of 1.2 TFLOP/s (cpu_isa:avx2)"
    assert r["tokens/s"] == "12,346" and r["samples/s"] == "48.2"
    assert r["utilization"] == "mean 50.0%, p95 90.0% (psutil)"
    assert r["tags"] == "cost_center=cc-7, team=search, experiment_id=exp-1, zeta=z"
    assert "dropped spans" not in r and "requests" not in r


def test_absent_figures_are_left_out_not_zero() -> None:
    r = rows({c.COST_USD: 1.0})
    assert list(r) == ["cost"]  # unknown device: no MFU row; no utilization source: no row


def test_suspect_mfu_is_flagged_not_clamped() -> None:
    r = rows({c.MFU: 1.7, c.MFU_SUSPECT: True})
    assert r["MFU"].startswith("170.0%") and "SUSPECT" in r["MFU"]


def test_cost_per_prediction_includes_idle() -> None:
    # cost-model.md: $5,137.74 a month over 10,000,000 requests is $0.000514 per prediction.
    r = rows({c.COST_USD: 5137.74, c.IDLE_COST_USD: 4000.0, c.REQUESTS: 10_000_000})
    assert r["cost"] == "$5,137.74"
    assert r["cost per prediction"] == "$0.000514 (idle included)"
    assert r["idle cost"] == "$4,000.00 (77.9% of the cost)"
    assert r["requests"] == "10,000,000"


def test_dropped_spans_are_shown() -> None:
    assert rows({c.COST_USD: 0.5}, dropped_spans=1234)["dropped spans"].startswith("1,234")


def test_rich_table_contains_every_row() -> None:
    text = render_summary(TRAINING, title="finetune", dropped_spans=2)
    assert text.splitlines()[0].strip() == "finetune"
    for label, value in summary_rows(TRAINING, dropped_spans=2):
        assert label in text and value in text


def test_plain_text_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("rich", "rich.console", "rich.table"):
        monkeypatch.setitem(sys.modules, name, None)
    text = render_summary({c.COST_USD: 0.5, c.MFU: 0.25}, title="run")
    assert text == "run\n  cost  $0.500\n  MFU   25.0%"
