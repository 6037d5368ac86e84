"""The run's slow path arithmetic: counter snapshots, when the slow path runs next, when a
window is due, rates between two snapshots, and FLOPs between them (counted, or the formula)."""

from __future__ import annotations

from typing import Any

from ... import conventions as c

SLOW_PATH_EVERY_S = 0.2
NEVER = 1 << 62  # a step count the hot path never reaches: no slow path


class Counts:
    """Counter values at one instant (warm-up end, window start)."""

    __slots__ = ("t", "steps", "tokens", "samples", "flops")

    def __init__(self, t: float, steps: int, tokens: int, samples: int, flops: float) -> None:
        self.t, self.steps, self.tokens, self.samples, self.flops = t, steps, tokens, samples, flops


def next_slow_at(last: Counts, now: Counts, *, warm: Counts | None, warmup: int,
                 win: Counts, window_steps: int | None) -> int:
    """The step count at which the slow path runs next: about SLOW_PATH_EVERY_S from now at
    the step rate since its last run, never past the warm-up end or a step-counted window."""
    dt, dsteps = now.t - last.t, now.steps - last.steps
    rate = dsteps / dt if dt > 0 else 0.0
    stride = max(1, int(rate * SLOW_PATH_EVERY_S)) if rate > 0 else 1
    nxt = now.steps + stride
    if warm is None:
        nxt = min(nxt, warmup)
    if window_steps is not None:
        nxt = min(nxt, win.steps + window_steps)
    return max(nxt, now.steps + 1)


def window_due(win: Counts, now: float, steps: int, *, window_steps: int | None,
               window_seconds: float | None) -> bool:
    if window_steps is not None and steps - win.steps >= window_steps:
        return True
    return window_seconds is not None and now - win.t >= window_seconds


def flops_between(start: Counts, end: Counts, formula: float | None) -> float:
    """``formula``: FLOPs per token when nothing was counted (None: the counted FLOPs)."""
    if formula is not None:
        return formula * (end.tokens - start.tokens)
    return end.flops - start.flops


def rates(start: Counts, end: Counts, flops: float, peak: float | None) -> dict[str, Any]:
    """Steps, tokens, samples and FLOP/s between two snapshots, MFU against ``peak``."""
    attrs: dict[str, Any] = {}
    dt = end.t - start.t
    if dt <= 0:
        return attrs
    attrs[c.STEPS_PER_S] = (end.steps - start.steps) / dt
    if end.tokens > start.tokens:
        attrs[c.TOKENS_PER_S] = (end.tokens - start.tokens) / dt
    if end.samples > start.samples:
        attrs[c.SAMPLES_PER_S] = (end.samples - start.samples) / dt
    if flops:
        achieved = flops / dt
        attrs[c.FLOPS_ACHIEVED_PER_S] = achieved
        if peak:
            attrs[c.MFU] = achieved / peak
            attrs[c.MFU_SUSPECT] = achieved > peak
    return attrs


def window_attributes(base: dict[str, Any], index: int, win: Counts, end: Counts,
                      usd_per_second: float | None) -> dict[str, Any]:
    """A closing window's own figures over ``base`` (the run's static and extra attributes);
    ``usd_per_second`` None: unpriced, no cost."""
    attrs: dict[str, Any] = {
        **base, c.KIND: c.KIND_TRAINING_WINDOW, c.WINDOW_INDEX: index,
        c.DURATION_S: end.t - win.t, c.STEPS: end.steps - win.steps,
        c.TOKENS: end.tokens - win.tokens, c.SAMPLES: end.samples - win.samples,
    }
    if usd_per_second is not None:
        attrs[c.COST_USD] = usd_per_second * (end.t - win.t)
    return attrs
