from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.testing import Capture, capture, shutdown_meter
from tests.conftest import FULL_TAGS


def _costs(cap: Capture, kind: str) -> list[float]:
    return [s.attributes[c.COST_USD] for s in cap.spans(kind)]


def test_two_concurrent_requests_each_pay_half() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock) as cap:  # $1 per second
        # start()/end(): overlapping requests that do not nest (no current-span juggling)
        a = mlcost.inference("a").start()
        clock.advance(1.0)  # a alone: $1
        b = mlcost.inference("b").start()
        clock.advance(2.0)  # both: $1 each
        a.end()
        clock.advance(1.0)  # b alone: $1
        b.end()
        clock.advance(3.0)  # idle: $3
        final = shutdown_meter()
    costs = {s.name: s.attributes[c.COST_USD] for s in cap.spans(c.KIND_INFERENCE)}
    assert costs == {"a": pytest.approx(2.0), "b": pytest.approx(2.0)}
    assert math.fsum(_costs(cap, c.KIND_IDLE)) == pytest.approx(3.0)
    assert final is not None and final.realized_cost_per_request_usd == pytest.approx(3.5)
    assert final.idle_share == pytest.approx(3 / 7)


events = st.lists(st.tuples(st.sampled_from(["start", "end", "wait"]),
                            st.floats(min_value=0.0, max_value=10.0)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(events, st.floats(min_value=0.01, max_value=100.0))
def test_request_costs_plus_idle_equal_price_times_elapsed(evts: list[tuple[str, float]],
                                                          usd_per_hour: float) -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=usd_per_hour, clock=clock) as cap:
        open_calls: list[Any] = []
        for what, dt in evts:
            if what == "start":
                open_calls.append(mlcost.inference("r").start())
            elif what == "end" and open_calls:
                open_calls.pop(0).end()
            clock.advance(dt)
        for call in open_calls:
            call.end()
        final = shutdown_meter()
    if final is None:  # no request ever started the process meter
        assert cap.spans() == []
        return
    total = math.fsum(_costs(cap, c.KIND_INFERENCE) + _costs(cap, c.KIND_IDLE))
    expected = usd_per_hour / 3600 * final.elapsed_s
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_thousand_calls_over_threads_and_asyncio() -> None:
    with capture(tags=FULL_TAGS, price=7.2, idle_flush_s=0.05) as cap:
        @mlcost.track_inference(model="bert")  # type: ignore[untyped-decorator, unused-ignore]
        def predict(x: int) -> int:
            return x * 2

        @mlcost.track_inference(model="bert")  # type: ignore[untyped-decorator, unused-ignore]
        async def apredict(x: int) -> int:
            await asyncio.sleep(0.001)
            return x * 2

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(predict, range(500))) == 2 * sum(range(500))

        async def many() -> list[int]:
            results: list[int] = await asyncio.gather(*(apredict(i) for i in range(500)))
            return results

        assert sum(asyncio.run(many())) == 2 * sum(range(500))
        final = shutdown_meter()
    spans = cap.spans(c.KIND_INFERENCE)
    assert len(spans) == 1000
    assert len({s.context.span_id for s in spans}) == 1000
    total = math.fsum(_costs(cap, c.KIND_INFERENCE) + _costs(cap, c.KIND_IDLE))
    assert final is not None and final.requests == 1000
    assert total == pytest.approx(7.2 / 3600 * final.elapsed_s, rel=1e-9)
    assert all(s.attributes[c.MODEL] == "bert" for s in spans)


def test_generators_are_costed_until_their_last_item() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock) as cap:
        @mlcost.track_inference  # type: ignore[untyped-decorator, unused-ignore]
        def stream() -> Iterator[int]:
            for i in range(3):
                clock.advance(1.0)
                yield i

        @mlcost.track_inference  # type: ignore[untyped-decorator, unused-ignore]
        async def astream() -> AsyncIterator[int]:
            for i in range(2):
                clock.advance(1.0)
                yield i

        assert list(stream()) == [0, 1, 2]

        async def consume() -> list[int]:
            return [i async for i in astream()]

        assert asyncio.run(consume()) == [0, 1]
    costs = sorted(_costs(cap, c.KIND_INFERENCE))
    assert costs == [pytest.approx(2.0), pytest.approx(3.0)]


def test_user_exceptions_pass_through_untouched(cap: Capture) -> None:
    err = KeyError("missing")
    with pytest.raises(KeyError) as info, mlcost.inference("p"):
        raise err
    assert info.value is err
    span = cap.span(c.KIND_INFERENCE)
    assert span.status.status_code.name == "ERROR"


