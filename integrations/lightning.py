"""Lightning: ``Trainer(..., callbacks=[MlcostCallback()])``.

Each ``trainer.fit()`` is one training run (or meters the run already current). One optimizer
step (a move of ``trainer.global_step``) is one ``run.step()``, so ``accumulate_grad_batches``
is respected. Tokens and samples come from each training batch (see
``mlcost_sdk.integrations.torch.count_tokens``); FLOPs from PyTorch's flop counter on a fake
copy of the LightningModule, run on its ``forward`` inputs (a ``training_step`` that never calls
``self(...)`` gets no measured FLOPs: the run keeps its own source). The dtype follows the
Trainer's precision. A run that fails ends with the exception recorded (``on_exception``).
Under multi-process strategies the run is a distributed one
(``mlcost_sdk.integrations.distributed``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - exercised only without lightning
    raise ImportError("mlcost_sdk.integrations.lightning needs Lightning: "
                      "pip install 'mlcost-sdk[lightning]'") from exc

from mlcost_sdk.instrumentation import TrainingRun, capture_internal_exceptions

from ._instrumentor import check_supported
from ._training_loop import LoopMeter
from .torch import BatchCounter, detect_dtype

__all__ = ["MlcostCallback"]

_PRECISION_DTYPES = {"bf16-mixed": "bf16", "bf16-true": "bf16", "16-mixed": "fp16",
                     "16-true": "fp16"}


class MlcostCallback(pl.Callback):
    """Meter ``Trainer.fit()``. ``training_run_kwargs`` go to ``mlcost.training_run`` (tags,
    budget_usd, window_steps...); ``total_steps`` defaults to the Trainer's ``max_steps``.
    ``tokens_from(batch)`` / ``samples_from(batch)`` override the defaults."""

    def __init__(self, name: str = "lightning", *, tokens_from: BatchCounter | None = None,
                 samples_from: Callable[..., int] | None = None, count_flops: bool = True,
                 **training_run_kwargs: Any) -> None:
        check_supported("lightning")
        self.loop = LoopMeter(name, tokens_from=tokens_from, samples_from=samples_from,
                              count_flops=count_flops, training_run_kwargs=training_run_kwargs)
        self._global_step = 0

    @property
    def run(self) -> TrainingRun | None:
        """The run being (or last) metered."""
        return self.loop.run

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        run = self.loop.begin(trainer.max_steps)
        with capture_internal_exceptions("lightning.dtype"):
            dtype = _PRECISION_DTYPES.get(str(trainer.precision)) or detect_dtype(pl_module)
            if dtype is not None:
                run.set_dtype(dtype)
        self._global_step = trainer.global_step
        self.loop.attach(pl_module, batches=False)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        if self.loop.meter is not None:
            self.loop.meter.batch(batch)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.loop.meter is not None and trainer.global_step > self._global_step:
            self._global_step = trainer.global_step
            self.loop.meter.step()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.loop.finish(None)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self.loop.finish(exception)
