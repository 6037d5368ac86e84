"""Measured FLOPs: PyTorch's flop counter on a fake copy of the model, cached per input shape."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from .batch import _tensors
from .model import _unwrap

logger = logging.getLogger("mlcost_sdk")


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
