"""One optimizer step as one ``run.step()``: micro-batches added up, CUDA time at step edges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mlcost_sdk import conventions as c
from mlcost_sdk.instrumentation import TrainingRun, capture_internal_exceptions, current_run

from .batch import BatchCounter, count_samples, count_tokens
from .flops import FlopCounter
from .model import _device, _unwrap, detect_dtype, non_embedding_params


class _CudaStepTimer:
    """CUDA events at step boundaries, resolved only when a window or the run closes: the one
    synchronize is on the window's last event, never one per step."""

    def __init__(self) -> None:
        self._window_start: torch.cuda.Event | None = None
        self._run_start: torch.cuda.Event | None = None
        self._last: torch.cuda.Event | None = None

    def _record(self) -> torch.cuda.Event:
        event = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        event.record()
        return event

    def step_started(self) -> None:
        if self._window_start is None:
            self._window_start = self._record()
            self._run_start = self._run_start or self._window_start

    def step_ended(self) -> None:
        self._last = self._record()

    def window_closed(self, run: TrainingRun, attrs: dict[str, Any]) -> None:
        seconds = self._elapsed(self._window_start)
        if seconds is not None:
            attrs[c.GPU_DURATION_S] = seconds
        self._window_start = self._last

    def run_ended(self, run: TrainingRun, attrs: dict[str, Any]) -> None:
        seconds = self._elapsed(self._run_start)
        if seconds is not None:
            attrs[c.GPU_DURATION_S] = seconds

    def _elapsed(self, start: torch.cuda.Event | None) -> float | None:
        end = self._last
        if start is None or end is None or start is end:
            return None
        end.synchronize()
        return float(start.elapsed_time(end)) / 1000.0


# ---- the step meter ---------------------------------------------------------------------------
class StepMeter:
    """Adds up the micro-batches of one optimizer step and reports them as one ``run.step()``.

    Framework plug-ins feed it: ``batch()`` for each training micro-batch (tokens, samples),
    ``forward()`` for each training forward (FLOPs, dtype, GPU timing), ``step()`` after each
    real optimizer step. ``run`` None meters whatever run is current at each step.
    """

    def __init__(self, model: nn.Module, *, run: TrainingRun | None = None,
                 tokens_from: BatchCounter | None = None,
                 samples_from: Callable[..., int] | None = None,
                 flop_counter: FlopCounter | None = None) -> None:
        self.model = model
        self.run = run
        self.tokens_from = tokens_from or count_tokens
        self.samples_from = samples_from or count_samples
        self.flop_counter = flop_counter
        self._bound: TrainingRun | None = None  # the run listeners and dtype were set up for
        self._dtype_set = False
        self._timer: _CudaStepTimer | None = None
        self._reset()

    def _reset(self) -> None:
        self._tokens = 0
        self._device_tokens: torch.Tensor | None = None
        self._samples = 0
        self._flops: float | None = 0.0

    def _run(self) -> TrainingRun | None:
        run = self.run or current_run()
        if run is not None and run is not self._bound:
            self._bound, self._dtype_set = run, False
            with capture_internal_exceptions("torch.params"):  # N for the run's formula
                run.supply_model_size(non_embedding_params(_unwrap(self.model)))
            self._timer = _CudaStepTimer() if _device(self.model).type == "cuda" else None
            if self._timer is not None:
                run.add_window_listener(self._timer.window_closed)
                run.add_end_listener(self._timer.run_ended)
        return run

    def forward_hook(self, *, batches: bool) -> Callable[..., None]:
        """A forward pre-hook (``with_kwargs=True``) feeding training forwards to ``forward()``,
        and to ``batch()`` too when the forward's inputs are the batch."""

        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            measuring = self.flop_counter is not None and self.flop_counter.measuring
            if module.training and torch.is_grad_enabled() and not measuring:
                if batches:
                    self.batch(*args, **kwargs)
                self.forward(args, kwargs)

        return hook

    def batch(self, *args: Any, **kwargs: Any) -> None:
        """One training micro-batch (a model's forward arguments, or a batch object)."""
        with capture_internal_exceptions("torch.batch"):
            tokens = self.tokens_from(*args, **kwargs)
            if isinstance(tokens, torch.Tensor) and tokens.device.type != "cpu":
                self._device_tokens = tokens if self._device_tokens is None \
                    else self._device_tokens + tokens
            else:
                self._tokens += int(tokens)
            self._samples += int(self.samples_from(*args, **kwargs))

    def forward(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """One training forward of the model: its FLOPs, and the dtype it runs in."""
        with capture_internal_exceptions("torch.forward"):
            run = self._run()
            if run is not None and not self._dtype_set:
                self._dtype_set = True
                dtype = detect_dtype(self.model)
                if dtype is not None:
                    run.set_dtype(dtype)
            if self._timer is not None:
                self._timer.step_started()
            if self.flop_counter is not None and self._flops is not None:
                flops = self.flop_counter(*args, **kwargs)
                self._flops = None if flops is None else self._flops + flops

    def step(self) -> None:
        """A real optimizer step happened: report the micro-batches since the last one."""
        tokens, samples, flops = self._tokens, self._samples, self._flops
        device_tokens = self._device_tokens
        self._reset()
        run = self._run()
        if run is None:
            return
        with capture_internal_exceptions("torch.step"):
            if device_tokens is not None:
                tokens += int(device_tokens)  # the one device read per optimizer step
            if self._timer is not None:
                self._timer.step_ended()
            source = self.flop_counter.source if self.flop_counter is not None else None
            if source is not None:
                run.set_flops_source(source)
            if source in (None, "none"):
                flops = None
        run.step(tokens=tokens, samples=samples, flops=flops)  # BudgetExceeded may leave here
