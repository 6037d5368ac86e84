"""`mlcost idle`: what has had no activity for N days, who owns it, what it still costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.reports.idle import IdleResource, find_idle, policy
from mlcost_sdk.reports.records import load
from mlcost_sdk.reports.usage import usages

from .spans import Writer, gpu, ns

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _tags(model: str, owner: str, **extra: str) -> dict[str, str]:
    return {"team": "t", "model": model, "environment": "prod", "owner": owner, **extra}


def _serve(path: Path, model: str, owner: str, *, last_request_days: float | None,
           idle_days: range) -> None:
    w = Writer(path, f"{model}-api")
    for d in idle_days:  # $1 of idle capacity at noon each day
        w.span(c.KIND_IDLE, NOW - timedelta(days=d) + timedelta(hours=12), 3600, cost=1.0,
               tags=_tags(model, owner), **gpu(1, 1.0))
    if last_request_days is not None:
        ended = NOW - timedelta(days=last_request_days)
        w.span(c.KIND_INFERENCE, ended - timedelta(seconds=1), 1.0, cost=0.001,
               tags=_tags(model, owner), **gpu(1, 1.0), **{c.HTTP_ROUTE: f"/v1/{model}"})
    w.close()


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "spans.jsonl"
    _serve(path, "old", "cy", last_request_days=65, idle_days=range(1, 91))
    _serve(path, "mid", "dee", last_request_days=40, idle_days=range(0))
    _serve(path, "warn", "eve", last_request_days=55, idle_days=range(0))
    _serve(path, "busy", "fay", last_request_days=1, idle_days=range(1, 91))
    _serve(path, "never", "gus", last_request_days=None, idle_days=range(1, 11))
    w = Writer(path, "mid-api")  # straddles the window start: half of it counts
    w.span(c.KIND_IDLE, NOW - timedelta(days=30, hours=1), 7200, cost=2.0,
           tags=_tags("mid", "dee"), **gpu(1, 1.0))
    w.close()
    w = Writer(path, "trainer")
    for exp, days in (("exp-old", 45), ("exp-new", 1)):
        w.span(c.KIND_TRAINING_RUN, NOW - timedelta(days=days), 600, cost=5.0,
               tags=_tags("ranker", "hal", experiment_id=exp), **gpu(1, 30.0))
    w.close()
    return path


def _found(path: Path, days: float) -> dict[tuple[str, str], IdleResource]:
    items = usages(load([str(path)]).records)
    return {(r.kind, r.name): r for r in find_idle(items, now_ns=ns(NOW), days=days)}


def test_unused_resources_their_owner_cost_and_rule(records: Path) -> None:
    found = _found(records, 30)
    assert set(found) == {("model", "old"), ("endpoint", "old-api /v1/old"), ("model", "mid"),
                          ("endpoint", "mid-api /v1/mid"), ("model", "warn"),
                          ("endpoint", "warn-api /v1/warn"), ("run", "exp-old")}
    old = found[("model", "old")]
    assert old.owner == "cy" and old.idle_days == pytest.approx(65)
    assert old.idle_cost_usd == pytest.approx(30.0)  # the 30 idle hours in the last 30 days
    assert old.action.startswith("stop")
    assert found[("endpoint", "old-api /v1/old")].idle_cost_usd == pytest.approx(30.0)
    mid = found[("model", "mid")]
    assert mid.action == "alert owner" and mid.idle_cost_usd == pytest.approx(1.0)
    assert found[("model", "warn")].action == "warn owner: stops in 5 days"
    assert found[("run", "exp-old")].owner == "hal"
    assert found[("run", "exp-old")].idle_cost_usd == 0.0


def test_a_shorter_window_lists_what_never_served(records: Path) -> None:
    found = _found(records, 7)
    never = found[("model", "never")]
    assert never.last_active_ns is None and never.idle_days == pytest.approx(9.5)
    assert never.idle_cost_usd == pytest.approx(7.0)  # idle noons of the last 7 days
    assert never.action == "none yet (alert at 30 days)"
    assert ("model", "busy") not in found


@pytest.mark.parametrize(("days", "action"), [
    (29.9, "none yet (alert at 30 days)"), (30, "alert owner"), (52.9, "alert owner"),
    (53, "warn owner: stops in 7 days"), (59.5, "warn owner: stops in 1 day"),
    (60, "stop: unused 60+ days, 7-day warning given")])
def test_the_30_60_day_rule(days: float, action: str) -> None:
    assert policy(days) == action


def test_days_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match="--days"):
        find_idle([], now_ns=0, days=0)


def test_auto_shutdown_resources_are_listed_first_as_policy_says_shut_down(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    _serve(path, "costly", "ann", last_request_days=45, idle_days=range(1, 31))
    w = Writer(path, "cheap-api")  # cheaper and less idle, but opted into auto shutdown
    auto = _tags("cheap", "bob", auto_shutdown="True")
    w.span(c.KIND_INFERENCE, NOW - timedelta(days=35), 1.0, cost=0.001, tags=auto,
           **gpu(1, 1.0))
    w.span(c.KIND_IDLE, NOW - timedelta(days=2), 60, cost=0.01, tags=auto, **gpu(1, 1.0))
    w.close()
    found = find_idle(usages(load([str(path)]).records), now_ns=ns(NOW), days=30)
    assert (found[0].kind, found[0].name) == ("model", "cheap")
    assert found[0].auto_shutdown
    assert found[0].action == "policy says shut down (auto_shutdown=true)"
    costly = next(r for r in found if r.name == "costly")
    assert not costly.auto_shutdown and costly.action == "alert owner"
