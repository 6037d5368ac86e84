"""mlcost-sdk: what ML training runs, inference calls and LLM calls really cost.

Nothing here starts a thread, touches NVML or installs a provider at import: all of it
happens lazily, on the first configure() or wrapper.
"""

from ._version import __version__
from .errors import (
    BudgetExceeded,
    CatalogError,
    ConfigError,
    InvalidParameterError,
    MlcostError,
    TagError,
)
from .runtime.config import Settings, configure, flush
from .runtime.inference import (
    InferenceSummary,
    inference,
    inference_summary,
    track_inference,
)
from .runtime.llm import llm_call, record_llm_call
from .runtime.price import NoPriceWarning, Price
from .runtime.tags import MissingTagsWarning
from .runtime.training import (
    BudgetStatus,
    BudgetWarning,
    RunSummary,
    TrainingRun,
    current_run,
    track_training,
    training_run,
)

__all__ = [
    "BudgetExceeded",
    "BudgetStatus",
    "BudgetWarning",
    "CatalogError",
    "ConfigError",
    "InferenceSummary",
    "InvalidParameterError",
    "MissingTagsWarning",
    "MlcostError",
    "NoPriceWarning",
    "Price",
    "RunSummary",
    "Settings",
    "TagError",
    "TrainingRun",
    "__version__",
    "configure",
    "current_run",
    "flush",
    "inference",
    "inference_summary",
    "llm_call",
    "record_llm_call",
    "track_inference",
    "track_training",
    "training_run",
]
