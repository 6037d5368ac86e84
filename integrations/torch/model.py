"""What a model is: its parameters as the scaling laws count them, the dtype it computes in."""

from __future__ import annotations

import torch
from torch import nn

_TORCH_DTYPES = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}


def non_embedding_params(model: nn.Module) -> int:
    """N as the scaling-law papers count it (Kaplan et al. 2020; Chinchilla): every distinct
    parameter except those of ``nn.Embedding`` / ``nn.EmbeddingBag`` modules, whose lookups do
    no matmul work. An output head tied to the embedding shares its tensor and is left out
    with it; a bare position-embedding ``nn.Parameter`` cannot be told apart and is counted."""
    embedding = {id(p) for m in model.modules() if isinstance(m, nn.Embedding | nn.EmbeddingBag)
                 for p in m.parameters(recurse=False)}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedding)


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


def _unwrap(model: nn.Module) -> nn.Module:
    """The module that owns the parameters: DDP/DataParallel's ``.module``, compile's original."""
    while True:
        inner = getattr(model, "module", None) \
            if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel) \
            else getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner
