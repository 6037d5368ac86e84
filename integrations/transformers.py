"""Hugging Face Trainer: ``Trainer(..., callbacks=[MlcostCallback()])``.

Each ``trainer.train()`` is one training run (or meters the run already current, e.g. one
opened with ``with mlcost.training_run(...)`` around ``train()`` — do that to have a run that
fails recorded too: the Trainer has no callback for exceptions). One optimizer step is one
``run.step()``, so gradient accumulation is respected. Tokens are the non-padding tokens of
the micro-batches the model really saw (their ``attention_mask``, read from the forward's
inputs); FLOPs come from PyTorch's flop counter on a fake copy of the model (see
``mlcost_sdk.integrations.torch``), else from the Trainer's own estimate, 6 x tokens x
non-embedding parameters (``mlcost.flops.source=formula_6nd``). Under torchrun the run is a
distributed one (``mlcost_sdk.integrations.distributed``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
except ImportError as exc:  # pragma: no cover - exercised only without transformers
    raise ImportError("mlcost_sdk.integrations.transformers needs Hugging Face transformers: "
                      "pip install 'mlcost-sdk[transformers]'") from exc

from torch import nn

from mlcost_sdk.runtime._safety import capture_internal_exceptions
from mlcost_sdk.runtime.training import TrainingRun, current_run

from . import distributed
from .torch import BatchCounter, FlopCounter, StepMeter, token_positions

__all__ = ["MlcostCallback"]


def _trainer_formula(model: nn.Module) -> Callable[..., float | None]:
    """The Trainer's own estimate (``Trainer.floating_point_ops``): 6 x token ids x
    non-embedding parameters."""
    count = getattr(model, "num_parameters", None)
    params = float(count(exclude_embeddings=True)) if callable(count) else 0.0

    def flops(*args: Any, **kwargs: Any) -> float | None:
        return 6.0 * token_positions(*args, **kwargs) * params or None

    return flops


class MlcostCallback(TrainerCallback):
    """Meter ``Trainer.train()``. ``training_run_kwargs`` go to ``mlcost.training_run``
    (tags, budget_usd, window_steps...); ``total_steps`` defaults to the Trainer's max_steps.
    ``tokens_from`` / ``samples_from`` take the model's forward inputs (see
    ``integrations.torch.count_tokens``)."""

    def __init__(self, name: str = "hf-trainer", *, tokens_from: BatchCounter | None = None,
                 samples_from: Callable[..., int] | None = None, count_flops: bool = True,
                 **training_run_kwargs: Any) -> None:
        self.name = name
        self.tokens_from = tokens_from
        self.samples_from = samples_from
        self.count_flops = count_flops
        self.training_run_kwargs = training_run_kwargs
        self.run: TrainingRun | None = None  # the run being (or last) metered
        self.meter: StepMeter | None = None
        self._owned = False
        self._hook: Any = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, model: nn.Module | None = None,
                       **kwargs: Any) -> None:
        self._end_unfinished()
        run = current_run()
        self._owned = run is None
        if run is None:
            run_kwargs = dict(self.training_run_kwargs)
            if state.max_steps > 0 and "total_tokens" not in run_kwargs:
                run_kwargs.setdefault("total_steps", state.max_steps)
            run = distributed.training_run(self.name, **run_kwargs).__enter__()
        self.run = run
        if model is None:
            return
        with capture_internal_exceptions("transformers.train_begin"):
            flops = FlopCounter(model, fallback=_trainer_formula(model),
                                fallback_source="formula_6nd") if self.count_flops else None
            self.meter = StepMeter(model, run=run, tokens_from=self.tokens_from,
                                   samples_from=self.samples_from, flop_counter=flops)
            self._hook = model.register_forward_pre_hook(
                self.meter.forward_hook(batches=True), with_kwargs=True)

    def on_step_end(self, args: TrainingArguments, state: TrainerState,
                    control: TrainerControl, **kwargs: Any) -> None:
        if self.meter is not None:
            self.meter.step()

    def on_train_end(self, args: TrainingArguments, state: TrainerState,
                     control: TrainerControl, **kwargs: Any) -> None:
        self._finish(None)

    def _end_unfinished(self) -> None:
        """The previous ``train()`` raised (no on_train_end came): end its run as failed, so it
        neither swallows this one nor holds the sampler."""
        if self._owned:
            self._finish(RuntimeError("Trainer.train() raised before on_train_end"))

    def _finish(self, exc: BaseException | None) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self.meter = None
        if self._owned and self.run is not None:
            self._owned = False
            self.run.__exit__(type(exc) if exc is not None else None, exc, None)
