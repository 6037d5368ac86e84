"""TrainingRun: the hot path ``step()``, start and end, the slow path that drives windows,
budget and progress, and the hooks integrations use."""

from __future__ import annotations

import contextvars
import os
import sys
import uuid
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from ... import _validate as v
from ... import conventions as c
from ...costmodel.training import training_flops_per_token
from ...errors import BudgetExceeded, InvalidParameterError
from ...guard import capture_internal_exceptions
from .. import _instruments, ledger
from .. import launch as launch_env
from .._sanity import count_or_zero
from ..config import settings, tracer
from ..hardware import Hardware, resolve
from ..price import Price
from ..progress import ProgressLine, Snapshot
from ..spans import record_exception
from ..tags import TRAINING_REQUIRED_TAGS, enforce_required, tag_attributes, validate_tags
from . import windows
from .budget import Budget, BudgetAction, BudgetStatus, project
from .summary import RunSummary, counts_only_summary, final_attributes, make_summary
from .windows import NEVER, SLOW_PATH_EVERY_S, Counts

if TYPE_CHECKING:
    from ...sampling.stats import IntervalStats

_current_run: contextvars.ContextVar[TrainingRun | None] = contextvars.ContextVar(
    "mlcost_current_run", default=None)
_GAUGE_EVERY_S = 1.0  # the MFU gauge's refresh, from the slow path
_MAX = sys.float_info.max  # a count above it is infinite
_open_runs: weakref.WeakSet[TrainingRun] = weakref.WeakSet()  # started, not ended


def open_runs() -> list[TrainingRun]:
    """Training runs this process started and has not ended (SIGTERM ends them)."""
    return [run for run in list(_open_runs) if run._pid == os.getpid()]


def current_run() -> TrainingRun | None:
    """The innermost active training run in this context (integrations use it)."""
    return _current_run.get()


