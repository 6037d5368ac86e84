"""The cost model: pure functions and frozen dataclasses, no I/O.

Each ``estimate_*`` returns a frozen result whose ``as_dict()`` keys are those of
``mlcost estimate ... --json`` (fields are named by docs/architecture.md's rule; a renamed field
keeps its published JSON key and its old attribute name, deprecated). Out-of-range input
raises InvalidParameterError naming the parameter and its allowed range. A month is 730 hours
unless the caller says otherwise (LLM estimates count a month in days, 30 by default); results
say which they used.
"""

from ._units import MONTH_HOURS, SECONDS_PER_HOUR, usd_per_second
from .hidden import (
    BYTES_PER_GB,
    OBJECT_STORAGE_USD_PER_GB_MONTH,
    TRANSFER_PRICES,
    MonitoringEstimate,
    StorageEstimate,
    TransferEstimate,
    estimate_monitoring,
    estimate_storage,
    estimate_transfer,
)
from .inference import InferenceEstimate, cost_per_request, estimate_inference, instances_needed
from .llm import (
    CACHE_WRITE_MULTIPLIER,
    LLM_MONTH_DAYS,
    LlmEstimate,
    TokenCost,
    TokenUsage,
    estimate_llm,
    token_cost,
)
from .llm_usage import usage_from
from .scenarios import Scenarios, around, three_scenarios
from .tco import TcoEstimate, estimate_tco
from .training import (
    TrainingEstimate,
    estimate_training,
    training_flops,
    training_flops_per_token,
)
from .unit import (
    UnitEconomics,
    cost_per_active_user,
    cost_per_prediction,
    estimate_unit_economics,
    gross_margin,
)

__all__ = [
    "BYTES_PER_GB",
    "CACHE_WRITE_MULTIPLIER",
    "LLM_MONTH_DAYS",
    "MONTH_HOURS",
    "OBJECT_STORAGE_USD_PER_GB_MONTH",
    "SECONDS_PER_HOUR",
    "TRANSFER_PRICES",
    "InferenceEstimate",
    "LlmEstimate",
    "MonitoringEstimate",
    "Scenarios",
    "StorageEstimate",
    "TcoEstimate",
    "TokenCost",
    "TokenUsage",
    "TrainingEstimate",
    "TransferEstimate",
    "UnitEconomics",
    "around",
    "cost_per_active_user",
    "cost_per_prediction",
    "cost_per_request",
    "estimate_inference",
    "estimate_llm",
    "estimate_monitoring",
    "estimate_storage",
    "estimate_tco",
    "estimate_training",
    "estimate_transfer",
    "estimate_unit_economics",
    "gross_margin",
    "instances_needed",
    "three_scenarios",
    "token_cost",
    "training_flops",
    "training_flops_per_token",
    "usage_from",
    "usd_per_second",
]
