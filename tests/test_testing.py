"""mlcost_sdk.testing: what users' and our own tests rely on to drive mlcost without private
names: capture/isolated restore the configuration from before, reset() is a fresh process,
the process sampler can be replaced and driven tick by tick."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.runtime import clock as runtime_clock
from mlcost_sdk.runtime import config
from mlcost_sdk.sampling import Sampler, get_sampler
from mlcost_sdk.testing import (
    ManualClock,
    capture,
    isolated,
    reset,
    shutdown_meter,
    tick_sampler,
    use_sampler,
)
from tests.conftest import FULL_TAGS


def test_capture_gives_back_the_configuration_from_before() -> None:
    outer = InMemorySpanExporter()
    with isolated():
        mlcost.configure(tags=FULL_TAGS, price=3.6, exporters=[outer])
        before = config.snapshot()
        assert config.exports_own_spans()
        with capture(tags=FULL_TAGS, price=1.0) as cap:
            with mlcost.inference("inside"):
                pass
        assert config.snapshot() == before and config.exports_own_spans()
        with mlcost.inference("outside"):
            pass
        assert mlcost.flush(timeout_s=60)
        shutdown_meter()
        assert mlcost.flush(timeout_s=60)
    assert [s.name for s in cap.spans(c.KIND_INFERENCE)] == ["inside"]
    assert [s.name for s in outer.get_finished_spans()
            if (s.attributes or {}).get(c.KIND) == c.KIND_INFERENCE] == ["outside"]


def test_reset_closes_the_serving_state_then_forgets_the_settings() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock) as cap:
        with mlcost.inference("a"):
            clock.advance(1.0)
        clock.advance(2.0)
        reset()
        state = config.snapshot()
        assert state.settings is None and state.tracer_provider is None
        assert config.tracer_provider() is None
        (idle,) = cap.spans(c.KIND_IDLE)  # the final idle span, before the providers went
        assert idle.attributes is not None
        assert idle.attributes[c.COST_USD] == pytest.approx(2.0)


def test_shutdown_meter_returns_the_final_summary_once() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock):
        for _ in range(2):
            with mlcost.inference("a"):
                clock.advance(0.5)
        clock.advance(3.0)
        final = shutdown_meter()
        assert final is not None and final.requests == 2
        assert final.request_cost_usd == pytest.approx(1.0)
        assert final.idle_cost_usd == pytest.approx(3.0)
        assert shutdown_meter() is None  # nothing live any more


def test_manual_clock_is_the_runtime_one_and_never_goes_back() -> None:
    assert ManualClock is runtime_clock.ManualClock
    clock = ManualClock(start_s=10.0)
    clock.advance(1.5)
    assert clock.monotonic() == 11.5 and clock.time_ns() == 11_500_000_000
    with pytest.raises(ValueError):
        clock.advance(-1.0)


def test_use_sampler_swaps_the_process_sampler_and_stops_it_after() -> None:
    before = get_sampler()
    mine = Sampler()
    with use_sampler(mine) as s:
        assert s is mine and get_sampler() is mine
        mine.acquire()  # a user that never released it
        assert mine.running
    assert get_sampler() is before and not mine.running


def test_tick_sampler_reads_in_this_thread_when_no_thread_samples() -> None:
    clock = ManualClock()
    with use_sampler(Sampler(clock=clock.monotonic)) as s:
        tick_sampler(3)
        assert s.snapshot().totals.ticks == 3
        assert not s.running


def test_tick_sampler_waits_for_the_sampling_thread_when_it_runs() -> None:
    with use_sampler(Sampler(interval=0.01)) as s:
        s.acquire()
        start = s.snapshot().totals.ticks
        tick_sampler(2)  # the thread's readings, however slow it is scheduled
        assert s.snapshot().totals.ticks >= start + 2


def test_the_example_in_docs_testing_runs() -> None:
    text = (Path(__file__).parent.parent / "docs" / "testing.md").read_text()
    (example,) = [block for block in re.findall(r"```python\n(.*?)```", text, re.S)
                  if "mlcost_sdk.testing" in block]
    names: dict[str, object] = {}
    exec(compile(example, "docs/testing.md", "exec"), names)  # noqa: S102 - our own doc
    tests = [f for name, f in names.items() if name.startswith("test_") and callable(f)]
    assert tests
    for test in tests:
        test()