class TrainingRun:
    """Meters one training run. Use as a context manager (sync or async).

    FLOPs, first found wins: ``step(flops=...)`` or ``flops_per_step`` (source ``user``), an
    integration's measurement (``flop_counter``), else the formula from ``params``: N is the
    model's NON-embedding parameter count, as the scaling-law papers count it (an embedding
    lookup does no matmul work), giving 6N per token (``formula_6nd``); with ``layers``,
    ``d_model`` and ``seq_len`` PaLM's attention term 12·layers·d_model·seq_len per token is
    added (``formula_6nd_attn``). The PyTorch integration supplies N from the module.
    """

    def __init__(
        self,
        name: str = "training_run",
        *,
        flops_per_step: float | None = None,
        params: float | None = None,
        layers: int | None = None,
        d_model: int | None = None,
        seq_len: int | None = None,
        tags: dict[str, str] | None = None,
        budget_usd: float | None = None,
        total_steps: int | None = None,
        total_tokens: int | None = None,
        on_budget: BudgetAction = "warn",
        window_steps: int | None = None,
        window_seconds: float | None = None,
        warmup_steps: int | None = None,
        dtype: str | None = None,
        peak_flops_per_s: float | None = None,
        price: Price | float | None = None,
        run_id: str | None = None,
        progress: bool | None = None,
    ) -> None:
        for pname, value in (("flops_per_step", flops_per_step), ("params", params),
                             ("budget_usd", budget_usd), ("window_seconds", window_seconds),
                             ("peak_flops_per_s", peak_flops_per_s)):
            if value is not None:
                v.positive(pname, value)
        for pname, value in (("total_steps", total_steps), ("total_tokens", total_tokens),
                             ("window_steps", window_steps)):
            if value is not None:
                v.count(pname, value)
        if warmup_steps is not None:
            v.count("warmup_steps", warmup_steps, minimum=0)
        if not (on_budget in ("warn", "raise") or callable(on_budget)):
            raise InvalidParameterError("on_budget", on_budget, "'warn', 'raise' or a callable")
        s = settings()
        self.name = name
        launch = launch_env.detect()  # torchrun / Slurm: rank, shared run id, rank's share
        self.run_id = run_id or launch_env.run_id(launch, name)
        self._settings = s
        self._tags = {**s.tags, **validate_tags(tags, "training_run(tags)")}
        self._flops_per_step = float(flops_per_step or 0.0)
        self._params = params
        self._formula: tuple[float, str] | None = None  # (FLOPs per token, its source name)
        if params is None and (layers, d_model, seq_len) != (None, None, None):
            raise InvalidParameterError("params", params, "given with layers/d_model/seq_len")
        if params is not None:
            self._formula = training_flops_per_token(params, layers=layers, d_model=d_model,
                                                     seq_len=seq_len)
        self._flops_source = "user" if flops_per_step else "none"  # a plug-in may set it
        self._budget = Budget(budget_usd, on_budget) if budget_usd is not None else None
        self._total_steps = total_steps
        self._total_tokens = total_tokens
        self._window_steps = window_steps
        self._window_seconds = window_seconds
        self._warmup = s.warmup_steps if warmup_steps is None else warmup_steps
        self._dtype = dtype
        self._peak_override = peak_flops_per_s
        self._price = price if (price is None or isinstance(price, Price)) \
            else Price(usd_per_hour=price)
        self._extra_attrs: dict[str, Any] = launch.attributes() if launch is not None else {}
        launch_env.limit_sampling(launch)
        self._window_listeners: list[Callable[[TrainingRun, dict[str, Any]], None]] = []
        self._end_listeners: list[Callable[[TrainingRun, dict[str, Any]], None]] = []
        self._detected_dtype: str | None = None
        self._ending_error: BaseException | None = None
        # hot-path state
        self._steps = 0
        self._tokens = 0
        self._samples = 0
        self._flops = 0.0
        self._slow_at = NEVER  # no slow path until the run starts
        self._active = False
        self._disabled = s.disabled
        self._summary: RunSummary | None = None
        self._progress_setting = s.progress if progress is None else bool(progress)
        self._progress: ProgressLine | None = None

    # ---- the hot path -----------------------------------------------------------------------
    def step(self, tokens: int = 0, samples: int = 0, flops: float | None = None) -> None:
        """Mark the end of one training step. Every argument is optional; a negative or
        non-finite count is dropped (counted, warned once), the step still counts."""
        try:  # ints: one "|" catches a negative either side; floats, str, None: TypeError
            sane = (tokens | samples) >= 0 and (flops is None or 0 <= flops <= _MAX)
        except TypeError:  # checked one by one below; never raise into the training loop
            sane = False
        if not sane:
            tokens = int(count_or_zero("run.step", "tokens", tokens))
            samples = int(count_or_zero("run.step", "samples", samples))
            if flops is not None:
                flops = count_or_zero("run.step", "flops", flops)
        self._steps += 1
        self._tokens += tokens
        self._samples += samples
        self._flops += self._flops_per_step if flops is None else flops
        if self._steps >= self._slow_at:
            self._slow_path()

    # ---- for integrations -------------------------------------------------------------------
    def supply_model_size(self, params: float, *, layers: int | None = None,
                          d_model: int | None = None, seq_len: int | None = None) -> None:
        """An integration that can read the model gives its non-embedding parameter count
        (and shape) for the formula; what the caller passed to training_run() wins."""
        if self._params is None:
            self._params = params
            self._formula = training_flops_per_token(params, layers=layers, d_model=d_model,
                                                     seq_len=seq_len)

    def set_flops_source(self, source: str) -> None:
        """A FLOPs plug-in (e.g. the PyTorch flop counter) names itself as the source."""
        self._flops_source = source

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Extra attributes on the run span and its windows (rank, world size...)."""
        self._extra_attrs.update(attributes)

    def add_window_listener(self, fn: Callable[[TrainingRun, dict[str, Any]], None]) -> None:
        """``fn(run, attributes)`` runs as each window closes, before its span is emitted."""
        self._window_listeners.append(fn)

    def add_end_listener(self, fn: Callable[[TrainingRun, dict[str, Any]], None]) -> None:
        """``fn(run, attributes)`` runs as the run ends, after its last window, before its span
        gets ``attributes`` (this run's final figures): mutate the dict to add attributes."""
        self._end_listeners.append(fn)

    @property
    def ending_error(self) -> BaseException | None:
        """While the run ends because of an exception, that exception (listeners check it
        before anything that waits on other processes)."""
        return self._ending_error

    def set_dtype(self, dtype: str) -> None:
        """A framework plug-in reports the compute dtype it saw (autocast, parameters), which
        may be known only once training starts; the peak FLOP/s is re-resolved for it. A dtype
        given to training_run() or configure() wins."""
        if self._dtype is not None or self._settings.dtype is not None \
                or dtype == self._detected_dtype:
            return
        self._detected_dtype = dtype
        if self._active:
            with capture_internal_exceptions("training_run.set_dtype"):
                self._hw = resolve(self._settings, self._sampler, dtype=dtype,
                                   peak_override=self._peak_override, price=self._price)
                self._static_attrs.update(self._hw.attributes())
                self._span.set_attributes(self._hw.attributes())

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    @property
    def hardware(self) -> Hardware | None:
        return getattr(self, "_hw", None)

    # ---- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> TrainingRun:
        if self._disabled:
            return self
        enforce_required(self._tags, (*self._settings.required_tags, *TRAINING_REQUIRED_TAGS),
                         self._settings.on_missing_tags, f"training_run {self.name!r}")
        with capture_internal_exceptions("training_run.start"):
            self._start()
        self._run_token = _current_run.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._disabled:
            return
        _current_run.reset(self._run_token)
        if self._active:
            with capture_internal_exceptions("training_run.end"):
                self._end(exc)

    async def __aenter__(self) -> TrainingRun:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def _start(self) -> None:
        from ...sampling import get_sampler

        s = self._settings
        self._clock = s.clock
        self._sampler = get_sampler()
        self._sampler.set_interval(s.sample_interval_s)
        self._hw = resolve(s, self._sampler, dtype=self._dtype or self._detected_dtype,
                           peak_override=self._peak_override, price=self._price,
                           what=f"training run {self.name!r}")
        self._sampler.acquire()  # after resolve(), which may raise: _end() would not release
        inst = _instruments.get()
        if inst is not None:
            inst.register_hw(self._sampler)
        self._series = _instruments.series(c.KIND_TRAINING_RUN, self._tags,
                                           self._settings.metric_tag_keys)
        self._tracker = self._sampler.track()
        self._window_tracker = self._sampler.track() if self._windowed else None
        self._static_attrs = {c.KIND: c.KIND_TRAINING_RUN, c.RUN_ID: self.run_id,
                              c.RUN_NAME: self.name, **tag_attributes(self._tags),
                              **self._hw.attributes()}
        self._start_ns = self._clock.time_ns()
        self._span = tracer().start_span(self.name, attributes=self._static_attrs,
                                         start_time=self._start_ns)
        self._ctx_token = otel_context.attach(trace.set_span_in_context(self._span))
        t0 = self._clock.monotonic()
        self._t0 = t0
        self._warm: Counts | None = Counts(t0, 0, 0, 0, 0.0) if self._warmup == 0 else None
        self._win = Counts(t0, 0, 0, 0, 0.0)
        self._win_index = 0
        self._win_wall_ns = self._clock.time_ns()
        self._costed_until = t0  # cost already added to the metric up to here
        self._last_slow = Counts(t0, 0, 0, 0, 0.0)
        self._last_window_rates: dict[str, float] = {}
        if self._budget is not None:
            self._budget.projected = None
        self._active = True
        self._pid = os.getpid()
        _open_runs.add(self)
        self._slow_at = self._warmup if self._warmup > 0 else 1
        self._gauge_at = t0
        self._gauge_attrs = {**_instruments.metric_attributes(
            c.KIND_TRAINING_RUN, self._tags, s.metric_tag_keys), c.RUN_NAME: self.name}
        self._progress = ProgressLine.open(self._progress_setting)
        ledger.track_stretch(self)
        _instruments.add_live(self, self._add_cost_metric)  # a scrape sees the cost so far

    def checkpoint(self) -> None:
        """Emit the run's cost so far as a ``checkpoint`` record, a child of the run span (the
        ledger thread calls this every window, so a killed run loses at most one window's
        cost; reports ignore checkpoints once the run span itself is there)."""
        if not self._active:
            return
        now = self._clock.monotonic()
        attrs: dict[str, Any] = {
            **self._static_attrs, **self._extra_attrs, c.RECORD: c.RECORD_CHECKPOINT,
            c.RECORD_ID: uuid.uuid4().hex, c.DURATION_S: now - self._t0, c.STEPS: self._steps,
            c.TOKENS: self._tokens, c.SAMPLES: self._samples}
        if self._hw.usd_per_hour is not None:
            attrs[c.COST_USD] = self._hw.usd_per_second * (now - self._t0)
        span = tracer().start_span(ledger.CHECKPOINT_NAME, attributes=attrs,
                                   context=trace.set_span_in_context(self._span),
                                   start_time=self._start_ns)
        span.end(end_time=max(self._start_ns, self._clock.time_ns()))

    @property
    def _windowed(self) -> bool:
        return self._window_steps is not None or self._window_seconds is not None

    # ---- the slow path ----------------------------------------------------------------------
    def _slow_path(self) -> None:
        if not self._active:
            self._slow_at = NEVER
            return
        raise_now: BudgetStatus | None = None
        with capture_internal_exceptions("training_run.slow_path"):
            now = self._clock.monotonic()
            if self._warm is None and self._steps >= self._warmup:
                self._warm = self._counts(now)
            if self._windowed and self._window_due(now):
                self._close_window(now)
            else:
                self._add_cost_metric(now)  # a long run's cost shows on dashboards as it runs
            if self._budget is not None:
                raise_now = self._check_budget(now)
            if self._progress is not None or now - self._gauge_at >= _GAUGE_EVERY_S:
                self._gauge_at = now
                snapshot = self._snapshot(now)
                _instruments.set_mfu(self, self._gauge_attrs, snapshot.mfu)
                if self._progress is not None:
                    self._progress.update(snapshot)
            self._schedule(now)
        if raise_now is not None:
            raise BudgetExceeded(raise_now.budget_usd, raise_now.spent_usd,
                                 raise_now.projected_usd)

    def _counts(self, t: float) -> Counts:
        return Counts(t, self._steps, self._tokens, self._samples, self._flops)

    def _schedule(self, now: float) -> None:
        end = self._counts(now)
        self._slow_at = windows.next_slow_at(self._last_slow, end, warm=self._warm,
                                             warmup=self._warmup, win=self._win,
                                             window_steps=self._window_steps)
        self._last_slow = end

    def _window_due(self, now: float) -> bool:
        return windows.window_due(self._win, now, self._steps, window_steps=self._window_steps,
                                  window_seconds=self._window_seconds)

    def _formula_per_token(self) -> float | None:
        """FLOPs per token from the formula when nothing was counted, else None (counted)."""
        if self._formula is not None and self._flops_source == "none" and self._flops <= 0:
            return self._formula[0]
        return None

    def _rates(self, start: Counts, end: Counts) -> dict[str, Any]:
        flops = windows.flops_between(start, end, self._formula_per_token())
        return windows.rates(start, end, flops, self._hw.peak_flops_per_s)

    def _usd_per_second(self) -> float | None:
        """None when the run has no price."""
        return self._hw.usd_per_second if self._hw.usd_per_hour is not None else None

    def flops_source(self) -> str:
        """Caller-given FLOPs first (or a plug-in's), then the formula (6N per token, plus
        PaLM's attention term when the shape is known), else none."""
        if self._flops_source != "none":
            return self._flops_source
        if self._flops > 0:
            return "user"
        return self._formula[1] if self._formula is not None else "none"

    def _close_window(self, now: float) -> None:
        end = self._counts(now)
        win = self._win
        wall_end = self._clock.time_ns()
        attrs = windows.window_attributes({**self._static_attrs, **self._extra_attrs},
                                          self._win_index, win, end, self._usd_per_second())
        rates = self._rates(win, end)
        attrs.update(rates)
        self._last_window_rates = rates
        if self._window_tracker is not None:
            attrs.update(self._window_tracker.close().attributes())
            self._window_tracker = self._sampler.track()
        for listener in self._window_listeners:
            with capture_internal_exceptions("training_run.window_listener"):
                listener(self, attrs)
        span = tracer().start_span("training_window", attributes=attrs,
                                   start_time=self._win_wall_ns)
        span.end(end_time=wall_end)
        self._add_cost_metric(now)
        self._win, self._win_wall_ns = end, wall_end
        self._win_index += 1

    def _add_cost_metric(self, now: float | None = None) -> None:
        """Add the cost since the last addition to the metric totals: on the slow path, and
        at every metric collection (``now=None``), so a scrape sees the run's cost so far."""
        if self._hw.usd_per_hour is None:
            return
        with _instruments.lock:
            if now is None:
                now = self._clock.monotonic()
            if now > self._costed_until:
                _instruments.add(self._series, self._hw.usd_per_second * (now - self._costed_until))
                self._costed_until = now

    def _check_budget(self, now: float) -> BudgetStatus | None:
        assert self._budget is not None
        spent = self._hw.usd_per_second * (now - self._t0)
        return self._budget.check(self.name, spent, self._project(now, spent))

    def _project(self, now: float, spent: float) -> float | None:
        return project(self._warm, self._counts(now), total_steps=self._total_steps,
                       total_tokens=self._total_tokens, usd_per_second=self._usd_per_second(),
                       spent=spent)

    def _snapshot(self, now: float) -> Snapshot:
        """The progress line's figures: rates and MFU since warm-up, cost since the start."""
        priced = self._hw.usd_per_hour is not None
        spent = self._hw.usd_per_second * (now - self._t0) if priced else None
        rates = self._rates(self._warm, self._counts(now)) if self._warm is not None else {}
        projected = self._budget.projected if self._budget is not None \
            else (self._project(now, spent) if spent is not None else None)
        return Snapshot(name=self.name, elapsed_s=now - self._t0, steps=self._steps,
                        total_steps=self._total_steps, tokens_per_s=rates.get(c.TOKENS_PER_S),
                        mfu=rates.get(c.MFU), cost_usd=spent, projected_usd=projected,
                        budget_usd=self._budget.usd if self._budget is not None else None)

    # ---- the end ----------------------------------------------------------------------------
    def _abort(self, exc: BaseException) -> None:
        """End the run from outside its code (SIGTERM): error status, flushed by the caller."""
        if self._active:
            self._end(exc, detach=False)  # the context belongs to the interrupted thread

    def _end(self, exc: BaseException | None, detach: bool = True) -> None:
        # Every part of the end is guarded on its own: one failing part (the last window, the
        # sampler, the budget, the terminal) must not cost the run span its steps and cost,
        # the figures every report counts, nor leave its context attached or sampler held.
        self._active = False
        self._slow_at = NEVER
        _open_runs.discard(self)
        self._ending_error = exc
        with capture_internal_exceptions("training_run.end.ledger"):
            ledger.untrack_stretch(self)
        with capture_internal_exceptions("training_run.end.live"):
            _instruments.remove_live(self)  # before reading the end: no fold may pass it
        now = self._clock.monotonic()
        with capture_internal_exceptions("training_run.end.window"):
            # The last window: its steps, or a stepless tail (evaluation, saving) worth a
            # span, so the windows add up to the run.
            if self._windowed and (self._steps > self._win.steps
                                   or now - self._win.t >= SLOW_PATH_EVERY_S):
                self._close_window(now)
        stats: IntervalStats | None = None
        with capture_internal_exceptions("training_run.end.tracker"):
            stats = self._tracker.close()
        with capture_internal_exceptions("training_run.end.window_tracker"):
            if self._window_tracker is not None:
                self._window_tracker.close()
        with capture_internal_exceptions("training_run.end.budget"):
            if self._budget is not None:
                self._check_budget(now)
        attrs = final_attributes(self._extra_attrs, self._t0, self._counts(now), warm=self._warm,
                                 flops_source=self.flops_source(),
                                 usd_per_second=self._usd_per_second(), budget=self._budget,
                                 formula=self._formula_per_token(),
                                 peak=self._hw.peak_flops_per_s, stats=stats)
        for listener in self._end_listeners:
            with capture_internal_exceptions("training_run.end_listener"):
                listener(self, attrs)
        with capture_internal_exceptions("training_run.end.span"):
            self._span.set_attributes(attrs)
            if exc is not None:
                record_exception(self._span, exc)
        with capture_internal_exceptions("training_run.end.span"):
            self._span.end(end_time=self._clock.time_ns())
        with capture_internal_exceptions("training_run.end.cost_metric"):
            self._add_cost_metric(now)
        with capture_internal_exceptions("training_run.end.summary"):
            self._summary = self._make_summary(attrs, stats)
        self._release(now, detach)

    def _release(self, now: float, detach: bool) -> None:
        """What the run held, each let go even when another could not be."""
        if detach:
            with capture_internal_exceptions("training_run.end.context"):
                otel_context.detach(self._ctx_token)
        with capture_internal_exceptions("training_run.end.sampler"):
            self._sampler.release()
        with capture_internal_exceptions("training_run.end.mfu"):
            _instruments.set_mfu(self, {}, None)
        if self._progress is not None:
            with capture_internal_exceptions("training_run.progress"):
                self._progress.update(self._snapshot(now))
            with capture_internal_exceptions("training_run.progress"):
                self._progress.close()
        if self._settings.console_summary and self._summary is not None:
            with capture_internal_exceptions("training_run.end.console_summary"):
                print(self._summary, file=sys.stderr)

    def _make_summary(self, attrs: dict[str, Any], stats: IntervalStats | None) -> RunSummary:
        return make_summary(self.name, self.run_id, self._counts(0.0), self.flops_source(),
                            self._hw, {**self._static_attrs, **attrs}, stats)

    @property
    def summary(self) -> RunSummary:
        """The run's figures once it has ended; before that (or when telemetry is disabled)
        only the counts, with every measured figure None."""
        if self._summary is not None:
            return self._summary
        return counts_only_summary(self.name, self.run_id, self._counts(0.0), self._flops_source)

    @property
    def budget_projection_usd(self) -> float | None:
        return self._budget.projected if self._budget is not None else None

