"""Three scenarios for any estimate: optimistic, expected and pessimistic; plan on the last.

The caller names the uncertain inputs (MFU, utilization, volume...) and a range for each. Each
input is tried at both ends with the others held at their expected values, to learn which end
raises the ``metric`` (a cost field of the result); the pessimistic scenario then takes every
input at its dearer end and the optimistic one at its cheaper end. For a metric that moves
monotonically with each input, those are the dearest and cheapest corners of the ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .. import _validate as v
from ..errors import InvalidParameterError


class Estimate(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Estimate)


@dataclass(frozen=True)
class Scenarios(Generic[R]):
    metric: str
    varied: Mapping[str, tuple[float, float]]  # input -> (cheaper end, dearer end)
    optimistic: R
    expected: R
    pessimistic: R

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric,
                "varied": {k: {"optimistic": lo, "pessimistic": hi}
                           for k, (lo, hi) in self.varied.items()},
                "optimistic": self.optimistic.as_dict(),
                "expected": self.expected.as_dict(),
                "pessimistic": self.pessimistic.as_dict()}


def around(value: float, spread: float, *, maximum: float | None = None) -> tuple[float, float]:
    """(value x (1 - spread), value x (1 + spread)), the top capped at ``maximum``."""
    share = v.fraction("spread", spread, zero=True, one=False)
    high = value * (1 + share)
    return value * (1 - share), high if maximum is None else min(high, maximum)


def _metric(result: Estimate, metric: str) -> float:
    value = result.as_dict().get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError("metric", metric, "a numeric field of the estimate's result")
    return float(value)


def three_scenarios(estimate: Callable[..., R], inputs: Mapping[str, Any],
                    vary: Mapping[str, tuple[float, float]], metric: str) -> Scenarios[R]:
    """Run ``estimate(**inputs)`` at the expected inputs and at both corners of ``vary``."""
    expected = estimate(**inputs)
    base = _metric(expected, metric)
    cheap: dict[str, float] = {}
    dear: dict[str, float] = {}
    for name, (low, high) in vary.items():
        if name not in inputs or not low <= inputs[name] <= high:
            raise InvalidParameterError(f"vary[{name!r}]", (low, high),
                                        "a (low, high) range around an input's expected value")
        at_low = _metric(estimate(**{**inputs, name: low}), metric)
        at_high = _metric(estimate(**{**inputs, name: high}), metric)
        cheap[name], dear[name] = (low, high) if at_low <= at_high else (high, low)
    optimistic = estimate(**{**inputs, **cheap})
    pessimistic = estimate(**{**inputs, **dear})
    slack = 1e-9 * abs(base)  # rounding, not a real reversal
    if _metric(optimistic, metric) > base + slack or _metric(pessimistic, metric) < base - slack:
        raise InvalidParameterError("vary", dict(vary),
                                    f"inputs that {metric} moves monotonically with")
    return Scenarios(metric=metric, varied={k: (cheap[k], dear[k]) for k in vary},
                     optimistic=optimistic, expected=expected, pessimistic=pessimistic)
