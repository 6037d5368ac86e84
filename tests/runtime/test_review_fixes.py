"""Regression tests for bugs found in a review of the runtime (each names what used to break)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.catalog import register_instance, reset_catalog
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.runtime import config, inference
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.sampling import get_sampler
from mlcost_sdk.testing import Capture, capture, shutdown_meter
from tests.conftest import FULL_TAGS

EXP = {"experiment_id": "exp-1"}


def _gone_instance() -> mlcost.Price:
    """A price whose instance left the catalog after the Price was made (a typo is refused
    at once now, so this is how pricing can still fail at run start)."""
    register_instance("gone-soon", provider="onprem", region="lab", accelerator="h100-sxm",
                      accelerator_count=8, usd_per_hour=40.0, source="test", date="2026-01-01")
    price = mlcost.Price(instance="gone-soon")
    reset_catalog()
    return price


UNKNOWN = _gone_instance()


def test_an_unpriceable_meter_does_not_leak_a_sampler_reference_per_request() -> None:
    refs = get_sampler()._refs
    with capture(tags=FULL_TAGS, price=UNKNOWN):
        for _ in range(3):
            with mlcost.inference("p"):
                pass
        assert get_sampler()._refs == refs
    assert get_sampler()._refs == refs


def test_an_unpriceable_training_run_does_not_leak_its_sampler_reference() -> None:
    refs = get_sampler()._refs
    with capture(tags=FULL_TAGS), mlcost.training_run("t", tags=EXP, price=UNKNOWN) as run:
        run.step()
    assert get_sampler()._refs == refs


def test_a_raising_budget_callback_at_the_end_keeps_the_run_figures() -> None:
    def on_budget(status: mlcost.BudgetStatus) -> None:
        raise RuntimeError("pager down")

    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock) as cap:
        with mlcost.training_run("t", tags=EXP, budget_usd=1.0, on_budget=on_budget) as run:
            run.step()  # inside the warm-up: the budget is first checked at the end
            clock.advance(3600.0)
    attrs = cap.span(c.KIND_TRAINING_RUN).attributes or {}
    assert attrs[c.COST_USD] == pytest.approx(3.6)
    assert attrs[c.BUDGET_EXCEEDED] is True
    assert run.summary.cost_usd == pytest.approx(3.6)


def test_llm_call_cost_is_readable_when_telemetry_is_disabled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def cost_of_a_call() -> tuple[float | None, int]:
        with capture(tags=FULL_TAGS) as cap:
            with mlcost.llm_call(provider="openai", model="gpt-4o") as call:
                call.set_usage(input_tokens=10, output_tokens=5)
            return call.cost_usd, len(cap.spans())

    enabled_cost, enabled_spans = cost_of_a_call()
    assert enabled_cost is not None and enabled_cost > 0 and enabled_spans == 1  # priceable
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert cost_of_a_call() == (None, 0)  # readable, and a no-op: nothing priced or emitted


def test_a_disabled_sdk_never_enforces_tags_on_llm_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    with capture(on_missing_tags="error"):
        assert mlcost.record_llm_call(model="gpt-4o", input_tokens=1, output_tokens=1) is None


def test_half_an_explicit_llm_price_is_one_typed_error(cap: Capture) -> None:
    with pytest.raises(InvalidParameterError, match="output_usd_per_1k"):
        mlcost.record_llm_call(model="m", input_tokens=1, output_tokens=1, input_usd_per_1k=1.0)
    assert cap.spans() == []


def test_list_valued_span_attributes_are_still_metered(cap: Capture) -> None:
    with mlcost.inference("p", attributes={"app.labels": ("a", "b")}):
        pass
    with mlcost.inference("p", attributes={"app.labels": ["a", "b"]}):
        pass
    spans = cap.spans(c.KIND_INFERENCE)
    assert len(spans) == 2
    assert all(tuple((s.attributes or {})["app.labels"]) == ("a", "b") for s in spans)


@pytest.mark.parametrize("name", ["sample_interval_s", "idle_flush_s", "peak_flops_per_s"])
def test_a_non_numeric_setting_is_one_typed_error_naming_it(name: str) -> None:
    with capture(), pytest.raises(InvalidParameterError, match=name):
        mlcost.configure(**{name: "fast"})


def test_a_non_numeric_price_is_one_typed_error() -> None:
    with pytest.raises(InvalidParameterError, match="usd_per_hour"):
        mlcost.Price(usd_per_hour="3.6")  # type: ignore[arg-type, unused-ignore]


def test_a_failed_configure_changes_nothing(cap: Capture) -> None:
    with pytest.raises(InvalidParameterError):
        mlcost.configure(on_missing_tags="error", exporters=["no-such-exporter"])
    assert config.settings().on_missing_tags == "warn"


def test_idle_spans_follow_a_reconfigure_while_serving() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock) as cap:
        with mlcost.inference("p"):
            clock.advance(1.0)
        mlcost.configure(tags={"team": "ranking"})
        clock.advance(10.0)
        inference.flush_idle()
    idle = cap.span(c.KIND_IDLE).attributes or {}
    assert idle[c.tag_attribute("team")] == "ranking"


def test_starting_a_call_twice_does_not_leave_a_phantom_request_in_flight() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock):
        call = mlcost.inference("p")
        call.start()
        call.start()
        clock.advance(1.0)
        call.end()
        clock.advance(10.0)
        final = shutdown_meter()
    assert final is not None and final.requests == 1
    assert final.idle_cost_usd == pytest.approx(10 * 3.6 / 3600)


def test_a_generator_handler_leaves_the_callers_context_as_it_found_it(cap: Capture) -> None:
    @mlcost.track_inference  # type: ignore[untyped-decorator, unused-ignore]
    def stream() -> Iterator[int]:
        yield 1
        yield 2

    tracer = cap.tracer_provider.get_tracer("app")
    items = stream()
    next(items)
    with tracer.start_as_current_span("outer"):
        list(items)
    assert trace.get_current_span() is trace.INVALID_SPAN
