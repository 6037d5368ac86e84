"""`mlcost anomalies`: week-over-week rises above a threshold, per tag group."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.reports.anomalies import find_anomalies
from mlcost_sdk.reports.records import load
from mlcost_sdk.reports.usage import usages

from .spans import T0, Writer, cpu, ns

NOW = T0 + timedelta(days=21)  # three whole weeks of records
WEEKLY = {"a": (10, 10, 20), "b": (10, 14, 14), "c": (0, 0, 5), "d": (10, 30, 30)}


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "spans.jsonl"
    w = Writer(path, "batch")
    for team, costs in WEEKLY.items():
        for week, cost in enumerate(costs):
            if cost:
                w.span(c.KIND_TRAINING_RUN, T0 + timedelta(days=7 * week + 1), 3600,
                       cost=float(cost), tags={"team": team, "model": "m"}, **cpu(4, cost))
    # 48 h at $1/h from 12 h before week 2: $12 in week 1, $36 in week 2.
    w.span(c.KIND_TRAINING_RUN, T0 + timedelta(days=7, hours=-12), 48 * 3600, cost=48.0,
           tags={"team": "e", "model": "m"}, **cpu(4, 1.0))
    w.close()
    return path


Found = dict[tuple[str, int], tuple[float, float, float | None]]


def _found(path: Path, threshold: float = 0.5) -> Found:
    items = usages(load([str(path)]).records)
    return {(a.group[0], (a.week_start_ns - ns(T0)) // (7 * 86_400 * 10**9)):
            (a.previous_usd, a.current_usd, a.rise)
            for a in find_anomalies(items, by=("team",), now_ns=ns(NOW), threshold=threshold)}


def test_rises_above_half_are_found(records: Path) -> None:
    found = _found(records)
    assert found == {("a", 2): (10.0, 20.0, pytest.approx(1.0)),
                     ("c", 2): (0.0, 5.0, None),
                     ("d", 1): (10.0, 30.0, pytest.approx(2.0)),
                     ("e", 1): (pytest.approx(12.0), pytest.approx(36.0), pytest.approx(2.0))}


def test_threshold_and_grouping(records: Path) -> None:
    assert set(_found(records, threshold=1.5)) == {("c", 2), ("d", 1), ("e", 1)}
    assert set(_found(records, threshold=0.3)) == {("a", 2), ("b", 1), ("c", 2), ("d", 1),
                                                   ("e", 1)}
    items = usages(load([str(records)]).records)
    total = find_anomalies(items, by=("model",), now_ns=ns(NOW))
    # all teams together: 10+10+10+12 -> 10+14+30+36 (+114%), then -> 20+14+5+30 (-23%)
    (only,) = total  # approx compares flat sequences only (pytest 9 rejects nested ones)
    assert (only.previous_usd, only.current_usd) == pytest.approx((42.0, 90.0))


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_threshold_must_be_positive(bad: float) -> None:
    with pytest.raises(InvalidParameterError, match="--threshold"):
        find_anomalies([], by=("team",), now_ns=0, threshold=bad)
