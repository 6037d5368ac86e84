from __future__ import annotations

import math
import time
import warnings

import pytest
from opentelemetry import trace

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.catalog import cpu_peak
from mlcost_sdk.guard import internal_error_count
from mlcost_sdk.runtime import ledger
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.sampling import get_sampler
from mlcost_sdk.testing import Capture, capture
from tests.conftest import FULL_TAGS

EXP = {"experiment_id": "exp-1"}


def test_cost_is_price_times_wall_clock_and_windows_add_up() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock, warmup_steps=2) as cap:
        with mlcost.training_run("t", tags=EXP, window_steps=5) as run:
            for _ in range(23):
                clock.advance(0.5)
                run.step(tokens=100, samples=4)
    span = cap.span(c.KIND_TRAINING_RUN)
    a = span.attributes
    assert a[c.DURATION_S] == pytest.approx(11.5)
    assert a[c.COST_USD] == pytest.approx(11.5 * 3.6 / 3600)
    assert a[c.STEPS] == 23 and a[c.TOKENS] == 2300 and a[c.SAMPLES] == 92
    # rates exclude the 2 warm-up steps: 21 steps in 10.5 s
    assert a[c.WARMUP_STEPS] == 2
    assert a[c.STEPS_PER_S] == pytest.approx(2.0)
    assert a[c.TOKENS_PER_S] == pytest.approx(200.0)
    windows = cap.spans(c.KIND_TRAINING_WINDOW)
    assert [w.attributes[c.STEPS] for w in windows] == [5, 5, 5, 5, 3]
    assert math.fsum(w.attributes[c.COST_USD] for w in windows) == pytest.approx(a[c.COST_USD])
    assert all(w.parent is not None and w.parent.span_id == span.context.span_id for w in windows)
    assert a[c.TAG_PREFIX + "experiment_id"] == "exp-1"
    assert a[c.DEPLOYMENT_ENVIRONMENT] == "dev"
    assert run.summary.cost_usd == pytest.approx(a[c.COST_USD])


def test_flops_formula_and_mfu_against_a_user_peak() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=1.0, clock=clock, warmup_steps=0) as cap:
        with mlcost.training_run("t", tags=EXP, params=1e6, peak_flops_per_s=1e12) as run:
            for _ in range(10):
                clock.advance(1.0)
                run.step(tokens=1000)
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.FLOPS_SOURCE] == "formula_6nd"
    assert a[c.FLOPS_TOTAL] == pytest.approx(6 * 1e6 * 10_000)
    assert a[c.FLOPS_ACHIEVED_PER_S] == pytest.approx(6e9)
    assert a[c.MFU] == pytest.approx(6e9 / 1e12)
    assert a[c.FLOPS_PEAK_SOURCE] == "user" and a[c.MFU_SUSPECT] is False
    assert run.summary.mfu == pytest.approx(0.006)


def test_mfu_above_one_is_reported_and_flagged_not_clamped() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=1.0, clock=clock, warmup_steps=0) as cap:
        with mlcost.training_run("t", tags=EXP, flops_per_step=5e9, peak_flops_per_s=1e9) as run:
            clock.advance(1.0)
            run.step()
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.MFU] == pytest.approx(5.0) and a[c.MFU_SUSPECT] is True


def test_real_matmul_achieved_flops_match_an_independent_count() -> None:
    torch = pytest.importorskip("torch")
    n, steps = 128, 50  # the figures are exact whatever the work takes: keep it small
    a_m, b_m = torch.randn(n, n), torch.randn(n, n)
    flops_per_step = 2 * n**3
    with capture(tags=FULL_TAGS, price=1.0, warmup_steps=0) as cap:
        with mlcost.training_run("mm", tags=EXP) as run:
            for _ in range(steps):
                (a_m @ b_m).sum().item()
                run.step(flops=flops_per_step)
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.FLOPS_TOTAL] == steps * flops_per_step  # the independent count: 2n^3 a product
    assert a[c.FLOPS_SOURCE] == "user"
    # the rate over the run's own clock (a span timestamp pair is another clock, read at other
    # moments: on a loaded machine the two differ by more than any fixed tolerance)
    assert a[c.FLOPS_ACHIEVED_PER_S] == pytest.approx(steps * flops_per_step / a[c.DURATION_S])
    peak = cpu_peak("fp32")
    if peak is None:  # a CPU the catalog does not know: no peak, so no MFU at all
        assert c.FLOPS_PEAK_PER_S not in a and c.MFU not in a
    else:
        assert a[c.FLOPS_PEAK_SOURCE] == peak.source
        assert a[c.FLOPS_PEAK_PER_S] == pytest.approx(peak.flops_per_s * get_sampler().cpu_share)
        assert 0 < a[c.MFU] == pytest.approx(a[c.FLOPS_ACHIEVED_PER_S] / a[c.FLOPS_PEAK_PER_S])


