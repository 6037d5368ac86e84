"""The training package's pieces on their own: the slow-path schedule, window due, rates,
FLOPs between counts, the budget's projection and its fire-once check."""

from __future__ import annotations

import warnings

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.runtime.training import BudgetStatus, BudgetWarning
from mlcost_sdk.runtime.training.budget import Budget, project
from mlcost_sdk.runtime.training.windows import (
    SLOW_PATH_EVERY_S,
    Counts,
    flops_between,
    next_slow_at,
    rates,
    window_due,
)


def at(t: float, steps: int, tokens: int = 0, flops: float = 0.0) -> Counts:
    return Counts(t, steps, tokens, 0, flops)


def test_next_slow_at_follows_the_step_rate_and_stops_at_warmup_and_window() -> None:
    last, now = at(0.0, 0), at(1.0, 1000)  # 1000 steps/s: the next slow path ~0.2 s on
    stride = int(1000 * SLOW_PATH_EVERY_S)
    assert next_slow_at(last, now, warm=now, warmup=0, win=at(0.0, 0),
                        window_steps=None) == 1000 + stride
    assert next_slow_at(last, now, warm=None, warmup=1050, win=at(0.0, 0),
                        window_steps=None) == 1050
    assert next_slow_at(last, now, warm=now, warmup=0, win=at(0.5, 990),
                        window_steps=20) == 1010
    # no time passed, or a boundary already behind: the very next step
    assert next_slow_at(now, now, warm=now, warmup=0, win=at(0.0, 0), window_steps=None) == 1001
    assert next_slow_at(last, now, warm=None, warmup=5, win=at(0.0, 0),
                        window_steps=None) == 1001


def test_window_due_by_steps_or_seconds() -> None:
    win = at(10.0, 100)
    assert window_due(win, 10.1, 110, window_steps=10, window_seconds=None)
    assert not window_due(win, 10.1, 109, window_steps=10, window_seconds=None)
    assert window_due(win, 12.0, 101, window_steps=None, window_seconds=2.0)
    assert not window_due(win, 11.9, 101, window_steps=None, window_seconds=2.0)
    assert not window_due(win, 99.0, 999, window_steps=None, window_seconds=None)


def test_flops_counted_or_from_the_formula() -> None:
    start, end = at(0.0, 0, tokens=10, flops=5.0), at(1.0, 2, tokens=30, flops=45.0)
    assert flops_between(start, end, None) == 40.0
    assert flops_between(start, end, 6.0) == 120.0  # 6 FLOPs per token x 20 tokens


def test_rates_and_mfu() -> None:
    start, end = at(0.0, 0, tokens=0), at(2.0, 10, tokens=100)
    got = rates(start, end, 8e12, 1e12)
    assert got[c.STEPS_PER_S] == 5.0 and got[c.TOKENS_PER_S] == 50.0
    assert got[c.FLOPS_ACHIEVED_PER_S] == 4e12
    assert got[c.MFU] == 4.0 and got[c.MFU_SUSPECT] is True
    assert c.SAMPLES_PER_S not in got
    assert c.MFU not in rates(start, end, 8e12, None)
    assert c.FLOPS_ACHIEVED_PER_S not in rates(start, end, 0.0, 1e12)
    assert rates(end, end, 1.0, 1.0) == {}


def test_projection_from_the_post_warmup_rate() -> None:
    warm, now = at(10.0, 100), at(20.0, 200)  # 10 steps/s after warm-up, 800 steps to go
    assert project(warm, now, total_steps=1000, total_tokens=None, usd_per_second=0.5,
                   spent=3.0) == pytest.approx(3.0 + 80.0 * 0.5)
    warm_t, now_t = at(10.0, 1, tokens=0), at(20.0, 2, tokens=1000)  # by tokens: 100/s
    assert project(warm_t, now_t, total_steps=None, total_tokens=3000, usd_per_second=1.0,
                   spent=0.0) == pytest.approx(20.0)
    # past the total: nothing more to spend
    assert project(warm, now, total_steps=150, total_tokens=None, usd_per_second=1.0,
                   spent=2.0) == 2.0
    for args in ((None, now, 1000, 1.0), (warm, warm, 1000, 1.0), (warm, now, None, 1.0),
                 (warm, now, 1000, None)):
        w, n, total, price = args
        assert project(w, n, total_steps=total, total_tokens=None, usd_per_second=price,
                       spent=1.0) is None


def test_budget_fires_once_and_reports_its_attributes() -> None:
    seen: list[BudgetStatus] = []
    budget = Budget(1.0, seen.append)
    assert budget.check("r", 0.5, 0.9) is None and not budget.fired
    assert budget.attributes() == {c.BUDGET_USD: 1.0, c.BUDGET_EXCEEDED: False,
                                   c.BUDGET_PROJECTED_USD: 0.9}
    assert budget.check("r", 0.5, 1.5) is None  # projected over: the callback, once
    assert budget.check("r", 2.0, None) is None
    assert seen == [BudgetStatus(1.0, 0.5, 1.5, True)]
    assert budget.attributes() == {c.BUDGET_USD: 1.0, c.BUDGET_EXCEEDED: True}

    raising = Budget(1.0, "raise")
    assert raising.check("r", 2.0, None) == BudgetStatus(1.0, 2.0, None, True)
    assert raising.check("r", 3.0, None) is None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Budget(1.0, "warn").check("r", 2.0, None) is None
    assert [w.category for w in caught] == [BudgetWarning]
