"""A run's budget: the check against spend and projected cost, and the projection itself."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ... import conventions as c
from ...guard import capture_internal_exceptions
from .windows import Counts


class BudgetWarning(UserWarning):
    """A run's spend or projected cost crossed its budget (on_budget='warn')."""


@dataclass(frozen=True)
class BudgetStatus:
    budget_usd: float
    spent_usd: float
    projected_usd: float | None
    exceeded: bool


BudgetAction = Literal["warn", "raise"] | Callable[[BudgetStatus], None]


def project(warm: Counts | None, now: Counts, *, total_steps: int | None,
            total_tokens: int | None, usd_per_second: float | None,
            spent: float) -> float | None:
    """Final cost from live throughput: spent + remaining work / post-warm-up rate."""
    if warm is None or now.t <= warm.t or usd_per_second is None:
        return None
    dt = now.t - warm.t
    if total_steps is not None and now.steps > warm.steps:
        remaining_s = (total_steps - now.steps) / ((now.steps - warm.steps) / dt)
    elif total_tokens is not None and now.tokens > warm.tokens:
        remaining_s = (total_tokens - now.tokens) / ((now.tokens - warm.tokens) / dt)
    else:
        return None
    return spent + max(0.0, remaining_s) * usd_per_second


class Budget:
    """One run's budget: fires once, when spend or the projection first crosses it."""

    __slots__ = ("usd", "on_budget", "fired", "projected")

    def __init__(self, usd: float, on_budget: BudgetAction) -> None:
        self.usd = usd
        self.on_budget = on_budget
        self.fired = False
        self.projected: float | None = None

    def check(self, run_name: str, spent: float, projected: float | None) -> BudgetStatus | None:
        """The status to raise (on_budget='raise'), else None; 'warn' and a callback act here.
        Called as step() -> slow path -> run._check_budget() -> here: the warning points at
        the user's ``run.step()``."""
        self.projected = projected
        over = spent > self.usd or (projected is not None and projected > self.usd)
        if not over or self.fired:
            return None
        self.fired = True
        status = BudgetStatus(self.usd, spent, projected, True)
        if self.on_budget == "raise":
            return status
        # A raising callback (or warnings turned into errors) must neither cost the run its
        # final figures nor skip the slow path's rescheduling.
        with capture_internal_exceptions("training_run.on_budget"):
            if self.on_budget == "warn":
                proj = f", projected ${projected:,.4f}" if projected is not None else ""
                warnings.warn(f"mlcost: run {run_name!r} crossed its budget "
                              f"${self.usd:,.4f}: spent ${spent:,.4f}{proj}",
                              BudgetWarning, stacklevel=5)
            elif callable(self.on_budget):
                self.on_budget(status)
        return None

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {c.BUDGET_USD: self.usd, c.BUDGET_EXCEEDED: self.fired}
        if self.projected is not None:
            attrs[c.BUDGET_PROJECTED_USD] = self.projected
        return attrs
