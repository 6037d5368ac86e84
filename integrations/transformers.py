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

from mlcost_sdk.instrumentation import FLOPS_PER_PARAM_TOKEN, TrainingRun

from ._instrumentor import check_supported
from ._training_loop import LoopMeter
from .torch import BatchCounter, token_positions

__all__ = ["MlcostCallback"]


def _trainer_formula(model: nn.Module) -> Callable[..., float | None]:
    """The Trainer's own estimate (``Trainer.floating_point_ops``): 6 x token ids x
    non-embedding parameters."""
    count = getattr(model, "num_parameters", None)
    params = float(count(exclude_embeddings=True)) if callable(count) else 0.0

    def flops(*args: Any, **kwargs: Any) -> float | None:
        return FLOPS_PER_PARAM_TOKEN * token_positions(*args, **kwargs) * params or None

    return flops


class MlcostCallback(TrainerCallback):
    """Meter ``Trainer.train()``. ``training_run_kwargs`` go to ``mlcost.training_run``
    (tags, budget_usd, window_steps...); ``total_steps`` defaults to the Trainer's max_steps.
    ``tokens_from`` / ``samples_from`` take the model's forward inputs (see
    ``integrations.torch.count_tokens``)."""

    def __init__(self, name: str = "hf-trainer", *, tokens_from: BatchCounter | None = None,
                 samples_from: Callable[..., int] | None = None, count_flops: bool = True,
                 **training_run_kwargs: Any) -> None:
        check_supported("transformers")
        self.loop = LoopMeter(name, tokens_from=tokens_from, samples_from=samples_from,
                              count_flops=count_flops, training_run_kwargs=training_run_kwargs)

    @property
    def run(self) -> TrainingRun | None:
        """The run being (or last) metered."""
        return self.loop.run

    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, model: nn.Module | None = None,
                       **kwargs: Any) -> None:
        if self.loop.owned:
            # The previous train() raised (no on_train_end came): end its run as failed, so it
            # neither swallows this one nor holds the sampler.
            self.loop.finish(RuntimeError("Trainer.train() raised before on_train_end"))
        self.loop.begin(state.max_steps)
        if model is not None:
            self.loop.attach(model, batches=True, fallback=_trainer_formula(model),
                             fallback_source="formula_6nd")

    def on_step_end(self, args: TrainingArguments, state: TrainerState,
                    control: TrainerControl, **kwargs: Any) -> None:
        if self.loop.meter is not None:
            self.loop.meter.step()

    def on_train_end(self, args: TrainingArguments, state: TrainerState,
                     control: TrainerControl, **kwargs: Any) -> None:
        self.loop.finish(None)
