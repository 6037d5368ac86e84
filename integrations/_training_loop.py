"""What the Hugging Face and Lightning callbacks share: one metered run per training loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from mlcost_sdk.instrumentation import TrainingRun, capture_internal_exceptions, current_run

from . import distributed
from .torch import BatchCounter, FlopCounter, StepMeter


class LoopMeter:
    """Opens a run for a framework's training loop, or joins the one already current (which
    its opener then ends); meters the model's forwards; ends only the run it opened."""

    def __init__(self, name: str, *, tokens_from: BatchCounter | None,
                 samples_from: Callable[..., int] | None, count_flops: bool,
                 training_run_kwargs: dict[str, Any]) -> None:
        self.name = name
        self.tokens_from = tokens_from
        self.samples_from = samples_from
        self.count_flops = count_flops
        self.training_run_kwargs = training_run_kwargs
        self.run: TrainingRun | None = None  # the run being (or last) metered
        self.meter: StepMeter | None = None
        self.owned = False
        self._hook: Any = None

    def begin(self, max_steps: int) -> TrainingRun:
        """The run for this loop; ``total_steps`` defaults to the loop's planned steps."""
        run = current_run()
        self.owned = run is None
        if run is None:
            kwargs = dict(self.training_run_kwargs)
            if max_steps > 0 and "total_tokens" not in kwargs:
                kwargs.setdefault("total_steps", max_steps)
            run = distributed.training_run(self.name, **kwargs).__enter__()
        self.run = run
        return run

    def attach(self, model: nn.Module, *, batches: bool,
               fallback: Callable[..., float | None] | None = None,
               fallback_source: str = "none") -> None:
        """Meter ``model``'s forwards (``batches``: each forward's inputs are a micro-batch)."""
        assert self.run is not None
        with capture_internal_exceptions(f"{self.name}.attach"):
            flops = FlopCounter(model, fallback=fallback, fallback_source=fallback_source) \
                if self.count_flops else None
            self.meter = StepMeter(model, run=self.run, tokens_from=self.tokens_from,
                                   samples_from=self.samples_from, flop_counter=flops)
            self._hook = model.register_forward_pre_hook(
                self.meter.forward_hook(batches=batches), with_kwargs=True)

    def finish(self, exc: BaseException | None) -> None:
        """Detach from the model and end the run if this loop opened it."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self.meter = None
        if self.owned and self.run is not None:
            self.owned = False
            self.run.__exit__(type(exc) if exc is not None else None, exc,
                              exc.__traceback__ if exc is not None else None)
