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

from mlcost_sdk.runtime._safety import capture_internal_exceptions
from mlcost_sdk.runtime.training import TrainingRun, current_run

from . import distributed
from .torch import BatchCounter, FlopCounter, StepMeter, detect_dtype

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
        self.name = name
        self.tokens_from = tokens_from
        self.samples_from = samples_from
        self.count_flops = count_flops
        self.training_run_kwargs = training_run_kwargs
        self.run: TrainingRun | None = None  # the run being (or last) metered
        self.meter: StepMeter | None = None
        self._owned = False
        self._hook: Any = None
        self._global_step = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        run = current_run()
        self._owned = run is None
        if run is None:
            run_kwargs = dict(self.training_run_kwargs)
            if trainer.max_steps > 0 and "total_tokens" not in run_kwargs:
                run_kwargs.setdefault("total_steps", trainer.max_steps)
            run = distributed.training_run(self.name, **run_kwargs)
            self._set_dtype(run, trainer, pl_module)
            run.__enter__()
        else:
            self._set_dtype(run, trainer, pl_module)
        self.run = run
        self._global_step = trainer.global_step
        with capture_internal_exceptions("lightning.train_start"):
            self.meter = StepMeter(pl_module, run=run, tokens_from=self.tokens_from,
                                   samples_from=self.samples_from,
                                   flop_counter=FlopCounter(pl_module) if self.count_flops
                                   else None)
            self._hook = pl_module.register_forward_pre_hook(
                self.meter.forward_hook(batches=False), with_kwargs=True)

    @staticmethod
    def _set_dtype(run: TrainingRun, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        with capture_internal_exceptions("lightning.dtype"):
            dtype = _PRECISION_DTYPES.get(str(trainer.precision)) or detect_dtype(pl_module)
            if dtype is not None:
                run.set_dtype(dtype)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        if self.meter is not None:
            self.meter.batch(batch)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.meter is not None and trainer.global_step > self._global_step:
            self._global_step = trainer.global_step
            self.meter.step()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish(None)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self._finish(exception)

    def _finish(self, exc: BaseException | None) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self.meter = None
        if self._owned and self.run is not None:
            self._owned = False
            self.run.__exit__(type(exc) if exc is not None else None, exc,
                              exc.__traceback__ if exc is not None else None)
