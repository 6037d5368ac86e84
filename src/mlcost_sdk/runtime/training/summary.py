"""What a run reports at its end: its span's final attributes (counts, cost, budget,
throughput over the run, hardware statistics) and the RunSummary built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ... import conventions as c
from ...guard import capture_internal_exceptions
from ..hardware import Hardware
from .budget import Budget
from .windows import Counts, flops_between, rates

if TYPE_CHECKING:
    from ...sampling.stats import IntervalStats


@dataclass(frozen=True)
class RunSummary:
    """What a run did and cost. ``attributes`` is exactly what its span carries."""

    name: str
    run_id: str
    cost_usd: float | None
    duration_s: float
    steps: int
    tokens: int
    samples: int
    flops_total: float | None
    flops_source: str
    achieved_flops_per_s: float | None
    peak_flops_per_s: float | None
    mfu: float | None
    tokens_per_s: float | None
    samples_per_s: float | None
    steps_per_s: float | None
    utilization_mean: float | None
    utilization_source: str
    energy_joules: float | None
    hw_kind: str
    hw_count: float
    hw_model: str | None
    attributes: dict[str, Any] = field(repr=False)

    def __str__(self) -> str:
        from ...guard import dropped_spans
        from ..console_summary import render_summary

        text: str = render_summary(self.attributes, title=f"mlcost: training run {self.name!r}",
                                   dropped_spans=dropped_spans())
        return text


def final_attributes(extra: dict[str, Any], t0: float, end: Counts, *, warm: Counts | None,
                     flops_source: str, usd_per_second: float | None, budget: Budget | None,
                     formula: float | None, peak: float | None,
                     stats: IntervalStats | None) -> dict[str, Any]:
    """The run's figures: counts and cost first, plain arithmetic that cannot fail; the
    measured extras (FLOPs, rates, hardware statistics) each guarded after them."""
    duration = end.t - t0
    attrs: dict[str, Any] = {
        **extra, c.DURATION_S: duration, c.STEPS: end.steps,
        c.TOKENS: end.tokens, c.SAMPLES: end.samples, c.FLOPS_SOURCE: flops_source,
    }
    if usd_per_second is not None:
        attrs[c.COST_USD] = usd_per_second * duration
    if budget is not None:
        attrs.update(budget.attributes())
    with capture_internal_exceptions("training_run.end.rates"):
        attrs.update(throughput_attributes(t0, warm, end, formula=formula, peak=peak))
    if stats is not None:
        with capture_internal_exceptions("training_run.end.stats"):
            attrs.update(stats.attributes())
    return attrs


def throughput_attributes(t0: float, warm: Counts | None, end: Counts, *,
                          formula: float | None, peak: float | None) -> dict[str, Any]:
    """Total FLOPs and the rates over the run; ``formula`` as in ``windows.flops_between``."""
    attrs: dict[str, Any] = {}
    total_flops = flops_between(Counts(t0, 0, 0, 0, 0.0), end, formula)
    if total_flops:
        attrs[c.FLOPS_TOTAL] = total_flops
    # Rates exclude warm-up; a run no longer than its warm-up is measured whole.
    warm = warm if warm is not None and end.steps > warm.steps else None
    start = warm or Counts(t0, 0, 0, 0, 0.0)
    attrs[c.WARMUP_STEPS] = start.steps
    attrs.update(rates(start, end, flops_between(start, end, formula), peak))
    if not total_flops:
        attrs.pop(c.FLOPS_ACHIEVED_PER_S, None)
        attrs.pop(c.MFU, None)
        attrs.pop(c.MFU_SUSPECT, None)
    return attrs


def make_summary(name: str, run_id: str, end: Counts, flops_source: str, hw: Hardware,
                 full: dict[str, Any], stats: IntervalStats | None) -> RunSummary:
    """The ended run's summary; ``full``: its span's attributes, static ones included."""
    return RunSummary(
        name=name, run_id=run_id, cost_usd=full.get(c.COST_USD),
        duration_s=full[c.DURATION_S], steps=end.steps, tokens=end.tokens,
        samples=end.samples, flops_total=full.get(c.FLOPS_TOTAL),
        flops_source=flops_source,
        achieved_flops_per_s=full.get(c.FLOPS_ACHIEVED_PER_S),
        peak_flops_per_s=hw.peak_flops_per_s, mfu=full.get(c.MFU),
        tokens_per_s=full.get(c.TOKENS_PER_S), samples_per_s=full.get(c.SAMPLES_PER_S),
        steps_per_s=full.get(c.STEPS_PER_S),
        utilization_mean=stats.utilization_mean if stats is not None else None,
        utilization_source=stats.utilization_source if stats is not None else "none",
        energy_joules=stats.energy_joules if stats is not None else None,
        hw_kind=hw.kind, hw_count=hw.count, hw_model=hw.model,
        attributes=full)


def counts_only_summary(name: str, run_id: str, end: Counts, flops_source: str) -> RunSummary:
    """A run not ended (or with telemetry disabled): only the counts, every figure None."""
    return RunSummary(
        name=name, run_id=run_id, cost_usd=None, duration_s=0.0,
        steps=end.steps, tokens=end.tokens, samples=end.samples, flops_total=None,
        flops_source=flops_source, achieved_flops_per_s=None, peak_flops_per_s=None,
        mfu=None, tokens_per_s=None, samples_per_s=None, steps_per_s=None,
        utilization_mean=None, utilization_source="none", energy_joules=None,
        hw_kind="none", hw_count=0.0, hw_model=None,
        attributes={c.STEPS: end.steps, c.TOKENS: end.tokens, c.SAMPLES: end.samples})
