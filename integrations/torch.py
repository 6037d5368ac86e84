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

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

try:
    import torch
    from torch import nn
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.func import functional_call
    from torch.utils.flop_counter import FlopCounterMode
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("mlcost_sdk.integrations.torch needs PyTorch: "
                      "pip install 'mlcost-sdk[torch]'") from exc

from mlcost_sdk import conventions as c
from mlcost_sdk.instrumentation import TrainingRun, capture_internal_exceptions, current_run

from ._instrumentor import Instrumented

__all__ = ["FlopCounter", "Instrumentation", "StepMeter", "count_samples", "count_tokens",
           "detect_dtype", "instrument", "non_embedding_params", "token_positions", "uninstrument"]

logger = logging.getLogger("mlcost_sdk")

Count = int | torch.Tensor  # a token count, possibly still on its device
BatchCounter = Callable[..., Count]

_TORCH_DTYPES = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}


# ---- what a batch holds -----------------------------------------------------------------------
def _named(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Keyword inputs, or a batch dict passed positionally (Lightning, a collate_fn's dict)."""
    if not kwargs and args and isinstance(args[0], Mapping):
        return args[0]
    return kwargs


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    """Every tensor in a batch, depth first (dicts, lists, tuples)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _tensors(v)


def _token_ids(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    ids = _named(args, kwargs).get("input_ids")
    if isinstance(ids, torch.Tensor):
        return ids
    first = next(_tensors(args), None)
    if first is not None and not first.is_floating_point() and not first.is_complex():
        return first
    return None


def count_tokens(*args: Any, **kwargs: Any) -> Count:
    """Non-padding tokens of a batch: its ``attention_mask``'s sum when it has one, else the
    number of token ids (``input_ids``, or a first positional integer tensor); 0 otherwise.
    Takes the model's forward arguments or a batch. A mask on an accelerator is summed there
    and returned as a tensor: the meter reads it once per optimizer step."""
    mask = _named(args, kwargs).get("attention_mask")
    if isinstance(mask, torch.Tensor):
        total = mask.sum()
        return int(total) if total.device.type == "cpu" else total
    return token_positions(*args, **kwargs)


def token_positions(*args: Any, **kwargs: Any) -> int:
    """Token positions of a batch, padding included, from shapes only (never reads a device)."""
    ids = _token_ids(args, kwargs)
    return ids.numel() if ids is not None else 0


def count_samples(*args: Any, **kwargs: Any) -> int:
    """The batch size: the first dimension of the token ids, else of the first tensor."""
    first = _token_ids(args, kwargs)
    if first is None:
        first = next(_tensors((args, kwargs)), None)
    return int(first.shape[0]) if first is not None and first.dim() > 0 else 0


# ---- model size -------------------------------------------------------------------------------
def non_embedding_params(model: nn.Module) -> int:
    """N as the scaling-law papers count it (Kaplan et al. 2020; Chinchilla): every distinct
    parameter except those of ``nn.Embedding`` / ``nn.EmbeddingBag`` modules, whose lookups do
    no matmul work. An output head tied to the embedding shares its tensor and is left out
    with it; a bare position-embedding ``nn.Parameter`` cannot be told apart and is counted."""
    embedding = {id(p) for m in model.modules() if isinstance(m, nn.Embedding | nn.EmbeddingBag)
                 for p in m.parameters(recurse=False)}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedding)


# ---- dtype ------------------------------------------------------------------------------------
def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def detect_dtype(model: nn.Module) -> str | None:
    """The dtype a training forward of ``model`` computes in right now: the autocast dtype when
    autocast is on for the model's device, else its parameters' (fp32 matmuls on CUDA count as
    tf32 when ``torch.backends.cuda.matmul.allow_tf32``). None for dtypes without a peak
    FLOP/s in the catalog (fp64)."""
    device = _device(model)
    if torch.is_autocast_enabled(device.type):
        return _TORCH_DTYPES.get(torch.get_autocast_dtype(device.type))
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    name = _TORCH_DTYPES.get(param.dtype) if param is not None else None
    if name == "fp32" and device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
        return "tf32"
    return name


# ---- FLOPs ------------------------------------------------------------------------------------
def _unwrap(model: nn.Module) -> nn.Module:
    """The module that owns the parameters: DDP/DataParallel's ``.module``, compile's original."""
    while True:
        inner = getattr(model, "module", None) \
            if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel) \
            else getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def _faked(mode: FakeTensorMode, value: Any) -> Any:
    """A batch with every tensor replaced by a fake one (shape, dtype, device; no data)."""
    if isinstance(value, torch.Tensor):
        return mode.from_tensor(value)
    if isinstance(value, Mapping):
        return {k: _faked(mode, v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_faked(mode, v) for v in value)
    return value


def _signature_of(value: Any) -> Any:
    """Shapes and dtypes of tensors; flags (bool, str, None) by value, since they may choose a
    code path; other values (a step's ``num_items_in_batch``...) by type only."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape), value.dtype)
    if isinstance(value, Mapping):
        return tuple((k, _signature_of(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_signature_of(v) for v in value)
    if value is None or isinstance(value, bool | str):
        return value
    return type(value).__qualname__


def _scalar_loss(output: Any) -> torch.Tensor | None:
    """What backward starts from: a model output's ``loss``, else the sum of its float tensors
    (the loss function itself does no matmuls, so the backward pass costs the same)."""
    loss = getattr(output, "loss", None)
    if isinstance(loss, torch.Tensor):
        return loss
    floats = [t.sum() for t in _tensors(output) if t.is_floating_point() and t.requires_grad]
    return torch.stack(floats).sum() if floats else None


class FlopCounter:
    """Forward+backward FLOPs of one training step of ``model`` per input-shape signature,
    measured on a fake copy (``FakeTensorMode``: shapes, dtypes and devices, no data, no
    kernels) and cached (at most ``max_shapes`` signatures, oldest evicted).

    ``fallback``: FLOPs from the same inputs for a model that cannot run on fake tensors (it
    reads values: data-dependent control flow), named ``fallback_source`` (e.g. a framework's
    own formula). Without one, such a model gets no FLOPs from here.
    """

    def __init__(self, model: nn.Module, *, backward: bool = True, max_shapes: int = 64,
                 fallback: Callable[..., float | None] | None = None,
                 fallback_source: str = "none") -> None:
        self.model = _unwrap(model)
        self.backward = backward
        self.max_shapes = max_shapes
        self.fallback = fallback
        self.fallback_source = fallback_source
        self.measurements = 0  # how many times the counter really ran
        self.measuring = False  # the model's forward hooks see the fake forward: skip it
        self.failure: str | None = None  # why this model cannot be measured
        self._cache: OrderedDict[Any, float] = OrderedDict()

    @property
    def source(self) -> str | None:
        """What the counts are, as ``mlcost.flops.source``: None when there are none (the run
        keeps its own source); "none" when measured and unmeasurable shapes were mixed."""
        if self.failure is None:
            return "flop_counter"
        if self.measurements:
            return "none"
        return self.fallback_source if self.fallback is not None else None

    def __call__(self, *args: Any, **kwargs: Any) -> float | None:
        """FLOPs of one training step on these inputs; None when they cannot be had."""
        if self.failure is None:
            key = (self.model.training, _signature_of(args), _signature_of(kwargs))
            flops = self._cache.get(key)
            if flops is None:
                flops = self._measure(args, kwargs)
            if flops is not None:
                self._cache[key] = flops
                if len(self._cache) > self.max_shapes:
                    self._cache.popitem(last=False)
                return flops
        return self.fallback(*args, **kwargs) if self.fallback is not None else None

    def _measure(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float | None:
        self.measuring = True
        try:
            flops = self._count(args, kwargs)
        except Exception as exc:  # noqa: BLE001 - a model fake tensors cannot run
            self.failure = f"{type(exc).__name__}: {exc}"
            logger.warning("mlcost: cannot count FLOPs of %s on fake tensors (%s); FLOPs source "
                           "now: %s", type(self.model).__name__, self.failure,
                           self.source or "the run's own")
            return None
        finally:
            self.measuring = False
        self.measurements += 1
        return flops

    def _count(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float:
        mode = FakeTensorMode()
        named = (*self.model.named_parameters(), *self.model.named_buffers())
        state: dict[str, torch.Tensor] = {name: mode.from_tensor(t) for name, t in named}
        fake_args, fake_kwargs = _faked(mode, args), _faked(mode, kwargs)
        with mode, FlopCounterMode(display=False) as counter:
            output = functional_call(self.model, state, fake_args, fake_kwargs)
            trainable = [t for t in state.values() if t.requires_grad]
            loss = _scalar_loss(output) if self.backward and trainable else None
            if loss is not None:
                torch.autograd.grad(loss, trainable, allow_unused=True)
        return float(counter.get_total_flops())


# ---- CUDA timing ------------------------------------------------------------------------------
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
