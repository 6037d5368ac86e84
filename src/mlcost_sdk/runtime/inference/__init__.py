"""Inference calls: each request pays its share of the process's price while it is in flight;
time with nothing in flight is idle cost, emitted as ``mlcost.kind=idle`` spans. So, exactly:
sum(request costs) + idle = price x elapsed, and the realized cost per prediction includes idle
capacity.

Rooms: ``allocator`` (CostAllocator, InferenceSummary), ``process`` (ServingState, the
process-wide state: its singleton, idle thread, configure and fork hooks, shutdown), ``call``
(InferenceCall, NoopCall, CallSite: the hot path), ``decorator`` (``inference()``,
``track_inference``).
"""

from .allocator import CostAllocator, InferenceSummary
from .call import NOOP_CALL, CallSite, InferenceCall, NoopCall
from .decorator import inference, track_inference
from .process import (
    ServingState,
    current_meter,
    flush_idle,
    inference_summary,
    shutdown_meter,
)

__all__ = [
    "NOOP_CALL",
    "CallSite",
    "CostAllocator",
    "InferenceCall",
    "InferenceSummary",
    "NoopCall",
    "ServingState",
    "current_meter",
    "flush_idle",
    "inference",
    "inference_summary",
    "shutdown_meter",
    "track_inference",
]
