"""mlcost-sdk: what ML training runs, inference calls and LLM calls really cost."""

__version__ = "0.1.0"
