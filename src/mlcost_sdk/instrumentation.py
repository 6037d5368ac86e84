"""What the integrations (``mlcost_sdk.integrations.*``) build on: not the user API (that is
``mlcost_sdk``), but the one place an integration takes runtime pieces from.

An integration imports from mlcost_sdk only ``conventions``, ``errors``, the public package
and this module, so the runtime can be reorganised behind these names without touching any
integration. What is here:

- the guard: ``capture_internal_exceptions(site)`` around SDK work in user code paths, and
  ``record_internal_error(site, exc)`` where an exception was already caught;
- inference: ``CallSite`` (bound once per wrapped endpoint) and the call it starts,
  ``InferenceCall``, or ``NOOP_CALL`` (a ``NoopCall``) when mlcost cannot start one;
- training: ``TrainingRun`` and ``current_run()``;
- LLM calls: ``LlmSite`` and ``LlmCall``;
- ``get_sampler()``, the process's resource sampler (per-rank device limits);
- ``FLOPS_PER_PARAM_TOKEN``, the cost model's training FLOPs per parameter and token (6).
"""

from __future__ import annotations

from .costmodel.training import FLOPS_PER_PARAM_TOKEN
from .guard import capture_internal_exceptions, record_internal_error
from .runtime.inference import NOOP_CALL, CallSite, InferenceCall, NoopCall
from .runtime.llm import LlmCall, LlmSite
from .runtime.training import TrainingRun, current_run
from .sampling import get_sampler

__all__ = ["FLOPS_PER_PARAM_TOKEN", "NOOP_CALL", "CallSite", "InferenceCall", "LlmCall",
           "LlmSite", "NoopCall", "TrainingRun", "capture_internal_exceptions", "current_run",
           "get_sampler", "record_internal_error"]
