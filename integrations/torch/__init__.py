"""PyTorch: measured FLOPs, dtype detection, CUDA-aware timing, and optimizer-step metering.

    from mlcost_sdk.integrations import torch as mlcost_torch

    with mlcost.training_run("finetune", tags=...) as run:
        mlcost_torch.instrument(model, optimizer)   # optimizer.step() now marks a training step
        for batch in loader:
            model(**batch).loss.backward()
            optimizer.step(); optimizer.zero_grad()

What each part measures, and how:

- **FLOPs** (``mlcost.flops.source=flop_counter``): ``torch.utils.flop_counter.FlopCounterMode``
  runs once per input-shape signature on a *fake* copy of the model (parameters and inputs
  replaced by ``FakeTensorMode`` tensors through ``torch.func.functional_call``: shapes only, no
  memory, no kernels, no change to the model), forward plus backward, and the result is cached;
  the counter is never active in the training loop. It counts matrix multiplications,
  convolutions and attention only, and counts what autograd really runs (activation
  recomputation included), so it is closer to hardware FLOPs than 6 x params x tokens. A model
  that cannot run on fake tensors (control flow on tensor values) is not measured: the run keeps
  its own FLOPs source, and the reason is logged once. Sharded parameters (FSDP) are not
  supported: the count would be of the shard.
- **Parameters**: the run's formula (used when FLOPs cannot be measured) gets N from the module:
  its non-embedding parameters (:func:`non_embedding_params`), unless training_run() was given
  ``params``.
- **dtype**: the autocast dtype seen at the first training forward, else the parameters' dtype;
  fp32 on a CUDA device with ``torch.backends.cuda.matmul.allow_tf32`` counts as tf32. The run's
  peak FLOP/s is taken for that dtype (a dtype given to training_run() or configure() wins).
- **GPU timing**: on CUDA, an event is recorded at each step boundary (never a synchronize per
  step) and resolved when a window or the run closes, giving ``mlcost.gpu.duration_s``. Not
  exercised on CPU-only machines.
- **Tokens**: by default the attention mask's sum when the inputs have one (non-padding tokens),
  else the number of token ids. A mask on an accelerator is summed there and read once per
  optimizer step; pass ``tokens_from=token_positions`` to read shapes only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("mlcost_sdk.integrations.torch needs PyTorch: "
                      "pip install 'mlcost-sdk[torch]'") from exc

from mlcost_sdk.instrumentation import TrainingRun

from .._instrumentor import Instrumented
from .batch import BatchCounter, Count, count_samples, count_tokens, token_positions
from .flops import FlopCounter
from .model import detect_dtype, non_embedding_params
from .steps import StepMeter

__all__ = ["BatchCounter", "Count", "FlopCounter", "Instrumentation", "StepMeter",
           "count_samples", "count_tokens", "detect_dtype", "instrument", "non_embedding_params",
           "token_positions", "uninstrument"]


# ---- instrument(model, optimizer) ---------------------------------------------------------------
class Instrumentation:
    """Hooks metering a model and its optimizer; ``remove()`` (or leaving ``with``) undoes them."""

    def __init__(self, meter: StepMeter, handles: list[Any]) -> None:
        self.meter = meter
        self._handles = handles

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        _instrumented.discard(self.meter.model, self)

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


_instrumented: Instrumented[nn.Module, Instrumentation] = Instrumented("torch")


def instrument(model: nn.Module, optimizer: torch.optim.Optimizer, *,
               run: TrainingRun | None = None, tokens_from: BatchCounter | None = None,
               samples_from: Callable[..., int] | None = None,
               count_flops: bool = True) -> Instrumentation:
    """Meter training through ``model`` and ``optimizer``: each real ``optimizer.step()`` is
    one ``run.step()`` with the tokens, samples and FLOPs of every training forward since the
    previous one (gradient accumulation respected; forwards under ``no_grad`` or in eval mode
    are not training). ``run`` None: the run current at each step.

    ``tokens_from(*forward_args, **forward_kwargs) -> int | tensor`` and ``samples_from``
    override the defaults (:func:`count_tokens`, :func:`count_samples`). Instrumenting a model
    again warns and returns its instrumentation unchanged (``uninstrument(model)`` or
    ``remove()`` it first to change the optimizer or options).
    """
    previous = _instrumented.already(model, f"model {type(model).__name__}")
    if previous is not None:
        return previous
    meter = StepMeter(model, run=run, tokens_from=tokens_from, samples_from=samples_from,
                      flop_counter=FlopCounter(model) if count_flops else None)

    def on_step(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        meter.step()

    handles = [model.register_forward_pre_hook(meter.forward_hook(batches=True),
                                               with_kwargs=True),
               optimizer.register_step_post_hook(on_step)]
    return _instrumented.add(model, Instrumentation(meter, handles))


def uninstrument(model: nn.Module) -> None:
    """Undo instrument(model) (warns when the model is not instrumented); the same as its
    Instrumentation's ``remove()``."""
    inst = _instrumented.pop(model, f"model {type(model).__name__}")
    if inst is not None:
        inst.remove()