def test_user_exception_passes_through_and_is_recorded(cap: Capture) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), mlcost.training_run("t", tags=EXP) as run:
        run.step()
        raise Boom("user error")
    span = cap.span(c.KIND_TRAINING_RUN)
    assert span.status.status_code.name == "ERROR"
    assert any(e.name == "exception" for e in span.events)


def test_budget_raise_warn_and_callback() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock, warmup_steps=1) as cap:
        # $1/s; 100 planned steps at 1 step/s project to ~$100 against a $10 budget.
        with pytest.raises(mlcost.BudgetExceeded) as info, \
                mlcost.training_run("t", tags=EXP, budget_usd=10, total_steps=100,
                                    on_budget="raise") as run:
            for _ in range(100):
                clock.advance(1.0)
                run.step()
        assert info.value.projected_usd == pytest.approx(100.0, rel=0.05)
        assert run.summary.steps < 10
        span = cap.span(c.KIND_TRAINING_RUN)
        assert span.attributes[c.BUDGET_EXCEEDED] is True
        assert span.attributes[c.BUDGET_PROJECTED_USD] > 10

        seen: list[mlcost.BudgetStatus] = []
        with mlcost.training_run("t2", tags=EXP, budget_usd=10, total_steps=100,
                                 on_budget=seen.append) as run:
            for _ in range(5):
                clock.advance(1.0)
                run.step()
        assert len(seen) == 1 and seen[0].exceeded

        with pytest.warns(mlcost.BudgetWarning), \
                mlcost.training_run("t3", tags=EXP, budget_usd=2.5) as run:
            for _ in range(5):
                clock.advance(1.0)
                run.step()


def test_required_tags_error_and_warn_modes() -> None:
    with capture(on_missing_tags="error"), pytest.raises(mlcost.TagError, match="team"):
        mlcost.training_run("t").__enter__()
    with capture(tags=FULL_TAGS), pytest.warns(mlcost.MissingTagsWarning, match="experiment_id"):
        with mlcost.training_run("t-warn") as run:
            run.step()


def test_invalid_tags_and_parameters_name_the_field() -> None:
    with capture():
        with pytest.raises(mlcost.TagError, match="Team"):
            mlcost.training_run("t", tags={"Team": "x"})
        with pytest.raises(mlcost.TagError, match="environment"):
            mlcost.configure(tags={"environment": ""})
        with pytest.raises(mlcost.InvalidParameterError, match="budget_usd"):
            mlcost.training_run("t", budget_usd=-1)


def test_decorator_gives_current_run_and_keeps_signature(cap: Capture) -> None:
    @mlcost.track_training(tags=EXP)  # type: ignore[untyped-decorator, unused-ignore]
    def train(n: int) -> int:
        run = mlcost.current_run()
        assert run is not None
        for _ in range(n):
            run.step(tokens=1)
        return n

    assert train(3) == 3
    assert train.__name__ == "train"
    assert cap.span(c.KIND_TRAINING_RUN).attributes[c.TOKENS] == 3
    assert mlcost.current_run() is None


def test_cost_metric_counts_the_run(cap: Capture) -> None:
    with mlcost.training_run("t", tags=EXP) as run:
        time.sleep(0.05)
        run.step()
    points = cap.metric_points(c.METRIC_COST)
    total = sum(p.value for p in points if p.attributes[c.KIND] == c.KIND_TRAINING_RUN)
    assert total == pytest.approx(run.summary.cost_usd)
    assert all(c.tag_attribute("experiment_id") not in p.attributes for p in points)


