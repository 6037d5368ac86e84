"""FOCUS rows from real exported spans: columns, formats, and money that adds up."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.reports import focus
from mlcost_sdk.reports.records import load
from mlcost_sdk.reports.usage import usages

from .fleet import counted, write_fleet
from .spans import T0, Spec

REQUIRED = ("BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "ChargePeriodStart",
            "ChargePeriodEnd", "ChargeCategory", "ServiceName", "ServiceCategory", "ResourceId",
            "ConsumedQuantity", "ConsumedUnit", "PricingUnit", "Tags")
ISO_HOUR = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:00:00Z$")
Rows = tuple[list[dict[str, str]], list[Spec]]


@pytest.fixture
def rows(tmp_path: Path) -> Rows:
    path = tmp_path / "spans.jsonl"
    specs = write_fleet(path)
    out = io.StringIO()
    focus.write_csv(focus.focus_rows(usages(load([str(path)]).records)), out)
    return list(csv.DictReader(io.StringIO(out.getvalue()))), specs


def test_columns_and_formats(rows: Rows) -> None:
    table, specs = rows
    assert set(REQUIRED) <= set(table[0])
    assert all(k in focus.COLUMNS for k in table[0])
    custom = [k for k in table[0] if not k[0].isupper()]
    assert custom and all(k.startswith("x_") for k in custom)
    for r in table:
        assert r["ChargeCategory"] == "Usage" and r["BillingCurrency"] == "USD"
        assert r["ServiceCategory"] == "AI and Machine Learning"
        assert ISO_HOUR.match(r["ChargePeriodStart"]) and ISO_HOUR.match(r["ChargePeriodEnd"])
        start, end = (datetime.fromisoformat(r[k]) for k in ("ChargePeriodStart",
                                                              "ChargePeriodEnd"))
        assert end - start == timedelta(hours=1)
        assert r["BilledCost"] == r["EffectiveCost"] == r["ListCost"]
        assert "e" not in r["BilledCost"].lower() and float(r["BilledCost"]) >= 0
        assert bool(r["ConsumedQuantity"]) == bool(r["ConsumedUnit"])
        assert bool(r["PricingQuantity"]) == bool(r["PricingUnit"])
        assert json.loads(r["Tags"]) in [s.tags for s in specs]


def test_costs_add_up_and_a_run_is_split_by_hour(rows: Rows) -> None:
    table, specs = rows
    assert math.fsum(float(r["BilledCost"]) for r in table) == pytest.approx(
        math.fsum(s.cost or 0 for s in counted(specs)))
    job = [r for r in table if r["ResourceId"] == "mlcost/run/job-1"]
    # Two ranks at $2/h each from 09:30 for 5 h: $4/h, half hours at both ends.
    start = T0 + timedelta(days=2, hours=9, minutes=30)
    expected = {}
    for h in range(6):
        hour = start.replace(minute=0) + timedelta(hours=h)
        inside = min(hour + timedelta(hours=1), start + timedelta(hours=5)) - max(hour, start)
        expected[hour.strftime("%Y-%m-%dT%H:%M:%SZ")] = 4.0 * inside / timedelta(hours=1)
    assert {r["ChargePeriodStart"]: float(r["BilledCost"]) for r in job} == pytest.approx(
        expected)
    assert {r["ConsumedUnit"] for r in job} == {"GPU-Hours"}
    assert math.fsum(float(r["ConsumedQuantity"]) for r in job) == pytest.approx(10.0)
    assert {float(r["x_ModelFlopsUtilization"]) for r in job} == {0.42}  # job-wide MFU
    assert {r["ServiceName"] for r in job} == {"ML Training"}


def test_llm_rows_count_tokens_and_requests(rows: Rows) -> None:
    table, specs = rows
    llm = [r for r in table if r["x_CostKind"] == c.KIND_LLM_CALL]
    calls = [s for s in specs if s.kind == c.KIND_LLM_CALL]
    assert {r["ConsumedUnit"] for r in llm} == {"Tokens"}
    assert math.fsum(float(r["ConsumedQuantity"]) for r in llm) == sum(
        s.attrs[c.GEN_AI_INPUT_TOKENS] + s.attrs[c.GEN_AI_OUTPUT_TOKENS] for s in calls)
    assert sum(int(r["x_Requests"]) for r in llm) == len(calls)
    idle = [r for r in table if r["x_CostKind"] == c.KIND_IDLE]
    assert idle and all(r["x_Requests"] == "" for r in idle)
    assert {r["ConsumedUnit"] for r in idle} == {"GPU-Hours"}