def test_async_context_manager_and_nesting_under_current_span(cap: Capture) -> None:
    tracer = cap.tracer_provider.get_tracer("app")

    async def handler() -> None:
        with tracer.start_as_current_span("http request"):
            async with mlcost.inference("predict", model="m") as call:
                call.add(tokens=7)

    asyncio.run(handler())
    span = cap.span(c.KIND_INFERENCE)
    parent = next(s for s in cap.spans() if s.name == "http request")
    assert span.parent.span_id == parent.context.span_id
    assert span.attributes[c.TOKENS] == 7


def test_request_count_and_cost_metrics_match_the_spans(cap: Capture) -> None:
    for _ in range(3):
        with mlcost.inference("p"):
            pass
    shutdown_meter()
    [count] = cap.metric_points(c.METRIC_REQUESTS)
    assert count.value == 3 and count.attributes[c.KIND] == c.KIND_INFERENCE
    cost = {p.attributes[c.KIND]: p.value for p in cap.metric_points(c.METRIC_COST)}
    assert cost[c.KIND_INFERENCE] == pytest.approx(math.fsum(_costs(cap, c.KIND_INFERENCE)),
                                                   rel=1e-12)
    assert cost[c.KIND_IDLE] == pytest.approx(math.fsum(_costs(cap, c.KIND_IDLE)), rel=1e-12)


def test_a_collection_at_any_moment_sees_the_cost_up_to_that_moment() -> None:
    """No idle flush in between: the idle cost is read from the allocator when collected."""
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock, idle_flush_s=3600) as cap:
        with mlcost.inference("p"):  # $1 per second
            clock.advance(2.0)
        clock.advance(5.0)
        cost = {p.attributes[c.KIND]: p.value for p in cap.metric_points(c.METRIC_COST)}
        assert cost == {c.KIND_INFERENCE: pytest.approx(2.0), c.KIND_IDLE: pytest.approx(5.0)}
        assert cap.spans(c.KIND_IDLE) == []  # nothing flushed: the metric did not wait for it
        clock.advance(1.0)
        cost = {p.attributes[c.KIND]: p.value for p in cap.metric_points(c.METRIC_COST)}
        assert cost[c.KIND_IDLE] == pytest.approx(6.0)
        with mlcost.training_run("t", tags={"experiment_id": "e"}):
            clock.advance(4.0)  # no step: the slow path never runs
            cost = {p.attributes[c.KIND]: p.value for p in cap.metric_points(c.METRIC_COST)}
            assert cost[c.KIND_TRAINING_RUN] == pytest.approx(4.0)
            clock.advance(1.0)
        run_cost = cap.span(c.KIND_TRAINING_RUN).attributes[c.COST_USD]
        cost = {p.attributes[c.KIND]: p.value for p in cap.metric_points(c.METRIC_COST)}
        assert cost[c.KIND_TRAINING_RUN] == pytest.approx(run_cost, rel=1e-12)


def test_idle_spans_are_emitted_periodically_by_a_background_thread() -> None:
    with capture(tags=FULL_TAGS, price=3.6, idle_flush_s=0.05) as cap:
        with mlcost.inference("p"):
            pass
        deadline = time.monotonic() + 60  # however late the thread is scheduled
        while len(cap.spans(c.KIND_IDLE)) < 2:
            assert time.monotonic() < deadline, "no periodic idle spans"
            time.sleep(0.01)


def test_inference_flops_from_the_2nd_formula_and_mfu_against_a_peak() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock, peak_flops_per_s=1e12) as cap:
        with mlcost.inference("generate", params=1e9) as call:
            clock.advance(0.5)
            call.add(tokens=100)
        with mlcost.inference("embed") as call:
            clock.advance(1.0)
            call.add(flops=4e11)
        with mlcost.inference("plain"):
            clock.advance(1.0)
    spans = {s.name: s.attributes or {} for s in cap.spans(c.KIND_INFERENCE)}
    gen = spans["generate"]
    assert gen[c.FLOPS_SOURCE] == "formula_2nd"
    assert gen[c.FLOPS_TOTAL] == pytest.approx(2 * 1e9 * 100)
    assert gen[c.FLOPS_ACHIEVED_PER_S] == pytest.approx(2e11 / 0.5)
    assert gen[c.MFU] == pytest.approx(0.4) and gen[c.FLOPS_PEAK_SOURCE] == "user"
    assert spans["embed"][c.FLOPS_SOURCE] == "user"
    assert spans["embed"][c.MFU] == pytest.approx(0.4)
    assert c.FLOPS_TOTAL not in spans["plain"] and c.MFU not in spans["plain"]


def test_bad_params_name_the_field() -> None:
    with capture(tags=FULL_TAGS), pytest.raises(mlcost.InvalidParameterError, match="params"):
        mlcost.inference("p", params=-1)
