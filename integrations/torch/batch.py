"""What a batch holds: token and sample counts read from a forward's inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

Count = int | torch.Tensor  # a token count, possibly still on its device
BatchCounter = Callable[..., Count]


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