def test_otel_sdk_disabled_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    with capture() as cap:
        with mlcost.training_run("t") as run:
            run.step(tokens=5)
        with mlcost.inference("p") as call:
            call.add(tokens=1)
        assert cap.spans() == []
        assert run.summary.tokens == 5 and run.summary.cost_usd is None


def test_step_never_raises_when_internals_break(cap: Capture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    errors_before = internal_error_count()  # process-wide: earlier tests count too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mlcost.training_run("t", tags=EXP, window_steps=2) as run:
            monkeypatch.setattr(run, "_close_window", lambda now: 1 / 0)
            for _ in range(10):
                run.step()
    assert internal_error_count() > errors_before  # the failures were swallowed, and counted
    span = cap.span(c.KIND_TRAINING_RUN)
    assert span.end_time is not None
    # A broken last window must not cost the run span its figures (reports count that span).
    a = span.attributes or {}
    assert a[c.STEPS] == 10 and a[c.COST_USD] > 0
    assert run.summary.steps == 10 and run.summary.cost_usd == a[c.COST_USD]


class _Broken:
    """Stands in for a tracker or progress line whose every method raises."""

    def close(self, *args: object) -> None:
        raise RuntimeError("broken internals")

    update = close


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("broken internals")


_END_PARTS = {
    "last_window": lambda run, mp: mp.setattr(run, "_close_window", _boom),
    "tracker": lambda run, mp: setattr(run, "_tracker", _Broken()),
    "window_tracker": lambda run, mp: setattr(run, "_window_tracker", _Broken()),
    "budget": lambda run, mp: mp.setattr(run, "_check_budget", _boom),
    "rates": lambda run, mp: mp.setattr(run, "_rates", _boom),
    "cost_metric": lambda run, mp: mp.setattr(run, "_add_cost_metric", _boom),
    "ledger": lambda run, mp: mp.setattr(ledger, "untrack_stretch", _boom),
    "progress_line": lambda run, mp: setattr(run, "_progress", _Broken()),
    "summary": lambda run, mp: mp.setattr(run, "_make_summary", _boom),
}


@pytest.mark.parametrize("part", sorted(_END_PARTS))
def test_one_broken_part_of_the_end_leaves_the_run_its_figures(
        part: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    errors_before = internal_error_count()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock) as cap, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mlcost.training_run("t", tags=EXP, window_steps=4, budget_usd=1e6) as run:
            _END_PARTS[part](run, monkeypatch)
            for _ in range(10):
                clock.advance(1.0)
                run.step(tokens=7)
        assert trace.get_current_span() is trace.INVALID_SPAN  # its context still detached
    assert internal_error_count() > errors_before
    span = cap.span(c.KIND_TRAINING_RUN)
    assert span.end_time is not None
    a = span.attributes or {}
    assert a[c.STEPS] == 10 and a[c.TOKENS] == 70
    assert a[c.COST_USD] == pytest.approx(10 * 3.6 / 3600)
    if part != "summary":
        assert run.summary.cost_usd == pytest.approx(a[c.COST_USD])


def test_a_stepless_tail_gets_its_own_window_so_windows_add_up() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock) as cap:
        with mlcost.training_run("t", tags=EXP, window_steps=2) as run:
            for _ in range(4):
                clock.advance(1.0)
                run.step()
            clock.advance(5.0)  # evaluation after the last step
    windows = cap.spans(c.KIND_TRAINING_WINDOW)
    assert [(w.attributes or {})[c.STEPS] for w in windows] == [2, 2, 0]
    run_cost = (cap.span(c.KIND_TRAINING_RUN).attributes or {})[c.COST_USD]
    assert math.fsum((w.attributes or {})[c.COST_USD] for w in windows) == \
        pytest.approx(run_cost)


def test_the_cost_counter_grows_while_a_run_is_still_going(cap: Capture) -> None:
    with mlcost.training_run("t", tags=EXP) as run:
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            run.step()
        live = sum(p.value for p in cap.metric_points(c.METRIC_COST))
        assert live > 0
