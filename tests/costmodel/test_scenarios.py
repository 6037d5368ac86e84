"""Three scenarios for any estimate, ordered: pessimistic costs most."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcost_sdk.costmodel import (
    around,
    estimate_inference,
    estimate_llm,
    estimate_training,
    three_scenarios,
)
from mlcost_sdk.errors import InvalidParameterError

TRAINING: dict[str, Any] = dict(params=7e9, tokens=1e12, gpus=8, mfu=0.4, peak_flops_per_s=312e12,
                gpu_usd_per_hour=3.0, comm_overhead=0.2)


def test_training_pessimistic_is_low_mfu_and_high_overhead() -> None:
    s = three_scenarios(estimate_training, TRAINING,
                        {"mfu": around(0.4, 0.25), "comm_overhead": around(0.2, 0.5)}, "cost_usd")
    assert s.pessimistic.mfu == pytest.approx(0.3)
    assert s.pessimistic.comm_overhead == pytest.approx(0.3)
    assert s.optimistic.mfu == pytest.approx(0.5)
    assert s.optimistic.cost_usd < s.expected.cost_usd < s.pessimistic.cost_usd
    assert s.expected.cost_usd == pytest.approx(280_449 * 1.2, abs=2)


def test_inference_pessimistic_is_low_volume() -> None:
    inputs = dict(instance_usd_per_hour=3.06, instances=2, rps_per_instance=50.0, idle_buffer=0.3,
                  overhead=0.15, monthly_requests=1e7)
    s = three_scenarios(estimate_inference, inputs, {"monthly_requests": (5e6, 2e7)},
                        "realized_cost_per_request_usd")
    assert s.pessimistic.monthly_requests == 5e6
    assert s.optimistic.monthly_requests == 2e7
    data = s.as_dict()
    assert data["varied"] == {"monthly_requests": {"optimistic": 2e7, "pessimistic": 5e6}}
    assert data["expected"]["realized_cost_per_request_usd"] == pytest.approx(0.000514, abs=5e-7)


def test_llm_scenarios_vary_volume_and_tokens() -> None:
    inputs = dict(requests_per_day=500, input_tokens=2000, output_tokens=500,
                  input_usd_per_1k=0.03, output_usd_per_1k=0.06)
    s = three_scenarios(estimate_llm, inputs, {"requests_per_day": around(500, 0.5),
                                               "output_tokens": around(500, 0.2)},
                        "monthly_cost_usd")
    assert s.expected.monthly_cost_usd == pytest.approx(1_350)
    assert s.pessimistic.requests_per_day == 750 and s.pessimistic.output_tokens == 600


def test_around_caps_and_validates() -> None:
    assert around(0.9, 0.25, maximum=1.0) == pytest.approx((0.675, 1.0))
    with pytest.raises(InvalidParameterError, match="spread"):
        around(1.0, 1.5)


def test_bad_variations_are_named() -> None:
    with pytest.raises(InvalidParameterError, match="vary"):
        three_scenarios(estimate_training, TRAINING, {"gpus_typo": (1, 2)}, "cost_usd")
    with pytest.raises(InvalidParameterError, match="vary"):
        three_scenarios(estimate_training, TRAINING, {"mfu": (0.5, 0.6)}, "cost_usd")
    with pytest.raises(InvalidParameterError, match="metric"):
        three_scenarios(estimate_training, TRAINING, {"mfu": (0.3, 0.5)}, "peak_source")


@dataclass(frozen=True)
class Toy:
    cost: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def test_a_metric_that_is_not_monotone_is_refused() -> None:
    def valley(x: float) -> Toy:
        return Toy((x - 1) ** 2)  # lowest inside the range, higher at both ends

    with pytest.raises(InvalidParameterError, match="monotonic"):
        three_scenarios(valley, {"x": 1.0}, {"x": (0.0, 2.0)}, "cost")


@given(weights=st.lists(st.floats(-10, 10).filter(lambda w: abs(w) > 1e-3), min_size=1,
                        max_size=4),
       spread=st.floats(0.01, 0.9))
def test_scenarios_are_ordered_for_any_monotone_estimate(weights: list[float],
                                                         spread: float) -> None:
    # cost rises with some inputs and falls with others; the helper must find which is which
    names = [f"x{i}" for i in range(len(weights))]

    def estimate(**xs: float) -> Toy:
        return Toy(100 + sum(w * xs[n] for w, n in zip(weights, names, strict=True)))

    inputs = dict.fromkeys(names, 1.0)
    s = three_scenarios(estimate, inputs, {n: around(1.0, spread) for n in names}, "cost")
    assert s.optimistic.cost <= s.expected.cost <= s.pessimistic.cost
    assert s.pessimistic.cost - s.expected.cost == pytest.approx(
        sum(abs(w) * spread for w in weights), rel=1e-9)
